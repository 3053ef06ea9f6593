"""The till desk: context with names, member lookup (earn only), recent receipts, branding,
German problem titles and store names in the member's history."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.api.ledger_helpers import purchase, refund
from tests.api.test_coupon_helpers import member_coupon, redeem
from tests.conftest import Shop, bearer


def test_till_context_names_the_till_store_and_tiers(shop: Shop) -> None:
    till = shop.open_till()
    answer = shop.client.get("/api/v1/till/context", headers=bearer(till))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["till"]["name"] == "Till 1"
    assert body["store"]["name"]
    assert not body["store"]["name"].isdigit()
    assert body["tiers"]["base"] != "base"  # the name members see, not the code
    assert body["lookup_earn_only"] is True


def test_lookup_by_name_or_email_finds_the_member_with_a_masked_email(shop: Shop) -> None:
    till = shop.open_till()
    by_name = shop.client.get("/api/v1/till/members?q=lovel", headers=bearer(till))
    assert by_name.status_code == 200, by_name.get_json()
    found = by_name.get_json()
    assert [m["display_name"] for m in found] == ["Ada Lovelace"]
    assert found[0]["email_hint"] == "a***@demo.shop"
    assert found[0]["tier_name"]
    by_email = shop.client.get("/api/v1/till/members?q=GRACE@", headers=bearer(till))
    assert [m["display_name"] for m in by_email.get_json()] == ["Grace Hopper"]
    # LIKE wildcards typed by the cashier are matched literally.
    assert shop.client.get("/api/v1/till/members?q=%25%25", headers=bearer(till)).get_json() == []
    short = shop.client.get("/api/v1/till/members?q=a", headers=bearer(till))
    assert short.status_code == 422
    assert short.get_json()["type"] == "query-too-short"


def _lookup(shop: Shop, till: str, q: str) -> list[dict[str, Any]]:
    answer = shop.client.get("/api/v1/till/members", query_string={"q": q}, headers=bearer(till))
    assert answer.status_code == 200, answer.get_json()
    found: list[dict[str, Any]] = answer.get_json()
    return found


def _my_number(shop: Shop, index: int) -> str:
    me = shop.client.get("/api/v1/me", headers=bearer(shop.login_member(index)))
    assert me.status_code == 200, me.get_json()
    return str(me.get_json()["member_number"])


def test_lookup_by_member_number_with_or_without_dashes(shop: Shop) -> None:
    till = shop.open_till()
    number = _my_number(shop, 0)
    assert number != _my_number(shop, 1)
    found = _lookup(shop, till, number)
    assert [(m["member_id"], m["member_number"]) for m in found] == [(shop.member_id(0), number)]
    assert found[0]["display_name"] == "Ada Lovelace"
    assert [m["member_id"] for m in _lookup(shop, till, number.replace("-", "").lower())] == [
        shop.member_id(0)
    ]
    assert [m["member_id"] for m in _lookup(shop, till, f" {number.lower()} ")] == [
        shop.member_id(0)
    ]


def test_lookup_by_member_number_with_a_wrong_check_symbol_finds_nobody(shop: Shop) -> None:
    till = shop.open_till()
    number = _my_number(shop, 0)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for symbol in alphabet.replace(number[-1], "")[:5]:
        assert _lookup(shop, till, number[:-1] + symbol) == []
    # One digit mistyped (check symbol kept) names nobody either.
    typo = number[0] + ("1" if number[1] != "1" else "2") + number[2:]
    assert _lookup(shop, till, typo) == []


def test_lookup_by_phone_normalises_the_typed_number(shop: Shop) -> None:
    till = shop.open_till()
    # Ada types her number the national way, Grace hers with an Austrian country code.
    for index, phone in ((0, "0170 1234567"), (1, "+43 660 1234567")):
        saved = shop.client.patch(
            "/api/v1/me/profile", json={"phone": phone}, headers=bearer(shop.login_member(index))
        )
        assert saved.status_code == 200, saved.get_json()
    ada_number, grace_number = _my_number(shop, 0), _my_number(shop, 1)
    for typed, expected in (
        ("0170 1234567", ada_number),
        ("+49 170 1234567", ada_number),
        ("+49-170-123 45 67", ada_number),
        ("0049 170/1234567", ada_number),
        ("+49 (0)170 1234567", ada_number),
        ("170 1234567", ada_number),
        ("+43 660 1234567", grace_number),
        ("0043 660 1234567", grace_number),
    ):
        found = _lookup(shop, till, typed)
        assert [m["member_number"] for m in found] == [expected], typed
    # Only whole numbers match: a part of one, or the same digits in another country, do not.
    assert _lookup(shop, till, "1234567") == []
    assert _lookup(shop, till, "0170 12345") == []
    assert _lookup(shop, till, "+43 170 1234567") == []
    assert _lookup(shop, till, "0660 1234567") == []


def test_lookup_by_number_or_phone_shows_only_that_member(shop: Shop) -> None:
    """Nobody else rides along: not the members who share digits, not a member token."""
    till = shop.open_till()
    number = _my_number(shop, 1)
    found = _lookup(shop, till, number)
    assert len(found) == 1
    assert found[0]["member_id"] == shop.member_id(1)
    assert found[0]["display_name"] == "Grace Hopper"
    assert found[0]["email_hint"] == "g***@demo.shop"
    assert "email" not in found[0] and "phone" not in found[0]
    member = shop.login_member(0)
    answer = shop.client.get(
        "/api/v1/till/members", query_string={"q": number}, headers=bearer(member)
    )
    assert answer.status_code == 401
    # The visit opened from the answer names the same member and shows the number.
    visit = shop.client.post(
        f"/api/v1/till/members/{found[0]['member_id']}/visit", headers=bearer(till)
    )
    assert visit.status_code == 200, visit.get_json()
    assert visit.get_json()["member"]["member_number"] == number
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": shop.static_code(1)}, headers=bearer(till)
    )
    assert scan.status_code == 200, scan.get_json()
    assert scan.get_json()["member"]["member_number"] == number


def test_lookup_needs_a_till_session(shop: Shop) -> None:
    member = shop.login_member(0)
    answer = shop.client.get("/api/v1/till/members?q=ada", headers=bearer(member))
    assert answer.status_code == 401
    assert shop.client.get("/api/v1/till/members?q=ada").status_code == 401


def test_a_looked_up_visit_earns_but_may_not_redeem(shop: Shop) -> None:
    till = shop.open_till()
    member_id = shop.member_id(0)
    visit = shop.client.post(f"/api/v1/till/members/{member_id}/visit", headers=bearer(till))
    assert visit.status_code == 200, visit.get_json()
    body = visit.get_json()
    assert body["credential"] == "lookup"
    assert body["member"]["display_name"] == "Ada Lovelace"
    booked = purchase(shop.client, till, body["scan_token"], 2000)
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["points_earned"] == 20
    coupon = member_coupon(shop, 0)
    refused = redeem(shop.client, till, coupon.code, card_code=body["scan_token"])
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "lookup-earn-only"
    # With a scanned card the same coupon is fine.
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": shop.static_code(0)}, headers=bearer(till)
    )
    allowed = redeem(shop.client, till, coupon.code, card_code=scan.get_json()["scan_token"])
    assert allowed.status_code == 200, allowed.get_json()


def test_lookup_may_spend_when_the_policy_allows_it(shop: Shop, app: Flask) -> None:
    app.config["TILL_LOOKUP_EARN_ONLY"] = False
    try:
        till = shop.open_till()
        visit = shop.client.post(
            f"/api/v1/till/members/{shop.member_id(0)}/visit", headers=bearer(till)
        ).get_json()
        coupon = member_coupon(shop, 0)
        allowed = redeem(shop.client, till, coupon.code, card_code=visit["scan_token"])
        assert allowed.status_code == 200, allowed.get_json()
    finally:
        app.config["TILL_LOOKUP_EARN_ONLY"] = True


def test_visit_for_an_unknown_member_is_404(shop: Shop) -> None:
    till = shop.open_till()
    answer = shop.client.post("/api/v1/till/members/999999/visit", headers=bearer(till))
    assert answer.status_code == 404
    assert answer.get_json()["type"] == "unknown-member"


def test_recent_receipts_are_this_tills_newest_first_with_refunds(shop: Shop) -> None:
    till = shop.open_till(0)
    other = shop.open_till(1)
    assert (
        purchase(shop.client, till, shop.static_code(0), 1000, receipt_id="R-A").status_code == 201
    )
    assert (
        purchase(shop.client, till, shop.static_code(1), 2500, receipt_id="R-B").status_code == 201
    )
    other_booked = purchase(shop.client, other, shop.rotating_code(0), 700, receipt_id="R-X")
    assert other_booked.status_code == 201, other_booked.get_json()
    assert refund(shop.client, till, "R-B", 500).status_code == 201
    receipts = shop.client.get("/api/v1/till/receipts", headers=bearer(till)).get_json()
    assert [r["receipt_id"] for r in receipts][:2] == ["R-B", "R-A"]
    assert "R-X" not in [r["receipt_id"] for r in receipts]
    latest = receipts[0]
    assert latest["member_name"] == "Grace Hopper"
    assert (latest["amount_cents"], latest["refunded_cents"], latest["remaining_cents"]) == (
        2500,
        500,
        2000,
    )
    limited = shop.client.get("/api/v1/till/receipts?limit=1", headers=bearer(till)).get_json()
    assert len(limited) == 1


def test_branding_is_public_and_follows_configuration(shop: Shop, app: Flask) -> None:
    default = shop.client.get("/api/v1/branding")
    assert default.status_code == 200
    assert set(default.get_json()) == {"name", "logo_url", "primary_color", "accent_color"}
    assert default.get_json()["name"] == "Loyalty Wallet"
    settings = {
        "BRANDING_NAME": "Kaffeehaus Müller",
        "BRANDING_PRIMARY_COLOR": "#00AA55",
        "BRANDING_ACCENT_COLOR": "red",
        "BRANDING_LOGO_URL": "/pwa/icons/icon-192.png",
    }
    app.config.update(settings)
    try:
        body = shop.client.get("/api/v1/branding").get_json()
    finally:
        for name in settings:
            app.config.pop(name)
    assert body["name"] == "Kaffeehaus Müller"
    assert body["primary_color"] == "#00aa55"
    assert body["accent_color"] == "#f4b400"  # not a #rrggbb colour: the default
    assert body["logo_url"] == "/pwa/icons/icon-192.png"


def test_problem_titles_follow_accept_language(shop: Shop) -> None:
    till = shop.open_till()
    headers = {**bearer(till), "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    german = shop.client.get("/api/v1/till/members?q=a", headers=headers)
    assert german.get_json()["title"] == "Suchtext zu kurz"
    assert german.headers["Vary"] and "Accept-Language" in german.headers["Vary"]
    english = shop.client.get(
        "/api/v1/till/members?q=a", headers={**bearer(till), "Accept-Language": "en-GB,de;q=0.5"}
    )
    assert english.get_json()["title"] == "Search text too short"
    assert english.get_json()["type"] == german.get_json()["type"]


def test_member_history_names_the_store_and_the_receipt_amount(shop: Shop) -> None:
    till = shop.open_till()
    assert (
        purchase(shop.client, till, shop.static_code(0), 1234, receipt_id="R-H").status_code == 201
    )
    member = shop.login_member(0)
    entries = shop.client.get("/api/v1/me/ledger", headers=bearer(member)).get_json()
    booked = next(e for e in entries if e["reference_id"] == "R-H")
    assert booked["store_name"] and not booked["store_name"].isdigit()
    assert (booked["amount_cents"], booked["currency"]) == (1234, "EUR")


def test_a_double_redemption_says_when_and_in_which_store(shop: Shop) -> None:
    till = shop.open_till()
    coupon = member_coupon(shop, 0)
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": shop.static_code(0)}, headers=bearer(till)
    ).get_json()
    assert redeem(shop.client, till, coupon.code, card_code=scan["scan_token"]).status_code == 200
    again = redeem(shop.client, till, coupon.code, card_code=scan["scan_token"], receipt_id="R-2")
    assert again.status_code == 409
    body = again.get_json()
    assert body["type"] == "coupon-already-redeemed"
    assert body["redeemed_at"]
    assert (
        body["store_name"]
        == shop.client.get("/api/v1/till/context", headers=bearer(till)).get_json()["store"]["name"]
    )
