"""Imports every model module, so the metadata Alembic compares against is complete."""

from app.accounts.models import Member, StaffAccount, staff_stores
from app.auth.models import MagicLinkToken, RefreshToken
from app.branding.models import Branding
from app.campaigns import models as campaigns_models  # noqa: F401  (coupons, campaigns, sync)
from app.cards.apple_web_service import ApplePassRegistration, ApplePassState  # noqa: F401
from app.cards.models import Card
from app.fraud.models import Attempt
from app.idempotency import IdempotencyKey
from app.ledger import models as ledger_models  # noqa: F401  (ledger, purchases, tiers)
from app.memberships import models as memberships_models  # noqa: F401  (plans, memberships)
from app.privacy.models import MemberErasure
from app.profiles.models import ConsentRecord, MemberProfile
from app.push.models import PushSubscription
from app.referrals import models as referrals_models  # noqa: F401  (codes, referrals, sightings)
from app.rewards import models as rewards_models  # noqa: F401  (rewards, stamp cards)
from app.settings_cache import SettingsVersion
from app.stores.models import Store, Till

__all__ = [
    "Attempt",
    "Branding",
    "Card",
    "ConsentRecord",
    "IdempotencyKey",
    "MagicLinkToken",
    "MemberErasure",
    "MemberProfile",
    "Member",
    "PushSubscription",
    "RefreshToken",
    "SettingsVersion",
    "StaffAccount",
    "Store",
    "Till",
    "staff_stores",
]
