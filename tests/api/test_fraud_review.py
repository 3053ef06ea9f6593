"""The staff side: the review queue, resolving, scopes, rule settings, the summary, the audit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask

from app.db import utcnow
from tests.api.test_fraud_helpers import audit_rows, events, forged_code, scan, set_rules
from tests.conftest import Shop, bearer

REVIEW_ROUTES = [
    ("GET", "/api/v1/fraud/events", None),
    ("GET", "/api/v1/fraud/events/1", None),
    ("POST", "/api/v1/fraud/events/1/resolve", {"resolution": "fraud"}),
    ("GET", "/api/v1/fraud/blocks", None),
    ("POST", "/api/v1/fraud/blocks", {"target_type": "member", "target_id": "1"}),
    ("DELETE", "/api/v1/fraud/blocks/member/1", None),
    ("GET", "/api/v1/fraud/rules", None),
    ("PUT", "/api/v1/fraud/rules", {"velocity": {"score": 5}}),
    ("GET", "/api/v1/fraud/summary", None),
    ("GET", "/api/v1/fraud/audit", None),
]


def _two_events(shop: Shop) -> None:
    """Raise a medium event (a replayed live code) and a high one (a blocked member used)."""
    till = shop.open_till(0)
    scan(shop, shop.rotating_code(), till)
    # An older step of the same card after the live one is a replay (the same code twice at
    # the same till would be a double scan, answered as the same visit).
    scan(shop, shop.rotating_code(at=utcnow() - timedelta(seconds=30)), till)
    shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": "member", "target_id": str(shop.member_id(1))},
        headers=bearer(shop.login_staff("manager")),
    )
    scan(shop, shop.static_code(1), till)


def test_staff_see_open_events_by_severity_with_evidence_and_resolve_them_once(
    shop: Shop,
) -> None:
    _two_events(shop)
    high = events(shop, status="open", severity="high")
    assert [event["rule"] for event in high] == ["blocked"]
    [evidence] = high[0]["evidence"]
    assert evidence["refusal_type"] == "member-blocked"
    assert evidence["till_id"] == shop.tills[0]["till_id"]
    assert evidence["staff_id"] == shop.logins["cashier"]["staff_id"]
    assert len(evidence["code_fingerprint"]) == 32
    assert [e["rule"] for e in events(shop, status="open")] == ["blocked", "replayed-code"]
    manager = bearer(shop.login_staff("manager"))
    url = f"/api/v1/fraud/events/{high[0]['id']}/resolve"
    resolved = shop.client.post(url, json={"resolution": "fraud", "note": "known"}, headers=manager)
    assert resolved.status_code == 200, resolved.get_json()
    body = resolved.get_json()
    assert (body["status"], body["resolution"], body["note"]) == ("resolved", "fraud", "known")
    assert body["resolved_by"] == shop.logins["manager"]["staff_id"]
    again = shop.client.post(url, json={"resolution": "legitimate"}, headers=manager)
    assert again.status_code == 409
    assert again.get_json()["type"] == "event-already-resolved"
    assert [e["rule"] for e in events(shop, status="open")] == ["replayed-code"]
    assert [e["rule"] for e in events(shop, status="resolved")] == ["blocked"]
    one = shop.client.get(f"/api/v1/fraud/events/{high[0]['id']}", headers=manager)
    assert one.get_json()["resolution"] == "fraud"
    missing = shop.client.get("/api/v1/fraud/events/999999", headers=manager)
    assert missing.get_json()["type"] == "unknown-event"
    audit = [(row.action, row.target_type) for row in audit_rows(shop)]
    assert audit == [("block", "member"), ("resolve-event", "event")]


def test_events_page_by_before_id(shop: Shop) -> None:
    _two_events(shop)
    [newest] = events(shop, limit=1)
    [older] = events(shop, limit=1, before_id=newest["id"])
    assert older["id"] < newest["id"]
    assert events(shop, before_id=older["id"]) == []


@pytest.mark.parametrize(("method", "path", "body"), REVIEW_ROUTES)
def test_cashiers_and_members_may_not_use_the_review_api(
    shop: Shop, method: str, path: str, body: dict | None
) -> None:
    for token in (shop.login_member(), shop.login_staff("cashier")):
        response = shop.client.open(path, method=method, json=body, headers=bearer(token))
        assert response.status_code == 403, (path, response.get_json())
    till = shop.client.open(path, method=method, json=body, headers=bearer(shop.open_till()))
    assert till.get_json()["type"] == "wrong-token-kind"


def test_a_manager_sees_only_events_of_their_own_stores(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    store = shop.client.post("/api/v1/stores", json={"name": "Köln"}, headers=admin).get_json()
    shop.client.post(
        "/api/v1/staff",
        headers=admin,
        json={
            "email": "koeln-manager@demo.shop",
            "password": "manager-koeln",
            "display_name": "K",
            "role": "manager",
            "store_ids": [store["id"]],
        },
    )
    _two_events(shop)
    other = bearer(shop.login("koeln-manager@demo.shop", "manager-koeln")["access_token"])
    assert shop.client.get("/api/v1/fraud/events", headers=other).get_json() == []
    event_id = events(shop)[0]["id"]
    hidden = shop.client.get(f"/api/v1/fraud/events/{event_id}", headers=other)
    assert hidden.status_code == 404
    resolve = shop.client.post(
        f"/api/v1/fraud/events/{event_id}/resolve", json={"resolution": "fraud"}, headers=other
    )
    assert resolve.status_code == 404
    block = shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": "till", "target_id": str(shop.tills[0]["till_id"])},
        headers=other,
    )
    assert block.status_code == 403
    assert len(shop.client.get("/api/v1/fraud/events", headers=admin).get_json()) == 2


def test_managers_read_the_rules_and_only_admins_change_them_with_validation(
    shop: Shop,
) -> None:
    manager, admin = bearer(shop.login_staff("manager")), bearer(shop.login_staff("admin"))
    rules = shop.client.get("/api/v1/fraud/rules", headers=manager).get_json()
    assert {rule["rule"] for rule in rules} >= {
        "velocity",
        "impossible-travel",
        "self-dealing",
        "refund-abuse",
        "live-code",
        "replayed-code",
        "blocked",
        "reward-claim-burst",
        "signup-burst",
    }
    velocity = next(rule for rule in rules if rule["rule"] == "velocity")
    assert velocity["settings"]["max_purchases_per_day"] == 5
    change = {"velocity": {"max_purchases_per_day": 9, "action": "deny"}}
    assert shop.client.put("/api/v1/fraud/rules", json=change, headers=manager).status_code == 403
    for bad in (
        {"velocity": {"no_such_key": 1}},
        {"velocity": {"action": "shrug"}},
        {"velocity": {"score": 101}},
        {"velocity": {"max_purchases_per_day": 2.5}},
        {"replayed-code": {"action": "deny"}},
        {"no-such-rule": {"score": 1}},
    ):
        response = shop.client.put("/api/v1/fraud/rules", json=bad, headers=admin)
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["type"] == "validation-error"
    changed = set_rules(shop, change).get_json()
    velocity = next(rule for rule in changed if rule["rule"] == "velocity")
    assert velocity["settings"]["max_purchases_per_day"] == 9
    assert velocity["settings"]["action"] == "deny"
    assert velocity["settings"]["max_redemptions_per_day"] == 5  # untouched keys stay
    assert velocity["defaults"]["action"] == "flag"
    [audit] = audit_rows(shop)
    assert (audit.action, audit.target_id, audit.detail["changes"]) == (
        "update-rule",
        "velocity",
        change["velocity"],
    )


def test_summary_counts_attempts_refusals_and_events_per_store(shop: Shop) -> None:
    berlin, hamburg = shop.open_till(0), shop.open_till(1)
    scan(shop, shop.static_code(), berlin)
    scan(shop, forged_code(shop), berlin)
    scan(shop, "garbage", hamburg)
    scan(shop, shop.rotating_code(1), hamburg)
    scan(shop, shop.rotating_code(1, at=utcnow() - timedelta(seconds=30)), hamburg)
    manager = bearer(shop.login_staff("manager"))
    summary = shop.client.get("/api/v1/fraud/summary", headers=manager).get_json()
    assert summary["attempts"]["total"] >= 5
    assert summary["refusals_by_type"] == {
        "bad-signature": 1,
        "malformed-code": 1,
        "code-replayed": 1,
    }
    assert summary["attempts_by_operation"]["scan"] == 5
    assert summary["events_by_rule"] == {"replayed-code": 1}
    assert summary["open_events"] == 1
    stores = {row["store_id"]: row for row in summary["per_store"]}
    berlin_row = stores[shop.tills[0]["store_id"]]
    hamburg_row = stores[shop.tills[1]["store_id"]]
    assert berlin_row["name"] == "Demo Shop Berlin Mitte"
    assert (berlin_row["refused"], berlin_row["events"]) == (1, 0)
    assert (hamburg_row["refused"], hamburg_row["events"]) == (2, 1)
    past = (utcnow() - timedelta(days=30)).isoformat()
    earlier = (utcnow() - timedelta(days=29)).isoformat()
    empty = shop.client.get(
        "/api/v1/fraud/summary", query_string={"from": past, "to": earlier}, headers=manager
    ).get_json()
    assert empty["attempts"]["total"] == 0 and empty["per_store"] == []
    backwards = shop.client.get(
        "/api/v1/fraud/summary", query_string={"from": earlier, "to": past}, headers=manager
    )
    assert backwards.status_code == 422


def test_admins_read_the_audit_of_staff_actions(shop: Shop) -> None:
    _two_events(shop)
    set_rules(shop, {"velocity": {"score": 10}})
    audit = shop.client.get(
        "/api/v1/fraud/audit", headers=bearer(shop.login_staff("admin"))
    ).get_json()
    assert [(row["action"], row["target_type"]) for row in audit] == [
        ("update-rule", "rule"),
        ("block", "member"),
    ]
    assert audit[1]["staff_id"] == shop.logins["manager"]["staff_id"]
    assert audit[1]["target_id"] == str(shop.member_id(1))


def test_two_reviewers_resolving_at_once_resolve_the_event_once(app: Flask, shop: Shop) -> None:
    _two_events(shop)
    event_id = events(shop)[0]["id"]
    tokens = [shop.login_staff("manager"), shop.login_staff("admin")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def resolve(token: str, resolution: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/fraud/events/{event_id}/resolve",
            json={"resolution": resolution},
            headers=bearer(token),
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=resolve, args=(token, resolution))
        for token, resolution in zip(tokens, ("fraud", "legitimate"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert [row.action for row in audit_rows(shop)].count("resolve-event") == 1
