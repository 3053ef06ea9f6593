"""What a cashier's screen needs besides booking: where, who is this member, what was sold."""
