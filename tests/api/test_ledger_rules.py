"""The pure rules of the ledger: points from a basket, refunds' share, and tier decisions.

These need no database: ``compute_points`` and ``decide_tier`` take plain values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.ledger.earning import BasketLine, EarningRules, compute_points
from app.ledger.models import Purchase
from app.ledger.purchases import points_to_refund
from app.ledger.tiers import (
    TierLadder,
    TierLevel,
    TierStanding,
    decide_tier,
    period_end,
    period_start,
)

RULES = EarningRules(
    base_points=1,
    per_amount_cents=100,
    sku_percent={"GIFTCARD": 0, "ESPRESSO": 300},
    category_percent={"coffee": 200},
)
LADDER = TierLadder(
    (
        TierLevel("base", "Base", 0),
        TierLevel("silver", "Silver", 500, 125),
        TierLevel("gold", "Gold", 2000, 150),
    )
)
WINDOW = timedelta(days=365)


@pytest.mark.parametrize(
    ("amount", "lines", "tier", "promotion", "points"),
    [
        (1299, [], 100, 100, 12),  # rounded down, never up
        (99, [], 100, 100, 0),
        (1000, [BasketLine("X", 400, "Coffee")], 100, 100, 14),  # 4 x 2 + 6
        (1000, [BasketLine("ESPRESSO", 400, "coffee")], 100, 100, 18),  # SKU beats category
        (5000, [BasketLine("GIFTCARD", 5000)], 100, 100, 0),  # excluded
        # Lines worth 20.00 paid with 10.00 (basket discount): points follow the money.
        (1000, [BasketLine("X", 1000, "coffee"), BasketLine("Y", 1000)], 100, 100, 15),
        (1000, [], 125, 100, 12),  # 12.5 -> 12
        (1000, [], 150, 200, 30),
        (333, [], 150, 100, 4),  # 4.995 stays 4: one rounding, at the end
    ],
)
def test_points_follow_the_rules_and_round_down_once(
    amount: int, lines: list[BasketLine], tier: int, promotion: int, points: int
) -> None:
    assert compute_points(amount, lines, RULES, tier, promotion) == points


def test_points_per_several_currency_units() -> None:
    rules = EarningRules(base_points=3, per_amount_cents=500)  # 3 points per 5 euros
    assert compute_points(1000, [], rules) == 6
    assert compute_points(999, [], rules) == 5


@pytest.mark.parametrize(
    ("earned", "amount", "refunded_before", "points_before", "refund", "points"),
    [
        (10, 1000, 0, 0, 1000, 10),
        (10, 1000, 0, 0, 1, 1),  # rounded up: the member is never ahead
        (10, 1000, 1, 1, 998, 9),  # 999 of 1000 -> 10 owed in all, 1 taken before
        (10, 1000, 999, 10, 1, 0),  # never more than was earned
        (0, 50, 0, 0, 50, 0),
    ],
)
def test_refund_share_is_cumulative_and_capped(
    earned: int, amount: int, refunded_before: int, points_before: int, refund: int, points: int
) -> None:
    bought = Purchase(
        amount_cents=amount,
        points_earned=earned,
        refunded_cents=refunded_before,
        points_refunded=points_before,
    )
    assert points_to_refund(bought, refund) == points


def test_qualification_periods_are_calendar_aligned() -> None:
    moment = datetime(2026, 8, 17, 12, tzinfo=UTC)
    assert period_start(moment, 12) == datetime(2026, 1, 1, tzinfo=UTC)
    assert period_start(moment, 3) == datetime(2026, 7, 1, tzinfo=UTC)
    assert period_end(datetime(2026, 7, 1, tzinfo=UTC), 6) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end(datetime(2026, 12, 1, tzinfo=UTC), 1) == datetime(2027, 1, 1, tzinfo=UTC)


def _decide(
    current: str,
    standing: TierStanding | None,
    now: datetime,
    points: dict[str, int],
    after_refund: bool = False,
) -> tuple[str, TierStanding]:
    """Decide with qualifying points given per window: 'now' and 'boundary'."""

    def points_between(_since: datetime, until: datetime | None) -> int:
        return points["now" if until is None else "boundary"]

    decision = decide_tier(
        current,
        standing,
        LADDER,
        window=WINDOW,
        period_months=12,
        now=now,
        points_between=points_between,
        after_refund=after_refund,
    )
    return decision.tier.code, decision.standing


JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
NEXT_FEB = datetime(2027, 2, 1, tzinfo=UTC)


def test_upgrade_is_immediate_and_remembers_when_it_was_gained() -> None:
    tier, standing = _decide("base", None, MAY, {"now": 2100})
    assert tier == "gold"
    assert standing == TierStanding(JAN, "base", MAY)


def test_no_downgrade_before_the_period_ends_even_when_the_window_empties() -> None:
    tier, standing = _decide("gold", TierStanding(JAN, "gold"), MAY, {"now": 10})
    assert (tier, standing) == ("gold", TierStanding(JAN, "gold"))


def test_downgrade_happens_at_the_boundary_by_the_points_in_the_window_then() -> None:
    standing = TierStanding(JAN, "gold")
    tier, new = _decide("gold", standing, NEXT_FEB, {"boundary": 600, "now": 0})
    assert (tier, new) == ("silver", TierStanding(datetime(2027, 1, 1, tzinfo=UTC), "silver"))
    # Points earned since the boundary still upgrade at once.
    tier, _ = _decide("gold", standing, NEXT_FEB, {"boundary": 600, "now": 2500})
    assert tier == "gold"


def test_refund_takes_back_an_upgrade_it_paid_for_but_not_the_period_tier() -> None:
    gained = TierStanding(JAN, "silver", MAY)
    tier, standing = _decide("gold", gained, MAY, {"now": 100}, after_refund=True)
    assert (tier, standing) == ("silver", TierStanding(JAN, "silver", None))
    # Without a refund the same window drop changes nothing before the boundary.
    assert _decide("gold", gained, MAY, {"now": 100})[0] == "gold"
    # A tier held since the start of the period survives a refund.
    held = TierStanding(JAN, "gold")
    assert _decide("gold", held, MAY, {"now": 0}, after_refund=True)[0] == "gold"


def test_a_code_no_longer_on_the_ladder_counts_as_the_lowest() -> None:
    assert LADDER.get("platinum").code == "base"
    assert _decide("platinum", None, MAY, {"now": 600})[0] == "silver"
