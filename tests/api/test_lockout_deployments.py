"""The guess lockout holds its documented threshold (10) in every deployment.

- ``make run``: gunicorn with two workers and no Redis. The counter is in the database, so
  the two processes share it: the 11th guess is refused, whichever worker answers it.
- Redis configured but down: the defence falls back to the database instead of failing open.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.fraud.lockout import DEFAULTS
from coupons.codes import format_code, generate_code
from tests.api.test_fraud_helpers import random_forged_code, scan
from tests.conftest import Shop

DOCUMENTED_THRESHOLD = 10
PORT = 8101
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_documented_threshold_is_ten() -> None:
    assert DEFAULTS["FRAUD_GUESS_THRESHOLD"] == DOCUMENTED_THRESHOLD


def _call(path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    """POST JSON on a fresh connection (so the two workers share the requests)."""
    headers = {"Content-Type": "application/json", "Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def _get(path: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", headers={"Connection": "close"}
    )
    with urllib.request.urlopen(request, timeout=90) as response:
        response.read()


def _wait_for_both_workers(access_log: Path, seconds: float) -> None:
    """Wait until both workers have loaded the app and answered (each boots on its own)."""
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(max_workers=2) as pool:
        while time.monotonic() < deadline:
            list(pool.map(_get, ["/api/v1/branding"] * 2))
            if len(set(re.findall(r"<(\d+)>", access_log.read_text()))) == 2:
                return
            time.sleep(0.2)
    raise AssertionError("the second worker never answered")


@pytest.fixture
def make_run_server(tmp_path: Path) -> Iterator[Path]:
    """Serve the app the way ``make run`` does: migrate, seed, gunicorn with 2 workers."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DATABASE_URL") and not key.startswith(("FRAUD_", "LW_"))
    }
    environment.update(
        LW_INSTANCE_PATH=str(tmp_path / "instance"), FLASK_APP="app", LOG_LEVEL="WARNING"
    )
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(
            [str(BIN / "flask"), *command],
            cwd=REPO,
            env=environment,
            check=True,
            capture_output=True,
        )
    access_log = tmp_path / "access.log"
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{PORT}",
            "--workers", "2",
            "--access-logfile", str(access_log),
            "--access-logformat", "%(p)s %(s)s",
            "app:create_app()",
        ],
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(PORT, 90)
        _wait_for_both_workers(access_log, 90)
        yield access_log
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_run_with_two_workers_and_no_redis_locks_out_at_the_threshold(
    make_run_server: Path,
) -> None:
    warm_up_lines = len(make_run_server.read_text().splitlines())
    status, session = _call(
        "/api/v1/till/sessions",
        {
            "till_key": "lwt_demo-berlin-till-1",
            "email": "cashier@demo.shop",
            "password": "demo-cashier-2026",
        },
    )
    assert status == 201, session
    till = session["access_token"]

    def guess(_: int = 0) -> str | int:
        status, body = _call(
            "/api/v1/till/coupons/validate",
            {"code": format_code(generate_code()), "basket_cents": 2000},
            till,
        )
        return body.get("type") or body.get("refusal", {}).get("type") or status

    # The guesses up to the threshold go two at a time: a sync worker answers one request at a
    # time, so each pair is answered by both workers and the count must be shared to hold.
    answers: list[str | int] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(DOCUMENTED_THRESHOLD // 2):
            answers.extend(pool.map(guess, range(2)))
    answers.extend(guess() for _ in range(2))
    assert answers[:DOCUMENTED_THRESHOLD] == ["unknown-code"] * DOCUMENTED_THRESHOLD, answers
    assert answers[DOCUMENTED_THRESHOLD:] == ["too-many-attempts"] * 2, answers
    guess_lines = make_run_server.read_text().splitlines()[warm_up_lines + 1 :]
    workers = set(re.findall(r"<(\d+)>", "\n".join(guess_lines)))
    assert len(workers) == 2, "both workers answered guesses"


def test_redis_configured_but_down_falls_back_to_the_database(app: Flask, shop: Shop) -> None:
    app.config.update(
        REDIS_URL="redis://127.0.0.1:1/0", FRAUD_GUESS_THRESHOLD=3, FRAUD_LOCKOUT_SECONDS=60
    )
    till = shop.open_till(0)
    for _ in range(3):
        assert scan(shop, random_forged_code(shop), till).get_json()["type"] == "bad-signature"
    locked = scan(shop, shop.static_code(), till)
    assert locked.status_code == 429
    assert locked.get_json()["type"] == "too-many-attempts"
