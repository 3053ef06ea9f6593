"""Redemption rules: may this coupon be redeemed here and now, and what is it worth?

``decide_redemption(terms, benefit, ctx)`` is a pure function of plain data: the coupon's terms
as stored, its benefit, and what the till reports. It reads no clock (``ctx.now`` is passed in),
no database and no request, so every rule is pinned by a unit test.

Checks run in a fixed, documented order and the first failure is the answer. The order matters
to the till: a voided coupon says "voided" even if it is also expired, and a coupon someone
else already used says "already redeemed" rather than leaking which store or member it was for.

1. ``coupon-voided`` (410): staff withdrew it.
2. ``coupon-already-redeemed`` (409): single use, already used.
3. ``coupon-not-yet-valid`` (422): ``now < valid_from`` (``valid_from`` is inclusive).
4. ``coupon-expired`` (410): ``now >= valid_until`` (``valid_until`` is *exclusive*: a coupon
   valid until midnight is refused at midnight exactly).
5. ``wrong-store`` (403): ``store_ids`` is set and does not contain ``ctx.store_id``.
6. ``wrong-member`` (403): the coupon is bound to a member and ``ctx.member_id`` is someone else
   or nobody; or the coupon has a per-member limit and no member was identified (otherwise
   not showing the card would bypass the limit).
7. ``use-limit-reached`` (409): ``ctx.member_use_count >= max_uses_per_member``.
8. ``basket-too-small`` (422): ``ctx.basket_cents < min_basket_cents`` (the minimum itself
   passes).
9. ``item-not-in-basket`` (422): a free-item coupon, the till sent basket lines, and none of
   them is the SKU.

Then the benefit is computed, in integer cents, never below 0 and never above the basket:

* amount off: ``min(amount_cents, basket)``;
* percent off: ``basket * percent // 100`` (rounded down, in the shop's favour), then capped by
  ``cap_cents`` and by the basket;
* free item: the unit price ``amount_cents // quantity`` of the first basket line with the SKU,
  capped by the basket; 0 if the till sent no lines (it then applies the item itself, and
  ``free_sku`` tells it which);
* bonus points: no discount; ``bonus_points`` is credited to the member's ledger.

This decision is advisory. The ``redeemed`` flag is a snapshot: what actually prevents a double
redemption is the database's conditional UPDATE (STANDARDS-NOTES section 7). The app runs
``decide_redemption`` inside the same transaction and lets the UPDATE have the last word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from coupons.errors import CouponError


class BenefitKind(StrEnum):
    """What a coupon gives."""

    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    FREE_ITEM = "free_item"
    BONUS_POINTS = "bonus_points"


# Which optional Benefit fields each kind uses; any other field set is an inconsistent benefit.
_BENEFIT_FIELDS: dict[BenefitKind, frozenset[str]] = {
    BenefitKind.AMOUNT_OFF: frozenset({"amount_cents"}),
    BenefitKind.PERCENT_OFF: frozenset({"percent", "cap_cents"}),
    BenefitKind.FREE_ITEM: frozenset({"sku"}),
    BenefitKind.BONUS_POINTS: frozenset({"points"}),
}
_INT_FIELDS = ("amount_cents", "percent", "cap_cents", "points")


def _is_int(value: object) -> bool:
    """Tell whether ``value`` is a real integer (``True`` is not 5 cents)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _require_aware(name: str, value: datetime | None) -> None:
    """Refuse naive datetimes, which cannot be compared with the UTC clock."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC)")


@dataclass(frozen=True)
class Benefit:
    """What redeeming a coupon gives; only the fields of its ``kind`` are set."""

    kind: BenefitKind
    amount_cents: int | None = None
    percent: int | None = None
    cap_cents: int | None = None
    sku: str | None = None
    points: int | None = None

    def validate(self) -> None:
        """Raise ValueError if the fields do not make a consistent benefit of this kind."""
        if not isinstance(self.kind, BenefitKind):
            raise ValueError(f"unknown benefit kind {self.kind!r}")
        used = _BENEFIT_FIELDS[self.kind]
        for name in (*_INT_FIELDS, "sku"):
            value = getattr(self, name)
            if value is not None and name not in used:
                raise ValueError(f"{name} does not apply to a {self.kind.value} benefit")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name} must be an integer")
        match self.kind:
            case BenefitKind.AMOUNT_OFF:
                if self.amount_cents is None or self.amount_cents < 1:
                    raise ValueError("an amount_off benefit needs amount_cents of at least 1")
            case BenefitKind.PERCENT_OFF:
                if self.percent is None or not 1 <= self.percent <= 100:
                    raise ValueError("a percent_off benefit needs percent from 1 to 100")
                if self.cap_cents is not None and self.cap_cents < 1:
                    raise ValueError("cap_cents, when set, must be at least 1")
            case BenefitKind.FREE_ITEM:
                if not isinstance(self.sku, str) or not self.sku.strip():
                    raise ValueError("a free_item benefit needs a non-empty sku")
            case BenefitKind.BONUS_POINTS:
                if self.points is None or self.points < 1:
                    raise ValueError("a bonus_points benefit needs points of at least 1")

    def to_dict(self) -> dict[str, str | int]:
        """Return the benefit as a JSON-ready dict holding only the fields that are set."""
        self.validate()
        result: dict[str, str | int] = {"kind": self.kind.value}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "kind" and value is not None:
                result[field.name] = value
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Benefit:
        """Build and validate a benefit from a dict as written by ``to_dict``."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown benefit fields: {', '.join(unknown)}")
        try:
            kind = BenefitKind(str(data["kind"]))
        except KeyError:
            raise ValueError("a benefit needs a kind") from None
        ints: dict[str, int | None] = {}
        for name in _INT_FIELDS:
            value = data.get(name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name} must be an integer")
            ints[name] = value if isinstance(value, int) else None
        sku = data.get("sku")
        if sku is not None and not isinstance(sku, str):
            raise ValueError("sku must be text")
        benefit = cls(
            kind=kind,
            amount_cents=ints["amount_cents"],
            percent=ints["percent"],
            cap_cents=ints["cap_cents"],
            sku=sku,
            points=ints["points"],
        )
        benefit.validate()
        return benefit


@dataclass(frozen=True)
class BasketLine:
    """One line of the till's basket: ``quantity`` units of ``sku`` for ``amount_cents`` total."""

    sku: str
    category: str | None
    amount_cents: int
    quantity: int

    def __post_init__(self) -> None:
        if not _is_int(self.amount_cents) or self.amount_cents < 0:
            raise ValueError("a basket line's amount_cents must be a non-negative integer")
        if not _is_int(self.quantity) or self.quantity < 1:
            raise ValueError("a basket line's quantity must be at least 1")

    @property
    def unit_price_cents(self) -> int:
        """Return the price of one unit, rounded down so a free item never exceeds the line."""
        return self.amount_cents // self.quantity


@dataclass(frozen=True)
class CouponTerms:
    """The conditions stored with a coupon; ``None`` means "no restriction"."""

    valid_from: datetime | None = None
    valid_until: datetime | None = None
    store_ids: frozenset[int] | None = None
    min_basket_cents: int = 0
    member_id: int | None = None
    max_uses_per_member: int | None = None
    voided: bool = False
    redeemed: bool = False

    def __post_init__(self) -> None:
        _require_aware("valid_from", self.valid_from)
        _require_aware("valid_until", self.valid_until)
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until <= self.valid_from
        ):
            raise ValueError("valid_until must be after valid_from")
        if self.store_ids is not None and not self.store_ids:
            # An empty set would refuse every store; it is almost certainly a bug upstream.
            raise ValueError("store_ids must be None (any store) or name at least one store")
        if not _is_int(self.min_basket_cents) or self.min_basket_cents < 0:
            raise ValueError("min_basket_cents must be a non-negative integer")
        if self.max_uses_per_member is not None and (
            not _is_int(self.max_uses_per_member) or self.max_uses_per_member < 1
        ):
            raise ValueError("max_uses_per_member must be None or at least 1")


@dataclass(frozen=True)
class RedemptionContext:
    """What the till reports about this redemption attempt, plus the server's clock."""

    now: datetime
    store_id: int
    basket_cents: int
    member_id: int | None = None
    member_use_count: int = 0
    lines: tuple[BasketLine, ...] = ()

    def __post_init__(self) -> None:
        _require_aware("now", self.now)
        if not _is_int(self.basket_cents) or self.basket_cents < 0:
            raise ValueError("basket_cents must be a non-negative integer")
        if not _is_int(self.member_use_count) or self.member_use_count < 0:
            raise ValueError("member_use_count must be a non-negative integer")
        if not isinstance(self.lines, tuple):
            raise ValueError("lines must be a tuple of BasketLine")


class Refusal(StrEnum):
    """Why a redemption is refused; the value is the problem+json ``type``."""

    ALREADY_REDEEMED = "coupon-already-redeemed"
    EXPIRED = "coupon-expired"
    NOT_YET_VALID = "coupon-not-yet-valid"
    VOIDED = "coupon-voided"
    WRONG_STORE = "wrong-store"
    BASKET_TOO_SMALL = "basket-too-small"
    WRONG_MEMBER = "wrong-member"
    USE_LIMIT_REACHED = "use-limit-reached"
    ITEM_NOT_IN_BASKET = "item-not-in-basket"


REFUSAL_STATUS: dict[Refusal, int] = {
    Refusal.ALREADY_REDEEMED: 409,
    Refusal.EXPIRED: 410,
    Refusal.NOT_YET_VALID: 422,
    Refusal.VOIDED: 410,
    Refusal.WRONG_STORE: 403,
    Refusal.BASKET_TOO_SMALL: 422,
    Refusal.WRONG_MEMBER: 403,
    Refusal.USE_LIMIT_REACHED: 409,
    Refusal.ITEM_NOT_IN_BASKET: 422,
}

REFUSAL_TITLE: dict[Refusal, str] = {
    Refusal.ALREADY_REDEEMED: "Coupon already redeemed",
    Refusal.EXPIRED: "Coupon expired",
    Refusal.NOT_YET_VALID: "Coupon not valid yet",
    Refusal.VOIDED: "Coupon voided",
    Refusal.WRONG_STORE: "Coupon not valid in this store",
    Refusal.BASKET_TOO_SMALL: "Basket below the coupon's minimum",
    Refusal.WRONG_MEMBER: "Coupon not valid for this member",
    Refusal.USE_LIMIT_REACHED: "Member has already used this offer as often as allowed",
    Refusal.ITEM_NOT_IN_BASKET: "Free item not in the basket",
}

# The order decide_redemption checks in; the first that applies is the answer.
CHECK_ORDER: tuple[Refusal, ...] = (
    Refusal.VOIDED,
    Refusal.ALREADY_REDEEMED,
    Refusal.NOT_YET_VALID,
    Refusal.EXPIRED,
    Refusal.WRONG_STORE,
    Refusal.WRONG_MEMBER,
    Refusal.USE_LIMIT_REACHED,
    Refusal.BASKET_TOO_SMALL,
    Refusal.ITEM_NOT_IN_BASKET,
)


class RedemptionRefused(CouponError):
    """Carry a refusal to the API's problem+json handler."""

    def __init__(self, refusal: Refusal, detail: str | None = None) -> None:
        super().__init__(detail or REFUSAL_TITLE[refusal])
        self.refusal = refusal
        self.type = refusal.value
        self.title = REFUSAL_TITLE[refusal]
        self.status = REFUSAL_STATUS[refusal]


@dataclass(frozen=True)
class Decision:
    """The outcome: a refusal, or what the redemption is worth."""

    refusal: Refusal | None
    discount_cents: int = 0
    bonus_points: int = 0
    free_sku: str | None = None

    @property
    def allowed(self) -> bool:
        """Tell whether the redemption may go ahead."""
        return self.refusal is None

    @classmethod
    def refused(cls, refusal: Refusal) -> Decision:
        """Return a refusal that is worth nothing."""
        return cls(refusal=refusal)

    def raise_if_refused(self) -> None:
        """Raise RedemptionRefused if this decision is a refusal."""
        if self.refusal is not None:
            raise RedemptionRefused(self.refusal)


def decide_redemption(terms: CouponTerms, benefit: Benefit, ctx: RedemptionContext) -> Decision:
    """Decide whether a coupon may be redeemed in this context and what it is worth."""
    benefit.validate()
    refusal = _first_refusal(terms, benefit, ctx)
    if refusal is not None:
        return Decision.refused(refusal)
    return _worth(benefit, ctx)


def _first_refusal(terms: CouponTerms, benefit: Benefit, ctx: RedemptionContext) -> Refusal | None:
    """Return the first rule the attempt breaks, in CHECK_ORDER, or None."""
    if terms.voided:
        return Refusal.VOIDED
    if terms.redeemed:
        return Refusal.ALREADY_REDEEMED
    if terms.valid_from is not None and ctx.now < terms.valid_from:
        return Refusal.NOT_YET_VALID
    if terms.valid_until is not None and ctx.now >= terms.valid_until:
        return Refusal.EXPIRED
    if terms.store_ids is not None and ctx.store_id not in terms.store_ids:
        return Refusal.WRONG_STORE
    if terms.member_id is not None and ctx.member_id != terms.member_id:
        return Refusal.WRONG_MEMBER
    if terms.max_uses_per_member is not None:
        if ctx.member_id is None:
            return Refusal.WRONG_MEMBER
        if ctx.member_use_count >= terms.max_uses_per_member:
            return Refusal.USE_LIMIT_REACHED
    if ctx.basket_cents < terms.min_basket_cents:
        return Refusal.BASKET_TOO_SMALL
    if (
        benefit.kind is BenefitKind.FREE_ITEM
        and ctx.lines
        and _line_for(benefit.sku, ctx.lines) is None
    ):
        return Refusal.ITEM_NOT_IN_BASKET
    return None


def _line_for(sku: str | None, lines: tuple[BasketLine, ...]) -> BasketLine | None:
    """Return the first basket line for ``sku``, or None."""
    return next((line for line in lines if line.sku == sku), None)


def _worth(benefit: Benefit, ctx: RedemptionContext) -> Decision:
    """Compute what an allowed redemption gives, bounded by the basket."""
    basket = ctx.basket_cents
    match benefit.kind:
        case BenefitKind.AMOUNT_OFF:
            assert benefit.amount_cents is not None  # guaranteed by validate()
            discount = benefit.amount_cents
            return Decision(refusal=None, discount_cents=_bounded(discount, basket))
        case BenefitKind.PERCENT_OFF:
            assert benefit.percent is not None
            discount = basket * benefit.percent // 100
            if benefit.cap_cents is not None:
                discount = min(discount, benefit.cap_cents)
            return Decision(refusal=None, discount_cents=_bounded(discount, basket))
        case BenefitKind.FREE_ITEM:
            line = _line_for(benefit.sku, ctx.lines)
            discount = line.unit_price_cents if line is not None else 0
            return Decision(
                refusal=None, discount_cents=_bounded(discount, basket), free_sku=benefit.sku
            )
        case BenefitKind.BONUS_POINTS:
            assert benefit.points is not None
            return Decision(refusal=None, bonus_points=benefit.points)


def _bounded(discount: int, basket_cents: int) -> int:
    """Clamp a discount into [0, basket]: never negative, never more than the basket."""
    return max(0, min(discount, basket_cents))
