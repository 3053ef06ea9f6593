"""Members and staff accounts: who can log in, and with which role."""
