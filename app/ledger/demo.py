"""The demo shop's earning rules, tier ladder and a little points history.

``add_demo_ledger`` is one of ``app.demo.DEMO_EXTENSIONS``: it runs once, when ``seed-demo``
first creates the demo shop. It sets 1 point per euro, double points on coffee, none on gift
cards, points that expire after two years without activity, and a base / silver / gold
ladder. The second demo member (Grace) gets two purchases in the first store, booked through
the same functions a till uses (minus the card), so her history, balance and tier progress
have something to show. The first member (Ada) starts at zero points.
"""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.ledger.earning import (
    basket_lines,
    compute_points,
    load_programme,
    load_rules,
    replace_earning_rules,
)
from app.ledger.models import Purchase
from app.ledger.purchases import RECEIPT_REFERENCE
from app.ledger.service import post_ledger_entry
from app.ledger.tiers import refresh_tier, replace_tier_ladder

DEMO_EARNING_RULES: dict[str, Any] = {
    "currency": "EUR",
    "base_points": 1,
    "per_amount_cents": 100,
    "expire_after_inactive_days": 730,
    "bonus_rules": [
        {"match": "category", "value": "coffee", "multiplier_percent": 200},
        {"match": "sku", "value": "GIFTCARD", "multiplier_percent": 0},
    ],
}
DEMO_TIERS: list[dict[str, Any]] = [
    {
        "code": "base",
        "name": "Member",
        "threshold_points": 0,
        "multiplier_percent": 100,
        "benefits": ["1 point per euro", "Members-only offers"],
    },
    {
        "code": "silver",
        "name": "Silver",
        "threshold_points": 500,
        "multiplier_percent": 125,
        "benefits": ["25 % more points", "Birthday coupon"],
    },
    {
        "code": "gold",
        "name": "Gold",
        "threshold_points": 2000,
        "multiplier_percent": 150,
        "benefits": ["50 % more points", "Free delivery", "Early access to sales"],
    },
]
DEMO_PURCHASES: list[dict[str, Any]] = [
    {
        "receipt_id": "DEMO-1001",
        "amount_cents": 4250,
        "lines": [
            {"sku": "COFFEE", "category": "coffee", "amount_cents": 750, "quantity": 2},
            {"sku": "MUG-01", "category": "homeware", "amount_cents": 3500, "quantity": 1},
        ],
    },
    {
        "receipt_id": "DEMO-1002",
        "amount_cents": 1890,
        "lines": [
            {"sku": "BEANS-500", "category": "coffee", "amount_cents": 1890, "quantity": 1},
        ],
    },
]
DEMO_HISTORY_MEMBER_INDEX = 1


def add_demo_ledger(logins: Any) -> None:
    """Set the demo earning rules and tiers, and book the demo member's purchases."""
    replace_earning_rules(None, **DEMO_EARNING_RULES)
    replace_tier_ladder(None, DEMO_TIERS, window_days=365, qualification_period_months=12)
    member_id = int(logins.members[DEMO_HISTORY_MEMBER_INDEX]["member_id"])
    till = logins.tills[0]
    programme = load_programme()
    rules = load_rules(programme)
    for spec in DEMO_PURCHASES:
        points = compute_points(spec["amount_cents"], basket_lines(spec["lines"]), rules)
        entry = post_ledger_entry(
            member_id,
            points,
            "earn",
            reference_type=RECEIPT_REFERENCE,
            reference_id=spec["receipt_id"],
            till_id=till["till_id"],
            store_id=till["store_id"],
            staff_id=logins.cashier["staff_id"],
        )
        db.session.add(
            Purchase(
                store_id=till["store_id"],
                receipt_id=spec["receipt_id"],
                till_id=till["till_id"],
                staff_id=logins.cashier["staff_id"],
                member_id=member_id,
                amount_cents=spec["amount_cents"],
                currency=programme.currency,
                lines=spec["lines"],
                points_earned=points,
                ledger_entry_id=entry.id,
            )
        )
    refresh_tier(member_id)
    db.session.flush()
