"""What issuing coupon codes costs: the pure generator, and a 100,000-code campaign.

Run with ``make bench``. The campaign benchmark stores 100,000 keyed hashes plus the sealed
export batch in the database of each backend (SQLite always, PostgreSQL with
``TEST_DATABASE_URL``), in one transaction, as ``POST /api/v1/campaigns`` does.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.campaigns.issuing import create_anonymous_campaign
from app.extensions import db
from coupons.codes import generate_codes, normalise_code
from coupons.rules import Benefit, BenefitKind

pytestmark = pytest.mark.bench

CODES = 100_000


def test_generate_100k_codes(benchmark: Any) -> None:
    codes = benchmark.pedantic(generate_codes, args=(CODES,), rounds=3, iterations=1)
    assert len(set(codes)) == CODES
    assert normalise_code(codes[0]) == codes[0]


def test_campaign_with_100k_codes(benchmark: Any, app: Flask) -> None:
    benefit = Benefit(kind=BenefitKind.AMOUNT_OFF, amount_cents=500)

    def create() -> int:
        with app.app_context():
            _, codes = create_anonymous_campaign(name="Bench", benefit=benefit, code_count=CODES)
            db.session.commit()
            return len(codes)

    assert benchmark.pedantic(create, rounds=1, iterations=1) == CODES
