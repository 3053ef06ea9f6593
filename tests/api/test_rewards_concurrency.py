"""Concurrent reward claims and returns: never more than the points, the stock or one refund.

Real threads, each with its own test client (and so its own database connection and
transaction), race against committed data on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.ledger.models import LedgerEntry
from app.rewards.models import RewardClaim
from tests.api.test_rewards import add_reward, claim_path, fulfil, give_points, snapshot
from tests.conftest import Shop, bearer

THREADS = 20


def race(app: Flask, request: Callable[[FlaskClient], Any]) -> list[Any]:
    """Run ``request`` in THREADS threads at once, each with its own client; return answers."""
    barrier = threading.Barrier(THREADS)
    answers: list[Any] = [None] * THREADS

    def run(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        answers[index] = request(client)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def claim_with_new_key(token: str, reward_id: int) -> Callable[[FlaskClient], Any]:
    """Return a request that claims the reward with a fresh idempotency key."""

    def request(client: FlaskClient) -> Any:
        headers = {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
        response = client.post(claim_path(reward_id), headers=headers)
        return response.status_code, response.get_json()

    return request


def test_twenty_concurrent_claims_with_points_for_three_make_exactly_three(
    shop: Shop, app: Flask
) -> None:
    member_id = int(shop.members[0]["member_id"])
    reward = add_reward(shop, cost_points=100, stock=50)
    give_points(app, member_id, 350)
    answers = race(app, claim_with_new_key(shop.login_member(), reward["id"]))
    outcomes = Counter(
        status if status == 201 else (status, body["type"]) for status, body in answers
    )
    assert outcomes == {201: 3, (409, "insufficient-points"): THREADS - 3}
    after = snapshot(app, member_id, reward["id"])
    assert after["balance"] == after["ledger_sum"] == 50
    assert after["stock"] == 47
    assert after["claims"] == 3 and after["coupons"] == 3
    balances = sorted(body["points_balance"] for status, body in answers if status == 201)
    assert balances == [50, 150, 250]


def test_twenty_concurrent_claims_of_three_in_stock_make_exactly_three(
    shop: Shop, app: Flask
) -> None:
    member_id = int(shop.members[0]["member_id"])
    reward = add_reward(shop, cost_points=10, stock=3)
    give_points(app, member_id, 10_000)
    answers = race(app, claim_with_new_key(shop.login_member(), reward["id"]))
    outcomes = Counter(
        status if status == 201 else (status, body["type"]) for status, body in answers
    )
    assert outcomes == {201: 3, (409, "reward-out-of-stock"): THREADS - 3}
    after = snapshot(app, member_id, reward["id"])
    assert after["stock"] == 0
    assert after["balance"] == after["ledger_sum"] == 10_000 - 30
    assert after["claims"] == 3 and after["coupons"] == 3


def test_twenty_concurrent_claims_respect_the_per_member_limit(shop: Shop, app: Flask) -> None:
    member_id = int(shop.members[0]["member_id"])
    reward = add_reward(shop, cost_points=10, stock=50, per_member_limit=2)
    give_points(app, member_id, 10_000)
    answers = race(app, claim_with_new_key(shop.login_member(), reward["id"]))
    outcomes = Counter(
        status if status == 201 else (status, body["type"]) for status, body in answers
    )
    assert outcomes == {201: 2, (409, "reward-limit-reached"): THREADS - 2}
    after = snapshot(app, member_id, reward["id"])
    assert after["claims"] == 2 and after["stock"] == 48
    assert after["balance"] == after["ledger_sum"] == 10_000 - 20


def test_twenty_members_racing_for_three_in_stock_make_exactly_three(
    shop: Shop, app: Flask
) -> None:
    # Different members do not share a row lock; only the stock's conditional UPDATE decides.
    reward = add_reward(shop, cost_points=10, stock=3)
    member_ids = [int(m["member_id"]) for m in shop.members]
    for member_id in member_ids:
        give_points(app, member_id, 1_000)
    tokens = [shop.login_member(i % len(member_ids)) for i in range(THREADS)]
    turn = iter(range(THREADS))
    lock = threading.Lock()

    def request(client: FlaskClient) -> Any:
        with lock:
            token = tokens[next(turn)]
        return claim_with_new_key(token, reward["id"])(client)

    answers = race(app, request)
    assert sum(1 for status, _ in answers if status == 201) == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RewardClaim)) == 3
        spent = db.session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.kind == "reward")
        )
        assert spent == -30
    assert snapshot(app, member_ids[0], reward["id"])["stock"] == 0


def test_twenty_concurrent_retries_with_one_key_make_one_claim(shop: Shop, app: Flask) -> None:
    member_id = int(shop.members[0]["member_id"])
    reward = add_reward(shop, cost_points=100, stock=10)
    give_points(app, member_id, 1_000)
    token = shop.login_member()
    key = str(uuid.uuid4())

    def request(client: FlaskClient) -> Any:
        headers = {**bearer(token), "Idempotency-Key": key}
        response = client.post(claim_path(reward["id"]), headers=headers)
        return response.status_code, response.get_json()

    answers = race(app, request)
    # Every retry waits for the first claim to commit and then gets its answer.
    assert [status for status, _ in answers] == [201] * THREADS
    assert all(body == answers[0][1] for _, body in answers)
    after = snapshot(app, member_id, reward["id"])
    assert after["claims"] == 1
    assert after["balance"] == 900 and after["stock"] == 9


def test_concurrent_returns_give_the_points_back_once(shop: Shop, app: Flask) -> None:
    member_id = int(shop.members[0]["member_id"])
    gift = add_reward(shop, kind="physical_gift", amount_off_cents=None, cost_points=300, stock=1)
    give_points(app, member_id, 300)
    token = shop.login_member()
    claimed = shop.client.post(
        claim_path(gift["id"]), headers={**bearer(token), "Idempotency-Key": "gift-1"}
    ).get_json()
    assert fulfil(shop, claimed["claim_id"], "shipped").status_code == 200
    manager = shop.login_staff("manager")

    def request(client: FlaskClient) -> Any:
        return client.post(
            f"/api/v1/reward-claims/{claimed['claim_id']}/fulfilment",
            json={"status": "returned"},
            headers=bearer(manager),
        ).status_code

    assert set(race(app, request)) <= {200, 409}
    after = snapshot(app, member_id, gift["id"])
    assert after["balance"] == after["ledger_sum"] == 300
    assert after["stock"] == 1
    with app.app_context():
        reversals = db.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "reversal")
        )
        assert reversals == 1
