"""Each risk rule, driven through the API: the scenario, the event it raises, the action taken."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ledger.models import Purchase
from tests.api.ledger_helpers import balance_of, idempotent, purchase, refund
from tests.api.test_fraud_helpers import (
    attempts,
    audit_rows,
    event_rows,
    events,
    only_event,
    scan,
    set_rules,
)
from tests.conftest import Shop, bearer


def _purchases(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Purchase))
        db.session.rollback()
    return int(count or 0)


# --- velocity ----------------------------------------------------------------------------


def test_velocity_flags_a_member_earning_on_too_many_purchases_in_a_day(shop: Shop) -> None:
    set_rules(shop, {"velocity": {"max_purchases_per_day": 2}})
    till = shop.open_till()
    for _ in range(2):
        assert purchase(shop.client, till, shop.static_code(), 1000).status_code == 201
    assert events(shop) == []
    third = purchase(shop.client, till, shop.static_code(), 1000)
    assert third.status_code == 201  # flag: allowed, but on the review queue
    event = only_event(shop, "velocity")
    assert event["member_id"] == shop.member_id()
    assert event["detail"]["count_24h"] == 3
    assert event["detail"]["outcome"] == "flag"
    assert [a["operation"] for a in event["evidence"]] == ["purchase"] * 3
    assert attempts(shop)[-1].risk_score == 30


def test_velocity_set_to_deny_refuses_and_keeps_the_event_after_the_rollback(
    app: Flask, shop: Shop
) -> None:
    set_rules(shop, {"velocity": {"max_purchases_per_day": 1, "action": "deny"}})
    till = shop.open_till()
    assert purchase(shop.client, till, shop.static_code(), 1000).status_code == 201
    balance, booked = balance_of(app, shop.member_id()), _purchases(app)
    denied = purchase(shop.client, till, shop.static_code(), 1000)
    assert denied.status_code == 403
    assert denied.get_json()["type"] == "risk-denied"
    assert denied.get_json()["rules"] == ["velocity"]
    assert balance_of(app, shop.member_id()) == balance
    assert _purchases(app) == booked
    event = only_event(shop, "velocity")
    assert event["action"] == "deny"
    assert event["evidence"][-1]["refusal_type"] == "risk-denied"


# --- impossible travel -------------------------------------------------------------------


def test_card_used_in_berlin_then_hamburg_minutes_later_needs_a_live_code(shop: Shop) -> None:
    berlin, hamburg = shop.open_till(0), shop.open_till(1)
    assert scan(shop, shop.static_code(), berlin).status_code == 200
    copied = scan(shop, shop.static_code(), hamburg)
    assert copied.status_code == 428
    body = copied.get_json()
    assert body["type"] == "step-up-required"
    assert body["rules"] == ["impossible-travel"]
    assert body["accepts"] == ["rotating-code", "manager-approval"]
    live = scan(shop, shop.rotating_code(), hamburg)
    assert live.status_code == 200, live.get_json()
    event = only_event(shop, "impossible-travel")
    assert event["severity"] == "high"
    assert 240 < event["detail"]["distance_km"] < 270
    assert event["detail"]["outcome"] == "live-code"
    stores = [a["store_id"] for a in event["evidence"]]
    assert stores == [shop.tills[0]["store_id"]] + [shop.tills[1]["store_id"]] * 2


def test_a_purchase_in_hamburg_after_a_scan_in_berlin_needs_a_live_code(shop: Shop) -> None:
    """A scan reads the card's last use with the card; a purchase, which locks the member, reads
    it after the lock: both see the Berlin scan."""
    berlin, hamburg = shop.open_till(0), shop.open_till(1)
    assert scan(shop, shop.static_code(), berlin).status_code == 200
    copied = purchase(shop.client, hamburg, shop.static_code(), 1000)
    assert copied.status_code == 428, copied.get_json()
    assert copied.get_json()["rules"] == ["impossible-travel"]
    assert purchase(shop.client, berlin, shop.static_code(), 1000).status_code == 201


def test_a_manager_can_approve_an_impossible_travel_step_up(shop: Shop) -> None:
    berlin, hamburg = shop.open_till(0), shop.open_till(1)
    scan(shop, shop.static_code(), berlin)
    manager = shop.login_staff("manager")
    approved = scan(shop, shop.static_code(), hamburg, **{"X-Manager-Approval": manager})
    assert approved.status_code == 200
    # The rest of the visit in Hamburg needs no second approval.
    token = approved.get_json()["scan_token"]
    assert purchase(shop.client, hamburg, token, 1000).status_code == 201
    event = only_event(shop, "impossible-travel")
    assert event["approved_by"] == shop.logins["manager"]["staff_id"]
    audit = audit_rows(shop)[-1]
    assert (audit.action, audit.staff_id) == ("approve-step-up", event["approved_by"])


# --- self-dealing ------------------------------------------------------------------------


def _cashier_as_member(shop: Shop) -> str:
    """Register the demo cashier's e-mail as a member and return that member's LW1 code."""
    registered = shop.client.post(
        "/api/v1/auth/register",
        json={
            "email": shop.logins["cashier"]["email"],
            "password": "my-own-member-password",
            "display_name": "Cashier at home",
        },
    )
    assert registered.status_code == 201, registered.get_json()
    token = registered.get_json()["access_token"]
    card = shop.client.get("/api/v1/me/card", headers=bearer(token)).get_json()
    return str(card["static_code"])


def test_cashier_booking_onto_their_own_account_needs_another_managers_approval(
    shop: Shop,
) -> None:
    till = shop.open_till(0, "cashier")
    own_code = _cashier_as_member(shop)
    refused = purchase(shop.client, till, own_code, 5000)
    assert refused.status_code == 428
    assert refused.get_json()["rules"] == ["self-dealing"]
    assert refused.get_json()["accepts"] == ["manager-approval"]
    cashier_token = shop.open_till(1, "cashier")
    self_approved = shop.client.post(
        "/api/v1/till/purchases",
        json={"code": own_code, "receipt_id": "R-2", "amount_cents": 5000, "currency": "EUR"},
        headers={**idempotent(till), "X-Manager-Approval": cashier_token},
    )
    assert self_approved.status_code == 403
    assert self_approved.get_json()["type"] == "invalid-manager-approval"
    approved = shop.client.post(
        "/api/v1/till/purchases",
        json={"code": own_code, "receipt_id": "R-3", "amount_cents": 5000, "currency": "EUR"},
        headers={**idempotent(till), "X-Manager-Approval": shop.open_till(0, "manager")},
    )
    assert approved.status_code == 201, approved.get_json()
    event = only_event(shop, "self-dealing")
    assert event["staff_id"] == shop.logins["cashier"]["staff_id"]
    assert event["approved_by"] == shop.logins["manager"]["staff_id"]
    assert [a["outcome"] for a in event["evidence"]] == ["refused", "refused", "accepted"]


def test_a_manager_may_not_approve_their_own_till_session(shop: Shop) -> None:
    till = shop.open_till(0, "manager")
    scan(shop, shop.static_code(), shop.open_till(1))
    response = scan(shop, shop.static_code(), till, **{"X-Manager-Approval": till})
    assert response.status_code == 403
    assert response.get_json()["type"] == "invalid-manager-approval"


# --- refund abuse ------------------------------------------------------------------------


def test_refund_abuse_flags_a_member_who_returns_most_of_what_they_buy(shop: Shop) -> None:
    set_rules(
        shop,
        {
            "refund-abuse": {
                "min_refunds": 2,
                "max_member_refund_share": 0.5,
                "max_staff_refund_share": 1.0,
            }
        },
    )
    till = shop.open_till()
    for receipt in ("R-1", "R-2"):
        purchase(shop.client, till, shop.static_code(), 10_000, receipt_id=receipt)
    assert refund(shop.client, till, "R-1", 6_000).status_code == 201
    assert events(shop) == []  # one refund is not yet a pattern
    assert refund(shop.client, till, "R-2", 6_000).status_code == 201
    event = only_event(shop, "refund-abuse")
    assert event["member_id"] == shop.member_id()
    assert event["detail"]["member_refund_share"] == 0.6
    assert event["detail"]["member_refunds"] == 2
    assert "staff_refund_share" not in event["detail"]


def test_refund_abuse_flags_a_cashier_who_refunds_too_much_of_what_they_book(
    shop: Shop,
) -> None:
    set_rules(
        shop,
        {
            "refund-abuse": {
                "min_refunds": 1,
                "max_member_refund_share": 1.0,
                "max_staff_refund_share": 0.1,
            }
        },
    )
    cashier = shop.open_till(0, "cashier")
    purchase(shop.client, cashier, shop.static_code(0), 10_000, receipt_id="R-1")
    purchase(shop.client, cashier, shop.static_code(1), 10_000, receipt_id="R-2")
    assert refund(shop.client, cashier, "R-1", 3_000).status_code == 201
    event = only_event(shop, "refund-abuse")
    assert event["staff_id"] == shop.logins["cashier"]["staff_id"]
    # 3000 of at most 20000 booked today (plus the demo shop's history of this cashier).
    assert 0.1 < event["detail"]["staff_refund_share"] <= 0.15
    assert "member_refund_share" not in event["detail"]


# --- live code ---------------------------------------------------------------------------


def test_an_operation_that_needs_a_live_code_refuses_a_static_one(shop: Shop) -> None:
    set_rules(shop, {"live-code": {"operations": {"purchase": True}}})
    till = shop.open_till()
    static = purchase(shop.client, till, shop.static_code(), 1000)
    assert static.status_code == 428
    assert static.get_json()["rules"] == ["live-code"]
    static_token = scan(shop, shop.static_code(), till).get_json()["scan_token"]
    assert purchase(shop.client, till, static_token, 1000).status_code == 428
    live_token = scan(shop, shop.rotating_code(), till).get_json()["scan_token"]
    assert purchase(shop.client, till, live_token, 1000).status_code == 201
    event = only_event(shop, "live-code")
    assert event["severity"] == "low"
    assert event["detail"]["credential"] == "static"


def test_earning_with_a_static_code_needs_no_live_code_by_default(shop: Shop) -> None:
    rules = shop.client.get(
        "/api/v1/fraud/rules", headers=bearer(shop.login_staff("manager"))
    ).get_json()
    live = next(rule for rule in rules if rule["rule"] == "live-code")
    assert live["settings"]["operations"] == {
        "scan": False,
        "purchase": False,
        "coupon-redeem": False,
        "points-spend": True,
    }
    assert purchase(shop.client, shop.open_till(), shop.static_code(), 1000).status_code == 201
    assert events(shop) == []


# --- refusals that are warning signs -----------------------------------------------------


def test_a_replayed_live_code_raises_an_event(shop: Shop) -> None:
    code = shop.rotating_code()
    assert scan(shop, code, shop.open_till(0)).status_code == 200
    assert scan(shop, code, shop.open_till(1)).status_code == 409  # the same till: a double scan
    event = only_event(shop, "replayed-code")
    assert event["card_id"] is not None
    assert [a["refusal_type"] for a in event["evidence"]] == ["code-replayed"]
    assert attempts(shop)[-1].risk_score == 50


def test_stale_codes_raise_an_event_only_when_an_admin_asks_for_it(shop: Shop) -> None:
    from datetime import timedelta

    from app.db import utcnow

    till = shop.open_till()
    old = shop.rotating_code(at=utcnow() - timedelta(minutes=5))
    assert scan(shop, old, till).get_json()["type"] == "code-stale"
    assert events(shop) == []
    set_rules(shop, {"stale-code": {"action": "flag"}})
    assert scan(shop, old, till).get_json()["type"] == "code-stale"
    assert only_event(shop, "stale-code")["detail"]["refusal"] == "code-stale"


def test_a_revoked_card_raises_an_event(shop: Shop) -> None:
    token = shop.login_member()
    old = shop.client.get("/api/v1/me/card", headers=bearer(token)).get_json()["static_code"]
    shop.client.post("/api/v1/me/card/reissue", headers=bearer(token))
    assert scan(shop, old, shop.open_till()).status_code == 410
    assert only_event(shop, "revoked-card")["member_id"] == shop.member_id()


def _block(shop: Shop, target_type: str, target_id: object) -> dict[str, Any]:
    response = shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": target_type, "target_id": str(target_id), "reason": "test"},
        headers=bearer(shop.login_staff("manager")),
    )
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _unblock(shop: Shop, target_type: str, target_id: object) -> None:
    response = shop.client.delete(
        f"/api/v1/fraud/blocks/{target_type}/{target_id}",
        headers=bearer(shop.login_staff("manager")),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["blocked"] is False


def test_a_blocked_member_is_refused_at_the_till_until_unblocked(shop: Shop) -> None:
    till = shop.open_till()
    _block(shop, "member", shop.member_id())
    refused = scan(shop, shop.static_code(), till)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "member-blocked"
    assert purchase(shop.client, till, shop.static_code(), 1000).status_code == 403
    event = only_event(shop, "blocked")
    assert event["detail"]["refusal"] == "member-blocked"
    assert len(event["evidence"]) == 2
    _unblock(shop, "member", shop.member_id())
    assert scan(shop, shop.static_code(), till).status_code == 200


def test_a_blocked_card_is_refused_but_the_members_new_card_works(shop: Shop) -> None:
    token = shop.login_member()
    card = shop.client.get("/api/v1/me/card", headers=bearer(token)).get_json()
    blocked = _block(shop, "card", card["card_id"])
    assert (blocked["target_id"], blocked["blocked"]) == (card["card_id"], True)
    till = shop.open_till()
    assert scan(shop, card["static_code"], till).get_json()["type"] == "card-blocked"
    assert scan(shop, shop.rotating_code(), till).get_json()["type"] == "card-blocked"
    listed = shop.client.get(
        "/api/v1/fraud/blocks", headers=bearer(shop.login_staff("manager"))
    ).get_json()
    assert [(b["target_type"], b["target_id"]) for b in listed] == [("card", card["card_id"])]
    _unblock(shop, "card", card["card_id"])
    assert scan(shop, card["static_code"], till).status_code == 200


def test_a_blocked_till_is_refused_at_once_even_with_an_open_session(shop: Shop) -> None:
    till = shop.open_till(0)
    till_id = shop.tills[0]["till_id"]
    _block(shop, "till", till_id)
    refused = scan(shop, shop.static_code(), till)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "till-blocked"
    login = shop.client.post(
        "/api/v1/till/sessions",
        json={
            "till_key": shop.tills[0]["till_key"],
            "email": shop.logins["cashier"]["email"],
            "password": shop.logins["cashier"]["password"],
        },
    )
    assert login.get_json()["type"] == "till-blocked"
    event = only_event(shop, "blocked")
    assert event["till_id"] == till_id
    assert [a["operation"] for a in event["evidence"]] == ["till-request", "till-login"]
    _unblock(shop, "till", till_id)
    assert scan(shop, shop.static_code(), till).status_code == 200
    actions = [(row.action, row.target_type) for row in audit_rows(shop)]
    assert actions == [("block", "till"), ("unblock", "till")]


# --- bursts ------------------------------------------------------------------------------


def _register(shop: Shop, number: int) -> Any:
    return shop.client.post(
        "/api/v1/auth/register",
        json={
            "email": f"burst{number}@example.com",
            "password": "long-enough-password",
            "display_name": f"Burst {number}",
        },
    )


def test_a_signup_burst_from_one_address_is_flagged_then_denied(shop: Shop) -> None:
    set_rules(shop, {"signup-burst": {"max_signups": 2}})
    for number in range(3):
        assert _register(shop, number).status_code == 201
    event = only_event(shop, "signup-burst")
    assert event["client_address"] == "127.0.0.1"
    assert event["detail"]["count"] == 3
    set_rules(shop, {"signup-burst": {"action": "deny"}})
    denied = _register(shop, 4)
    assert denied.status_code == 403
    assert denied.get_json()["type"] == "risk-denied"
    assert len(event_rows(shop)) == 1  # the burst joined the open event
    assert only_event(shop, "signup-burst")["action"] == "deny"
