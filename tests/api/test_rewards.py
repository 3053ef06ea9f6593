"""The rewards catalogue, claiming a reward with points, and fulfilment of physical gifts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Member
from app.campaigns.models import Coupon
from app.db import utcnow
from app.extensions import db
from app.idempotency import IdempotencyKey
from app.ledger.models import LedgerEntry
from app.ledger.service import post_ledger_entry
from app.rewards.models import Reward, RewardClaim
from coupons.codes import normalise_code
from tests.conftest import Shop, bearer

REWARDS = "/api/v1/rewards"


def claim_path(reward_id: int) -> str:
    """Return the claim URL of a reward."""
    return f"/api/v1/me/rewards/{reward_id}/claim"


def give_points(app: Flask, member_id: int, points: int) -> None:
    """Credit a member through the ledger and commit."""
    with app.app_context():
        post_ledger_entry(member_id, points, "adjust", reason="test credit")
        db.session.commit()


def add_reward(shop: Shop, **fields: Any) -> dict[str, Any]:
    """Create a reward as the demo manager and return it."""
    body = {"name": "Test reward", "kind": "discount", "cost_points": 100, "amount_off_cents": 300}
    body.update(fields)
    response = shop.client.post(REWARDS, json=body, headers=bearer(shop.login_staff("manager")))
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def claim(shop: Shop, token: str, reward_id: int, key: str | None = None) -> Any:
    """Claim a reward with a fresh (or the given) idempotency key."""
    headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
    return shop.client.post(claim_path(reward_id), headers=headers)


def snapshot(app: Flask, member_id: int, reward_id: int) -> dict[str, Any]:
    """Return what a claim may change: balance, stock, claims, ledger, coupons, keys."""
    with app.app_context():
        member = db.session.get(Member, member_id)
        reward = db.session.get(Reward, reward_id)
        assert member is not None and reward is not None
        ledger_sum = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        )
        return {
            "balance": member.points_balance,
            "ledger_sum": ledger_sum,
            "stock": reward.stock,
            "claims": db.session.scalar(select(func.count()).select_from(RewardClaim)),
            "ledger_entries": db.session.scalar(select(func.count()).select_from(LedgerEntry)),
            "coupons": db.session.scalar(select(func.count()).select_from(Coupon)),
            "keys": db.session.scalar(select(func.count()).select_from(IdempotencyKey)),
        }


@pytest.fixture
def member_id(shop: Shop) -> int:
    """Return the id of the first demo member."""
    return int(shop.members[0]["member_id"])


# --- the catalogue -------------------------------------------------------------------------------


def test_members_see_only_active_rewards_with_whether_they_can_afford_them(
    shop: Shop, app: Flask, member_id: int
) -> None:
    now = utcnow()
    cheap = add_reward(shop, name="Cheap", cost_points=10)
    dear = add_reward(shop, name="Dear", cost_points=100_000)
    withdrawn = add_reward(shop, name="Withdrawn", active=False)
    future = add_reward(shop, name="Future", active_from=(now + timedelta(days=1)).isoformat())
    over = add_reward(shop, name="Over", active_until=(now - timedelta(seconds=1)).isoformat())
    give_points(app, member_id, 50)
    listed = shop.client.get(REWARDS, headers=bearer(shop.login_member())).get_json()
    by_id = {reward["id"]: reward for reward in listed}
    assert cheap["id"] in by_id and dear["id"] in by_id
    assert not {withdrawn["id"], future["id"], over["id"]} & set(by_id)
    assert by_id[cheap["id"]]["affordable"] is True
    assert by_id[dear["id"]]["affordable"] is False


def test_manager_keeps_the_catalogue(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    gift = add_reward(shop, name="Mug", kind="physical_gift", amount_off_cents=None, stock=5)
    assert gift["stock"] == 5 and gift["kind"] == "physical_gift"
    changed = shop.client.patch(
        f"{REWARDS}/{gift['id']}", json={"stock": 7, "cost_points": 900}, headers=manager
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["stock"] == 7 and changed.get_json()["cost_points"] == 900
    shown = shop.client.get(f"{REWARDS}/{gift['id']}", headers=manager).get_json()
    assert shown["name"] == "Mug"
    withdrawn = shop.client.patch(
        f"{REWARDS}/{gift['id']}", json={"active": False}, headers=manager
    )
    assert withdrawn.get_json()["active"] is False
    catalogue = shop.client.get(f"{REWARDS}/catalogue", headers=manager).get_json()
    assert gift["id"] in [reward["id"] for reward in catalogue]
    assert all("claims_count" in reward for reward in catalogue)


INCONSISTENT_REWARDS: list[dict[str, Any]] = [
    {"kind": "discount"},  # neither amount nor percentage
    {"kind": "discount", "amount_off_cents": 100, "percent_off": 10},
    {"kind": "free_item"},  # no sku
    {"kind": "physical_gift", "sku": "MUG"},
    {"kind": "discount", "amount_off_cents": 100, "cost_points": 0},
    {"kind": "discount", "amount_off_cents": 100, "stock": -1},
    {"kind": "voucher", "amount_off_cents": 100},
]


def test_inconsistent_reward_is_refused(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    for body in INCONSISTENT_REWARDS:
        response = shop.client.post(
            REWARDS, json={"name": "Bad", "cost_points": 10, **body}, headers=manager
        )
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["type"] == "validation-error"


def test_a_change_that_breaks_a_reward_is_refused(shop: Shop) -> None:
    reward = add_reward(shop)
    response = shop.client.patch(
        f"{REWARDS}/{reward['id']}",
        json={"amount_off_cents": None},
        headers=bearer(shop.login_staff("manager")),
    )
    assert response.status_code == 422


MANAGER_ROUTES = [
    ("POST", REWARDS, {"name": "X", "kind": "free_item", "sku": "A", "cost_points": 1}),
    ("GET", f"{REWARDS}/catalogue", None),
    ("GET", f"{REWARDS}/1", None),
    ("PATCH", f"{REWARDS}/1", {"active": False}),
    ("GET", "/api/v1/reward-claims", None),
    ("POST", "/api/v1/reward-claims/1/fulfilment", {"status": "shipped"}),
    ("GET", "/api/v1/stamp-programmes", None),
    (
        "POST",
        "/api/v1/stamp-programmes",
        {
            "name": "S",
            "category": "c",
            "stamps_needed": 3,
            "reward": {"kind": "free_item", "sku": "A"},
        },
    ),
    ("PATCH", "/api/v1/stamp-programmes/1", {"active": False}),
]
MEMBER_ROUTES = [
    ("GET", REWARDS, None),
    ("POST", claim_path(1), None),
    ("GET", "/api/v1/me/rewards/claims", None),
    ("GET", "/api/v1/me/stamps", None),
]


def test_members_and_cashiers_may_not_call_manager_reward_routes(shop: Shop) -> None:
    for token in (shop.login_member(), shop.login_staff("cashier")):
        for method, path, body in MANAGER_ROUTES:
            response = shop.client.open(path, method=method, json=body, headers=bearer(token))
            assert response.status_code == 403, (path, response.get_json())
            assert response.get_json()["type"] == "forbidden"


def test_staff_may_not_call_member_reward_routes(shop: Shop) -> None:
    for role in ("cashier", "manager", "admin"):
        headers = {**bearer(shop.login_staff(role)), "Idempotency-Key": str(uuid.uuid4())}
        for method, path, body in MEMBER_ROUTES:
            response = shop.client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 403, (role, path, response.get_json())


def test_reward_routes_need_an_app_token(shop: Shop) -> None:
    till = bearer(shop.open_till(0, "manager"))
    for method, path, body in MANAGER_ROUTES + MEMBER_ROUTES:
        assert shop.client.open(path, method=method, json=body).status_code == 401
        response = shop.client.open(path, method=method, json=body, headers=till)
        assert response.status_code == 401, path
        assert response.get_json()["type"] == "wrong-token-kind"


# --- claims --------------------------------------------------------------------------------------


def test_claim_takes_the_points_and_the_stock_and_issues_a_coupon(
    shop: Shop, app: Flask, member_id: int
) -> None:
    reward = add_reward(shop, cost_points=120, stock=4)
    give_points(app, member_id, 500)
    token = shop.login_member()
    response = claim(shop, token, reward["id"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["reward_id"] == reward["id"]
    assert body["points_spent"] == 120
    assert body["points_balance"] == 380
    assert body["fulfilment_status"] is None
    assert len(normalise_code(body["coupon"]["code"])) == 13
    after = snapshot(app, member_id, reward["id"])
    assert after["balance"] == after["ledger_sum"] == 380
    assert after["stock"] == 3
    with app.app_context():
        coupon = db.session.get(Coupon, body["coupon"]["coupon_id"])
        assert coupon is not None
        assert coupon.member_id == member_id
        assert coupon.benefit == {"kind": "amount_off", "amount_cents": 300}
        assert coupon.valid_until is not None
    claims = shop.client.get("/api/v1/me/rewards/claims", headers=bearer(token)).get_json()
    assert [(c["claim_id"], c["coupon_id"]) for c in claims] == [
        (body["claim_id"], body["coupon"]["coupon_id"])
    ]


def test_free_item_reward_issues_a_free_item_coupon(shop: Shop, app: Flask, member_id: int) -> None:
    reward = add_reward(shop, kind="free_item", sku="CAKE", amount_off_cents=None, cost_points=10)
    give_points(app, member_id, 10)
    body = claim(shop, shop.login_member(), reward["id"]).get_json()
    assert body["points_balance"] == 0
    with app.app_context():
        coupon = db.session.get(Coupon, body["coupon"]["coupon_id"])
        assert coupon is not None and coupon.benefit == {"kind": "free_item", "sku": "CAKE"}


def test_claim_needs_an_idempotency_key(shop: Shop, app: Flask, member_id: int) -> None:
    reward = add_reward(shop, cost_points=10)
    give_points(app, member_id, 100)
    response = shop.client.post(claim_path(reward["id"]), headers=bearer(shop.login_member()))
    assert response.status_code == 400
    assert response.get_json()["type"] == "idempotency-key-required"
    assert snapshot(app, member_id, reward["id"])["claims"] == 0


def test_retried_claim_with_the_same_key_changes_nothing(
    shop: Shop, app: Flask, member_id: int
) -> None:
    reward = add_reward(shop, cost_points=100, stock=10)
    give_points(app, member_id, 1000)
    token = shop.login_member()
    key = str(uuid.uuid4())
    first = claim(shop, token, reward["id"], key)
    assert first.status_code == 201
    before = snapshot(app, member_id, reward["id"])
    for _ in range(3):
        again = claim(shop, token, reward["id"], key)
        assert again.status_code == 201
        assert again.get_json() == first.get_json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert snapshot(app, member_id, reward["id"]) == before
    assert before["balance"] == 900 and before["stock"] == 9 and before["claims"] == 1


def test_same_key_for_another_reward_is_refused(shop: Shop, app: Flask, member_id: int) -> None:
    first, second = add_reward(shop, cost_points=10), add_reward(shop, cost_points=10)
    give_points(app, member_id, 100)
    token = shop.login_member()
    key = str(uuid.uuid4())
    assert claim(shop, token, first["id"], key).status_code == 201
    reused = claim(shop, token, second["id"], key)
    assert reused.status_code == 422
    assert reused.get_json()["type"] == "idempotency-key-reused"


def test_another_member_with_the_same_key_gets_their_own_claim(
    shop: Shop, app: Flask, member_id: int
) -> None:
    reward = add_reward(shop, cost_points=10)
    give_points(app, member_id, 100)
    give_points(app, int(shop.members[1]["member_id"]), 100)
    key = str(uuid.uuid4())
    ada = claim(shop, shop.login_member(0), reward["id"], key).get_json()
    grace = claim(shop, shop.login_member(1), reward["id"], key).get_json()
    assert ada["claim_id"] != grace["claim_id"]


def test_claim_without_enough_points_is_refused_and_takes_nothing(
    shop: Shop, app: Flask, member_id: int
) -> None:
    reward = add_reward(shop, cost_points=100, stock=2)
    give_points(app, member_id, 99)
    before = snapshot(app, member_id, reward["id"])
    response = claim(shop, shop.login_member(), reward["id"])
    assert response.status_code == 409
    assert response.get_json()["type"] == "insufficient-points"
    assert snapshot(app, member_id, reward["id"]) == before


def test_sold_out_reward_is_refused(shop: Shop, app: Flask, member_id: int) -> None:
    reward = add_reward(shop, cost_points=10, stock=1)
    give_points(app, member_id, 100)
    token = shop.login_member()
    assert claim(shop, token, reward["id"]).status_code == 201
    response = claim(shop, token, reward["id"])
    assert response.status_code == 409
    assert response.get_json()["type"] == "reward-out-of-stock"
    assert snapshot(app, member_id, reward["id"])["balance"] == 90


def test_per_member_limit_is_enforced(shop: Shop, app: Flask, member_id: int) -> None:
    reward = add_reward(shop, cost_points=10, per_member_limit=2)
    give_points(app, member_id, 100)
    token = shop.login_member()
    assert [claim(shop, token, reward["id"]).status_code for _ in range(2)] == [201, 201]
    listed = shop.client.get(REWARDS, headers=bearer(token)).get_json()
    assert [r["claims_left"] for r in listed if r["id"] == reward["id"]] == [0]
    response = claim(shop, token, reward["id"])
    assert response.status_code == 409
    assert response.get_json()["type"] == "reward-limit-reached"
    # The limit is per member: another member may still claim.
    give_points(app, int(shop.members[1]["member_id"]), 100)
    assert claim(shop, shop.login_member(1), reward["id"]).status_code == 201


def test_withdrawn_or_expired_or_unknown_reward_cannot_be_claimed(
    shop: Shop, app: Flask, member_id: int
) -> None:
    withdrawn = add_reward(shop, cost_points=10, active=False)
    over = add_reward(
        shop, cost_points=10, active_until=(utcnow() - timedelta(minutes=1)).isoformat()
    )
    give_points(app, member_id, 100)
    token = shop.login_member()
    for reward in (withdrawn, over):
        response = claim(shop, token, reward["id"])
        assert response.status_code == 409
        assert response.get_json()["type"] == "reward-not-available"
    unknown = claim(shop, token, 999_999)
    assert unknown.status_code == 404
    assert unknown.get_json()["type"] == "unknown-reward"


def test_blocked_member_cannot_claim(shop: Shop, app: Flask, member_id: int) -> None:
    reward = add_reward(shop, cost_points=10)
    give_points(app, member_id, 100)
    token = shop.login_member()
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member is not None
        member.blocked = True
        db.session.commit()
    response = claim(shop, token, reward["id"])
    assert response.status_code == 403
    assert response.get_json()["type"] == "member-blocked"


def test_crash_after_the_points_were_taken_leaves_nothing_behind(
    shop: Shop, app: Flask, member_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reward = add_reward(shop, cost_points=100, stock=5)
    give_points(app, member_id, 300)
    token = shop.login_member()
    taken: list[int] = []

    def crash_after_points(*args: Any, **kwargs: Any) -> Any:
        # The points and the stock are gone inside the request's transaction by now.
        taken.append(db.session.scalar(select(Member.points_balance).where(Member.id == member_id)))
        raise RuntimeError("coupon service crashed")

    monkeypatch.setattr("app.rewards.service.issue_member_coupon", crash_after_points)
    before = snapshot(app, member_id, reward["id"])
    key = str(uuid.uuid4())
    response = claim(shop, token, reward["id"], key)
    assert response.status_code == 500
    assert response.get_json()["type"] == "internal-error"
    assert taken == [200]
    assert snapshot(app, member_id, reward["id"]) == before
    monkeypatch.undo()
    retried = claim(shop, token, reward["id"], key)
    assert retried.status_code == 201
    assert retried.get_json()["points_balance"] == 200


# --- physical gifts ------------------------------------------------------------------------------


def fulfil(shop: Shop, claim_id: int, status: str) -> Any:
    """Record a fulfilment step as the demo manager."""
    return shop.client.post(
        f"/api/v1/reward-claims/{claim_id}/fulfilment",
        json={"status": status},
        headers=bearer(shop.login_staff("manager")),
    )


def test_physical_gift_is_shipped_delivered_and_a_return_gives_the_points_back_once(
    shop: Shop, app: Flask, member_id: int
) -> None:
    gift = add_reward(
        shop, name="Tote", kind="physical_gift", amount_off_cents=None, cost_points=300, stock=2
    )
    give_points(app, member_id, 500)
    claimed = claim(shop, shop.login_member(), gift["id"]).get_json()
    assert claimed["coupon"] is None
    assert claimed["fulfilment_status"] == "requested"
    assert claimed["points_balance"] == 200
    waiting = shop.client.get(
        "/api/v1/reward-claims?fulfilment_status=requested",
        headers=bearer(shop.login_staff("manager")),
    ).get_json()
    assert [(c["claim_id"], c["member_id"]) for c in waiting] == [(claimed["claim_id"], member_id)]
    skipped = fulfil(shop, claimed["claim_id"], "delivered")
    assert skipped.status_code == 409
    assert skipped.get_json()["type"] == "invalid-fulfilment-transition"
    assert fulfil(shop, claimed["claim_id"], "shipped").get_json()["fulfilment_status"] == "shipped"
    assert fulfil(shop, claimed["claim_id"], "delivered").status_code == 200
    assert snapshot(app, member_id, gift["id"])["stock"] == 1
    returned = fulfil(shop, claimed["claim_id"], "returned")
    assert returned.status_code == 200
    assert returned.get_json()["points_returned"] is True
    after = snapshot(app, member_id, gift["id"])
    assert after["balance"] == after["ledger_sum"] == 500
    assert after["stock"] == 2
    # Posting "returned" again changes nothing; going back is refused.
    assert fulfil(shop, claimed["claim_id"], "returned").status_code == 200
    assert snapshot(app, member_id, gift["id"]) == after
    assert fulfil(shop, claimed["claim_id"], "shipped").status_code == 409


def test_requested_gift_cannot_be_returned_and_coupon_claims_are_not_fulfilled(
    shop: Shop, app: Flask, member_id: int
) -> None:
    gift = add_reward(shop, kind="physical_gift", amount_off_cents=None, cost_points=10)
    coupon_reward = add_reward(shop, cost_points=10)
    give_points(app, member_id, 100)
    token = shop.login_member()
    gift_claim = claim(shop, token, gift["id"]).get_json()
    coupon_claim = claim(shop, token, coupon_reward["id"]).get_json()
    assert fulfil(shop, gift_claim["claim_id"], "returned").status_code == 409
    response = fulfil(shop, coupon_claim["claim_id"], "shipped")
    assert response.status_code == 409
    assert response.get_json()["type"] == "fulfilment-not-applicable"
    unknown = fulfil(shop, 999_999, "shipped")
    assert unknown.status_code == 404
    assert unknown.get_json()["type"] == "unknown-reward-claim"


def test_returned_gift_no_longer_counts_towards_the_limit(
    shop: Shop, app: Flask, member_id: int
) -> None:
    gift = add_reward(
        shop, kind="physical_gift", amount_off_cents=None, cost_points=10, per_member_limit=1
    )
    give_points(app, member_id, 100)
    token = shop.login_member()
    first = claim(shop, token, gift["id"]).get_json()
    assert claim(shop, token, gift["id"]).get_json()["type"] == "reward-limit-reached"
    fulfil(shop, first["claim_id"], "shipped")
    fulfil(shop, first["claim_id"], "returned")
    assert claim(shop, token, gift["id"]).status_code == 201


def test_demo_shop_has_a_reward_a_demo_member_can_afford(shop: Shop) -> None:
    listed = shop.client.get(REWARDS, headers=bearer(shop.login_member(1))).get_json()
    assert {reward["kind"] for reward in listed} == {"discount", "free_item", "physical_gift"}
    affordable = [reward for reward in listed if reward["affordable"]]
    assert affordable
    headers = {**bearer(shop.login_member(1)), "Idempotency-Key": str(uuid.uuid4())}
    response = shop.client.post(claim_path(affordable[0]["id"]), headers=headers)
    assert response.status_code == 201, response.get_json()


def test_a_stored_claim_answer_keeps_no_plain_coupon_code(
    shop: Shop, app: Flask, member_id: int
) -> None:
    """The replayable answer of a claim is sealed: the table never shows the member's code."""
    reward = add_reward(shop, cost_points=100)
    give_points(app, member_id, 500)
    token = shop.login_member()
    first = claim(shop, token, reward["id"], key="claim-seal-1")
    assert first.status_code == 201
    code = first.get_json()["coupon"]["code"]
    with app.app_context():
        rows = db.session.execute(select(IdempotencyKey)).scalars().all()
        stored = " ".join(f"{row.key} {row.request_hash} {row.response_body}" for row in rows)
        db.session.rollback()
    assert rows
    for form in {code, normalise_code(code), code.replace("-", "")}:
        assert form not in stored
    assert "sealed:v1:" in stored
    replay = claim(shop, token, reward["id"], key="claim-seal-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
