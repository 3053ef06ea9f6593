"""A guessing attack spread over two app processes is locked out through the shared Redis.

Two gunicorn servers run the real app on the test's database and instance folder (so they
share its data and secrets) and one Redis database. A till alternates forged card codes
between them; once the failures of both add up to the threshold, both refuse every code,
and when the lockout has run out both accept the member's card again.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from app.fraud.lockout import REDIS_PREFIX, LockoutPolicy, RedisGuessCounter
from tests.api.test_fraud_helpers import event_rows, random_forged_code
from tests.conftest import REDIS_URL, Shop, unavailable

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
THRESHOLD = 4
LOCKOUT_SECONDS = 2


@pytest.fixture
def redis_url() -> str:
    """Return the Redis the test may use, with this app's guess counters cleared."""
    if not REDIS_URL:
        unavailable("Redis suite: REDIS_URL is not set")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        names = list(client.scan_iter(match=f"{REDIS_PREFIX}*"))
        if names:
            client.delete(*names)
    except redis.RedisError as exc:
        unavailable(f"Redis suite: cannot use {REDIS_URL} ({exc})")
    finally:
        client.close()
    return REDIS_URL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _call(
    url: str, body: dict[str, Any], token: str | None = None
) -> tuple[int, dict[str, Any], Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/.well-known/jwks.json", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"server did not start: {log.read_text()[-2000:]}")


@contextmanager
def _servers(app: Flask, redis_url: str, tmp_path: Path, count: int) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LW_INSTANCE_PATH": app.instance_path,
        "REDIS_URL": redis_url,
        "LW_LOGIN_RATE_LIMIT": "1000 per minute",
        "FRAUD_GUESS_THRESHOLD": str(THRESHOLD),
        "FRAUD_GUESS_ADDRESS_THRESHOLD": "1000",
        "FRAUD_LOCKOUT_SECONDS": str(LOCKOUT_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    logs: list[Path] = []
    try:
        # Start them all before waiting for any: importing the app is the slow part.
        for number in range(count):
            port = _free_port()
            logs.append(tmp_path / f"server-{number}.log")
            with open(logs[-1], "wb") as output:
                processes.append(
                    subprocess.Popen(
                        [str(GUNICORN), "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                        cwd=ROOT,
                        env=env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
            bases.append(f"http://127.0.0.1:{port}")
        for base, process, log in zip(bases, processes, logs, strict=True):
            _wait_until_serving(base, process, log)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_guesses_spread_over_two_processes_lock_the_till_out_until_it_expires(
    app: Flask, shop: Shop, redis_url: str, tmp_path: Path
) -> None:
    forged = [random_forged_code(shop) for _ in range(THRESHOLD)]
    valid = shop.static_code()
    cashier, till = shop.logins["cashier"], shop.tills[0]
    with _servers(app, redis_url, tmp_path, count=2) as (first, second):
        status, session, _ = _call(
            f"{first}/api/v1/till/sessions",
            {
                "till_key": till["till_key"],
                "email": cashier["email"],
                "password": cashier["password"],
            },
        )
        assert status == 201, session
        token = session["access_token"]
        for number, code in enumerate(forged):
            server = (first, second)[number % 2]
            status, body, _ = _call(f"{server}/api/v1/till/scan", {"code": code}, token)
            assert (status, body["type"]) == (422, "bad-signature")
        for server in (first, second):
            status, body, headers = _call(f"{server}/api/v1/till/scan", {"code": valid}, token)
            assert (status, body["type"]) == (429, "too-many-attempts")
            assert 1 <= int(headers["Retry-After"]) <= LOCKOUT_SECONDS
        time.sleep(LOCKOUT_SECONDS + 0.2)
        status, body, _ = _call(f"{second}/api/v1/till/scan", {"code": valid}, token)
        assert status == 200, body
        status, body, _ = _call(f"{first}/api/v1/till/scan", {"code": valid}, token)
        assert status == 200, body
    [event] = event_rows(shop)
    assert (event.rule, event.till_id, event.subject) == (
        "brute-force",
        till["till_id"],
        f"till:{till['till_id']}",
    )


def test_redis_counter_slides_its_window_and_grows_the_lockout(redis_url: str) -> None:
    policy = LockoutPolicy(
        threshold=2,
        address_threshold=5,
        window_seconds=0.3,
        first_lockout_seconds=0.2,
        max_lockout_seconds=0.3,
        memory_seconds=60,
    )
    client = redis.Redis.from_url(redis_url)
    counter = RedisGuessCounter(client, policy)
    key = f"till:{uuid.uuid4().hex}"
    try:
        assert counter.record_failure([key]) == []
        time.sleep(0.35)  # the first failure slid out of the window
        assert counter.record_failure([key]) == []
        [first] = counter.record_failure([key])
        assert (first.key, first.level, first.seconds_left) == (key, 1, 0.2)
        locked = counter.locked([f"addr:{uuid.uuid4().hex}", key])
        assert locked is not None and locked.key == key and 0 < locked.seconds_left <= 0.2
        assert counter.record_failure([key]) == []  # failures during a lockout do not count
        time.sleep(0.25)
        assert counter.locked([key]) is None
        counter.record_failure([key])
        [second] = counter.record_failure([key])
        assert (second.level, second.seconds_left) == (2, 0.3)  # doubled, then capped
    finally:
        counter.clear()
        client.close()


def test_redis_counter_starts_exactly_one_lockout_under_concurrent_failures(
    redis_url: str,
) -> None:
    policy = LockoutPolicy(
        threshold=8,
        address_threshold=100,
        window_seconds=60,
        first_lockout_seconds=60,
        max_lockout_seconds=60,
        memory_seconds=60,
    )
    key = f"till:{uuid.uuid4().hex}"
    barrier = threading.Barrier(16)
    started: list[object] = []

    def fail() -> None:
        client = redis.Redis.from_url(redis_url)
        counter = RedisGuessCounter(client, policy)
        barrier.wait()
        started.extend(counter.record_failure([key]))
        client.close()

    threads = [threading.Thread(target=fail) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1
    client = redis.Redis.from_url(redis_url)
    RedisGuessCounter(client, policy).clear()
    client.close()
