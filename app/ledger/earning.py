"""How many points a purchase earns, and the settings a manager changes to steer it.

``compute_points`` is a pure function of plain data, so every rounding rule is pinned by a unit
test. For a purchase of ``amount_cents``:

1. Each basket line earns ``line amount x line multiplier``. The line multiplier is the SKU's
   bonus rule if there is one, else its category's (categories match case-insensitively), else
   100 %. The most specific rule wins; rules never stack. A rule of 0 % excludes the line (gift
   cards, tobacco).
2. The part of the amount no line covers earns at 100 %. If the lines add up to more than the
   amount paid (a basket discount), every line is scaled down by ``amount / lines total``, so
   points follow the money actually paid.
3. The weighted amount becomes points at the base rate, ``base_points`` per
   ``per_amount_cents`` (default 1 point per 100 cents), times the member's tier multiplier,
   times the best promotion running in the store (promotions do not stack either).
4. The result is rounded **down once**, at the very end, with exact fractions before that: no
   fraction of a point is ever carried over or credited. 12.99 EUR at 1 point per EUR earns 12.

Multipliers are integer percentages (150 = x1.5), so nothing here uses floating point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select

from app.db import utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.ledger.models import EarningBonusRule, PointsProgramme, Promotion
from app.settings_cache import bump_version, cached_setting
from app.stores import scope

PROGRAMME_ROW_ID = 1
SETTINGS_NAME = "earning-programme"
FULL_RATE_PERCENT = 100


@dataclass(frozen=True)
class Programme:
    """The programme-wide settings, with the defaults a fresh install runs on."""

    currency: str = "EUR"
    base_points: int = 1
    per_amount_cents: int = 100
    expire_after_inactive_days: int | None = None
    tier_window_days: int = 365
    tier_period_months: int = 12


@dataclass(frozen=True)
class BasketLine:
    """One line of a receipt as the till reports it."""

    sku: str
    amount_cents: int
    category: str | None = None
    quantity: int = 1


@dataclass(frozen=True)
class EarningRules:
    """The base rate and the bonus multipliers per SKU and per category."""

    base_points: int = 1
    per_amount_cents: int = 100
    sku_percent: Mapping[str, int] = field(default_factory=dict)
    category_percent: Mapping[str, int] = field(default_factory=dict)

    def line_percent(self, line: BasketLine) -> int:
        """Return the multiplier (percent) of one basket line: SKU rule, category rule, 100."""
        if line.sku in self.sku_percent:
            return self.sku_percent[line.sku]
        if line.category is not None and line.category.casefold() in self.category_percent:
            return self.category_percent[line.category.casefold()]
        return FULL_RATE_PERCENT


def compute_points(
    amount_cents: int,
    lines: Sequence[BasketLine],
    rules: EarningRules,
    tier_percent: int = FULL_RATE_PERCENT,
    promotion_percent: int = FULL_RATE_PERCENT,
) -> int:
    """Return the points a purchase earns, rounded down once at the end."""
    if amount_cents <= 0 or rules.base_points <= 0:
        return 0
    lines_total = sum(line.amount_cents for line in lines)
    weighted = Fraction(sum(line.amount_cents * rules.line_percent(line) for line in lines), 100)
    if lines_total > amount_cents:
        weighted *= Fraction(amount_cents, lines_total)
    else:
        weighted += amount_cents - lines_total
    points = (
        weighted
        * Fraction(rules.base_points, rules.per_amount_cents)
        * Fraction(tier_percent, 100)
        * Fraction(promotion_percent, 100)
    )
    return math.floor(points)


def basket_lines(raw_lines: Iterable[Mapping[str, Any]]) -> list[BasketLine]:
    """Turn the till's JSON lines into basket lines."""
    return [
        BasketLine(
            sku=str(line["sku"]),
            amount_cents=int(line["amount_cents"]),
            category=line.get("category"),
            quantity=int(line.get("quantity") or 1),
        )
        for line in raw_lines
    ]


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningPromotion:
    """A promotion as the earning sees it (a plain copy, safe to keep between requests)."""

    id: int
    name: str
    multiplier_percent: int
    starts_at: datetime
    ends_at: datetime
    store_ids: tuple[int, ...] | None


@dataclass(frozen=True)
class EarningSettings:
    """Everything a purchase's points depend on besides the member: cached as one."""

    programme: Programme
    rules: EarningRules
    promotions: tuple[RunningPromotion, ...]


def earning_settings() -> EarningSettings:
    """Return the programme, its earning rules and the promotions not over yet (cached).

    Managers change these rarely; each change bumps the ``earning-programme`` settings version
    (``app.settings_cache``), so every process reloads them on its next request.
    """
    return cached_setting(SETTINGS_NAME, _load_earning_settings)


def _load_earning_settings() -> EarningSettings:
    programme = _read_programme()
    promotions = db.session.scalars(
        select(Promotion).where(Promotion.cancelled_at.is_(None), Promotion.ends_at > utcnow())
    ).all()
    return EarningSettings(
        programme,
        _read_rules(programme),
        tuple(
            RunningPromotion(
                p.id,
                p.name,
                p.multiplier_percent,
                p.starts_at,
                p.ends_at,
                tuple(p.store_ids) if p.store_ids is not None else None,
            )
            for p in promotions
        ),
    )


def load_programme() -> Programme:
    """Return the programme settings (defaults until a manager saves some)."""
    return earning_settings().programme


def _read_programme() -> Programme:
    row = db.session.get(PointsProgramme, PROGRAMME_ROW_ID)
    if row is None:
        return Programme()
    return Programme(
        currency=row.currency,
        base_points=row.base_points,
        per_amount_cents=row.per_amount_cents,
        expire_after_inactive_days=row.expire_after_inactive_days,
        tier_window_days=row.tier_window_days,
        tier_period_months=row.tier_period_months,
    )


def save_programme(staff_id: int | None, **changes: Any) -> Programme:
    """Change some programme settings (the row is locked while it changes)."""
    row = db.session.get(PointsProgramme, PROGRAMME_ROW_ID, with_for_update=True)
    if row is None:
        defaults = Programme()
        row = PointsProgramme(
            id=PROGRAMME_ROW_ID,
            currency=defaults.currency,
            base_points=defaults.base_points,
            per_amount_cents=defaults.per_amount_cents,
            expire_after_inactive_days=defaults.expire_after_inactive_days,
            tier_window_days=defaults.tier_window_days,
            tier_period_months=defaults.tier_period_months,
        )
        db.session.add(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    row.updated_by = staff_id
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return load_programme()


def load_rules(programme: Programme | None = None) -> EarningRules:
    """Return the earning rules in force."""
    settings = earning_settings()
    if programme is None or programme == settings.programme:
        return settings.rules
    return _read_rules(programme)


def _read_rules(programme: Programme) -> EarningRules:
    sku_percent: dict[str, int] = {}
    category_percent: dict[str, int] = {}
    for rule in db.session.scalars(select(EarningBonusRule)):
        if rule.match == "sku":
            sku_percent[rule.value] = rule.multiplier_percent
        else:
            category_percent[rule.value.casefold()] = rule.multiplier_percent
    return EarningRules(
        base_points=programme.base_points,
        per_amount_cents=programme.per_amount_cents,
        sku_percent=sku_percent,
        category_percent=category_percent,
    )


def earning_rules_view() -> dict[str, Any]:
    """Return the earning rules as the API shows them."""
    programme = load_programme()
    rules = db.session.scalars(
        select(EarningBonusRule).order_by(EarningBonusRule.match, EarningBonusRule.value)
    ).all()
    return {
        "currency": programme.currency,
        "base_points": programme.base_points,
        "per_amount_cents": programme.per_amount_cents,
        "expire_after_inactive_days": programme.expire_after_inactive_days,
        "bonus_rules": [
            {"match": r.match, "value": r.value, "multiplier_percent": r.multiplier_percent}
            for r in rules
        ],
    }


def replace_earning_rules(
    staff_id: int | None,
    *,
    currency: str,
    base_points: int,
    per_amount_cents: int,
    expire_after_inactive_days: int | None,
    bonus_rules: list[dict[str, Any]],
) -> dict[str, Any]:
    """Replace the base rate, expiry period and bonus rules as a whole."""
    keys = [(rule["match"], _rule_value(rule)) for rule in bonus_rules]
    if len(set(keys)) != len(keys):
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            "Each SKU and each category may have one bonus rule only.",
            errors={"json": {"bonus_rules": ["Duplicate SKU or category."]}},
        )
    save_programme(
        staff_id,
        currency=currency,
        base_points=base_points,
        per_amount_cents=per_amount_cents,
        expire_after_inactive_days=expire_after_inactive_days,
    )
    db.session.execute(delete(EarningBonusRule))
    db.session.add_all(
        EarningBonusRule(match=match, value=value, multiplier_percent=rule["multiplier_percent"])
        for (match, value), rule in zip(keys, bonus_rules, strict=True)
    )
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return earning_rules_view()


def _rule_value(rule: Mapping[str, Any]) -> str:
    value = str(rule["value"]).strip()
    return value.casefold() if rule["match"] == "category" else value


# --- promotions --------------------------------------------------------------------------------


def running_promotion(store_id: int | None, now: datetime) -> RunningPromotion | None:
    """Return the promotion with the highest multiplier running in a store now, if any."""
    running = [
        p
        for p in earning_settings().promotions
        if p.starts_at <= now < p.ends_at and (p.store_ids is None or store_id in p.store_ids)
    ]
    return max(running, key=lambda p: (p.multiplier_percent, -p.id), default=None)


def create_promotion(
    staff_id: int | None,
    name: str,
    multiplier_percent: int,
    starts_at: datetime,
    ends_at: datetime,
    store_ids: list[int] | None,
) -> Promotion:
    """Schedule a time-boxed multiplier."""
    promotion = Promotion(
        name=name.strip(),
        multiplier_percent=multiplier_percent,
        starts_at=starts_at,
        ends_at=ends_at,
        store_ids=sorted(set(store_ids)) if store_ids else None,
        created_by=staff_id,
    )
    db.session.add(promotion)
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return promotion


def list_promotions(include_past: bool, now: datetime | None = None) -> Sequence[Promotion]:
    """List promotions, by start time; past and cancelled ones only when asked."""
    query = select(Promotion).order_by(Promotion.starts_at, Promotion.id)
    if not include_past:
        query = query.where(
            Promotion.cancelled_at.is_(None),
            Promotion.ends_at > (now or utcnow()),
        )
    return db.session.scalars(query).all()


def cancel_promotion(promotion_id: int, staff_id: int | None = None) -> Promotion:
    """Stop a promotion now (it stays on record, marked cancelled)."""
    promotion = db.session.get(Promotion, promotion_id, with_for_update=True)
    if promotion is None:
        raise DomainError("unknown-promotion", f"There is no promotion {promotion_id}.")
    if staff_id is not None:
        scope.require_stores(staff_id, promotion.store_ids)
    if promotion.cancelled_at is None:
        promotion.cancelled_at = utcnow()
        db.session.flush()
        bump_version(SETTINGS_NAME)
    return promotion
