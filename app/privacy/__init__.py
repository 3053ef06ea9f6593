"""The member's data on request (GDPR): export, erasure, and the retention job."""
