"""The demo shop's rewards catalogue and coffee stamp card.

``add_demo_rewards`` is one of ``app.demo.DEMO_EXTENSIONS``: it runs once, when ``seed-demo``
first creates the demo shop. The cheapest reward costs little enough that a demo member can
claim it after a purchase or two (the ledger's demo history gives Grace enough). The stamp card
counts cups of coffee (SKU ``COFFEE``), not the whole ``coffee`` category, which also holds
bags of beans.
"""

from __future__ import annotations

from typing import Any

from app.rewards import service, stamps
from app.rewards.models import RewardKind
from coupons.rules import Benefit, BenefitKind

DEMO_COFFEE_SKU = "COFFEE"

DEMO_REWARDS: list[dict[str, Any]] = [
    {
        "kind": RewardKind.FREE_ITEM,
        "name": "A coffee on us",
        "description": "Any coffee from the bar, any size.",
        "cost_points": 50,
        "sku": DEMO_COFFEE_SKU,
    },
    {
        "kind": RewardKind.DISCOUNT,
        "name": "5 € off your next basket",
        "description": "On a basket of 20 € or more.",
        "cost_points": 250,
        "amount_off_cents": 500,
        "min_basket_cents": 2000,
    },
    {
        "kind": RewardKind.DISCOUNT,
        "name": "10 % off, once",
        "description": "Up to 15 € off one basket; one per member.",
        "cost_points": 400,
        "percent_off": 10,
        "percent_cap_cents": 1500,
        "per_member_limit": 1,
    },
    {
        "kind": RewardKind.PHYSICAL_GIFT,
        "name": "Demo Shop tote bag",
        "description": "Organic cotton, sent to your address.",
        "cost_points": 1000,
        "stock": 25,
        "coupon_valid_days": None,
    },
]


def add_demo_rewards(logins: Any) -> None:
    """Add the demo rewards and the coffee stamp programme."""
    for spec in DEMO_REWARDS:
        fields = dict(spec)
        service.create_reward(fields.pop("kind"), fields)
    stamps.create_stamp_programme(
        "Coffee card",
        9,
        Benefit(kind=BenefitKind.FREE_ITEM, sku=DEMO_COFFEE_SKU),
        description="Buy 9 coffees, the 10th is on us.",
        skus=[DEMO_COFFEE_SKU],
    )
