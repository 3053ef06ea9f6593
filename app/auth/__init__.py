"""Accounts and logins: passwords, access tokens, refresh tokens, till sessions, route guards."""
