"""The member's own view of their account."""
