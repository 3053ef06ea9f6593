"""The member's profile and their consents per purpose."""
