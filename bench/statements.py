"""What one till request costs inside the app: SQL statements and Python function calls.

Run as ``python bench/statements.py <data-dir>`` with the app's environment (``DATABASE_URL``,
``LW_INSTANCE_PATH``), after ``bench/seed.py`` wrote ``<data-dir>``; ``bench/run.py`` runs it
after the load. Each call is made 20 times through Flask's test client, with inputs the load
did not use (the last member codes and coupon codes), and averaged:

* **statements**: what the engine sent to the database, counted by an engine event (the
  pool's connection check and the transaction's ``BEGIN``/``COMMIT`` are not among them);
* **Python calls**: function calls made in this process, counted by ``cProfile``. Unlike the
  time a request takes on a shared machine, this count repeats from run to run, so it shows
  whether a change removed work or only moved the noise.

Prints a Markdown table.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app import create_app
from app.extensions import db

REQUESTS = 20


def main(data: Path) -> None:
    """Print statements and Python calls per request for the benchmark's till calls."""
    member_codes = (data / "static_codes.txt").read_text().splitlines()
    coupon_codes = (data / "coupon_codes.txt").read_text().splitlines()
    till_token = (data / "till_token.txt").read_text().split()[0]
    member_token = (data / "member_tokens.txt").read_text().split()[0]
    app = create_app()
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    client = app.test_client()
    till = {"Authorization": f"Bearer {till_token}"}
    run = uuid.uuid4().hex[:8]
    spare = iter(range(1, 10_000))

    def scan() -> Any:
        return client.post(
            "/api/v1/till/scan", json={"code": member_codes[-next(spare)]}, headers=till
        )

    def purchase() -> Any:
        n = next(spare)
        body = {
            "code": member_codes[-n],
            "receipt_id": f"stmt-{run}-{n}",
            "amount_cents": 2599,
            "currency": "EUR",
            "lines": [{"sku": "COFFEE", "amount_cents": 2599}],
        }
        headers = {**till, "Idempotency-Key": f"stmt-{run}-{n}"}
        return client.post("/api/v1/till/purchases", json=body, headers=headers)

    def redeem() -> Any:
        n = next(spare)
        body = {"code": coupon_codes[-n], "basket_cents": 2000, "receipt_id": f"stmt-{run}-c{n}"}
        headers = {**till, "Idempotency-Key": f"stmt-{run}-c{n}"}
        return client.post("/api/v1/till/coupons/redeem", json=body, headers=headers)

    def my_card() -> Any:
        return client.get("/api/v1/me/card", headers={"Authorization": f"Bearer {member_token}"})

    calls: dict[str, Callable[[], Any]] = {
        "POST /till/scan (LW1)": scan,
        "POST /till/purchases": purchase,
        "POST /till/coupons/redeem": redeem,
        "GET /me/card": my_card,
    }
    print("| call | SQL statements | Python calls |")
    print("|---|---:|---:|")
    for name, call in calls.items():
        for _ in range(3):  # warm: compiled statements, caches
            call()
        statements = 0
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(REQUESTS):
            answer = call()
            if answer.status_code >= 300:
                raise SystemExit(f"{name} answered {answer.status_code}: {answer.get_data(True)}")
        profile.disable()
        python_calls = pstats.Stats(profile).total_calls
        print(f"| `{name}` | {statements / REQUESTS:.1f} | {python_calls / REQUESTS:,.0f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
