"""Validating, redeeming, reversing and voiding coupons at the till and in the back office."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from app.accounts.models import Member
from app.campaigns.models import Redemption
from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt
from coupons.codes import format_code, generate_code
from coupons.rules import Benefit, BenefitKind
from tests.api.test_coupon_helpers import (
    member_coupon,
    new_codes,
    problem_type,
    redeem,
    validate,
)
from tests.conftest import Shop, bearer


def _mistyped(code: str) -> str:
    """Return the code with one symbol changed, so its check symbol no longer matches."""
    first = "1" if code[0] != "1" else "2"
    return first + code[1:]


def test_redeemed_coupon_gives_its_discount_and_records_the_redemption(shop: Shop) -> None:
    [code] = new_codes(shop)
    till = shop.open_till(0)
    response = redeem(shop.client, till, format_code(code).lower(), basket_cents=1_999)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["discount_cents"] == 500
    assert body["benefit"] == {"kind": "amount_off", "amount_cents": 500}
    assert body["coupon"]["state"] == "redeemed"
    assert code not in response.get_data(as_text=True)
    with shop.app.app_context():
        redemption = db.session.get(Redemption, uuid.UUID(body["redemption_id"]))
        assert redemption is not None
        assert (redemption.till_id, redemption.store_id, redemption.receipt_id) == (
            shop.tills[0]["till_id"],
            shop.tills[0]["store_id"],
            "R-1",
        )


def test_second_redemption_of_same_code_is_refused(shop: Shop) -> None:
    [code] = new_codes(shop)
    assert redeem(shop.client, shop.open_till(0), code).status_code == 200
    second = redeem(shop.client, shop.open_till(1), code)
    assert second.status_code == 409
    problem = second.get_json()
    assert problem["type"] == "coupon-already-redeemed"
    assert problem["store_id"] == shop.tills[0]["store_id"]
    assert problem["redeemed_at"]


def test_same_idempotency_key_replays_the_first_answer_and_changes_nothing(shop: Shop) -> None:
    [code] = new_codes(shop)
    till = shop.open_till(0)
    key = str(uuid.uuid4())
    first = redeem(shop.client, till, code, key=key)
    again = redeem(shop.client, till, code, key=key)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    without_key = shop.client.post(
        "/api/v1/till/coupons/redeem",
        json={"code": code, "basket_cents": 100, "receipt_id": "R"},
        headers=bearer(till),
    )
    assert (without_key.status_code, problem_type(without_key)) == (
        400,
        "idempotency-key-required",
    )


def test_typo_is_invalid_before_any_lookup_and_a_code_never_issued_is_unknown(
    shop: Shop,
) -> None:
    [code] = new_codes(shop)
    till = shop.open_till(0)
    response = redeem(shop.client, till, _mistyped(code))
    assert (response.status_code, problem_type(response)) == (422, "invalid-code")
    assert redeem(shop.client, till, "ABCD-EFGH").status_code == 422
    response = redeem(shop.client, till, generate_code())
    assert (response.status_code, problem_type(response)) == (404, "unknown-code")
    with shop.app.app_context():
        refusals = db.session.scalars(
            select(Attempt.refusal_type)
            .where(Attempt.operation == "coupon-redeem")
            .order_by(Attempt.id)
        ).all()
    assert refusals == ["invalid-code", "invalid-code", "unknown-code"]


def test_validity_window_store_and_minimum_basket_are_enforced(shop: Shop) -> None:
    now = utcnow()
    [expired] = new_codes(shop, valid_until=now - timedelta(seconds=1))
    [future] = new_codes(shop, valid_from=now + timedelta(days=1))
    [elsewhere] = new_codes(shop, store_ids=[shop.tills[1]["store_id"]])
    [big_basket] = new_codes(shop, min_basket_cents=5_000)
    till = shop.open_till(0)
    response = redeem(shop.client, till, expired)
    assert (response.status_code, problem_type(response)) == (410, "coupon-expired")
    response = redeem(shop.client, till, future)
    assert (response.status_code, problem_type(response)) == (422, "coupon-not-yet-valid")
    response = redeem(shop.client, till, elsewhere)
    assert (response.status_code, problem_type(response)) == (403, "wrong-store")
    response = redeem(shop.client, till, big_basket, basket_cents=4_999)
    assert (response.status_code, problem_type(response)) == (422, "basket-too-small")
    assert response.get_json()["min_basket_cents"] == 5_000
    assert redeem(shop.client, till, big_basket, basket_cents=5_000).status_code == 200


def test_member_coupon_needs_the_members_own_card(shop: Shop) -> None:
    issued = member_coupon(shop, 0)
    till = shop.open_till(0)
    response = redeem(shop.client, till, issued.formatted)
    assert (response.status_code, problem_type(response)) == (403, "wrong-member")
    response = redeem(shop.client, till, issued.code, card_code=shop.static_code(1))
    assert (response.status_code, problem_type(response)) == (403, "wrong-member")
    response = redeem(shop.client, till, issued.code, card_code=shop.static_code(0))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["member_id"] == shop.member_id(0)
    other = member_coupon(shop, 1)
    with shop.app.app_context():
        db.session.execute(Member.__table__.update().values(blocked=True))
        db.session.commit()
    response = redeem(shop.client, till, other.code, card_code=shop.static_code(1))
    assert (response.status_code, problem_type(response)) == (403, "member-blocked")


def test_bonus_points_need_a_card_and_their_reversal_takes_the_points_back(shop: Shop) -> None:
    [code] = new_codes(shop, benefit=Benefit(BenefitKind.BONUS_POINTS, points=250))
    till = shop.open_till(0)
    response = redeem(shop.client, till, code)
    assert (response.status_code, problem_type(response)) == (422, "member-card-required")
    response = redeem(shop.client, till, code, card_code=shop.static_code(0))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["bonus_points"] == 250
    with shop.app.app_context():
        member = db.session.get(Member, shop.member_id(0))
        assert member is not None and member.points_balance == 250
    headers = {**bearer(till), "Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/v1/till/redemptions/{response.get_json()['redemption_id']}/reverse"
    assert shop.client.post(url, json={}, headers=headers).status_code == 200
    with shop.app.app_context():
        member = db.session.get(Member, shop.member_id(0), populate_existing=True)
        assert member is not None and member.points_balance == 0


def test_per_member_limit_counts_redemptions_across_the_campaign(shop: Shop) -> None:
    first, second = new_codes(shop, 2, max_uses_per_member=1)
    till = shop.open_till(0)
    card = shop.static_code(0)
    response = redeem(shop.client, till, first)
    assert (response.status_code, problem_type(response)) == (403, "wrong-member")
    assert redeem(shop.client, till, first, card_code=card).status_code == 200
    response = redeem(shop.client, till, second, card_code=card)
    assert (response.status_code, problem_type(response)) == (409, "use-limit-reached")
    assert redeem(shop.client, till, second, card_code=shop.static_code(1)).status_code == 200


def test_validate_is_a_dry_run_that_reports_refusals_in_the_answer(shop: Shop) -> None:
    [code] = new_codes(shop, min_basket_cents=1_000)
    till = shop.open_till(0)
    small = validate(shop.client, till, code, basket_cents=500)
    assert small.status_code == 200
    assert small.get_json()["valid"] is False
    assert small.get_json()["refusal"]["type"] == "basket-too-small"
    ok = validate(shop.client, till, code, basket_cents=1_000)
    assert ok.get_json()["valid"] is True
    assert ok.get_json()["discount_cents"] == 500
    assert ok.get_json()["coupon"]["state"] == "active"
    assert redeem(shop.client, till, code, basket_cents=1_000).status_code == 200
    used = validate(shop.client, till, code, basket_cents=1_000).get_json()
    assert used["valid"] is False
    assert used["refusal"]["type"] == "coupon-already-redeemed"
    response = validate(shop.client, till, _mistyped(code))
    assert (response.status_code, problem_type(response)) == (422, "invalid-code")


def test_validate_does_not_use_up_a_rotating_card_code(shop: Shop) -> None:
    issued = member_coupon(shop, 0)
    till = shop.open_till(0)
    live = shop.rotating_code(0)
    assert validate(shop.client, till, issued.code, card_code=live).get_json()["valid"] is True
    assert redeem(shop.client, till, issued.code, card_code=live).status_code == 200


def test_cashier_reverses_own_redemption_and_the_coupon_works_again(shop: Shop) -> None:
    [code] = new_codes(shop)
    till = shop.open_till(0)
    first = redeem(shop.client, till, code).get_json()["redemption_id"]
    headers = {**bearer(till), "Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/v1/till/redemptions/{first}/reverse"
    reversal = shop.client.post(url, json={"reason": "sale cancelled"}, headers=headers)
    assert reversal.status_code == 200, reversal.get_json()
    assert reversal.get_json()["coupon"]["state"] == "active"
    replay = shop.client.post(url, json={"reason": "sale cancelled"}, headers=headers)
    assert replay.get_json() == reversal.get_json()
    again = shop.client.post(
        url, json={}, headers={**bearer(till), "Idempotency-Key": str(uuid.uuid4())}
    )
    assert (again.status_code, problem_type(again)) == (409, "redemption-already-reversed")
    second = redeem(shop.client, till, code, receipt_id="R-2")
    assert second.status_code == 200
    with shop.app.app_context():
        rows = db.session.scalars(select(Redemption).order_by(Redemption.use_no)).all()
        assert [(r.use_no, r.reversed_at is not None) for r in rows] == [(1, True), (2, False)]


def test_only_the_same_till_within_the_window_or_a_manager_may_reverse(shop: Shop) -> None:
    [code] = new_codes(shop)
    redemption_id = redeem(shop.client, shop.open_till(0), code).get_json()["redemption_id"]
    url = f"/api/v1/till/redemptions/{redemption_id}/reverse"

    def reverse(token: str) -> int | str:
        """Try the reversal from a till; return 200 or the problem type."""
        headers = {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
        response = shop.client.post(url, json={}, headers=headers)
        return response.status_code if response.status_code == 200 else problem_type(response)

    assert reverse(shop.open_till(1)) == "reversal-not-allowed"
    with shop.app.app_context():
        db.session.execute(
            Redemption.__table__.update().values(redeemed_at=utcnow() - timedelta(hours=2))
        )
        db.session.commit()
    assert reverse(shop.open_till(0)) == "reversal-window-closed"
    assert reverse(shop.open_till(1, role="manager")) == 200


def test_manager_voids_a_coupon_found_by_its_code(shop: Shop) -> None:
    [code] = new_codes(shop)
    manager = bearer(shop.login_staff("manager"))
    found = shop.client.post("/api/v1/coupons/lookup", json={"code": code}, headers=manager)
    assert found.status_code == 200
    coupon_id = found.get_json()["coupon_id"]
    url = f"/api/v1/coupons/{coupon_id}/void"
    voided = shop.client.post(url, json={"reason": "leaked"}, headers=manager)
    assert voided.status_code == 200
    assert voided.get_json()["state"] == "voided"
    again = shop.client.post(url, json={}, headers=manager)
    assert (again.status_code, problem_type(again)) == (409, "coupon-already-voided")
    response = redeem(shop.client, shop.open_till(0), code)
    assert (response.status_code, problem_type(response)) == (410, "coupon-voided")
    cashier = bearer(shop.login_staff("cashier"))
    assert shop.client.post(url, json={}, headers=cashier).status_code == 403


def test_member_lists_own_coupons_with_codes_and_gets_a_qr(shop: Shop) -> None:
    mine = member_coupon(shop, 0, valid_until=utcnow() + timedelta(days=7))
    theirs = member_coupon(shop, 1)
    member = bearer(shop.login_member(0))
    listing = shop.client.get("/api/v1/me/coupons", headers=member)
    assert listing.status_code == 200
    [coupon] = listing.get_json()
    assert coupon["code"] == mine.formatted
    assert coupon["state"] == "active"
    assert coupon["benefit"] == {"kind": "amount_off", "amount_cents": 500}
    qr = shop.client.get(f"/api/v1/me/coupons/{mine.coupon_id}/qr.svg", headers=member)
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data
    other = shop.client.get(f"/api/v1/me/coupons/{theirs.coupon_id}/qr.svg", headers=member)
    assert (other.status_code, problem_type(other)) == (404, "unknown-coupon")


def test_managers_read_and_change_the_coupon_settings(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    defaults = shop.client.get("/api/v1/coupon-settings", headers=manager).get_json()
    assert defaults["reversal_window_minutes"] == 30
    changed = shop.client.put(
        "/api/v1/coupon-settings", json={"offline_floor_limit_cents": 1_000}, headers=manager
    )
    assert changed.status_code == 200
    assert changed.get_json()["offline_floor_limit_cents"] == 1_000
    assert changed.get_json()["reversal_window_minutes"] == 30
    cashier = bearer(shop.login_staff("cashier"))
    assert shop.client.get("/api/v1/coupon-settings", headers=cashier).status_code == 403
