"""Member numbers, the staff member search and the member detail."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.member_numbers import (
    format_member_number,
    member_id_from_number,
    member_number,
)
from tests.conftest import Shop, bearer


def test_member_numbers_round_trip_and_differ_for_neighbouring_ids() -> None:
    numbers = {member_number(member_id) for member_id in range(1, 5001)}
    assert len(numbers) == 5000
    for member_id in (1, 2, 99, 123_456, 2**40 - 1):
        shown = format_member_number(member_id)
        assert len(shown) == 11 and shown[4] == "-" and shown[9] == "-"
        assert member_id_from_number(shown) == member_id
        assert member_id_from_number(shown.lower().replace("-", " ")) == member_id
    # Consecutive ids do not give consecutive-looking numbers.
    assert member_number(1)[:4] != member_number(2)[:4]


def test_a_mistyped_member_number_is_caught_by_the_check_symbol() -> None:
    number = member_number(4711)
    wrong_symbol = ("1" if number[3] != "1" else "2").join([number[:3], number[4:]])
    swapped = number[:2] + number[3] + number[2] + number[4:]
    assert member_id_from_number(wrong_symbol) is None
    if swapped != number:
        assert member_id_from_number(swapped) is None
    assert member_id_from_number("not a number") is None
    # I, L and O read as 1, 1 and 0, as in every Crockford code.
    readable = number.replace("1", "I").replace("0", "O")
    assert member_id_from_number(readable) == 4711


@pytest.mark.parametrize("role", ["cashier", "manager", "admin"])
def test_staff_find_a_member_by_number_email_and_name(
    shop: Shop, client: FlaskClient, role: str
) -> None:
    token = shop.login_staff(role)
    grace_id = shop.member_id(1)
    number = format_member_number(grace_id)
    for q in (number, number.replace("-", "").lower(), "GRACE@demo", "hopper"):
        answer = client.get("/api/v1/members", query_string={"q": q}, headers=bearer(token))
        assert answer.status_code == 200, answer.get_json()
        assert [row["member_id"] for row in answer.get_json()] == [grace_id], q
        assert answer.get_json()[0]["member_number"] == number
    everyone = client.get("/api/v1/members", headers=bearer(token))
    assert {row["member_id"] for row in everyone.get_json()} == {shop.member_id(0), grace_id}
    assert everyone.headers["X-Pagination"]


def test_a_like_wildcard_in_the_query_matches_only_itself(shop: Shop, client: FlaskClient) -> None:
    token = shop.login_staff("cashier")
    answer = client.get("/api/v1/members", query_string={"q": "%"}, headers=bearer(token))
    assert answer.get_json() == []


def test_members_cannot_search_members(shop: Shop, client: FlaskClient) -> None:
    answer = client.get("/api/v1/members", headers=bearer(shop.login_member(0)))
    assert answer.status_code == 403
    assert answer.get_json()["type"] == "forbidden"


def test_my_account_shows_my_member_number(shop: Shop, client: FlaskClient) -> None:
    me = client.get("/api/v1/me", headers=bearer(shop.login_member(0))).get_json()
    assert me["member_number"] == format_member_number(shop.member_id(0))


def test_member_detail_shows_card_points_purchases_and_no_secrets(
    shop: Shop, client: FlaskClient
) -> None:
    shop.static_code(1)  # issues Grace's card
    token = shop.login_staff("cashier")
    detail = client.get(f"/api/v1/members/{shop.member_id(1)}", headers=bearer(token)).get_json()
    assert detail["email"] == "grace@demo.shop"
    assert detail["card"]["state"] == "active"
    assert detail["points_balance"] == 87  # the two demo receipts
    assert {p["receipt_id"] for p in detail["recent_purchases"]} == {"DEMO-1001", "DEMO-1002"}
    assert "password_hash" not in detail and "totp" not in str(detail)
    missing = client.get("/api/v1/members/999999", headers=bearer(token))
    assert missing.status_code == 404 and missing.get_json()["type"] == "unknown-member"
