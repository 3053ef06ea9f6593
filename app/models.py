"""Imports every model module, so the metadata Alembic compares against is complete."""

from app.accounts.models import Member, StaffAccount, staff_stores
from app.auth.models import MagicLinkToken, RefreshToken
from app.automations import models as automations_models  # noqa: F401  (automations, tasks)
from app.branding.models import Branding
from app.campaigns import models as campaigns_models  # noqa: F401  (coupons, campaigns, sync)
from app.cards.apple_web_service import ApplePassRegistration, ApplePassState  # noqa: F401
from app.cards.models import Card
from app.feedback import models as feedback_models  # noqa: F401  (surveys, complaints)
from app.fraud.models import Attempt
from app.idempotency import IdempotencyKey
from app.ledger import models as ledger_models  # noqa: F401  (ledger, purchases, tiers)
from app.lifecycle import models as lifecycle_models  # noqa: F401  (lifecycle, stage history)
from app.memberships import models as memberships_models  # noqa: F401  (plans, memberships)
from app.outbox import models as outbox_models  # noqa: F401  (outbox, attempts, job runs)
from app.privacy.models import MemberErasure
from app.profiles.models import ConsentRecord, MemberProfile
from app.push.models import PushPreference, PushSubscription
from app.referrals import models as referrals_models  # noqa: F401  (codes, referrals, sightings)
from app.rewards import models as rewards_models  # noqa: F401  (rewards, stamp cards)
from app.segments.models import Segment
from app.settings_cache import SettingsVersion
from app.stores.models import Store, Till
from app.webhooks.models import WebhookEndpoint

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
    "PushPreference",
    "PushSubscription",
    "RefreshToken",
    "Segment",
    "SettingsVersion",
    "StaffAccount",
    "Store",
    "Till",
    "WebhookEndpoint",
    "staff_stores",
]
