"""Webhooks: admins register endpoints; events reach them signed, retried and on record."""
