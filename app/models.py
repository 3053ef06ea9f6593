"""Imports every model module, so the metadata Alembic compares against is complete."""

from app.accounts.models import Member, StaffAccount, staff_stores
from app.auth.models import RefreshToken
from app.cards.models import Card
from app.fraud.models import Attempt
from app.idempotency import IdempotencyKey
from app.push.models import PushSubscription
from app.stores.models import Store, Till

__all__ = [
    "Attempt",
    "Card",
    "IdempotencyKey",
    "Member",
    "PushSubscription",
    "RefreshToken",
    "StaffAccount",
    "Store",
    "Till",
    "staff_stores",
]
