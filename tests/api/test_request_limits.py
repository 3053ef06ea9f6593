"""Request limits: body size, JSON shape, control characters and integer ranges.

Each of these answered a 500 (or held a worker) before: the limits must turn them into
problem+json 4xx answers without the route doing any work.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.request_limits import body_limit
from tests.api.ledger_helpers import idempotent, purchase
from tests.conftest import Shop, base_config, bearer

INT32_OVERFLOW = 2**31
HUGE = 9223372036854775808


def assert_problem(response: Any, status: int, problem_type: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == problem_type


class ExplodingStream(io.RawIOBase):
    """A request body that must never be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


@pytest.mark.parametrize("path", ["/passkit/v1/log", "/api/v1/auth/refresh"])
def test_a_declared_body_above_the_limit_is_refused_before_it_is_read(
    shop: Shop, path: str
) -> None:
    response = shop.client.post(
        path,
        content_type="application/json",
        environ_overrides={
            "wsgi.input": ExplodingStream(),
            "CONTENT_LENGTH": str(100 * 1024 * 1024),
        },
    )
    assert_problem(response, 413, "payload-too-large")
    assert response.get_json()["max_bytes"] == 256 * 1024


def test_an_undeclared_body_above_the_limit_is_cut_off(shop: Shop) -> None:
    """Without Content-Length (chunked), werkzeug stops reading at the same limit."""
    shop.app.config["MAX_CONTENT_LENGTH"] = 1024
    body = json.dumps({"logs": ["x" * 100] * 50}).encode()
    response = shop.client.post(
        "/passkit/v1/log",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413, "payload-too-large")


def test_the_limit_is_configurable_and_a_route_may_raise_it(tmp_path: Path) -> None:
    app = create_app(
        {**base_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"), "MAX_CONTENT_LENGTH": 100}
    )

    @app.post("/import")
    @body_limit(10_000)
    def big_import() -> str:
        from flask import request

        return str(len(request.get_data()))

    @app.post("/small")
    def small() -> str:
        from flask import request

        return str(len(request.get_data()))

    client = app.test_client()
    assert_problem(client.post("/small", data=b"x" * 101), 413, "payload-too-large")
    assert client.post("/small", data=b"x" * 100).get_data() == b"100"
    assert client.post("/import", data=b"x" * 5000).get_data() == b"5000"
    assert_problem(client.post("/import", data=b"x" * 10_001), 413, "payload-too-large")


def test_json_nested_deeper_than_the_limit_is_refused(shop: Shop) -> None:
    deep = "[" * 1000 + "]" * 1000
    response = shop.client.post("/api/v1/auth/login", data=deep, content_type="application/json")
    assert_problem(response, 422, "json-too-deep")
    nested: Any = "x"
    for _ in range(25):
        nested = {"a": nested}
    response = shop.client.post(
        "/api/v1/auth/login", json={"email": "a@b.c", "password": "x", "extra": nested}
    )
    assert_problem(response, 422, "json-too-deep")


def test_arrays_longer_than_the_limit_are_refused_before_any_work(shop: Shop) -> None:
    till = shop.open_till()
    lines = [{"sku": "A", "amount_cents": 1}] * 400_000
    response = purchase(shop.client, till, shop.static_code(), 100, lines=lines)
    assert_problem(response, 413, "payload-too-large")  # 11 MB of lines
    shop.app.config["MAX_JSON_ARRAY_ITEMS"] = 1000
    response = purchase(shop.client, till, shop.static_code(), 100, lines=lines[:1001])
    assert_problem(response, 422, "too-many-items")
    # Under the JSON cap, the purchase schema's own cap of 500 lines still holds.
    response = purchase(shop.client, till, shop.static_code(), 100, lines=lines[:600])
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize("text", ["a\x00b", "nul\x00", "bell\x07", "esc\x1b[2J", "\ud800"])
def test_control_characters_in_text_fields_are_refused(shop: Shop, text: str) -> None:
    login = shop.client.post("/api/v1/auth/login", json={"email": text, "password": text})
    assert_problem(login, 422, "invalid-characters")
    session = shop.client.post(
        "/api/v1/till/sessions",
        json={"till_key": text, "email": "a@b.c", "password": "x"},
    )
    assert_problem(session, 422, "invalid-characters")
    store = shop.client.post(
        "/api/v1/stores", json={"name": text}, headers=bearer(shop.login_staff("admin"))
    )
    assert_problem(store, 422, "invalid-characters")
    till = shop.open_till()
    receipt = purchase(shop.client, till, shop.static_code(), 100, receipt_id=f"R{text}")
    assert_problem(receipt, 422, "invalid-characters")


def test_ordinary_whitespace_and_unicode_are_accepted(shop: Shop) -> None:
    response = shop.client.post(
        "/api/v1/stores",
        json={"name": "Café\tNord 北", "address": "Line 1\r\nLine 2"},
        headers=bearer(shop.login_staff("admin")),
    )
    assert response.status_code == 201, response.get_json()


def test_control_characters_in_query_and_path_are_refused(shop: Shop) -> None:
    manager = bearer(shop.login_staff("admin"))
    response = shop.client.get("/api/v1/fraud/events?status=open%00", headers=manager)
    assert_problem(response, 422, "invalid-characters")
    response = shop.client.delete("/api/v1/fraud/blocks/card/abc%00", headers=manager)
    assert_problem(response, 422, "invalid-characters")


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("get", f"/api/v1/fraud/events/{HUGE}", "admin"),
        ("post", f"/api/v1/fraud/events/{INT32_OVERFLOW}/resolve", "admin"),
        ("post", "/api/v1/me/rewards/1099511627776/claim", "member"),
        ("get", f"/api/v1/rewards/{INT32_OVERFLOW}", "admin"),
        ("get", f"/api/v1/members/{HUGE}/ledger", "admin"),
        ("get", f"/api/v1/me/coupons/{HUGE}/qr.svg", "member"),
        ("post", f"/api/v1/coupons/{HUGE}/void", "admin"),
        ("post", f"/api/v1/ledger-entries/{HUGE}/reversal", "admin"),
    ],
)
def test_path_ids_beyond_the_database_range_are_not_found(
    shop: Shop, method: str, path: str, role: str
) -> None:
    token = shop.login_member() if role == "member" else shop.login_staff(role)
    response = getattr(shop.client, method)(path, headers=bearer(token), json={})
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    "query",
    [f"page={INT32_OVERFLOW}", f"page={HUGE}", f"page_size={HUGE}"],
)
def test_query_integers_beyond_the_database_range_are_refused(shop: Shop, query: str) -> None:
    response = shop.client.get(f"/api/v1/me/ledger?{query}", headers=bearer(shop.login_member()))
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize("query", [f"before_id={HUGE}", f"store_id={INT32_OVERFLOW}"])
def test_fraud_query_integers_beyond_the_range_are_refused(shop: Shop, query: str) -> None:
    manager = bearer(shop.login_staff("admin"))
    response = shop.client.get(f"/api/v1/fraud/events?{query}", headers=manager)
    assert_problem(response, 422, "validation-error")


def test_body_integers_beyond_the_database_range_are_refused(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    till = shop.client.post(
        "/api/v1/tills", json={"store_id": INT32_OVERFLOW, "name": "T"}, headers=admin
    )
    assert_problem(till, 422, "validation-error")
    reward = shop.client.post(
        "/api/v1/rewards",
        json={"name": "R", "cost_points": HUGE, "kind": "amount-off", "amount_off_cents": 100},
        headers=admin,
    )
    assert_problem(reward, 422, "validation-error")
    assert "cost_points" in reward.get_json()["errors"]["json"]
    campaign = shop.client.post(
        "/api/v1/campaigns",
        json={"name": "C", "count": 1, "min_basket_cents": HUGE},
        headers=admin,
    )
    assert_problem(campaign, 422, "validation-error")
    validate = shop.client.post(
        "/api/v1/till/coupons/validate",
        json={"code": "ABCD-EFGH-JKMN", "basket_cents": HUGE},
        headers=idempotent(shop.open_till()),
    )
    assert_problem(validate, 422, "validation-error")


@pytest.mark.parametrize("amount", [10.9, "1000", 1e3, True])
def test_amounts_are_strict_integers(shop: Shop, amount: Any) -> None:
    till = shop.open_till()
    response = purchase(shop.client, till, shop.static_code(), amount)
    assert_problem(response, 422, "validation-error")
    assert "amount_cents" in response.get_json()["errors"]["json"]


def test_query_integers_are_still_read_from_text(shop: Shop) -> None:
    response = shop.client.get(
        "/api/v1/me/ledger?page=1&page_size=5", headers=bearer(shop.login_member())
    )
    assert response.status_code == 200


def test_receipt_ids_are_trimmed_before_the_uniqueness_check(shop: Shop) -> None:
    till = shop.open_till()
    first = purchase(shop.client, till, shop.static_code(), 1000, receipt_id=" B-1 ")
    assert first.status_code == 201, first.get_json()
    again = purchase(shop.client, till, shop.static_code(), 1000, receipt_id="B-1")
    assert_problem(again, 409, "duplicate-receipt")
    blank = purchase(shop.client, till, shop.static_code(), 1000, receipt_id="   ")
    assert_problem(blank, 422, "validation-error")
