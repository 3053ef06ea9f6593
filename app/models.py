"""Imports every model module, so the metadata Alembic compares against is complete."""

from app.accounts.models import Member, StaffAccount, staff_stores
from app.auth.models import RefreshToken
from app.stores.models import Store, Till

__all__ = ["Member", "RefreshToken", "StaffAccount", "Store", "Till", "staff_stores"]
