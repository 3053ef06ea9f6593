"""The till's desk: its own place, member lookup without a card, and its recent receipts.

* **Context**: the till and store *names* (a cashier reads "Berlin Mitte · Till 1", not ids),
  the tier names members see (the till shows the same words), the lookup policy and how long
  a cashier may undo a coupon redemption.
* **Member lookup**: a member who has no phone with them is found by name or e-mail (a
  case-insensitive substring of either, at least two characters, at most ten answers, e-mail
  shown masked), by member number or by the phone in their profile. A member number
  (``app.member_numbers``) matches exactly: with or without dashes, in any case, and a wrong
  check symbol names nobody, so a typo finds no one rather than someone else. A phone matches
  exactly, never as a part (typing a few digits must not list strangers): at least six digits,
  spaces, dashes, slashes, dots and brackets ignored, and ``+49``, ``0049`` and a leading ``0``
  are the same German number (``0170 1234567`` finds ``+49 170 1234567``); other country
  codes are kept (``+43 …`` and ``0043 …`` are the same Austrian number). Every answer shows
  the member number, which the cashier reads back to the member. Choosing one opens a visit
  like a scan does (``operations.LookupVisit``), with a scan token whose credential is
  ``lookup``: nothing was shown at the till, so a fraud rule that asks for a live code asks
  for it, and while ``LW_TILL_LOOKUP_EARN_ONLY`` is on (the
  default) the visit may earn points but never spend: redeeming a coupon with it is refused
  ``lookup-earn-only`` (``refuse_spending_after_lookup``, step 8 of the coupon operations).
* **Recent receipts** of this till (newest first), with the member's name, what was refunded
  so far and the lines, for the receipt view and refunds from there.

Like the rest of the till, these functions take the ``TillContext``; none reads ``flask.g``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, or_, select

from app.accounts.models import Member
from app.campaigns.settings import coupon_settings
from app.cards.presentation import LOOKUP_CREDENTIAL, PresentedCard
from app.errors import DomainError
from app.extensions import db
from app.ledger.models import Purchase
from app.ledger.tiers import load_ladder
from app.member_numbers import format_member_number, member_id_from_number
from app.profiles.models import MemberProfile
from app.stores.models import Till
from app.till.pipeline import TillContext

MAX_LOOKUP_RESULTS = 10
MIN_QUERY_LENGTH = 2
MIN_PHONE_DIGITS = 6
HOME_COUNTRY_CODE = "49"
PHONE_QUERY = re.compile(r"^\+?[0-9 ()./-]+$")
PHONE_SEPARATORS = re.compile(r"[ ()./-]")


def lookup_earn_only() -> bool:
    """Tell whether a visit opened by lookup may only earn points."""
    return bool(current_app.config.get("TILL_LOOKUP_EARN_ONLY", True))


def refuse_spending_after_lookup(card: PresentedCard | None) -> None:
    """Refuse spending with a visit opened by lookup while the policy says earn only."""
    if card is None or card.credential != LOOKUP_CREDENTIAL or not lookup_earn_only():
        return
    raise DomainError(
        "lookup-earn-only",
        "A member found by search can collect points but not redeem: "
        "ask them to show their card in the app.",
    )


def tier_names() -> dict[str, str]:
    """Return the name of each tier, by code, as members see it."""
    return {level.code: level.name for level in load_ladder().levels}


def till_context(till: TillContext) -> dict[str, Any]:
    """Return this till's and store's names, the tier names and the till's policies."""
    row = db.session.get(Till, till.till_id)
    if row is None:
        raise DomainError("unknown-till", "This till no longer exists.")
    return {
        "till": {"id": row.id, "name": row.name},
        "store": {"id": row.store.id, "name": row.store.name, "address": row.store.address},
        "tiers": tier_names(),
        "lookup_earn_only": lookup_earn_only(),
        "reversal_window_minutes": coupon_settings()["reversal_window_minutes"],
    }


def mask_email(email: str) -> str:
    """Return an e-mail with most of its local part hidden: "anna@x.de" → "a***@x.de"."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def phone_spellings(query: str) -> list[str]:
    """Return the ways a profile may hold the phone number typed, or [] if it is none.

    Profiles keep a leading ``+`` and the digits of what the member typed
    (``app.profiles.service.normalise_phone``), so one number may be stored as ``+49170…``,
    ``0049170…`` or ``0170…``; the typed number is read the same way and all its spellings
    are asked for.
    """
    text = query.strip()
    if not PHONE_QUERY.match(text):
        return []
    digits = PHONE_SEPARATORS.sub("", text)
    if digits.startswith("+"):
        international = digits[1:]
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith("0"):
        international = HOME_COUNTRY_CODE + digits[1:]
    else:
        international = HOME_COUNTRY_CODE + digits  # read out without the trunk 0
    if international.startswith(HOME_COUNTRY_CODE + "0"):  # "+49 (0)170 …"
        international = HOME_COUNTRY_CODE + international[len(HOME_COUNTRY_CODE) + 1 :]
    if len(international) < MIN_PHONE_DIGITS + len(HOME_COUNTRY_CODE):
        return []
    spellings = ["+" + international, "00" + international]
    if international.startswith(HOME_COUNTRY_CODE):
        national = international[len(HOME_COUNTRY_CODE) :]
        spellings += ["0" + national, national]
    return spellings


def _lookup_condition(text: str) -> ColumnElement[bool]:
    pattern = f"%{_escape_like(text.lower())}%"
    matches: list[ColumnElement[bool]] = [
        func.lower(Member.display_name).like(pattern, escape="\\"),
        func.lower(Member.email).like(pattern, escape="\\"),
    ]
    by_number = member_id_from_number(text)
    if by_number is not None:
        matches.append(Member.id == by_number)
    phones = phone_spellings(text)
    if phones:
        matches.append(
            Member.id.in_(select(MemberProfile.member_id).where(MemberProfile.phone.in_(phones)))
        )
    return or_(*matches)


def find_members(query: str) -> Sequence[Member]:
    """Return up to ten members found by name, e-mail, member number or phone."""
    text = query.strip()
    if len(text) < MIN_QUERY_LENGTH:
        raise DomainError(
            "query-too-short", f"Type at least {MIN_QUERY_LENGTH} characters of the name or e-mail."
        )
    statement = (
        select(Member)
        .where(_lookup_condition(text))
        .order_by(Member.display_name, Member.id)
        .limit(MAX_LOOKUP_RESULTS)
    )
    return db.session.scalars(statement).all()


def member_summary(member: Member) -> dict[str, Any]:
    """Return what the till shows of a member in a lookup list."""
    return {
        "member_id": member.id,
        "member_number": format_member_number(member.id),
        "display_name": member.display_name,
        "email_hint": mask_email(member.email),
        "points_balance": member.points_balance,
        "tier": member.tier,
        "tier_name": tier_names().get(member.tier, member.tier),
    }


def recent_receipts(till: TillContext, limit: int) -> list[dict[str, Any]]:
    """Return this till's latest purchases, newest first, with the member's name."""
    rows = db.session.execute(
        select(Purchase, Member.display_name)
        .join(Member, Member.id == Purchase.member_id)
        .where(Purchase.till_id == till.till_id)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "purchase_id": purchase.id,
            "receipt_id": purchase.receipt_id,
            "member_name": name,
            "amount_cents": purchase.amount_cents,
            "currency": purchase.currency,
            "refunded_cents": purchase.refunded_cents,
            "remaining_cents": purchase.amount_cents - purchase.refunded_cents,
            "points_earned": purchase.points_earned,
            "points_refunded": purchase.points_refunded,
            "card_id": purchase.card_id,
            "lines": purchase.lines or [],
            "created_at": purchase.created_at,
        }
        for purchase, name in rows
    ]
