"""What a cashier's screen needs besides booking: where am I, who is this member, what did I sell."""
