"""The rewards catalogue, claiming a reward with points, and fulfilment of physical gifts.

Claiming happens in one transaction, the request's, in this order:

1. lock the member row (``SELECT ... FOR UPDATE``), so one member's claims run one at a time
   and the per-member limit is counted on a stable set of claims; then the fraud rules run;
2. lock the reward row and check it is active and within the member's limit;
3. take one unit of stock with a conditional ``UPDATE rewards SET stock = stock - 1 WHERE
   stock IS NULL OR stock > 0`` (the database also refuses a negative stock);
4. take the points with the ledger's ``spend_points`` (a conditional UPDATE of the balance that
   refuses to go below zero) and record the claim;
5. issue the coupon (discounts and free items) through the campaigns package, or open the
   fulfilment of a physical gift (status ``requested``).

Locks are always taken member first, then reward or claim, so concurrent claims and returns
never deadlock. Nothing here commits: if any step fails the request rolls back and neither the
points, nor the stock, nor the claim, nor the coupon stay behind. The HTTP route wraps the claim
in ``run_idempotent``, so a retried claim with the same ``Idempotency-Key`` returns the first
answer and changes nothing.

A physical gift moves ``requested -> shipped -> delivered``; a shipped or delivered gift can be
``returned``, which gives the points back as a ``reversal`` ledger entry (referring to the
original spend) and puts the unit back into stock. ``returned`` is final and the transition to it
is made under the claim's row lock, so the points come back exactly once. Posting the status a
claim already has changes nothing, so a retried fulfilment update is harmless. A returned claim
no longer counts towards the per-member limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from app.accounts.models import Member
from app.campaigns.issuing import issue_member_coupon
from app.db import utcnow
from app.errors import DomainError, Problem
from app.events import DomainEvent, publish
from app.extensions import db
from app.fraud.blocks import member_blocked
from app.fraud.verdict import assess_member_request
from app.ledger.service import post_ledger_entry, spend_points
from app.naming import NameBook
from app.rewards.models import (
    FulfilmentStatus,
    Reward,
    RewardClaim,
    RewardFulfilmentEvent,
    RewardKind,
)
from coupons.rules import Benefit, BenefitKind

REWARD_COUPON_SOURCE = "reward"
LEDGER_REFERENCE_TYPE = "reward_claim"

FULFILMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    FulfilmentStatus.REQUESTED: frozenset({FulfilmentStatus.SHIPPED}),
    FulfilmentStatus.SHIPPED: frozenset({FulfilmentStatus.DELIVERED, FulfilmentStatus.RETURNED}),
    FulfilmentStatus.DELIVERED: frozenset({FulfilmentStatus.RETURNED}),
    FulfilmentStatus.RETURNED: frozenset(),
}

# Fields a manager may set on a reward; ``kind`` is fixed once the reward exists.
EDITABLE_FIELDS = (
    "name",
    "description",
    "image_url",
    "cost_points",
    "stock",
    "per_member_limit",
    "active",
    "active_from",
    "active_until",
    "amount_off_cents",
    "percent_off",
    "percent_cap_cents",
    "sku",
    "min_basket_cents",
    "coupon_valid_days",
)
COUPON_FIELDS = ("amount_off_cents", "percent_off", "percent_cap_cents", "sku")


# --- the catalogue ---------------------------------------------------------------------------


def create_reward(kind: str, fields: Mapping[str, Any]) -> Reward:
    """Add a reward to the catalogue."""
    reward = Reward(kind=kind, active=True, min_basket_cents=0, coupon_valid_days=30)
    _apply_changes(reward, fields)
    db.session.add(reward)
    db.session.flush()
    return reward


def update_reward(reward_id: int, changes: Mapping[str, Any]) -> Reward:
    """Change a reward; the row is locked so a restock cannot race a claim."""
    reward = _locked_reward(reward_id)
    _apply_changes(reward, changes)
    db.session.flush()
    return reward


def get_reward(reward_id: int) -> Reward:
    """Return a reward of the catalogue."""
    reward = db.session.get(Reward, reward_id)
    if reward is None:
        raise _unknown_reward(reward_id)
    return reward


def catalogue() -> list[dict[str, Any]]:
    """List every reward, active or not, with how many claims it has (returns excluded)."""
    counts = dict(
        db.session.execute(
            select(RewardClaim.reward_id, func.count())
            .where(_counts_towards_limit())
            .group_by(RewardClaim.reward_id)
        )
        .tuples()
        .all()
    )
    rewards = db.session.scalars(select(Reward).order_by(Reward.id)).all()
    return [{**reward_view(reward), "claims_count": counts.get(reward.id, 0)} for reward in rewards]


def active_rewards(member_id: int) -> list[dict[str, Any]]:
    """List the rewards a member can see now, with whether they can afford each."""
    now = utcnow()
    balance = db.session.scalar(select(Member.points_balance).where(Member.id == member_id)) or 0
    claimed = dict(
        db.session.execute(
            select(RewardClaim.reward_id, func.count())
            .where(RewardClaim.member_id == member_id, _counts_towards_limit())
            .group_by(RewardClaim.reward_id)
        )
        .tuples()
        .all()
    )
    rewards = db.session.scalars(
        select(Reward)
        .where(
            Reward.active,
            or_(Reward.active_from.is_(None), Reward.active_from <= now),
            or_(Reward.active_until.is_(None), Reward.active_until > now),
        )
        .order_by(Reward.cost_points, Reward.id)
    ).all()
    views = []
    for reward in rewards:
        claims_left = (
            None
            if reward.per_member_limit is None
            else max(reward.per_member_limit - claimed.get(reward.id, 0), 0)
        )
        views.append(
            {
                **reward_view(reward),
                "affordable": balance >= reward.cost_points,
                "claims_left": claims_left,
            }
        )
    return views


def reward_view(reward: Reward) -> dict[str, Any]:
    """Return a reward as plain data."""
    return {
        "id": reward.id,
        "name": reward.name,
        "description": reward.description,
        "image_url": reward.image_url,
        "kind": reward.kind,
        "cost_points": reward.cost_points,
        "stock": reward.stock,
        "per_member_limit": reward.per_member_limit,
        "active": reward.active,
        "active_from": reward.active_from,
        "active_until": reward.active_until,
        "amount_off_cents": reward.amount_off_cents,
        "percent_off": reward.percent_off,
        "percent_cap_cents": reward.percent_cap_cents,
        "sku": reward.sku,
        "min_basket_cents": reward.min_basket_cents,
        "coupon_valid_days": reward.coupon_valid_days,
    }


def reward_benefit(reward: Reward) -> Benefit | None:
    """Return the coupon benefit a reward issues, or None for a physical gift."""
    if reward.kind == RewardKind.PHYSICAL_GIFT:
        return None
    if reward.kind == RewardKind.FREE_ITEM:
        return Benefit(kind=BenefitKind.FREE_ITEM, sku=reward.sku)
    if reward.percent_off is not None:
        return Benefit(
            kind=BenefitKind.PERCENT_OFF,
            percent=reward.percent_off,
            cap_cents=reward.percent_cap_cents,
        )
    return Benefit(kind=BenefitKind.AMOUNT_OFF, amount_cents=reward.amount_off_cents)


# --- claims ----------------------------------------------------------------------------------


def claim_reward(member_id: int, reward_id: int) -> dict[str, Any]:
    """Buy a reward with points: take the points and the stock and issue the coupon, or refuse.

    Returns the JSON-ready claim answer. Must run inside the request's transaction; see the
    module docstring for the order of the locks.
    """
    member = db.session.get(Member, member_id, with_for_update=True)
    if member is None:
        raise DomainError("invalid-token", "This account no longer exists.")
    if member.blocked:
        raise member_blocked()
    assess_member_request("reward-claim", member_id)  # fraud rules: claim bursts
    reward = _locked_reward(reward_id)
    now = utcnow()
    if not reward.is_active_at(now):
        raise DomainError("reward-not-available", "This reward cannot be claimed at the moment.")
    if reward.per_member_limit is not None:
        already = _claims_counting_towards_limit(member_id, reward.id)
        if already >= reward.per_member_limit:
            raise DomainError(
                "reward-limit-reached",
                f"This reward can be claimed {reward.per_member_limit} time(s) per member.",
                limit=reward.per_member_limit,
            )
    _take_one_from_stock(reward)
    claim = RewardClaim(reward_id=reward.id, member_id=member_id, points_spent=reward.cost_points)
    db.session.add(claim)
    db.session.flush()
    entry = spend_points(
        member_id,
        reward.cost_points,
        kind="reward",
        reference_type=LEDGER_REFERENCE_TYPE,
        reference_id=str(claim.id),
        reason=f"reward: {reward.name}"[:200],
    )
    claim.ledger_entry_id = entry.id
    coupon: dict[str, Any] | None = None
    benefit = reward_benefit(reward)
    if benefit is None:
        claim.fulfilment_status = FulfilmentStatus.REQUESTED
        db.session.add(RewardFulfilmentEvent(claim_id=claim.id, status=FulfilmentStatus.REQUESTED))
    else:
        issued = issue_member_coupon(
            member_id,
            benefit,
            source=REWARD_COUPON_SOURCE,
            source_id=str(claim.id),
            valid_until=_coupon_valid_until(reward.coupon_valid_days, now),
            min_basket_cents=reward.min_basket_cents,
        )
        claim.coupon_id = issued.coupon_id
        coupon = {"coupon_id": issued.coupon_id, "code": issued.formatted}
    db.session.flush()
    publish(
        DomainEvent(
            "reward.claimed",
            {
                "claim_id": claim.id,
                "reward_id": reward.id,
                "points_spent": claim.points_spent,
                "coupon_id": claim.coupon_id,
            },
            member_id=member_id,
        )
    )
    return {
        "claim_id": claim.id,
        "reward_id": reward.id,
        "points_spent": claim.points_spent,
        "points_balance": _balance(member_id),
        "coupon": coupon,
        "fulfilment_status": claim.fulfilment_status,
    }


def member_claims(member_id: int) -> list[dict[str, Any]]:
    """List a member's claims, newest first."""
    rows = db.session.execute(
        select(RewardClaim, Reward)
        .join(Reward, Reward.id == RewardClaim.reward_id)
        .where(RewardClaim.member_id == member_id)
        .order_by(RewardClaim.id.desc())
    ).tuples()
    return [claim_view(claim, reward) for claim, reward in rows]


def list_claims(fulfilment_status: str | None = None) -> list[dict[str, Any]]:
    """List claims for staff, optionally only those with a fulfilment status, oldest first."""
    query = (
        select(RewardClaim, Reward)
        .join(Reward, Reward.id == RewardClaim.reward_id)
        .order_by(RewardClaim.id)
    )
    if fulfilment_status is not None:
        query = query.where(RewardClaim.fulfilment_status == fulfilment_status)
    rows = db.session.execute(query).tuples().all()
    names = NameBook().want_all("member", [claim.member_id for claim, _reward in rows]).load()
    return [
        {
            **claim_view(claim, reward),
            "member_id": claim.member_id,
            "member": names.ref("member", claim.member_id),
        }
        for claim, reward in rows
    ]


def claim_view(claim: RewardClaim, reward: Reward) -> dict[str, Any]:
    """Return a claim as plain data."""
    return {
        "claim_id": claim.id,
        "reward_id": reward.id,
        "reward_name": reward.name,
        "kind": reward.kind,
        "points_spent": claim.points_spent,
        "coupon_id": claim.coupon_id,
        "fulfilment_status": claim.fulfilment_status,
        "points_returned": claim.refund_entry_id is not None,
        "claimed_at": claim.created_at,
    }


# --- fulfilment of physical gifts --------------------------------------------------------------


def record_fulfilment(
    claim_id: int, status: str, *, staff_id: int | None, note: str | None = None
) -> dict[str, Any]:
    """Move a physical gift to ``status``; a return gives the points back exactly once."""
    member_id = db.session.scalar(select(RewardClaim.member_id).where(RewardClaim.id == claim_id))
    if member_id is None:
        raise DomainError("unknown-reward-claim", f"There is no reward claim {claim_id}.")
    # Member first, then the claim: the same order as a claim takes its locks.
    db.session.get(Member, member_id, with_for_update=True)
    claim = db.session.scalars(
        select(RewardClaim)
        .where(RewardClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    reward = db.session.get(Reward, claim.reward_id)
    assert reward is not None  # a claim's reward is never deleted (foreign key)
    current = claim.fulfilment_status
    if current is None:
        raise DomainError(
            "fulfilment-not-applicable",
            "Only physical gifts are fulfilled; this claim issued a coupon.",
        )
    if status != current:
        if status not in FULFILMENT_TRANSITIONS[current]:
            raise DomainError(
                "invalid-fulfilment-transition",
                f"A gift that is {current} cannot become {status}.",
                fulfilment_status=current,
                allowed=sorted(FULFILMENT_TRANSITIONS[current]),
            )
        claim.fulfilment_status = status
        db.session.add(
            RewardFulfilmentEvent(claim_id=claim.id, status=status, staff_id=staff_id, note=note)
        )
        if status == FulfilmentStatus.RETURNED:
            _give_points_back(claim, reward, staff_id)
        db.session.flush()
    return {**claim_view(claim, reward), "member_id": claim.member_id}


def _give_points_back(claim: RewardClaim, reward: Reward, staff_id: int | None) -> None:
    entry = post_ledger_entry(
        claim.member_id,
        claim.points_spent,
        "reversal",
        reference_type=LEDGER_REFERENCE_TYPE,
        reference_id=str(claim.id),
        staff_id=staff_id,
        reason=f"reward returned: {reward.name}"[:200],
        reverses_id=claim.ledger_entry_id,
    )
    claim.refund_entry_id = entry.id
    db.session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1)
    )


# --- helpers -----------------------------------------------------------------------------------


def _locked_reward(reward_id: int) -> Reward:
    reward = db.session.scalars(
        select(Reward)
        .where(Reward.id == reward_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if reward is None:
        raise _unknown_reward(reward_id)
    return reward


def _take_one_from_stock(reward: Reward) -> None:
    """Take one unit with a conditional UPDATE; refuse when none is left."""
    if reward.stock is None:
        return
    remaining = db.session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0)
        .values(stock=Reward.stock - 1)
        .returning(Reward.stock),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if remaining is None:
        raise DomainError("reward-out-of-stock", "This reward is sold out at the moment.")
    reward.stock = remaining
    db.session.flush()


def _counts_towards_limit() -> Any:
    return or_(
        RewardClaim.fulfilment_status.is_(None),
        RewardClaim.fulfilment_status != FulfilmentStatus.RETURNED,
    )


def _claims_counting_towards_limit(member_id: int, reward_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(RewardClaim)
            .where(
                RewardClaim.member_id == member_id,
                RewardClaim.reward_id == reward_id,
                _counts_towards_limit(),
            )
        )
        or 0
    )


def _balance(member_id: int) -> int:
    return int(db.session.scalar(select(Member.points_balance).where(Member.id == member_id)) or 0)


def _coupon_valid_until(days: int | None, now: datetime) -> datetime | None:
    return None if days is None else now + timedelta(days=days)


def _apply_changes(reward: Reward, changes: Mapping[str, Any]) -> None:
    """Apply field changes and refuse a reward that does not add up."""
    for name in EDITABLE_FIELDS:
        if name in changes:
            value = changes[name]
            setattr(reward, name, value.strip() if isinstance(value, str) else value)
    if not reward.name:
        raise _invalid("name", "A reward needs a name.")
    if reward.description is None:
        reward.description = ""
    if (
        reward.active_from is not None
        and reward.active_until is not None
        and reward.active_until <= reward.active_from
    ):
        raise _invalid("active_until", "The active window must end after it starts.")
    if reward.kind == RewardKind.PHYSICAL_GIFT:
        for name in COUPON_FIELDS:
            if getattr(reward, name) is not None:
                raise _invalid(name, "A physical gift issues no coupon.")
        return
    if reward.kind == RewardKind.DISCOUNT:
        if reward.sku is not None:
            raise _invalid("sku", "A discount applies to the basket; use a free_item reward.")
        if (reward.amount_off_cents is None) == (reward.percent_off is None):
            raise _invalid("amount_off_cents", "A discount needs amount_off_cents or percent_off.")
    elif reward.kind == RewardKind.FREE_ITEM:
        for name in ("amount_off_cents", "percent_off", "percent_cap_cents"):
            if getattr(reward, name) is not None:
                raise _invalid(name, "A free item gives the item named by sku.")
    benefit = reward_benefit(reward)
    try:
        if benefit is not None:
            benefit.validate()
    except ValueError as exc:
        raise _invalid("kind", str(exc)) from None


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        message,
        errors={"json": {field: [message]}},
    )


def _unknown_reward(reward_id: int) -> DomainError:
    return DomainError("unknown-reward", f"There is no reward {reward_id}.")
