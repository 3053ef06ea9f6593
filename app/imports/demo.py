"""A plausible year of till history for the demo shop (``seed-demo --history``) and benchmarks.

``history_rows`` yields export rows (the import's CSV columns) for ``members`` customers over
the ``days`` before ``today``. Each customer gets a rhythm (weekly, fortnightly, monthly,
quarterly or a one-off visit), a home store, a typical basket, a start date, and a fate: most
keep coming, some stop (recently or long ago), some stop and come back. Gaps between visits
are Gamma-distributed around the rhythm, baskets log-normal around the customer's own. The
generator is seeded, so the same arguments give the same rows, and receipt ids are stable,
which keeps ``seed-demo --history`` idempotent through the import's receipt check.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.imports.service import HEADER, import_purchases
from app.lifecycle.service import refresh_lifecycle
from app.segments.models import Segment
from app.segments.service import create_segment
from app.stores.models import Store

RHYTHMS: tuple[tuple[str, float, float], ...] = (
    # name, mean days between visits, share of customers
    ("weekly", 7.0, 0.12),
    ("fortnightly", 14.0, 0.18),
    ("monthly", 30.0, 0.30),
    ("quarterly", 91.0, 0.25),
    ("one-off", 10_000.0, 0.15),
)
FIRST_NAMES = ("Alex", "Sam", "Kim", "Robin", "Jo", "Chris", "Mika", "Toni", "Luca", "Nele")
LAST_NAMES = ("Becker", "Schmidt", "Meyer", "Wagner", "Koch", "Klein", "Wolf", "Braun")


def _pick_rhythm(generator: random.Random) -> tuple[str, float]:
    draw = generator.random()
    for name, mean, share in RHYTHMS:
        draw -= share
        if draw <= 0:
            return name, mean
    return RHYTHMS[-1][0], RHYTHMS[-1][1]


def history_rows(
    store_ids: list[int],
    today: date,
    members: int = 400,
    days: int = 365,
    seed: int = 2026,
    email_domain: str = "history.demo.shop",
) -> Iterator[list[str]]:
    """Yield one export row per receipt (email, name, receipt, store, time, cents, currency)."""
    generator = random.Random(seed)
    start = datetime.combine(today - timedelta(days=days), time(), tzinfo=UTC)
    for index in range(members):
        _name, mean = _pick_rhythm(generator)
        first = generator.uniform(0, days * 0.9)
        fate = generator.random()
        stop = generator.uniform(first, days) if fate < 0.25 else None
        comeback = stop + generator.uniform(60, 150) if stop is not None and fate < 0.08 else None
        home = store_ids[generator.randrange(len(store_ids))]
        basket = generator.lognormvariate(7.6, 0.5)  # about 20 euros
        person = f"{generator.choice(FIRST_NAMES)} {generator.choice(LAST_NAMES)}"
        email = f"customer{index + 1:06d}@{email_domain}"
        moment, visit = first, 0
        while moment < days:
            away = stop is not None and moment >= stop and (comeback is None or moment < comeback)
            if not away:
                visit += 1
                store = home if generator.random() < 0.85 else generator.choice(store_ids)
                at = start + timedelta(days=moment, hours=generator.uniform(8, 19))
                amount = max(50, int(generator.lognormvariate(0, 0.35) * basket))
                yield [
                    email,
                    person,
                    f"H{index + 1:06d}-{visit:04d}",
                    str(store),
                    at.replace(microsecond=0).isoformat(),
                    str(amount),
                    "EUR",
                ]
            moment += generator.gammavariate(4.0, mean / 4.0)


DEMO_SEGMENTS: tuple[tuple[str, str, dict[str, object]], ...] = (
    (
        "At risk, worth saving",
        "At risk or lapsed recently, and they used to spend",
        {
            "all": [
                {"field": "stage", "op": "in", "value": ["at_risk", "lapsed"]},
                {"field": "spend_cents", "op": "gte", "value": 10_000, "window_days": 365},
            ]
        },
    ),
    (
        "Regulars",
        "Three or more visits in the last 90 days",
        {"field": "purchases", "op": "gte", "value": 3, "window_days": 90},
    ),
)


def history_csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """Write export rows as CSV lines, header first (what the import reads)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


def seed_demo_history(today: date | None = None) -> dict[str, object]:
    """Import a year of demo history, add the demo segments and run the lifecycle refresh."""
    today = today or utcnow().date()
    store_ids = sorted(db.session.scalars(select(Store.id)))
    if not store_ids:
        raise ValueError("seed the demo shop first")
    report = import_purchases(history_csv_lines(history_rows(store_ids, today)))
    for name, description, rules in DEMO_SEGMENTS:
        if db.session.scalar(select(Segment.id).where(Segment.name == name)) is None:
            create_segment(name, rules, description, None)
    summary = refresh_lifecycle(today)
    return {"import": report.to_dict(), "lifecycle": summary.to_dict()}
