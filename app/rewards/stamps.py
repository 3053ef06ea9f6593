"""Stamp cards: "buy 9 coffees, the 10th is free".

A manager defines a ``StampProgramme``: which purchase lines qualify (a line qualifies if its
SKU is one of the programme's ``skus`` or its category is the programme's ``category``), how
many stamps fill a card, and the coupon benefit a full card earns. Every qualifying unit is one
stamp (a line of 3 coffees adds 3).

The ledger calls ``record_stamps_for_purchase`` inside its purchase transaction, after the
points were earned. For each active programme the purchase qualifies for, the member's card is
created if missing, locked and read in one statement (``INSERT ... ON CONFLICT DO UPDATE ...
RETURNING``: two first purchases at once do not collide, and the second waits for the first's
lock; SQLite transactions are serialised anyway) before it is counted, so concurrent purchases
never lose a stamp. The active programmes are cached per process (``app.settings_cache``;
creating or stopping a programme bumps their version). Every full card issues the
reward coupon at once through ``app.campaigns.issuing.issue_member_coupon`` and the rest carries
over: 9 needed and 10 qualifying units issue one coupon and leave 1 stamp. A receipt stamps a
card once: calling again with the same ``receipt_ref`` adds nothing.

``reverse_stamps_for_refund`` takes back at most the stamps that receipt added. If those stamps
already earned a coupon, the coupon stays valid and the card goes negative: the member's next
qualifying purchases make up the difference before the card fills again.

Like every service here these functions flush and never commit: the caller's request owns the
transaction, so a purchase that fails leaves no stamps and no coupon behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, text, update

from app.campaigns.issuing import issue_member_coupon
from app.db import UTCDateTime, insert_row, utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.rewards.models import StampCard, StampEntry, StampEntryKind, StampProgramme
from app.settings_cache import bump_version, cached_setting
from coupons.rules import Benefit

STAMP_COUPON_SOURCE = "stamp-card"
SETTINGS_NAME = "stamp-programmes"  # the active programmes' version in ``app.settings_cache``


def create_stamp_programme(
    name: str,
    stamps_needed: int,
    reward: Benefit | Mapping[str, Any],
    *,
    description: str = "",
    category: str | None = None,
    skus: Iterable[str] = (),
    coupon_valid_days: int | None = 30,
    active: bool = True,
) -> StampProgramme:
    """Define a stamp programme; ``reward`` is the coupon benefit a full card earns."""
    sku_list = sorted({sku.strip() for sku in skus if sku.strip()})
    category = category.strip() if category and category.strip() else None
    if category is None and not sku_list:
        raise _invalid("category", "Name a category or at least one SKU that earns stamps.")
    if stamps_needed < 1:
        raise _invalid("stamps_needed", "A card needs at least one stamp.")
    reward_benefit = _valid_benefit(reward)
    programme = StampProgramme(
        name=name.strip(),
        description=description.strip(),
        category=category,
        skus=sku_list,
        stamps_needed=stamps_needed,
        reward_benefit=reward_benefit.to_dict(),
        coupon_valid_days=coupon_valid_days,
        active=active,
    )
    db.session.add(programme)
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return programme


def list_stamp_programmes() -> Sequence[StampProgramme]:
    """List every stamp programme, newest first."""
    return db.session.scalars(select(StampProgramme).order_by(StampProgramme.id.desc())).all()


def set_stamp_programme_active(programme_id: int, active: bool) -> StampProgramme:
    """Start or stop a programme; cards keep their stamps while it is stopped."""
    programme = db.session.get(StampProgramme, programme_id)
    if programme is None:
        raise DomainError("unknown-stamp-programme", f"There is no stamp programme {programme_id}.")
    programme.active = active
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return programme


def member_stamp_cards(member_id: int) -> list[dict[str, Any]]:
    """Return the member's card in every active programme (an empty card where none exists)."""
    programmes = db.session.scalars(
        select(StampProgramme).where(StampProgramme.active).order_by(StampProgramme.id)
    ).all()
    cards = {
        card.programme_id: card
        for card in db.session.scalars(select(StampCard).where(StampCard.member_id == member_id))
    }
    return [_card_state(programme, cards.get(programme.id)) for programme in programmes]


def record_stamps_for_purchase(
    member_id: int,
    lines: list[dict[str, Any]],
    receipt_ref: str,
    *,
    receipt_is_new: bool = False,
) -> list[dict[str, Any]]:
    """Add stamps for a purchase's qualifying lines and issue a coupon for every full card.

    ``lines`` are the purchase lines as the till sent them (``sku``, ``category``,
    ``quantity``). Returns the JSON-ready state of each card the purchase added stamps to.
    A receipt stamps a card once: the receipt is checked first, unless the caller says
    ``receipt_is_new`` because it inserted the receipt's purchase in this transaction (the
    till: a receipt booked before is refused as ``duplicate-receipt`` before any stamp).

    This runs inside every till purchase, so it is built for that: the active programmes come
    from the per-process settings cache, and a programme the basket qualifies for costs two
    statements, built once: the stamps added (the card created if missing, counted, locked and
    read in one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) and the stamp entry, with
    the receipt check before them when the receipt may not be new; a card that filled up
    costs its rewards on top.
    """
    states: list[dict[str, Any]] = []
    now = utcnow()
    for programme in active_programme_terms():
        units = qualifying_units(programme, lines)
        if units <= 0:
            continue
        connection = db.session.connection()
        if (
            receipt_ref
            and not receipt_is_new
            and _receipt_already_stamped(programme.id, member_id, receipt_ref)
        ):
            continue
        row = connection.execute(
            _ADD_STAMPS,
            {"programme_id": programme.id, "member_id": member_id, "units": units, "now": now},
        ).one()
        card = LockedCard(row.id, member_id, row.stamps, row.rewards_issued)
        entry = StampEntry(
            card_id=card.id,
            kind=StampEntryKind.PURCHASE,
            stamps=units,
            receipt_ref=receipt_ref or None,
        )
        insert_row(connection, entry)
        coupon_ids = _issue_rewards_for_full_cards(programme, card, receipt_ref)
        if coupon_ids:
            connection.execute(
                _STORE_CARD,
                {"card": card.id, "to_stamps": card.stamps, "to_rewards": card.rewards_issued},
            )
            db.session.flush()
        states.append(_card_state(programme, card, stamps_added=units, coupon_ids=coupon_ids))
    return states


def reverse_stamps_for_refund(
    member_id: int, lines: list[dict[str, Any]], receipt_ref: str
) -> list[dict[str, Any]]:
    """Take back the stamps refunded lines had added; returns the state of each changed card.

    Only stamps that ``receipt_ref`` (the original purchase's reference) added and that no
    earlier refund took back can be removed; coupons already issued stay valid.
    """
    states: list[dict[str, Any]] = []
    programmes = db.session.scalars(select(StampProgramme).order_by(StampProgramme.id)).all()
    for programme in programmes:
        units = qualifying_units(programme, lines)
        if units <= 0:
            continue
        card_id = db.session.scalar(
            select(StampCard.id).where(
                StampCard.programme_id == programme.id, StampCard.member_id == member_id
            )
        )
        if card_id is None:
            continue
        card = _locked_card(programme.id, member_id)
        still_on_card = db.session.scalar(
            select(func.coalesce(func.sum(StampEntry.stamps), 0)).where(
                StampEntry.card_id == card.id,
                StampEntry.receipt_ref == receipt_ref,
                StampEntry.kind.in_([StampEntryKind.PURCHASE, StampEntryKind.REFUND]),
            )
        )
        taken_back = min(units, int(still_on_card or 0))
        if taken_back <= 0:
            continue
        card.stamps -= taken_back
        db.session.add(
            StampEntry(
                card_id=card.id,
                kind=StampEntryKind.REFUND,
                stamps=-taken_back,
                receipt_ref=receipt_ref,
            )
        )
        db.session.flush()
        states.append(_card_state(programme, card, stamps_added=-taken_back))
    return states


def qualifying_units(
    programme: StampProgramme | ProgrammeTerms, lines: Iterable[Mapping[str, Any]]
) -> int:
    """Count the units of ``lines`` that earn stamps in ``programme``."""
    skus = set(programme.skus or [])
    units = 0
    for line in lines:
        quantity = line.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            continue
        sku = line.get("sku")
        category = line.get("category")
        if (sku is not None and sku in skus) or (
            programme.category is not None and category == programme.category
        ):
            units += quantity
    return units


@dataclass(frozen=True)
class ProgrammeTerms:
    """An active programme's terms, as a purchase needs them (cached per process)."""

    id: int
    name: str
    category: str | None
    skus: tuple[str, ...]
    stamps_needed: int
    reward_benefit: dict[str, Any]
    coupon_valid_days: int | None


@dataclass
class LockedCard:
    """A member's card in one programme, locked by the purchase that is counting it."""

    id: int
    member_id: int
    stamps: int
    rewards_issued: int


def active_programme_terms() -> tuple[ProgrammeTerms, ...]:
    """Return the terms of every active programme, oldest first (see ``app.settings_cache``)."""
    return cached_setting(SETTINGS_NAME, _read_active_programmes)


def _read_active_programmes() -> tuple[ProgrammeTerms, ...]:
    programmes = db.session.scalars(
        select(StampProgramme).where(StampProgramme.active).order_by(StampProgramme.id)
    )
    return tuple(
        ProgrammeTerms(
            p.id,
            p.name,
            p.category,
            tuple(p.skus or ()),
            p.stamps_needed,
            dict(p.reward_benefit),
            p.coupon_valid_days,
        )
        for p in programmes
    )


# The stamps added to the card in one statement: created if missing (two first purchases at
# once do not collide; the second waits for the first's row lock), counted, and read back.
_ADD_STAMPS = (
    text(
        "INSERT INTO stamp_cards (programme_id, member_id, stamps, rewards_issued, created_at,"
        " updated_at) VALUES (:programme_id, :member_id, :units, 0, :now, :now)"
        " ON CONFLICT (programme_id, member_id) DO UPDATE"
        " SET stamps = stamp_cards.stamps + :units, updated_at = :now"
        " RETURNING id, stamps, rewards_issued"
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(id=Integer(), stamps=Integer(), rewards_issued=Integer())
)
# Only when the stamps filled the card: the rewards issued and the stamps they took.
_STORE_CARD = (
    update(StampCard)
    .where(StampCard.id == bindparam("card"))
    .values(stamps=bindparam("to_stamps"), rewards_issued=bindparam("to_rewards"))
)
_RECEIPT_STAMPED = (
    select(StampEntry.id)
    .join(StampCard, StampCard.id == StampEntry.card_id)
    .where(
        StampCard.programme_id == bindparam("programme_id"),
        StampCard.member_id == bindparam("member_id"),
        StampEntry.kind == StampEntryKind.PURCHASE,
        StampEntry.receipt_ref == bindparam("receipt_ref"),
    )
)


def _locked_card(programme_id: int, member_id: int) -> StampCard:
    """Return the member's (existing) card in the programme, locked for update."""
    return db.session.scalars(
        select(StampCard)
        .where(StampCard.programme_id == programme_id, StampCard.member_id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _receipt_already_stamped(programme_id: int, member_id: int, receipt_ref: str) -> bool:
    params = {"programme_id": programme_id, "member_id": member_id, "receipt_ref": receipt_ref}
    return db.session.connection().execute(_RECEIPT_STAMPED, params).first() is not None


def _issue_rewards_for_full_cards(
    programme: ProgrammeTerms, card: LockedCard, receipt_ref: str
) -> list[int]:
    """Issue one coupon per full card on the (locked) card and take those stamps off."""
    coupon_ids: list[int] = []
    benefit = Benefit.from_dict(programme.reward_benefit)
    while card.stamps >= programme.stamps_needed:
        card.stamps -= programme.stamps_needed
        card.rewards_issued += 1
        issued = issue_member_coupon(
            card.member_id,
            benefit,
            source=STAMP_COUPON_SOURCE,
            source_id=f"{card.id}:{card.rewards_issued}",
            valid_until=_valid_until(programme.coupon_valid_days),
        )
        coupon_ids.append(issued.coupon_id)
        db.session.add(
            StampEntry(
                card_id=card.id,
                kind=StampEntryKind.REWARD,
                stamps=-programme.stamps_needed,
                receipt_ref=receipt_ref or None,
                coupon_id=issued.coupon_id,
            )
        )
    return coupon_ids


def _valid_until(days: int | None) -> datetime | None:
    return None if days is None else utcnow() + timedelta(days=days)


def _card_state(
    programme: StampProgramme | ProgrammeTerms,
    card: StampCard | LockedCard | None,
    *,
    stamps_added: int = 0,
    coupon_ids: list[int] | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "programme_id": programme.id,
        "name": programme.name,
        "stamps": card.stamps if card else 0,
        "stamps_needed": programme.stamps_needed,
        "rewards_issued": card.rewards_issued if card else 0,
        "reward": programme.reward_benefit,
    }
    if coupon_ids is not None or stamps_added:
        state["stamps_added"] = stamps_added
        state["coupons_issued"] = coupon_ids or []
    return state


def _valid_benefit(reward: Benefit | Mapping[str, Any]) -> Benefit:
    try:
        benefit = reward if isinstance(reward, Benefit) else Benefit.from_dict(reward)
        benefit.validate()
    except ValueError as exc:
        raise _invalid("reward", str(exc)) from None
    return benefit


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        message,
        errors={"json": {field: [message]}},
    )
