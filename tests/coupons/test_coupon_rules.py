"""Whether a redemption may go ahead, and what it is worth."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from coupons import (
    CHECK_ORDER,
    REFUSAL_STATUS,
    REFUSAL_TITLE,
    BasketLine,
    Benefit,
    BenefitKind,
    CouponError,
    CouponTerms,
    Decision,
    RedemptionContext,
    RedemptionRefused,
    Refusal,
    decide_redemption,
)

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
FIVE_EUROS_OFF = Benefit(BenefitKind.AMOUNT_OFF, amount_cents=500)
COFFEE = BasketLine(sku="COFFEE-1KG", category="coffee", amount_cents=2_400, quantity=2)
MILK = BasketLine(sku="MILK-1L", category="dairy", amount_cents=119, quantity=1)


def context(**changes: object) -> RedemptionContext:
    """Return a till context that every unrestricted coupon accepts, with ``changes``."""
    base = RedemptionContext(
        now=NOW, store_id=7, basket_cents=3_000, member_id=42, member_use_count=0, lines=()
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def decide(
    terms: CouponTerms | None = None,
    benefit: Benefit = FIVE_EUROS_OFF,
    ctx: RedemptionContext | None = None,
) -> Decision:
    return decide_redemption(terms or CouponTerms(), benefit, ctx or context())


# --- the public refusal table -----------------------------------------------------------------


def test_refusal_types_and_statuses_are_the_published_ones() -> None:
    assert {refusal.value: REFUSAL_STATUS[refusal] for refusal in Refusal} == {
        "coupon-already-redeemed": 409,
        "coupon-expired": 410,
        "coupon-not-yet-valid": 422,
        "coupon-voided": 410,
        "wrong-store": 403,
        "basket-too-small": 422,
        "wrong-member": 403,
        "use-limit-reached": 409,
        "item-not-in-basket": 422,
    }
    assert set(REFUSAL_TITLE) == set(Refusal)
    assert all(REFUSAL_TITLE.values())
    assert sorted(CHECK_ORDER) == sorted(Refusal)


def test_refusal_becomes_a_coupon_error_with_its_type_and_status() -> None:
    error = RedemptionRefused(Refusal.EXPIRED)
    assert isinstance(error, CouponError)
    assert (error.type, error.status, error.title) == ("coupon-expired", 410, "Coupon expired")
    assert str(error) == "Coupon expired"
    with pytest.raises(RedemptionRefused) as caught:
        decide(CouponTerms(voided=True)).raise_if_refused()
    assert caught.value.refusal is Refusal.VOIDED
    decide().raise_if_refused()  # allowed: no exception


# --- one test per refusal ---------------------------------------------------------------------


def test_unrestricted_coupon_is_allowed() -> None:
    decision = decide()
    assert decision.allowed
    assert decision.refusal is None


def test_voided_coupon_is_refused() -> None:
    decision = decide(CouponTerms(voided=True))
    assert decision.refusal is Refusal.VOIDED
    assert not decision.allowed


def test_second_redemption_of_same_code_is_refused() -> None:
    assert decide(CouponTerms(redeemed=True)).refusal is Refusal.ALREADY_REDEEMED


def test_coupon_before_its_start_is_refused() -> None:
    terms = CouponTerms(valid_from=NOW + timedelta(seconds=1))
    assert decide(terms).refusal is Refusal.NOT_YET_VALID


def test_coupon_is_valid_from_its_first_instant() -> None:
    assert decide(CouponTerms(valid_from=NOW)).allowed


def test_coupon_after_its_end_is_refused() -> None:
    terms = CouponTerms(valid_until=NOW - timedelta(seconds=1))
    assert decide(terms).refusal is Refusal.EXPIRED


def test_valid_until_is_exclusive() -> None:
    assert decide(CouponTerms(valid_until=NOW)).refusal is Refusal.EXPIRED
    assert decide(CouponTerms(valid_until=NOW + timedelta(microseconds=1))).allowed


def test_validity_compares_instants_not_wall_clock_times() -> None:
    # 13:00 in UTC+2 is 11:00 UTC, before NOW (12:00 UTC).
    until = datetime(2026, 3, 14, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    assert decide(CouponTerms(valid_until=until)).refusal is Refusal.EXPIRED


def test_coupon_for_other_stores_is_refused() -> None:
    assert decide(CouponTerms(store_ids=frozenset({1, 2}))).refusal is Refusal.WRONG_STORE


def test_coupon_for_this_store_is_allowed() -> None:
    assert decide(CouponTerms(store_ids=frozenset({1, 7}))).allowed


def test_coupon_bound_to_another_member_is_refused() -> None:
    assert decide(CouponTerms(member_id=99)).refusal is Refusal.WRONG_MEMBER


def test_member_bound_coupon_without_a_member_card_is_refused() -> None:
    decision = decide(CouponTerms(member_id=42), ctx=context(member_id=None))
    assert decision.refusal is Refusal.WRONG_MEMBER


def test_member_bound_coupon_for_its_member_is_allowed() -> None:
    assert decide(CouponTerms(member_id=42)).allowed


def test_member_who_reached_the_use_limit_is_refused() -> None:
    terms = CouponTerms(max_uses_per_member=2)
    assert decide(terms, ctx=context(member_use_count=2)).refusal is Refusal.USE_LIMIT_REACHED
    assert decide(terms, ctx=context(member_use_count=1)).allowed


def test_per_member_limit_cannot_be_bypassed_by_not_showing_a_card() -> None:
    decision = decide(CouponTerms(max_uses_per_member=1), ctx=context(member_id=None))
    assert decision.refusal is Refusal.WRONG_MEMBER


def test_basket_below_minimum_is_refused() -> None:
    terms = CouponTerms(min_basket_cents=3_001)
    assert decide(terms).refusal is Refusal.BASKET_TOO_SMALL


def test_basket_exactly_at_minimum_is_allowed() -> None:
    assert decide(CouponTerms(min_basket_cents=3_000)).allowed


def test_free_item_not_in_the_basket_is_refused() -> None:
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="CROISSANT")
    decision = decide(benefit=benefit, ctx=context(lines=(COFFEE, MILK)))
    assert decision.refusal is Refusal.ITEM_NOT_IN_BASKET
    assert decision.free_sku is None


def test_anonymous_coupon_is_allowed_without_a_member() -> None:
    assert decide(ctx=context(member_id=None)).allowed


def test_refused_decision_is_worth_nothing() -> None:
    decision = decide(CouponTerms(voided=True), Benefit(BenefitKind.BONUS_POINTS, points=100))
    assert (decision.discount_cents, decision.bonus_points, decision.free_sku) == (0, 0, None)


# --- order of checks --------------------------------------------------------------------------


def test_checks_run_in_the_documented_order() -> None:
    """Break every rule at once, then fix them one by one in CHECK_ORDER."""
    broken = CouponTerms(
        voided=True,
        redeemed=True,
        valid_from=NOW + timedelta(days=1),
        valid_until=NOW + timedelta(days=2),
        store_ids=frozenset({1}),
        member_id=99,
        max_uses_per_member=1,
        min_basket_cents=10_000,
    )
    ctx = context(member_use_count=5, lines=(MILK,))
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="CROISSANT")
    fixes: list[tuple[Refusal, dict[str, object]]] = [
        (Refusal.VOIDED, {"voided": False}),
        (Refusal.ALREADY_REDEEMED, {"redeemed": False}),
        (Refusal.NOT_YET_VALID, {"valid_from": NOW - timedelta(days=2)}),
        (Refusal.EXPIRED, {}),  # handled below: move the window around NOW
        (Refusal.WRONG_STORE, {"store_ids": frozenset({7})}),
        (Refusal.WRONG_MEMBER, {"member_id": 42}),
        (Refusal.USE_LIMIT_REACHED, {"max_uses_per_member": None}),
        (Refusal.BASKET_TOO_SMALL, {"min_basket_cents": 0}),
    ]
    assert [refusal for refusal, _ in fixes] == list(CHECK_ORDER[:-1])
    terms = broken
    for expected, fix in fixes:
        if expected is Refusal.EXPIRED:
            # Make it expired (window entirely in the past) to see EXPIRED, then fix it.
            terms = replace(terms, valid_until=NOW - timedelta(days=1))
            assert decide_redemption(terms, benefit, ctx).refusal is Refusal.EXPIRED
            terms = replace(terms, valid_until=NOW + timedelta(days=1))
            continue
        assert decide_redemption(terms, benefit, ctx).refusal is expected
        terms = replace(terms, **fix)  # type: ignore[arg-type]
    assert decide_redemption(terms, benefit, ctx).refusal is Refusal.ITEM_NOT_IN_BASKET
    ctx = replace(ctx, lines=(MILK, BasketLine("CROISSANT", "bakery", 150, 1)))
    assert decide_redemption(terms, benefit, ctx).allowed


def test_voided_wins_over_expired() -> None:
    terms = CouponTerms(voided=True, valid_until=NOW - timedelta(days=1))
    assert decide(terms).refusal is Refusal.VOIDED


def test_already_redeemed_does_not_leak_which_store_or_member_it_was_for() -> None:
    terms = CouponTerms(redeemed=True, store_ids=frozenset({1}), member_id=99)
    assert decide(terms).refusal is Refusal.ALREADY_REDEEMED


# --- benefits ---------------------------------------------------------------------------------


def test_amount_off_gives_the_amount() -> None:
    decision = decide(benefit=FIVE_EUROS_OFF)
    assert (decision.discount_cents, decision.bonus_points, decision.free_sku) == (500, 0, None)


def test_amount_off_never_exceeds_the_basket() -> None:
    assert decide(ctx=context(basket_cents=320)).discount_cents == 320
    assert decide(ctx=context(basket_cents=0)).discount_cents == 0


def test_percent_off_rounds_down_in_the_shops_favour() -> None:
    benefit = Benefit(BenefitKind.PERCENT_OFF, percent=15)
    assert decide(benefit=benefit, ctx=context(basket_cents=1_999)).discount_cents == 299


def test_percent_off_is_capped() -> None:
    benefit = Benefit(BenefitKind.PERCENT_OFF, percent=20, cap_cents=500)
    assert decide(benefit=benefit, ctx=context(basket_cents=10_000)).discount_cents == 500
    assert decide(benefit=benefit, ctx=context(basket_cents=2_000)).discount_cents == 400


def test_hundred_percent_off_is_the_whole_basket() -> None:
    benefit = Benefit(BenefitKind.PERCENT_OFF, percent=100)
    assert decide(benefit=benefit, ctx=context(basket_cents=4_321)).discount_cents == 4_321


def test_free_item_gives_the_price_of_one_unit() -> None:
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="COFFEE-1KG")
    decision = decide(benefit=benefit, ctx=context(lines=(MILK, COFFEE)))
    assert decision.allowed
    assert decision.discount_cents == 1_200
    assert decision.free_sku == "COFFEE-1KG"


def test_free_item_unit_price_rounds_down() -> None:
    line = BasketLine(sku="PEN", category=None, amount_cents=1_000, quantity=3)
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="PEN")
    assert decide(benefit=benefit, ctx=context(lines=(line,))).discount_cents == 333


def test_free_item_uses_the_first_matching_line() -> None:
    first = BasketLine(sku="PEN", category=None, amount_cents=200, quantity=1)
    second = BasketLine(sku="PEN", category=None, amount_cents=900, quantity=1)
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="PEN")
    assert decide(benefit=benefit, ctx=context(lines=(first, second))).discount_cents == 200


def test_free_item_without_basket_lines_names_the_item_and_discounts_nothing() -> None:
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="CROISSANT")
    decision = decide(benefit=benefit, ctx=context(lines=()))
    assert decision.allowed
    assert (decision.discount_cents, decision.free_sku) == (0, "CROISSANT")


def test_free_item_never_exceeds_the_basket() -> None:
    benefit = Benefit(BenefitKind.FREE_ITEM, sku="COFFEE-1KG")
    decision = decide(benefit=benefit, ctx=context(basket_cents=1_000, lines=(COFFEE,)))
    assert decision.discount_cents == 1_000


def test_bonus_points_give_points_and_no_discount() -> None:
    decision = decide(benefit=Benefit(BenefitKind.BONUS_POINTS, points=250))
    assert (decision.discount_cents, decision.bonus_points, decision.free_sku) == (0, 250, None)


# --- benefit validation and serialisation -----------------------------------------------------


VALID_BENEFITS = [
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=500),
    Benefit(BenefitKind.PERCENT_OFF, percent=10),
    Benefit(BenefitKind.PERCENT_OFF, percent=10, cap_cents=1_000),
    Benefit(BenefitKind.FREE_ITEM, sku="CROISSANT"),
    Benefit(BenefitKind.BONUS_POINTS, points=100),
]

INVALID_BENEFITS = [
    Benefit(BenefitKind.AMOUNT_OFF),
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=0),
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=-100),
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=True),
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=5.5),  # type: ignore[arg-type]
    Benefit(BenefitKind.AMOUNT_OFF, amount_cents=500, percent=10),
    Benefit(BenefitKind.PERCENT_OFF),
    Benefit(BenefitKind.PERCENT_OFF, percent=0),
    Benefit(BenefitKind.PERCENT_OFF, percent=101),
    Benefit(BenefitKind.PERCENT_OFF, percent=10, cap_cents=0),
    Benefit(BenefitKind.PERCENT_OFF, percent=10, amount_cents=100),
    Benefit(BenefitKind.FREE_ITEM),
    Benefit(BenefitKind.FREE_ITEM, sku="  "),
    Benefit(BenefitKind.FREE_ITEM, sku="X", amount_cents=100),
    Benefit(BenefitKind.BONUS_POINTS),
    Benefit(BenefitKind.BONUS_POINTS, points=0),
    Benefit(BenefitKind.BONUS_POINTS, points=10, sku="X"),
    Benefit("gift_card"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("benefit", VALID_BENEFITS)
def test_consistent_benefit_validates_and_round_trips_through_a_dict(benefit: Benefit) -> None:
    benefit.validate()
    as_dict = benefit.to_dict()
    assert Benefit.from_dict(as_dict) == benefit
    assert None not in as_dict.values()


def test_benefit_dict_is_plain_json_data() -> None:
    benefit = Benefit(BenefitKind.PERCENT_OFF, percent=10, cap_cents=1_000)
    assert benefit.to_dict() == {"kind": "percent_off", "percent": 10, "cap_cents": 1_000}


@pytest.mark.parametrize("benefit", INVALID_BENEFITS)
def test_inconsistent_benefit_is_refused(benefit: Benefit) -> None:
    with pytest.raises(ValueError):
        benefit.validate()
    with pytest.raises(ValueError):
        decide(benefit=benefit)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"kind": "gift_card"},
        {"kind": "amount_off"},
        {"kind": "amount_off", "amount_cents": "500"},
        {"kind": "amount_off", "amount_cents": 500, "colour": "red"},
        {"kind": "free_item", "sku": 12},
        {"kind": "bonus_points", "points": 1.0},
    ],
)
def test_benefit_from_bad_dict_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Benefit.from_dict(data)


# --- input validation -------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 14, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        CouponTerms(valid_until=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        context(now=naive)


@pytest.mark.parametrize(
    "changes",
    [
        {"valid_from": NOW, "valid_until": NOW},
        {"store_ids": frozenset()},
        {"min_basket_cents": -1},
        {"max_uses_per_member": 0},
    ],
)
def test_inconsistent_terms_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CouponTerms(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes", [{"basket_cents": -1}, {"member_use_count": -1}, {"lines": [COFFEE]}]
)
def test_inconsistent_context_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        context(**changes)


@pytest.mark.parametrize(("amount", "quantity"), [(-1, 1), (100, 0), (100, -2)])
def test_inconsistent_basket_line_is_refused(amount: int, quantity: int) -> None:
    with pytest.raises(ValueError):
        BasketLine(sku="X", category=None, amount_cents=amount, quantity=quantity)


# --- property: the discount always lies within [0, basket] ------------------------------------


def _random_benefit(rng: random.Random) -> Benefit:
    kind = rng.choice(list(BenefitKind))
    if kind is BenefitKind.AMOUNT_OFF:
        return Benefit(kind, amount_cents=rng.randint(1, 50_000))
    if kind is BenefitKind.PERCENT_OFF:
        cap = rng.choice([None, rng.randint(1, 20_000)])
        return Benefit(kind, percent=rng.randint(1, 100), cap_cents=cap)
    if kind is BenefitKind.FREE_ITEM:
        return Benefit(kind, sku=rng.choice(["A", "B", "C"]))
    return Benefit(kind, points=rng.randint(1, 5_000))


def _random_lines(rng: random.Random) -> tuple[BasketLine, ...]:
    return tuple(
        BasketLine(
            sku=rng.choice(["A", "B", "C", "D"]),
            category=None,
            amount_cents=rng.randint(0, 30_000),
            quantity=rng.randint(1, 5),
        )
        for _ in range(rng.randint(0, 4))
    )


def test_discount_is_never_negative_and_never_above_the_basket() -> None:
    rng = random.Random(1_234_567)
    allowed = 0
    for _ in range(20_000):
        lines = _random_lines(rng)
        # The till's total usually equals its lines, but the rules must hold even when not.
        basket = sum(line.amount_cents for line in lines) if rng.random() < 0.7 else 0
        basket = basket or rng.randint(0, 40_000)
        terms = CouponTerms(min_basket_cents=rng.choice([0, 0, rng.randint(0, 20_000)]))
        ctx = context(basket_cents=basket, lines=lines)
        decision = decide_redemption(terms, _random_benefit(rng), ctx)
        assert 0 <= decision.discount_cents <= basket
        assert decision.bonus_points >= 0
        if not decision.allowed:
            assert (decision.discount_cents, decision.bonus_points) == (0, 0)
        allowed += decision.allowed
    # The loop must actually exercise allowed redemptions, not only refusals.
    assert allowed > 10_000
