"""Seed a benchmark database: the demo shop, members with cards, and 50,000 coupon codes.

Run as ``python bench/seed.py <out-dir> <members> <coupons>`` with the app's environment
(``DATABASE_URL``, ``LW_INSTANCE_PATH``) set; the schema must be migrated. Writes the inputs the
load scripts read, one value a line, into ``out-dir``: ``static_codes.txt`` (one LW1 code per
member), ``coupon_codes.txt``, ``till_token.txt`` (a till session's access token) and
``member_tokens.txt`` (member access tokens). Uses only what every version of the app has, so
the same seed runs against an older checkout for a before/after comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import insert, select

from app import create_app
from app.accounts.models import Member, StaffAccount
from app.auth.passwords import hash_password
from app.auth.tokens import Identity, issue_access_token
from app.cards.service import issue_card, static_code_of
from app.demo import DEMO_CASHIER, seed_demo
from app.extensions import db
from app.stores.models import Till
from coupons.rules import Benefit, BenefitKind

try:  # the campaigns package was split; older checkouts have one service module
    from app.campaigns.issuing import create_anonymous_campaign
except ImportError:  # pragma: no cover - the before measurement
    from app.campaigns.service import create_anonymous_campaign  # type: ignore[no-redef]


def main(out: Path, member_count: int, coupon_count: int) -> None:
    """Seed the database and write the load scripts' inputs."""
    out.mkdir(parents=True, exist_ok=True)
    app = create_app()
    with app.app_context():
        seed_demo()
        db.session.commit()
        password_hash = hash_password("bench-member-2026")
        db.session.execute(
            insert(Member),
            [
                {
                    "email": f"bench-{i}@bench.shop",
                    "display_name": f"Bench Member {i}",
                    "password_hash": password_hash,
                }
                for i in range(member_count)
            ],
        )
        member_ids = list(
            db.session.scalars(
                select(Member.id).where(Member.email.like("bench-%")).order_by(Member.id)
            )
        )
        codes = [static_code_of(issue_card(member_id)) for member_id in member_ids]
        db.session.commit()
        campaign, coupon_codes = create_anonymous_campaign(
            name="bench",
            benefit=Benefit(BenefitKind.AMOUNT_OFF, amount_cents=100),
            code_count=coupon_count,
            seal_for_export=False,
        )
        campaign_id = campaign.id
        db.session.commit()
        cashier = db.session.scalar(
            select(StaffAccount).where(StaffAccount.email == DEMO_CASHIER["email"])
        )
        till = db.session.scalars(select(Till).order_by(Till.id)).first()
        assert cashier is not None and till is not None
        till_token = issue_access_token(
            Identity("till", cashier.id, cashier.role, till.id, till.store_id)
        )
        member_tokens = [
            issue_access_token(Identity("member", member_id, "member"))
            for member_id in member_ids[:500]
        ]
    (out / "static_codes.txt").write_text("\n".join(codes) + "\n")
    (out / "coupon_codes.txt").write_text("\n".join(coupon_codes) + "\n")
    (out / "till_token.txt").write_text(till_token + "\n")
    (out / "member_tokens.txt").write_text("\n".join(member_tokens) + "\n")
    print(f"seeded {len(member_ids)} members, {len(coupon_codes)} coupons (campaign {campaign_id})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
