"""Role checks on the admin and manager routes, and till sessions."""

from __future__ import annotations

import pytest

from tests.conftest import Shop, bearer

ADMIN_ROUTES = [
    ("GET", "/api/v1/stores", None),
    ("POST", "/api/v1/stores", {"name": "X", "latitude": 1.0, "longitude": 2.0}),
    ("POST", "/api/v1/tills", {"store_id": 1, "name": "T"}),
    (
        "POST",
        "/api/v1/staff",
        {
            "email": "c@x.io",
            "password": "longenough",
            "display_name": "C",
            "role": "cashier",
            "store_ids": [1],
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_members_and_cashiers_may_not_call_admin_routes(
    shop: Shop, method: str, path: str, body: dict | None
) -> None:
    for token in (shop.login_member(), shop.login_staff("cashier")):
        response = shop.client.open(path, method=method, json=body, headers=bearer(token))
        assert response.status_code == 403, (path, response.get_json())
        assert response.get_json()["type"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_a_token(shop: Shop, method: str, path: str, body: dict | None) -> None:
    response = shop.client.open(path, method=method, json=body)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_till_tokens_do_not_work_on_admin_routes(
    shop: Shop, method: str, path: str, body: dict | None
) -> None:
    response = shop.client.open(
        path, method=method, json=body, headers=bearer(shop.open_till(0, "manager"))
    )
    assert response.status_code == 401
    assert response.get_json()["type"] == "wrong-token-kind"


def test_admin_creates_store_till_and_cashier_who_then_opens_the_till(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    store = shop.client.post(
        "/api/v1/stores",
        json={"name": "Köln", "address": "Dom 1", "latitude": 50.94, "longitude": 6.96},
        headers=admin,
    )
    assert store.status_code == 201
    store_id = store.get_json()["id"]
    till = shop.client.post(
        "/api/v1/tills", json={"store_id": store_id, "name": "Till A"}, headers=admin
    )
    assert till.status_code == 201
    till_key = till.get_json()["till_key"]
    staff = shop.client.post(
        "/api/v1/staff",
        headers=admin,
        json={
            "email": "koeln@demo.shop",
            "password": "cashier-koeln",
            "display_name": "K",
            "role": "cashier",
            "store_ids": [store_id],
        },
    )
    assert staff.status_code == 201
    session = shop.client.post(
        "/api/v1/till/sessions",
        json={"till_key": till_key, "email": "koeln@demo.shop", "password": "cashier-koeln"},
    )
    assert session.status_code == 201
    assert session.get_json()["store_id"] == store_id
    listed = shop.client.get("/api/v1/stores", headers=admin).get_json()
    assert store_id in [s["id"] for s in listed]


def test_manager_sees_only_own_stores_and_may_not_create_managers(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    other = shop.client.post("/api/v1/stores", json={"name": "Other"}, headers=admin).get_json()
    manager = bearer(shop.login_staff("manager"))
    visible = [s["id"] for s in shop.client.get("/api/v1/stores", headers=manager).get_json()]
    assert other["id"] not in visible
    assert sorted(visible) == sorted(t["store_id"] for t in shop.tills)
    response = shop.client.post(
        "/api/v1/staff",
        headers=manager,
        json={
            "email": "m2@demo.shop",
            "password": "manager-two",
            "display_name": "M2",
            "role": "manager",
            "store_ids": [visible[0]],
        },
    )
    assert response.status_code == 403
    foreign_till = shop.client.post(
        "/api/v1/tills", json={"store_id": other["id"], "name": "T"}, headers=manager
    )
    assert foreign_till.status_code == 403


def test_cashier_cannot_open_a_till_of_a_store_they_do_not_work_in(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    store = shop.client.post("/api/v1/stores", json={"name": "Far away"}, headers=admin).get_json()
    till = shop.client.post(
        "/api/v1/tills", json={"store_id": store["id"], "name": "T"}, headers=admin
    ).get_json()
    cashier = shop.logins["cashier"]
    response = shop.client.post(
        "/api/v1/till/sessions",
        json={
            "till_key": till["till_key"],
            "email": cashier["email"],
            "password": cashier["password"],
        },
    )
    assert response.status_code == 403


def test_wrong_till_key_is_refused(shop: Shop) -> None:
    cashier = shop.logins["cashier"]
    response = shop.client.post(
        "/api/v1/till/sessions",
        json={
            "till_key": "lwt_not-a-key",
            "email": cashier["email"],
            "password": cashier["password"],
        },
    )
    assert response.status_code == 401
    assert response.get_json()["type"] == "invalid-till-key"


def test_till_token_does_not_open_member_routes(shop: Shop) -> None:
    response = shop.client.get("/api/v1/me", headers=bearer(shop.open_till()))
    assert response.status_code == 401
    assert response.get_json()["type"] == "wrong-token-kind"


def test_staff_token_does_not_open_member_routes(shop: Shop) -> None:
    response = shop.client.get("/api/v1/me", headers=bearer(shop.login_staff("admin")))
    assert response.status_code == 403


def test_till_session_refreshes_into_a_till_token(shop: Shop) -> None:
    cashier = shop.logins["cashier"]
    session = shop.client.post(
        "/api/v1/till/sessions",
        json={
            "till_key": shop.tills[0]["till_key"],
            "email": cashier["email"],
            "password": cashier["password"],
        },
    )
    refreshed = shop.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.get_json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    # The renewed token is still a till token: it does not open the admin API.
    response = shop.client.get(
        "/api/v1/stores", headers=bearer(refreshed.get_json()["access_token"])
    )
    assert response.get_json()["type"] == "wrong-token-kind"
