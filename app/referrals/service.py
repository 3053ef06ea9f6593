"""Referral rules: linking, the fraud checks, qualification and paying out.

Linking (``link_referral``) happens when a member signs up with a code (a ``member.signed_up``
subscriber) or enters one soon after (``claim_referral``). It refuses, and records why:

* ``self-referral-account``: the code is the member's own;
* ``self-referral-email``: both e-mails are the same after normalisation (lower case, no
  ``+tag``, no dots in Gmail local parts);
* ``self-referral-device``: the new member's device was seen on the referrer's account within
  ``REFERRAL_DEVICE_WINDOW_DAYS`` (90);
* ``self-referral-address``: the same client address within ``REFERRAL_ADDRESS_WINDOW_HOURS``
  (24);
* ``monthly-cap``: the referrer has ``REFERRAL_MONTHLY_CAP`` (5) referrals this calendar month.

A burst (``REFERRAL_BURST_COUNT``, 3, referrals of one referrer within
``REFERRAL_BURST_HOURS``, 24) raises a ``referral-burst`` fraud event; while it is open the
referrer's rewards are held, and staff decide in the review queue.

Qualification (``note_qualifying_purchase``, a ``purchase.booked`` subscriber): the referee's
first purchase of at least ``REFERRAL_MIN_PURCHASE_CENTS`` (1000) qualifies the referral, and
it becomes payable ``REFERRAL_REFUND_WINDOW_DAYS`` (14) later. ``settle_referrals`` (the
``flask --app app referrals settle`` job) pays both sides once that time has passed and the
purchase still stands: ``REFERRAL_REWARD_KIND`` ``points`` (``REFERRAL_REFERRER_POINTS`` 200,
``REFERRAL_REFEREE_POINTS`` 100, as ``bonus`` entries) or ``coupon`` (``REFERRAL_COUPON_CENTS``
off, 500). Each referral is locked while it is settled and paid once: the job is idempotent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import bindparam, func, select

from app.accounts.models import Member
from app.campaigns.issuing import issue_member_coupon
from app.db import iso_or_none, utcnow
from app.errors import DomainError
from app.events import DomainEvent
from app.extensions import db
from app.fraud.attempts import raise_event
from app.fraud.models import FraudEvent
from app.ledger.models import LedgerEntry, Purchase
from app.ledger.service import post_ledger_entry
from app.privacy.erasure import is_erased
from app.referrals.models import MemberSighting, Referral, ReferralCode
from coupons.rules import Benefit, BenefitKind

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U
CODE_LENGTH = 8
BURST_RULE = "referral-burst"
GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}

DEFAULTS: dict[str, Any] = {
    "REFERRAL_MIN_PURCHASE_CENTS": 1000,
    "REFERRAL_REFUND_WINDOW_DAYS": 14,
    "REFERRAL_REWARD_KIND": "points",
    "REFERRAL_REFERRER_POINTS": 200,
    "REFERRAL_REFEREE_POINTS": 100,
    "REFERRAL_COUPON_CENTS": 500,
    "REFERRAL_COUPON_VALID_DAYS": 90,
    "REFERRAL_MONTHLY_CAP": 5,
    "REFERRAL_DEVICE_WINDOW_DAYS": 90,
    "REFERRAL_ADDRESS_WINDOW_HOURS": 24,
    "REFERRAL_BURST_COUNT": 3,
    "REFERRAL_BURST_HOURS": 24,
    "REFERRAL_CLAIM_DAYS": 14,
}


def setting(name: str) -> Any:
    """Return a referral setting (the environment gives text; numbers become ints)."""
    value = current_app.config.get(name, DEFAULTS[name])
    return value if isinstance(DEFAULTS[name], str) else int(value)


def canonical_email(email: str) -> str:
    """Return the e-mail as the mailbox it reaches: no ``+tag``, no dots for Gmail."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        domain = GMAIL_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _request_address() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def normalise_code(code: str) -> str:
    """Upper-case a typed code and drop spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


# --- codes and sightings ------------------------------------------------------------------


def referral_code_of(member_id: int) -> str:
    """Return the member's referral code, making one on first use."""
    row = db.session.get(ReferralCode, member_id)
    if row is not None:
        return row.code
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(ReferralCode.member_id).where(ReferralCode.code == code)):
            continue
        db.session.add(ReferralCode(member_id=member_id, code=code))
        db.session.flush()
        return code


def referral_link(code: str) -> str:
    """Return the sign-up address that carries a referral code."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/#/join?ref={code}"


def record_sighting(event: DomainEvent) -> None:
    """Remember a sign-up's or login's device and address (a subscriber).

    The device comes as the hash the auth package published; the address is the request's.
    """
    if event.member_id is None:
        return
    db.session.add(
        MemberSighting(
            member_id=event.member_id,
            kind="signup" if event.type == "member.signed_up" else "login",
            device_hash=event.data.get("device_hash"),
            client_address=_request_address(),
            seen_at=utcnow(),
        )
    )
    db.session.flush()


# --- linking ------------------------------------------------------------------------------


def _seen_on(member_id: int, since: datetime, *condition: Any) -> bool:
    return (
        db.session.scalar(
            select(MemberSighting.id)
            .where(MemberSighting.member_id == member_id, MemberSighting.seen_at >= since)
            .where(*condition)
            .limit(1)
        )
        is not None
    )


def _rejection(
    referrer: Member, referee: Member, device: str | None, address: str | None, now: datetime
) -> str | None:
    if referrer.id == referee.id:
        return "self-referral-account"
    if canonical_email(referrer.email) == canonical_email(referee.email):
        return "self-referral-email"
    device_since = now - timedelta(days=setting("REFERRAL_DEVICE_WINDOW_DAYS"))
    if device and _seen_on(referrer.id, device_since, MemberSighting.device_hash == device):
        return "self-referral-device"
    address_since = now - timedelta(hours=setting("REFERRAL_ADDRESS_WINDOW_HOURS"))
    if address and _seen_on(referrer.id, address_since, MemberSighting.client_address == address):
        return "self-referral-address"
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = db.session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(
            Referral.referrer_id == referrer.id,
            Referral.status != "rejected",
            Referral.created_at >= month_start,
        )
    )
    if (this_month or 0) >= setting("REFERRAL_MONTHLY_CAP"):
        return "monthly-cap"
    return None


def _check_burst(referrer_id: int, referral: Referral, now: datetime) -> None:
    since = now - timedelta(hours=setting("REFERRAL_BURST_HOURS"))
    recent = db.session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(Referral.referrer_id == referrer_id, Referral.created_at >= since)
    )
    if (recent or 0) >= setting("REFERRAL_BURST_COUNT"):
        raise_event(
            BURST_RULE,
            severity="medium",
            action="flag",
            member_id=referrer_id,
            subject=f"member:{referrer_id}",
            detail={
                "referrals_in_window": int(recent or 0),
                "window_hours": setting("REFERRAL_BURST_HOURS"),
                "latest_referral_id": referral.id,
            },
        )


def unknown_code() -> DomainError:
    """Return the problem for a referral code nobody has."""
    return DomainError("unknown-referral-code", "No member has this code.")


def link_referral(
    referee_id: int,
    code: str,
    *,
    device: str | None = None,
    client_address: str | None = None,
) -> Referral:
    """Link a member to the referrer whose code they used (refused ones are kept too).

    ``device`` is the hash of the new member's device id (``app.auth.service.device_hash``).
    """
    code = normalise_code(code)
    owner = db.session.scalar(select(ReferralCode).where(ReferralCode.code == code))
    if owner is None:
        raise unknown_code()
    if db.session.scalar(select(Referral.id).where(Referral.referee_id == referee_id)):
        raise DomainError(
            "referral-already-linked", "This account was already referred by a member."
        )
    referrer = db.session.get_one(Member, owner.member_id)
    referee = db.session.get_one(Member, referee_id)
    now = utcnow()
    rejection = _rejection(referrer, referee, device, client_address, now)
    referral = Referral(
        referrer_id=referrer.id,
        referee_id=referee.id,
        code=code,
        status="rejected" if rejection else "pending",
        rejection=rejection,
        created_at=now,
    )
    db.session.add(referral)
    referee.was_referred = True  # the hint a purchase reads before looking for a referral
    db.session.flush()
    if rejection is None:
        _check_burst(referrer.id, referral, now)
    return referral


def link_at_signup(event: DomainEvent) -> None:
    """Link a new member to their referrer (a ``member.signed_up`` subscriber).

    An unknown code does not stop the sign-up: the member simply is not referred.
    """
    code = event.data.get("referral_code")
    if not code or event.member_id is None:
        return
    normalised = normalise_code(code)
    if db.session.scalar(select(ReferralCode.code).where(ReferralCode.code == normalised)):
        link_referral(
            event.member_id,
            normalised,
            device=event.data.get("device_hash"),
            client_address=_request_address(),
        )


def claim_referral(
    member_id: int, code: str, *, device: str | None, client_address: str | None
) -> Referral:
    """Enter a referral code after sign-up: only soon after joining and before any purchase."""
    member = db.session.get_one(Member, member_id)
    too_late = member.created_at < utcnow() - timedelta(days=setting("REFERRAL_CLAIM_DAYS"))
    bought = db.session.scalar(select(Purchase.id).where(Purchase.member_id == member_id).limit(1))
    if too_late or bought is not None:
        raise DomainError(
            "referral-claim-closed",
            "A code can be entered only in the first days after joining, before a purchase.",
        )
    return link_referral(member_id, code, device=device, client_address=client_address)


# --- qualification and payout --------------------------------------------------------------


_PENDING_REFERRAL = (
    select(Referral)
    .where(Referral.referee_id == bindparam("referee_id"), Referral.status == "pending")
    .with_for_update()
)
_PENDING_REFERRAL_ID = select(Referral.id).where(
    Referral.referee_id == bindparam("referee_id"), Referral.status == "pending"
)


def note_qualifying_purchase(event: DomainEvent) -> None:
    """Qualify the buyer's pending referral (a ``purchase.booked`` subscriber)."""
    if event.member_id is None:
        return
    if int(event.data.get("amount_cents", 0)) < setting("REFERRAL_MIN_PURCHASE_CENTS"):
        return
    buyer = db.session.get(Member, event.member_id)  # the till's locked row: no query
    if buyer is None or not buyer.was_referred:
        return  # nearly every purchase: a member nobody referred
    params = {"referee_id": event.member_id}
    if db.session.connection().execute(_PENDING_REFERRAL_ID, params).first() is None:
        return  # one Core query, no ORM
    referral = db.session.scalar(_PENDING_REFERRAL, params)
    if referral is None:
        return
    now = utcnow()
    referral.status = "qualified"
    referral.qualifying_purchase_id = int(event.data["purchase_id"])
    referral.qualified_at = now
    referral.eligible_at = now + timedelta(days=setting("REFERRAL_REFUND_WINDOW_DAYS"))
    db.session.flush()


@dataclass(frozen=True)
class SettleResult:
    """What one run of the settle job did."""

    rewarded: int
    requalify: int
    rejected: int
    held: int


def _burst_open(referrer_id: int) -> bool:
    return (
        db.session.scalar(
            select(FraudEvent.id)
            .where(
                FraudEvent.rule == BURST_RULE,
                FraudEvent.member_id == referrer_id,
                FraudEvent.status == "open",
            )
            .limit(1)
        )
        is not None
    )


def _closed(member_id: int) -> bool:
    member = db.session.get(Member, member_id)
    return member is None or member.blocked or is_erased(member_id)


def _pay(
    referral: Referral, member_id: int, side: str, points: int
) -> tuple[int | None, int | None]:
    reference = f"{referral.id}:{side}"
    if setting("REFERRAL_REWARD_KIND") == "coupon":
        issued = issue_member_coupon(
            member_id,
            Benefit(BenefitKind.AMOUNT_OFF, amount_cents=setting("REFERRAL_COUPON_CENTS")),
            source="referral",
            source_id=reference,
            valid_until=utcnow() + timedelta(days=setting("REFERRAL_COUPON_VALID_DAYS")),
        )
        return None, issued.coupon_id
    entry = post_ledger_entry(
        member_id,
        points,
        "bonus",
        reference_type="referral",
        reference_id=reference,
        reason="Referral reward",
    )
    return entry.id, None


def settle_referral(referral: Referral, now: datetime) -> str:
    """Pay one qualified referral whose refund window has passed; return what happened."""
    purchase = db.session.get_one(Purchase, referral.qualifying_purchase_id)
    if purchase.amount_cents - purchase.refunded_cents < setting("REFERRAL_MIN_PURCHASE_CENTS"):
        # Refunded below the minimum inside the window: a later purchase may qualify.
        referral.status = "pending"
        referral.qualifying_purchase_id = None
        referral.qualified_at = None
        referral.eligible_at = None
        return "requalify"
    if _closed(referral.referrer_id) or _closed(referral.referee_id):
        referral.status = "rejected"
        referral.rejection = "account-closed"
        return "rejected"
    if _burst_open(referral.referrer_id):
        return "held"
    referral.referrer_entry_id, referral.referrer_coupon_id = _pay(
        referral, referral.referrer_id, "referrer", setting("REFERRAL_REFERRER_POINTS")
    )
    referral.referee_entry_id, referral.referee_coupon_id = _pay(
        referral, referral.referee_id, "referee", setting("REFERRAL_REFEREE_POINTS")
    )
    referral.status = "rewarded"
    referral.rewarded_at = now
    return "rewarded"


def settle_referrals(now: datetime | None = None) -> SettleResult:
    """Pay every referral whose refund window has passed (idempotent; the caller commits)."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Referral)
        .where(Referral.status == "qualified", Referral.eligible_at <= now)
        .order_by(Referral.id)
        .with_for_update(skip_locked=True)
    ).all()
    outcomes = [settle_referral(referral, now) for referral in due]
    db.session.flush()
    return SettleResult(
        rewarded=outcomes.count("rewarded"),
        requalify=outcomes.count("requalify"),
        rejected=outcomes.count("rejected"),
        held=outcomes.count("held"),
    )


def converted_referrals_count(member_id: int) -> int:
    """Return how many members this member referred who were rewarded (the advocate signal)."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(Referral.referrer_id == member_id, Referral.status == "rewarded")
        )
        or 0
    )


# --- what the member sees ------------------------------------------------------------------


def referral_view(referral: Referral) -> dict[str, Any]:
    return {
        "id": referral.id,
        "status": referral.status,
        "rejection": referral.rejection,
        "joined_at": iso_or_none(referral.created_at),
        "qualified_at": iso_or_none(referral.qualified_at),
        "eligible_at": iso_or_none(referral.eligible_at),
        "rewarded_at": iso_or_none(referral.rewarded_at),
    }


def _points_of(entry_ids: list[int | None]) -> int:
    ids = [entry_id for entry_id in entry_ids if entry_id is not None]
    if not ids:
        return 0
    total = db.session.scalar(select(func.sum(LedgerEntry.points)).where(LedgerEntry.id.in_(ids)))
    return int(total or 0)


def my_referrals(member_id: int) -> dict[str, Any]:
    """Return the member's code, link, the members they referred and what they earned."""
    code = referral_code_of(member_id)
    referred = db.session.scalars(
        select(Referral).where(Referral.referrer_id == member_id).order_by(Referral.id)
    ).all()
    referred_by = db.session.scalar(select(Referral).where(Referral.referee_id == member_id))
    rewarded = [r for r in referred if r.status == "rewarded"]
    kind = setting("REFERRAL_REWARD_KIND")
    return {
        "code": code,
        "link": referral_link(code),
        "qr_svg": "/api/v1/me/referrals/qr.svg",
        "rules": {
            "min_purchase_cents": setting("REFERRAL_MIN_PURCHASE_CENTS"),
            "refund_window_days": setting("REFERRAL_REFUND_WINDOW_DAYS"),
            "reward_kind": kind,
            "referrer_points": setting("REFERRAL_REFERRER_POINTS") if kind == "points" else 0,
            "referee_points": setting("REFERRAL_REFEREE_POINTS") if kind == "points" else 0,
            "coupon_cents": setting("REFERRAL_COUPON_CENTS") if kind == "coupon" else 0,
            "monthly_cap": setting("REFERRAL_MONTHLY_CAP"),
        },
        "referrals": [referral_view(r) for r in referred],
        "converted": len(rewarded),
        "points_earned": _points_of([r.referrer_entry_id for r in rewarded]),
        "coupons_earned": sum(1 for r in rewarded if r.referrer_coupon_id),
        "referred_by": referral_view(referred_by) if referred_by else None,
    }
