"""The API additions of the back office: names beside ids, the desk's coupon check, till and
staff lists, changing staff accounts, and the shop's branding."""

from __future__ import annotations

import base64
import io

from PIL import Image

from app.demo import DEMO_MEMBERS
from tests.api.test_coupon_helpers import new_codes, redeem
from tests.api.test_fraud_helpers import scan
from tests.conftest import Shop, bearer

GRACE = DEMO_MEMBERS[1]["display_name"]


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_desk_check_names_campaign_store_till_and_cashier_and_changes_nothing(
    shop: Shop,
) -> None:
    [code] = new_codes(shop)
    manager = bearer(shop.login_staff("manager"))
    before = shop.client.post("/api/v1/coupons/lookup", json={"code": code}, headers=manager)
    assert before.status_code == 200, before.get_json()
    body = before.get_json()
    assert (body["state"], body["redemptions"], body["use_count"]) == ("active", [], 0)
    assert body["campaign"]["name"] == "Test campaign"
    assert code not in before.get_data(as_text=True)
    again = shop.client.post("/api/v1/coupons/lookup", json={"code": code}, headers=manager)
    assert again.get_json()["state"] == "active"  # checking twice redeems nothing
    assert redeem(shop.client, shop.open_till(0), code, receipt_id="R-77").status_code == 200
    after = shop.client.post("/api/v1/coupons/lookup", json={"code": code}, headers=manager)
    body = after.get_json()
    assert body["state"] == "redeemed"
    [redemption] = body["redemptions"]
    till = shop.tills[0]
    assert redemption["till"] == {"id": till["till_id"], "name": "Till 1"}
    assert redemption["store"]["id"] == till["store_id"]
    assert redemption["store"]["name"] == till["store"]
    assert redemption["staff"]["id"] == shop.logins["cashier"]["staff_id"]
    assert redemption["staff"]["name"]
    assert redemption["receipt_id"] == "R-77"
    assert redemption["reversed_at"] is None


def test_the_desk_check_refuses_typos_and_unknown_codes_and_cashiers(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    typo = shop.client.post("/api/v1/coupons/lookup", json={"code": "AAAA"}, headers=manager)
    assert typo.get_json()["type"] == "invalid-code"
    cashier = bearer(shop.login_staff("cashier"))
    [code] = new_codes(shop)
    refused = shop.client.post("/api/v1/coupons/lookup", json={"code": code}, headers=cashier)
    assert refused.status_code == 403


def test_fraud_events_blocks_and_audit_name_people_and_places(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    member_id = shop.member_id(1)
    blocked = shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": "member", "target_id": str(member_id)},
        headers=manager,
    )
    assert blocked.get_json()["target_name"] == GRACE
    assert blocked.get_json()["blocked_by_staff"]["id"] == shop.logins["manager"]["staff_id"]
    scan(shop, shop.static_code(1), shop.open_till(0))
    [event] = shop.client.get("/api/v1/fraud/events?status=open", headers=manager).get_json()
    assert event["member"] == {"id": member_id, "name": GRACE}
    assert event["till"] == {"id": shop.tills[0]["till_id"], "name": "Till 1"}
    assert event["store"] == {"id": shop.tills[0]["store_id"], "name": shop.tills[0]["store"]}
    assert event["staff"]["id"] == shop.logins["cashier"]["staff_id"]
    assert event["evidence"][0]["till"]["name"] == "Till 1"
    assert event["member_id"] == member_id  # the ids stay beside the names
    blocks = shop.client.get("/api/v1/fraud/blocks", headers=manager).get_json()
    assert [b["target_name"] for b in blocks] == [GRACE]
    admin = bearer(shop.login_staff("admin"))
    [row] = shop.client.get("/api/v1/fraud/audit", headers=admin).get_json()
    assert row["staff"]["id"] == shop.logins["manager"]["staff_id"]
    assert row["target_name"] == GRACE


def test_tills_are_listed_by_scope_without_their_keys(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    store = shop.client.post("/api/v1/stores", json={"name": "Köln"}, headers=admin).get_json()
    added = shop.client.post(
        "/api/v1/tills", json={"store_id": store["id"], "name": "Köln 1"}, headers=admin
    ).get_json()
    every = shop.client.get("/api/v1/tills", headers=admin)
    assert every.status_code == 200
    names = [till["name"] for till in every.get_json()]
    assert "Köln 1" in names and len(names) == len(shop.tills) + 1
    assert added["till_key"] not in every.get_data(as_text=True)
    assert all("till_key" not in till and "key_hash" not in till for till in every.get_json())
    köln = next(till for till in every.get_json() if till["name"] == "Köln 1")
    assert köln["store"] == {"id": store["id"], "name": "Köln"}
    manager = bearer(shop.login_staff("manager"))
    mine = [till["name"] for till in shop.client.get("/api/v1/tills", headers=manager).get_json()]
    assert "Köln 1" not in mine and len(mine) == len(shop.tills)


def test_admins_change_staff_stores_and_deactivate_accounts_managers_may_not(
    shop: Shop,
) -> None:
    admin = bearer(shop.login_staff("admin"))
    listed = shop.client.get("/api/v1/staff", headers=admin).get_json()
    cashier = next(account for account in listed if account["role"] == "cashier")
    assert cashier["stores"] and all(store["name"] for store in cashier["stores"])
    first_store = cashier["store_ids"][0]
    url = f"/api/v1/staff/{cashier['staff_id']}"
    changed = shop.client.patch(url, json={"store_ids": [first_store]}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["store_ids"] == [first_store]
    empty = shop.client.patch(url, json={"store_ids": []}, headers=admin)
    assert empty.status_code == 422
    manager = bearer(shop.login_staff("manager"))
    refused = shop.client.patch(url, json={"active": False}, headers=manager)
    assert refused.status_code == 403
    off = shop.client.patch(url, json={"active": False}, headers=admin)
    assert off.get_json()["active"] is False
    login = shop.client.post(
        "/api/v1/auth/login",
        json={
            "email": shop.logins["cashier"]["email"],
            "password": shop.logins["cashier"]["password"],
            "account": "staff",
        },
    )
    assert login.status_code == 401
    me = next(a for a in listed if a["role"] == "admin")
    self_off = shop.client.patch(
        f"/api/v1/staff/{me['staff_id']}", json={"active": False}, headers=admin
    )
    assert self_off.status_code == 403
    missing = shop.client.patch("/api/v1/staff/99999", json={"active": False}, headers=admin)
    assert missing.get_json()["type"] == "unknown-staff"
    managers_view = shop.client.get("/api/v1/staff", headers=manager).get_json()
    assert "admin" not in {a["role"] for a in managers_view}  # the admin works in no store
    assert {a["staff_id"] for a in managers_view} >= {shop.logins["manager"]["staff_id"]}


def test_branding_comes_from_configuration_until_an_admin_saves_it(shop: Shop) -> None:
    public = shop.client.get("/api/v1/branding")
    assert public.status_code == 200
    assert set(public.get_json()) == {"name", "logo_url", "primary_color", "accent_color"}
    assert public.get_json()["name"] == "Loyalty Wallet"
    shop.app.config["BRANDING_NAME"] = "Kaffee Klatsch"
    try:
        assert shop.client.get("/api/v1/branding").get_json()["name"] == "Kaffee Klatsch"
        admin = bearer(shop.login_staff("admin"))
        assert shop.client.get("/api/v1/admin/branding", headers=admin).get_json()["saved"] is False
        saved = shop.client.put(
            "/api/v1/admin/branding",
            json={
                "name": "Rösterei Nord",
                "primary_color": "#7A1F3D",
                "logo_data_url": _png_data_url(),
            },
            headers=admin,
        )
        assert saved.status_code == 200, saved.get_json()
    finally:
        del shop.app.config["BRANDING_NAME"]
    now = shop.client.get("/api/v1/branding").get_json()
    assert (now["name"], now["primary_color"], now["accent_color"]) == (
        "Rösterei Nord",
        "#7a1f3d",
        "#f4b400",
    )
    logo = shop.client.get(now["logo_url"])
    assert (logo.status_code, logo.mimetype) == (200, "image/png")
    assert Image.open(io.BytesIO(logo.data)).size == (8, 8)


def test_branding_changes_are_validated_and_for_admins_only(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    pale = shop.client.put(
        "/api/v1/admin/branding", json={"primary_color": "#ffee88"}, headers=admin
    )
    assert pale.status_code == 422
    assert "contrast" in pale.get_json()["detail"]
    bad = shop.client.put("/api/v1/admin/branding", json={"accent_color": "red"}, headers=admin)
    assert bad.status_code == 422
    svg = "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='x'/>").decode()
    refused = shop.client.put("/api/v1/admin/branding", json={"logo_data_url": svg}, headers=admin)
    assert refused.status_code == 422
    assert shop.client.get("/api/v1/branding/logo").status_code == 404
    manager = bearer(shop.login_staff("manager"))
    forbidden = shop.client.put("/api/v1/admin/branding", json={"name": "X"}, headers=manager)
    assert forbidden.status_code == 403
    assert shop.client.get("/api/v1/branding").get_json()["name"] == "Loyalty Wallet"


def test_staff_see_whose_ledger_it_is_members_and_cashiers_do_not(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    member_id = shop.member_id(0)
    answer = shop.client.get(f"/api/v1/members/{member_id}/points", headers=manager)
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["member_id"], body["name"], body["blocked"]) == (
        member_id,
        DEMO_MEMBERS[0]["display_name"],
        False,
    )
    adjusted = shop.client.post(
        f"/api/v1/members/{member_id}/ledger",
        json={"points": 40, "reason": "goodwill"},
        headers=manager,
    )
    assert adjusted.status_code == 201
    after = shop.client.get(f"/api/v1/members/{member_id}/points", headers=manager).get_json()
    assert after["points_balance"] == body["points_balance"] + 40
    [entry, *_] = shop.client.get(f"/api/v1/members/{member_id}/ledger", headers=manager).get_json()
    assert entry["staff"] == {"id": shop.logins["manager"]["staff_id"], "name": "Demo Manager"}
    assert entry["staff_id"] == shop.logins["manager"]["staff_id"]
    assert "email" not in body and "password_hash" not in body
    missing = shop.client.get("/api/v1/members/99999/points", headers=manager)
    assert missing.get_json()["type"] == "unknown-member"
    for token in (shop.login_member(), shop.login_staff("cashier")):
        refused = shop.client.get(f"/api/v1/members/{member_id}/points", headers=bearer(token))
        assert refused.status_code == 403
