"""The outbox: every domain event recorded with the change, delivered after commit by a worker."""
