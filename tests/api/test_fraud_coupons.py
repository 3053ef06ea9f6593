"""Fraud rules on coupons, offline sync and reward claims, driven through the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Flask

from app.db import utcnow
from app.extensions import db
from app.ledger.service import post_ledger_entry
from coupons.codes import format_code, generate_code
from tests.api.test_coupon_helpers import new_codes, problem_type, redeem
from tests.api.test_fraud_helpers import event_rows, events, only_event, set_rules
from tests.conftest import Shop, bearer


def test_velocity_flags_a_member_redeeming_too_many_coupons_in_a_day(shop: Shop) -> None:
    set_rules(shop, {"velocity": {"max_redemptions_per_day": 1}})
    first, second = new_codes(shop, 2)
    till = shop.open_till(0)
    card = shop.static_code(0)
    assert redeem(shop.client, till, first, card_code=card).status_code == 200
    assert events(shop) == []
    assert redeem(shop.client, till, second, card_code=card, receipt_id="R-2").status_code == 200
    event = only_event(shop, "velocity")
    assert event["detail"]["operation"] == "coupon-redeem"
    assert event["detail"]["count_24h"] == 2
    assert event["member_id"] == shop.member_id(0)


def test_cashier_redeeming_a_coupon_onto_their_own_account_needs_a_manager(shop: Shop) -> None:
    registered = shop.client.post(
        "/api/v1/auth/register",
        json={
            "email": shop.logins["cashier"]["email"],
            "password": "my-own-member-password",
            "display_name": "Cashier at home",
        },
    ).get_json()
    own = shop.client.get("/api/v1/me/card", headers=bearer(registered["access_token"]))
    [code] = new_codes(shop)
    till = shop.open_till(0)
    refused = redeem(shop.client, till, code, card_code=own.get_json()["static_code"])
    assert (refused.status_code, problem_type(refused)) == (428, "step-up-required")
    assert refused.get_json()["rules"] == ["self-dealing"]
    approved = redeem(
        shop.client,
        till,
        code,
        card_code=own.get_json()["static_code"],
        receipt_id="R-2",
    )
    assert approved.status_code == 428  # still no approval: the coupon stays unredeemed
    headers = {
        **bearer(till),
        "Idempotency-Key": str(uuid.uuid4()),
        "X-Manager-Approval": shop.login_staff("manager"),
    }
    body = {
        "code": code,
        "basket_cents": 2_000,
        "receipt_id": "R-3",
        "card_code": own.get_json()["static_code"],
    }
    response = shop.client.post("/api/v1/till/coupons/redeem", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert only_event(shop, "self-dealing")["approved_by"] == shop.logins["manager"]["staff_id"]


def test_unknown_coupon_codes_lock_the_till_out_but_typos_do_not(app: Flask, shop: Shop) -> None:
    app.config.update(FRAUD_GUESS_THRESHOLD=3, FRAUD_LOCKOUT_SECONDS=30)
    [real] = new_codes(shop)
    till = shop.open_till(0)
    typo = ("1" if real[0] != "1" else "2") + real[1:]
    for _ in range(5):
        assert problem_type(redeem(shop.client, till, typo)) == "invalid-code"
    for _ in range(3):
        assert problem_type(redeem(shop.client, till, format_code(generate_code()))) == (
            "unknown-code"
        )
    locked = redeem(shop.client, till, real)
    assert (locked.status_code, problem_type(locked)) == (429, "too-many-attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 30
    validate = shop.client.post(
        "/api/v1/till/coupons/validate",
        json={"code": real, "basket_cents": 2_000},
        headers=bearer(till),
    )
    assert validate.status_code == 429
    event = only_event(shop, "brute-force")
    assert [a["refusal_type"] for a in event["evidence"]] == ["unknown-code"] * 3
    assert redeem(shop.client, shop.open_till(1), real).status_code == 200


def test_a_sync_conflict_appears_in_the_fraud_review_queue(shop: Shop) -> None:
    [code] = new_codes(shop)
    assert redeem(shop.client, shop.open_till(1), code).status_code == 200
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "redemption",
        "sequence": 1,
        "local_time": (utcnow() - timedelta(minutes=5)).isoformat(),
        "payload": {"code": code, "basket_cents": 2_000, "receipt_id": "OFF-1"},
    }
    response = shop.client.post(
        "/api/v1/till/sync", json={"events": [event]}, headers=bearer(shop.open_till(0))
    )
    [result] = response.get_json()["results"]
    assert result["status"] == "conflict"
    fraud = only_event(shop, "sync-conflict")
    assert fraud["detail"]["sync_conflict_id"] == result["result"]["conflict_id"]
    assert fraud["detail"]["reason"] == "coupon-already-redeemed"
    assert fraud["till_id"] == shop.tills[0]["till_id"]
    assert [a["operation"] for a in fraud["evidence"]] == ["till-sync"]


def test_a_burst_of_reward_claims_from_one_address_is_flagged(app: Flask, shop: Shop) -> None:
    set_rules(shop, {"reward-claim-burst": {"max_claims": 2}})
    reward = shop.client.post(
        "/api/v1/rewards",
        json={"name": "Coffee off", "kind": "discount", "cost_points": 10, "amount_off_cents": 100},
        headers=bearer(shop.login_staff("manager")),
    ).get_json()
    with app.app_context():
        post_ledger_entry(shop.member_id(0), 100, "adjust", reason="test credit")
        db.session.commit()
    token = shop.login_member(0)
    for _ in range(3):
        claimed = shop.client.post(
            f"/api/v1/me/rewards/{reward['id']}/claim",
            headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert claimed.status_code == 201, claimed.get_json()
    event = only_event(shop, "reward-claim-burst")
    assert event["member_id"] == shop.member_id(0)
    assert event["detail"]["count"] == 3
    assert len(event_rows(shop)) == 1
