"""Validating, redeeming and reversing a coupon at the till.

The till pipeline (``app.till.pipeline``) reads the code (``read_code``), checks the guess
lockout, presents the member card if one was shown and locks the member; then the checks here
run in a fixed order: the lookup by hash (``unknown-code``), then
``coupons.rules.decide_redemption`` with the coupon's stored terms, then
``member-card-required`` for bonus points without a card. Single use is one conditional UPDATE
(``... WHERE redeemed_at IS NULL AND voided_at IS NULL``). If it changes no row the coupon is
read again to say why: already redeemed (with when and in which store) or voided. The member
row is always locked before the coupon row, so the per-member limit cannot be raced and two
redemptions never lock the two rows in opposite orders.

A redemption at the till (``evaluate_coupon`` with ``claim_at``) makes that UPDATE first, by
the code's hash, and checks the terms on the row it returns: one statement instead of a lookup
and an update. A coupon it cannot claim (unknown, used, voided) is looked up, which gives the
refusal its reason; a claimed coupon whose terms refuse it (or that the fraud rules stop) is
released by the request's rollback. Validation changes nothing, so it only looks the coupon up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import Member
from app.auth.access import MANAGER_ROLES
from app.campaigns.codes import find_coupon, lookup_hash_of
from app.campaigns.models import Coupon, CouponRecord, Redemption
from app.campaigns.settings import coupon_settings
from app.campaigns.views import coupon_view
from app.db import insert_row, iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.earning import load_programme
from app.ledger.service import post_ledger_entry
from app.stores import scope
from app.stores.models import Store
from coupons.rules import (
    REFUSAL_STATUS,
    REFUSAL_TITLE,
    BasketLine,
    Benefit,
    BenefitKind,
    CouponTerms,
    Decision,
    RedemptionContext,
    Refusal,
    decide_redemption,
)

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")


@dataclass(frozen=True)
class TillPlace:
    """Where and by whom a till operation happens."""

    till_id: int
    store_id: int
    staff_id: int | None
    role: str


@dataclass(frozen=True)
class OfflineContext:
    """What an offline till reported about a redemption it already made."""

    event_id: str
    local_time: datetime
    floor_limit_cents: int
    floor_limit_points: int


@dataclass(frozen=True)
class Evaluation:
    """A coupon checked against one till request, before anything changes."""

    coupon: CouponRecord
    benefit: Benefit
    decision: Decision
    refusal: Problem | None
    claim: Claim | None = None  # the till's claim of the coupon, made before the terms' check


@dataclass(frozen=True)
class Claim:
    """A coupon claimed for one redemption by the conditional UPDATE, not yet recorded."""

    redemption_id: uuid.UUID
    use_no: int


def _terms(coupon: CouponRecord, *, claimed: bool = False) -> CouponTerms:
    """Return a coupon's stored terms and state as the rules library takes them.

    A coupon this request ``claimed`` is judged as it was before the claim: unused.
    """
    return CouponTerms(
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        store_ids=frozenset(coupon.store_ids) if coupon.store_ids else None,
        min_basket_cents=coupon.min_basket_cents,
        member_id=coupon.member_id,
        max_uses_per_member=coupon.max_uses_per_member,
        voided=coupon.voided_at is not None,
        redeemed=coupon.redeemed_at is not None and not claimed,
    )


def _basket_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[BasketLine, ...]:
    """Turn the till's basket lines into the rules library's form."""
    return tuple(
        BasketLine(
            sku=str(line["sku"]),
            category=line.get("category"),
            amount_cents=int(line["amount_cents"]),
            quantity=int(line.get("quantity", 1)),
        )
        for line in lines
    )


def _member_use_count(coupon: CouponRecord, member_id: int | None) -> int:
    """Count the member's standing redemptions of this offer (campaign, or the coupon itself)."""
    if coupon.max_uses_per_member is None or member_id is None:
        return 0
    query = (
        select(func.count())
        .select_from(Redemption)
        .join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Redemption.member_id == member_id, Redemption.reversed_at.is_(None))
    )
    if coupon.campaign_id is not None:
        query = query.where(Coupon.campaign_id == coupon.campaign_id)
    else:
        query = query.where(Redemption.coupon_id == coupon.id)
    return int(db.session.scalar(query) or 0)


def _active_redemption(coupon: CouponRecord) -> Redemption | None:
    """Return the coupon's standing (not reversed) redemption, if it has one."""
    if coupon.redemption_id is None:
        return None
    return db.session.get(Redemption, coupon.redemption_id)


def refusal_problem(coupon: CouponRecord, refusal: Refusal) -> Problem:
    """Turn a rules refusal into its problem, with when and where for a double redemption."""
    extra: dict[str, Any] = {}
    detail = REFUSAL_TITLE[refusal] + "."
    if refusal is Refusal.ALREADY_REDEEMED:
        redemption = _active_redemption(coupon)
        extra["redeemed_at"] = iso_or_none(coupon.redeemed_at)
        extra["store_id"] = redemption.store_id if redemption else None
        store = db.session.get(Store, redemption.store_id) if redemption else None
        extra["store_name"] = store.name if store else None  # "... at 10:42 in Hamburg"
        detail = "This coupon was already redeemed."
    elif refusal is Refusal.VOIDED:
        extra["voided_at"] = iso_or_none(coupon.voided_at)
    elif refusal is Refusal.EXPIRED:
        extra["valid_until"] = iso_or_none(coupon.valid_until)
    elif refusal is Refusal.NOT_YET_VALID:
        extra["valid_from"] = iso_or_none(coupon.valid_from)
    elif refusal is Refusal.BASKET_TOO_SMALL:
        extra["min_basket_cents"] = coupon.min_basket_cents
    # Problem, not DomainError: the coupons library's table gives status and title.
    return Problem(refusal.value, REFUSAL_STATUS[refusal], REFUSAL_TITLE[refusal], detail, **extra)


def _use_coupon(which: ColumnElement[bool]) -> Update:
    """One conditional UPDATE is the whole defence against a double redemption: it changes the
    coupon's row only while the coupon is unused."""
    return (
        update(Coupon)
        .where(which, Coupon.redeemed_at.is_(None), Coupon.voided_at.is_(None))
        .values(
            redeemed_at=bindparam("at"),
            redemption_id=bindparam("redemption"),
            use_count=Coupon.use_count + 1,
        )
    )


# Built once: by the coupon's id, returning the new use count (``redeem_coupon``), and by the
# code's hash, returning the coupon's columns with the claim in them (the till's redemption).
_USE_COUPON = _use_coupon(Coupon.id == bindparam("coupon_id")).returning(Coupon.use_count)
_CLAIM_COUPON = _use_coupon(Coupon.code_hash == bindparam("hash_of_code")).returning(
    *Coupon.__table__.columns
)


def evaluate_coupon(
    canonical: str,
    *,
    place: TillPlace,
    basket_cents: int,
    lines: Sequence[Mapping[str, Any]],
    member_id: int | None,
    when: datetime,
    claim_at: datetime | None = None,
) -> Evaluation:
    """Find the coupon and decide whether it may be redeemed here and now.

    Without ``claim_at`` (a validation) nothing changes. With it (a redemption at the till)
    the coupon is claimed first, by the conditional UPDATE that makes it single use, and its
    terms are checked on the row the UPDATE returned; a refusal must then end the request in a
    rollback (raising it does), which releases the claim, and an accepted evaluation is
    recorded by ``redeem_coupon``. A coupon that cannot be claimed (unknown, used, voided) is
    looked up, which gives the refusal its reason.
    """
    coupon: CouponRecord | None = None
    claim: Claim | None = None
    if claim_at is not None:
        redemption_id = uuid.uuid4()
        params = {
            "hash_of_code": lookup_hash_of(canonical),
            "at": claim_at,
            "redemption": redemption_id,
        }
        coupon = db.session.connection().execute(_CLAIM_COUPON, params).first()
        if coupon is not None:
            claim = Claim(redemption_id, coupon.use_count)
    if coupon is None:
        coupon = find_coupon(canonical)
    benefit = Benefit.from_dict(coupon.benefit)
    context = RedemptionContext(
        now=when,
        store_id=place.store_id,
        basket_cents=basket_cents,
        member_id=member_id,
        member_use_count=_member_use_count(coupon, member_id),
        lines=_basket_lines(lines),
    )
    decision = decide_redemption(_terms(coupon, claimed=claim is not None), benefit, context)
    refusal: Problem | None = None
    if decision.refusal is not None:
        refusal = refusal_problem(coupon, decision.refusal)
    elif benefit.kind is BenefitKind.BONUS_POINTS and member_id is None:
        refusal = DomainError(
            "member-card-required",
            "This coupon credits bonus points; scan the member's card with it.",
        )
    return Evaluation(coupon, benefit, decision, refusal, claim)


def validation_answer(evaluation: Evaluation, now: datetime) -> dict[str, Any]:
    """Return the JSON-ready answer to a validation: valid or not, and what it is worth."""
    answer: dict[str, Any] = {
        "valid": evaluation.refusal is None,
        "benefit": evaluation.benefit.to_dict(),
        "coupon": coupon_view(evaluation.coupon, now),
    }
    if evaluation.refusal is None:
        answer["discount_cents"] = evaluation.decision.discount_cents
        answer["bonus_points"] = evaluation.decision.bonus_points
        answer["free_sku"] = evaluation.decision.free_sku
        answer["currency"] = load_programme().currency
    else:
        answer["refusal"] = evaluation.refusal.to_dict()
    return answer


def redeem_coupon(
    evaluation: Evaluation,
    *,
    place: TillPlace,
    receipt_id: str,
    basket_cents: int,
    member_id: int | None,
    card_id: uuid.UUID | None,
    now: datetime,
    offline: OfflineContext | None = None,
) -> dict[str, Any]:
    """Redeem an accepted coupon once (one conditional UPDATE); return the JSON-ready answer.

    ``offline`` marks a redemption an offline till already made: one worth more than the
    floor limit is accepted but flagged.
    """
    if evaluation.refusal is not None:
        raise evaluation.refusal
    coupon, decision = evaluation.coupon, evaluation.decision
    if evaluation.claim is not None:  # the till claimed it before checking its terms
        redemption_id, used = evaluation.claim.redemption_id, evaluation.claim.use_no
    else:
        redemption_id = uuid.uuid4()
        counted = (
            db.session.connection()
            .execute(_USE_COUPON, {"coupon_id": coupon.id, "at": now, "redemption": redemption_id})
            .scalar_one_or_none()
        )
        if counted is None:
            raise _lost_race(coupon.id)
        used = int(counted)
        # The row changed under the ORM: tell the loaded coupon without making it dirty.
        set_committed_value(coupon, "redeemed_at", now)
        set_committed_value(coupon, "redemption_id", redemption_id)
        set_committed_value(coupon, "use_count", used)
    redemption = Redemption(
        id=redemption_id,
        coupon_id=coupon.id,
        use_no=used,
        redeemed_at=now,
        local_time=offline.local_time if offline else None,
        till_id=place.till_id,
        store_id=place.store_id,
        staff_id=place.staff_id,
        member_id=member_id,
        card_id=str(card_id) if card_id is not None else None,
        receipt_id=receipt_id,
        basket_cents=basket_cents,
        discount_cents=decision.discount_cents,
        currency=load_programme().currency,
        bonus_points=decision.bonus_points,
        free_sku=decision.free_sku,
        offline=offline is not None,
        event_id=offline.event_id if offline else None,
        flag=_offline_flag(decision, offline),
    )
    if decision.bonus_points and member_id is not None:
        redemption.ledger_entry_id = _post_bonus(redemption, member_id)
    db.session.flush()  # what the redemption points at is in the database first
    insert_row(db.session.connection(), redemption)
    publish(
        DomainEvent(
            "coupon.redeemed",
            {
                "redemption_id": str(redemption_id),
                "coupon_id": coupon.id,
                "campaign_id": coupon.campaign_id,
                "receipt_id": receipt_id,
                "discount_cents": decision.discount_cents,
                "bonus_points": decision.bonus_points,
                "offline": offline is not None,
            },
            member_id=member_id,
            store_id=place.store_id,
        )
    )
    return redemption_answer(redemption, coupon, evaluation.benefit)


def _offline_flag(decision: Decision, offline: OfflineContext | None) -> str | None:
    """Flag an offline redemption worth more than the floor limit allows."""
    if offline is None:
        return None
    if (
        decision.discount_cents > offline.floor_limit_cents
        or decision.bonus_points > offline.floor_limit_points
    ):
        return "over-floor-limit"
    return None


def _post_bonus(redemption: Redemption, member_id: int) -> int:
    """Credit a bonus-points coupon to the member's ledger; return the entry's id."""
    entry = post_ledger_entry(
        member_id,
        redemption.bonus_points,
        "bonus",
        reference_type="coupon-redemption",
        reference_id=str(redemption.id),
        till_id=redemption.till_id,
        store_id=redemption.store_id,
        staff_id=redemption.staff_id,
        reason="coupon",
    )
    return int(entry.id)


def _lost_race(coupon_id: int) -> Problem:
    """Explain why the conditional UPDATE changed nothing: someone else got there first."""
    coupon = db.session.scalar(
        select(Coupon).where(Coupon.id == coupon_id).execution_options(populate_existing=True)
    )
    assert coupon is not None  # coupons are never deleted
    if coupon.voided_at is not None:
        return refusal_problem(coupon, Refusal.VOIDED)
    if coupon.redeemed_at is not None:
        return refusal_problem(coupon, Refusal.ALREADY_REDEEMED)
    return DomainError(
        "conflict", "The coupon changed while it was being redeemed; nothing was saved. Retry it."
    )


def redemption_answer(
    redemption: Redemption, coupon: CouponRecord, benefit: Benefit
) -> dict[str, Any]:
    """Return the JSON-ready answer to an accepted redemption."""
    return {
        "redemption_id": str(redemption.id),
        "benefit": benefit.to_dict(),
        "discount_cents": redemption.discount_cents,
        "currency": redemption.currency,
        "bonus_points": redemption.bonus_points,
        "free_sku": redemption.free_sku,
        "member_id": redemption.member_id,
        "receipt_id": redemption.receipt_id,
        "redeemed_at": iso_or_none(redemption.redeemed_at),
        "offline": redemption.offline,
        "flag": redemption.flag,
        "coupon": coupon_view(coupon, redemption.redeemed_at),
    }


def reverse_redemption(
    redemption_id: uuid.UUID, *, place: TillPlace, reason: str | None
) -> dict[str, Any]:
    """Undo a redemption (the sale was cancelled): the coupon can be used again; both stay."""
    redemption = db.session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if redemption is None:
        raise DomainError("unknown-redemption", "No redemption has this id.")
    if redemption.reversed_at is not None:
        raise DomainError(
            "redemption-already-reversed",
            "This redemption was reversed before.",
            reversed_at=iso_or_none(redemption.reversed_at),
        )
    if redemption.member_id is not None:
        # Member before coupon, as a redemption locks them: the two can never deadlock.
        db.session.execute(
            select(Member.id).where(Member.id == redemption.member_id).with_for_update()
        )
    now = utcnow()
    if place.role in MANAGER_ROLES and place.staff_id is not None:
        scope.require_store(place.staff_id, redemption.store_id)  # managers: their stores only
    if place.role not in MANAGER_ROLES:
        if redemption.till_id != place.till_id:
            raise DomainError(
                "reversal-not-allowed",
                "Only the till that redeemed the coupon (or a manager) may reverse it.",
            )
        window = timedelta(minutes=coupon_settings()["reversal_window_minutes"])
        if now - redemption.redeemed_at > window:
            raise DomainError(
                "reversal-window-closed",
                f"A cashier may reverse a redemption within {window}; ask a manager.",
            )
    reversed_now = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.reversed_at.is_(None))
        .values(
            reversed_at=now,
            reversed_by_staff_id=place.staff_id,
            reversed_at_till_id=place.till_id,
            reversal_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(reversed_now, "rowcount", 0) != 1:
        raise DomainError(  # pragma: no cover - the row lock above makes this a safety net
            "redemption-already-reversed"
        )
    db.session.execute(
        update(Coupon)
        .where(Coupon.id == redemption.coupon_id, Coupon.redemption_id == redemption.id)
        .values(redeemed_at=None, redemption_id=None)
        .execution_options(synchronize_session=False)
    )
    if redemption.ledger_entry_id is not None and redemption.member_id is not None:
        entry = post_ledger_entry(
            redemption.member_id,
            -redemption.bonus_points,
            "reversal",
            reference_type="coupon-redemption",
            reference_id=str(redemption.id),
            till_id=place.till_id,
            store_id=place.store_id,
            staff_id=place.staff_id,
            reason="coupon redemption reversed",
            reverses_id=redemption.ledger_entry_id,
        )
        db.session.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id)
            .values(reversal_ledger_entry_id=entry.id)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    db.session.refresh(redemption)
    coupon = db.session.get(Coupon, redemption.coupon_id, populate_existing=True)
    assert coupon is not None
    return {
        "redemption_id": str(redemption.id),
        "reversed_at": iso_or_none(redemption.reversed_at),
        "reversed_by_staff_id": redemption.reversed_by_staff_id,
        "reason": redemption.reversal_reason,
        "coupon": coupon_view(coupon, now),
    }
