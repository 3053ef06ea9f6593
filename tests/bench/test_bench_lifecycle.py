"""Lifecycle at scale: import 100,000 members / 1,000,000 purchases, then the nightly refresh.

Run with ``make bench-lifecycle`` (needs ``BENCH_DATABASE_URL``, a PostgreSQL database this
benchmark may wipe: it drops and re-creates the ``public`` schema). Steps, each timed:

1. generate the synthetic history (``app.imports.demo.history_rows``: 100,000 customers with
   weekly to one-off rhythms over 430 days, about 1,050,000 receipts) into a CSV file;
2. import its first 100,000 rows with points (the import the issue asks to take well under a
   minute), then the whole file (the first 100,000 rows are now duplicates and skipped);
3. ``lifecycle refresh`` over every member, twice (the second run changes nothing);
4. the KPI report for a year, and a segment preview, on that data.

The figures go to ``docs/performance.md`` ("Lifecycle").
"""

from __future__ import annotations

import csv
import itertools
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.config import normalise_database_url
from app.db import utcnow
from app.demo import seed_demo
from app.extensions import db
from app.imports.demo import history_rows
from app.imports.service import HEADER, ImportReport, import_purchases
from app.kpis.service import Period, kpi_report
from app.lifecycle.service import refresh_lifecycle
from app.segments.service import count_matching
from app.stores.models import Store
from tests.conftest import base_config, migrate_to_head

pytestmark = pytest.mark.bench

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
HISTORY_DAYS = 430
FIRST_IMPORT_ROWS = 100_000


@pytest.fixture(scope="module")
def bench_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """Return an app on a freshly migrated benchmark database with the demo shop."""
    if not BENCH_DATABASE_URL:
        pytest.skip("lifecycle benchmark: BENCH_DATABASE_URL is not set")
    url = normalise_database_url(BENCH_DATABASE_URL)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app(base_config(tmp_path_factory.mktemp("bench-instance"), url))
    migrate_to_head(app)
    with app.app_context():
        seed_demo()
        db.session.commit()
    return app


def _write_history(app: Flask, path: Path) -> int:
    with app.app_context():
        store_ids = sorted(db.session.scalars(sa.select(Store.id)))
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in history_rows(store_ids, utcnow().date(), members=MEMBERS, days=HISTORY_DAYS):
            writer.writerow(row)
            rows += 1
    return rows


def _import(app: Flask, lines: Any) -> tuple[ImportReport, float]:
    with app.app_context():
        started = time.perf_counter()
        report = import_purchases(lines, on_batch=lambda _report, _line: db.session.commit())
        db.session.commit()
        return report, time.perf_counter() - started


def test_import_and_refresh_at_scale(
    bench_app: Flask, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures: dict[str, Any] = {}
    path = tmp_path / "history.csv"
    started = time.perf_counter()
    total_rows = _write_history(bench_app, path)
    figures["generate"] = (time.perf_counter() - started, f"{total_rows} rows")

    first_rows = min(FIRST_IMPORT_ROWS, total_rows // 2)  # smaller runs (BENCH_MEMBERS)
    with path.open(encoding="utf-8", newline="") as handle:
        first, seconds = _import(bench_app, itertools.islice(handle, first_rows + 1))
    assert first.imported == first_rows and first.bad_row_count == 0
    figures[f"import {first_rows:,} rows"] = (seconds, f"{first_rows / seconds:,.0f} rows/s")

    with path.open(encoding="utf-8", newline="") as handle:
        rest, seconds = _import(bench_app, handle)
    assert rest.duplicates == first_rows
    assert rest.imported == total_rows - first_rows
    figures[f"import all {total_rows:,} rows"] = (
        seconds,
        f"{rest.imported:,} new, {rest.duplicates:,} skipped, {total_rows / seconds:,.0f} rows/s",
    )

    with bench_app.app_context():
        started = time.perf_counter()
        summary = refresh_lifecycle()
        db.session.commit()
        figures["lifecycle refresh (first)"] = (
            time.perf_counter() - started,
            f"{summary.members:,} members; {summary.seconds}",
        )
        started = time.perf_counter()
        again = refresh_lifecycle()
        db.session.commit()
        figures["lifecycle refresh (again)"] = (
            time.perf_counter() - started,
            f"{again.changes} changes; {again.seconds}",
        )
        assert again.changes == 0
        today = utcnow().date()
        started = time.perf_counter()
        report = kpi_report(Period(today - timedelta(days=364), today, None))
        figures["KPI report, one year"] = (
            time.perf_counter() - started,
            f"{report['members']['total']:,} members",
        )
        started = time.perf_counter()
        size = count_matching(
            {
                "all": [
                    {"field": "stage", "op": "in", "value": ["at_risk", "lapsed"]},
                    {"field": "spend_cents", "op": "gte", "value": 10_000, "window_days": 365},
                ]
            }
        )
        figures["segment preview"] = (time.perf_counter() - started, f"{size:,} members")
    assert summary.members >= MEMBERS
    with capsys.disabled():
        print()
        for name, (seconds, note) in figures.items():
            print(f"{name:32} {seconds:8.1f} s   {note}")
        cpu = time.process_time()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"benchmark process CPU time {cpu:.1f} s; load average at the end {load}")
