"""The core tables' entries in the privacy registries.

The tables of the foundation (accounts, cards, ledger, coupons, rewards, push, fraud) were
built before the registry; they are declared here, in one place, instead of in each of their
packages, together with the profile and consent tables built with the registry. Packages built
since declare their own tables next to their models.

Retention periods (changeable with ``PRIVACY_RETENTION_<TABLE>_DAYS``; ``docs/privacy.md``
says why each is what it is):

* ``attempts``: 180 days, except attempts that are evidence of a fraud event still open;
* ``idempotency_keys``: 2 days (a till retries within minutes; 48 hours covers a weekend);
* ``magic_link_tokens``: 1 day after they expire;
* ``refresh_tokens``: 30 days after they expire (kept that long to detect a reused token).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Table, delete, exists, select, update

from app.accounts.models import Member
from app.auth.models import MagicLinkToken, RefreshToken
from app.campaigns.models import Coupon
from app.cards.apple_web_service import ApplePassRegistration, ApplePassState
from app.cards.models import Card
from app.cards.passes import card_serial_number
from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt, CardBlock, FraudEvent, FraudEventAttempt, StaffAudit
from app.privacy.registry import (
    register_eraser,
    register_export_source,
    register_member_table,
    register_not_exported,
    register_retention,
)
from app.privacy.rows import row_dict, rows_of
from app.profiles.consent import has_consent
from app.profiles.models import CONSENT_PURPOSES, ConsentRecord, MemberProfile
from app.push.models import PushSubscription


def _member_row(member_id: int) -> list[dict[str, Any]]:
    return rows_of(select(Member).where(Member.id == member_id), omit={"password_hash"})


def _card_ids(member_id: int) -> list[str]:
    return [
        str(card_id)
        for card_id in db.session.scalars(select(Card.id).where(Card.member_id == member_id))
    ]


def _apple_registrations(member_id: int) -> list[dict[str, Any]]:
    serials = [
        card_serial_number(card_id)
        for card_id in db.session.scalars(select(Card.id).where(Card.member_id == member_id))
    ]
    query = select(ApplePassRegistration).where(ApplePassRegistration.serial_number.in_(serials))
    return rows_of(query, omit={"push_token"})


def _card_blocks(member_id: int) -> list[dict[str, Any]]:
    return rows_of(select(CardBlock).where(CardBlock.card_id.in_(_card_ids(member_id))))


def _refresh_tokens(member_id: int) -> list[dict[str, Any]]:
    query = select(RefreshToken).where(
        RefreshToken.subject_kind == "member", RefreshToken.subject_id == member_id
    )
    return rows_of(query, omit={"token_hash", "family_id"})


def _staff_actions(member_id: int) -> list[dict[str, Any]]:
    query = select(StaffAudit).where(
        StaffAudit.target_type == "member", StaffAudit.target_id == str(member_id)
    )
    return [row_dict(row) for row in db.session.scalars(query)]


register_export_source("member", ["members"], _member_row)
register_member_table("profile", "member_profiles")
register_member_table("consents", "consent_records")
register_member_table("cards", "cards", omit=["totp_secret_sealed"])
register_export_source("card_blocks", ["card_blocks"], _card_blocks)
register_export_source(
    "apple_pass_registrations", ["apple_pass_registrations"], _apple_registrations
)
register_member_table(
    "apple_pass_states", "apple_pass_states", member_column=None, via=("card_id", "cards")
)
register_member_table("ledger", "ledger_entries")
register_member_table("tier_status", "member_tier_status")
register_member_table("purchases", "purchases")
register_member_table(
    "purchase_refunds", "purchase_refunds", member_column=None, via=("purchase_id", "purchases")
)
register_member_table("coupons", "coupons", omit=["code_hash", "sealed_code"])
register_member_table("coupon_redemptions", "coupon_redemptions")
register_member_table("reward_claims", "reward_claims")
register_member_table(
    "reward_fulfilment_events",
    "reward_fulfilment_events",
    member_column=None,
    via=("claim_id", "reward_claims"),
)
register_member_table("stamp_cards", "stamp_cards")
register_member_table(
    "stamp_entries", "stamp_entries", member_column=None, via=("card_id", "stamp_cards")
)
register_member_table("push_subscriptions", "push_subscriptions", omit=["p256dh", "auth"])
register_member_table("attempts", "attempts", omit=["code_fingerprint"])
register_member_table("fraud_events", "fraud_events")
register_export_source("refresh_tokens", ["refresh_tokens"], _refresh_tokens)
register_member_table("sign_in_links", "magic_link_tokens", omit=["token_hash"])
register_export_source("staff_actions", ["staff_audit"], _staff_actions)
register_not_exported(
    "member_erasures", "exists only for erased members, who have nothing left to export"
)


# --- erasure -----------------------------------------------------------------------------


def _erase_profile(member_id: int) -> None:
    db.session.execute(delete(MemberProfile).where(MemberProfile.member_id == member_id))


def _withdraw_consents(member_id: int) -> None:
    # The history stays (proof for what was sent before); erasure withdraws every consent, so
    # has_consent answers False from now on.
    for purpose in CONSENT_PURPOSES:
        if has_consent(member_id, purpose):
            db.session.add(
                ConsentRecord(
                    member_id=member_id,
                    purpose=purpose,
                    granted=False,
                    source="app",
                    wording_version="erasure",
                    recorded_at=utcnow(),
                )
            )
    db.session.flush()


def _revoke_cards(member_id: int) -> None:
    card_ids = list(db.session.scalars(select(Card.id).where(Card.member_id == member_id)))
    serials = [card_serial_number(card_id) for card_id in card_ids]
    db.session.execute(
        delete(ApplePassRegistration).where(ApplePassRegistration.serial_number.in_(serials))
    )
    db.session.execute(delete(ApplePassState).where(ApplePassState.card_id.in_(card_ids)))
    db.session.execute(
        update(Card)
        .where(Card.member_id == member_id, Card.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="erased")
    )


def _end_logins(member_id: int) -> None:
    db.session.execute(
        delete(RefreshToken).where(
            RefreshToken.subject_kind == "member", RefreshToken.subject_id == member_id
        )
    )
    db.session.execute(delete(MagicLinkToken).where(MagicLinkToken.member_id == member_id))


def _delete_push_subscriptions(member_id: int) -> None:
    db.session.execute(delete(PushSubscription).where(PushSubscription.member_id == member_id))


def _forget_addresses(member_id: int) -> None:
    # Attempts and fraud events stay (the shop's records of till operations); the client
    # address, which could point back to the person, goes.
    db.session.execute(
        update(Attempt).where(Attempt.member_id == member_id).values(client_address=None)
    )
    db.session.execute(
        update(FraudEvent).where(FraudEvent.member_id == member_id).values(client_address=None)
    )


def _void_open_coupons(member_id: int) -> None:
    db.session.execute(
        update(Coupon)
        .where(
            Coupon.member_id == member_id,
            Coupon.redeemed_at.is_(None),
            Coupon.voided_at.is_(None),
        )
        .values(voided_at=utcnow(), void_reason="member erased", sealed_code=None)
    )


register_eraser("profile", _erase_profile)
register_eraser("consents", _withdraw_consents)
register_eraser("cards", _revoke_cards)
register_eraser("logins", _end_logins)
register_eraser("push_subscriptions", _delete_push_subscriptions)
register_eraser("addresses", _forget_addresses)
register_eraser("coupons", _void_open_coupons)


# --- retention ---------------------------------------------------------------------------


def _not_evidence_of_an_open_event(table: Table) -> Any:
    return ~exists(
        select(FraudEventAttempt.attempt_id)
        .join(FraudEvent, FraudEvent.id == FraudEventAttempt.event_id)
        .where(FraudEventAttempt.attempt_id == table.c.id, FraudEvent.status == "open")
    )


register_retention(
    "attempts",
    "occurred_at",
    timedelta(days=180),
    reason="fraud review and reporting look back at most half a year",
    where=_not_evidence_of_an_open_event,
)
register_retention(
    "idempotency_keys",
    "created_at",
    timedelta(days=2),
    reason="a till retries within minutes; two days cover an offline weekend",
)
register_retention(
    "magic_link_tokens",
    "expires_at",
    timedelta(days=1),
    reason="a used or expired sign-in link is worthless",
)
register_retention(
    "refresh_tokens",
    "expires_at",
    timedelta(days=30),
    reason="kept a while after expiry so a stolen, reused token is still recognised",
)
