"""Single use under real concurrency: one code, 50 redemptions at once, exactly one wins.

The data is seeded and committed first; then each request runs on its own connection: threads
with their own test client in this process, and two real gunicorn servers (two worker
processes each) on the same database and instance folder. Both backends: SQLite serialises
transactions (BEGIN IMMEDIATE), PostgreSQL runs them at READ COMMITTED and the conditional
UPDATE's row lock decides.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.campaigns.models import Redemption
from app.extensions import db
from tests.api.test_coupon_helpers import new_codes
from tests.conftest import Shop

REQUESTS = 50
RETRIED_KEYS = 10  # 50 requests = 10 keys, each sent 5 times
PROJECT_ROOT = Path(__file__).resolve().parents[2]

Outcome = tuple[int, dict[str, Any]]


def _race(send: Callable[[int], Outcome]) -> list[Outcome]:
    """Run ``send(i)`` for every request at once (threads released by one barrier)."""
    barrier = threading.Barrier(REQUESTS)

    def run(index: int) -> Outcome:
        """Wait for every thread, then send."""
        barrier.wait()
        return send(index)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(run, range(REQUESTS)))


def _body(code: str, key: str) -> dict[str, Any]:
    """Return the redeem body sent with ``key``."""
    # The receipt follows the key: a retried key must send the same body.
    return {"code": code, "basket_cents": 1_000, "receipt_id": f"R-{key[:8]}"}


def _redemptions(app: Flask) -> int:
    """Count redemption rows."""
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Redemption)) or 0)


def _assert_one_winner(outcomes: list[Outcome], winners: int = 1) -> None:
    """Assert that one redemption won (``winners`` answers carry it) and the rest got 409."""
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {200: winners, 409: REQUESTS - winners}, statuses
    losers = {body["type"] for status, body in outcomes if status == 409}
    assert losers == {"coupon-already-redeemed"}
    redemption_ids = {body["redemption_id"] for status, body in outcomes if status == 200}
    assert len(redemption_ids) == 1


def _in_process_sender(
    app: Flask, token: str, code: str, keys: list[str]
) -> Callable[[int], Outcome]:
    """Return a sender that redeems through a test client of its own (its own connection)."""

    def send(index: int) -> Outcome:
        """Send request ``index`` and return its status and body."""
        client = app.test_client()
        response = client.post(
            "/api/v1/till/coupons/redeem",
            json=_body(code, keys[index]),
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": keys[index]},
        )
        return response.status_code, response.get_json()

    return send


def test_fifty_threads_racing_on_one_code_give_one_success_retried_keys_too(
    app: Flask, shop: Shop
) -> None:
    first_code, second_code = new_codes(shop, 2)
    token = shop.open_till(0)
    keys = [str(uuid.uuid4()) for _ in range(REQUESTS)]
    _assert_one_winner(_race(_in_process_sender(app, token, first_code, keys)))
    distinct = [str(uuid.uuid4()) for _ in range(RETRIED_KEYS)]
    retried = [distinct[i % RETRIED_KEYS] for i in range(REQUESTS)]
    outcomes = _race(_in_process_sender(app, token, second_code, retried))
    _assert_one_winner(outcomes, winners=REQUESTS // RETRIED_KEYS)
    assert _redemptions(app) == 2


# --- two real app processes -------------------------------------------------------------------


def _free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Poll a server until it answers HTTP, or fail with its log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base_url + "/api/v1/coupon-settings", timeout=1):
                return
        except urllib.error.HTTPError as refused:
            refused.close()  # any HTTP answer (401 here) means the app is serving
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")


@contextmanager
def _two_servers(app: Flask, tmp_path: Path) -> Iterator[list[str]]:
    """Run two gunicorn servers (two workers each) on the test's database; yield their URLs."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LW_INSTANCE_PATH": app.instance_path,
        "LOG_LEVEL": "WARNING",
    }
    servers: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for number in range(2):
            port = _free_port()
            log = tmp_path / f"server-{number}.log"
            with open(log, "wb") as log_file:
                server = subprocess.Popen(
                    [
                        str(PROJECT_ROOT / ".venv/bin/gunicorn"),
                        "--workers",
                        "2",
                        "--threads",
                        "4",
                        "--preload",  # import the app once, then fork the workers
                        "--bind",
                        f"127.0.0.1:{port}",
                        "app:create_app()",
                    ],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            servers.append((server, f"http://127.0.0.1:{port}", log))
        for server, url, log in servers:
            _wait_until_ready(url, server, log)
        yield [url for _, url, _ in servers]
    finally:
        for server, _, _ in servers:
            server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing is in flight
        for server, _, _ in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _http_sender(
    urls: list[str], token: str, code: str, keys: list[str]
) -> Callable[[int], Outcome]:
    """Return a sender that redeems over HTTP, alternating between the servers."""

    def send(index: int) -> Outcome:
        """Send request ``index`` and return its status and body."""
        request = urllib.request.Request(
            urls[index % len(urls)] + "/api/v1/till/coupons/redeem",
            data=json.dumps(_body(code, keys[index])).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": keys[index],
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, json.loads(refused.read())

    return send


def test_two_app_processes_racing_on_one_code_give_one_success(
    app: Flask, shop: Shop, tmp_path: Path
) -> None:
    first_code, second_code = new_codes(shop, 2)
    token = shop.open_till(0)
    with app.app_context():
        db.engine.dispose()  # the servers get the database to themselves (SQLite: no stray lock)
    with _two_servers(app, tmp_path) as urls:
        keys = [str(uuid.uuid4()) for _ in range(REQUESTS)]
        _assert_one_winner(_race(_http_sender(urls, token, first_code, keys)))
        distinct = [str(uuid.uuid4()) for _ in range(RETRIED_KEYS)]
        retried = [distinct[i % RETRIED_KEYS] for i in range(REQUESTS)]
        outcomes = _race(_http_sender(urls, token, second_code, retried))
        _assert_one_winner(outcomes, winners=REQUESTS // RETRIED_KEYS)
    assert _redemptions(app) == 2
