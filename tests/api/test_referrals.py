"""Referrals: the happy path, every refused fraud pattern, and the refund-window rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.fraud.models import FraudEvent
from app.ledger.models import LedgerEntry
from app.referrals.service import (
    SettleResult,
    canonical_email,
    converted_referrals_count,
    settle_referrals,
)
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase, refund
from tests.api.member_helpers import NewMember, card_code_of, sign_up
from tests.conftest import Shop, bearer


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _referrer(shop: Shop, email: str = "ref@example.org") -> tuple[NewMember, str]:
    referrer = sign_up(shop, email, "Referrer", address="10.0.0.1", device_id="device-of-referrer")
    body = shop.client.get("/api/v1/me/referrals", headers=bearer(referrer.token)).get_json()
    return referrer, body["code"]


def _referred(shop: Shop, code: str, email: str, **extra: Any) -> NewMember:
    extra.setdefault("address", f"10.0.1.{abs(hash(email)) % 200 + 1}")
    extra.setdefault("device_id", f"device-{email}")
    return sign_up(shop, email, "Friend", referral_code=code, **extra)


def _referred_by(shop: Shop, member: NewMember) -> dict[str, Any]:
    body = shop.client.get("/api/v1/me/referrals", headers=bearer(member.token)).get_json()
    referral: dict[str, Any] = body["referred_by"]
    return referral


def _settle(app: Flask, days: float) -> SettleResult:
    with app.app_context():
        result = settle_referrals(now=utcnow() + timedelta(days=days))
        db.session.commit()
    return result


def test_code_link_and_qr(shop: Shop) -> None:
    referrer, code = _referrer(shop)
    body = shop.client.get("/api/v1/me/referrals", headers=bearer(referrer.token)).get_json()
    assert body["code"] == code and len(code) == 8
    assert body["link"] == f"https://wallet.test/#/join?ref={code}"
    assert body["rules"]["min_purchase_cents"] == 1000
    again = shop.client.get("/api/v1/me/referrals", headers=bearer(referrer.token)).get_json()
    assert again["code"] == code  # one code per member, kept
    qr = shop.client.get("/api/v1/me/referrals/qr.svg", headers=bearer(referrer.token))
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.data.lstrip().startswith(b"<?xml") or b"<svg" in qr.data[:200]


def test_happy_path_rewards_both_after_the_refund_window_once(shop: Shop) -> None:
    referrer, code = _referrer(shop)
    friend = _referred(shop, code.lower(), "friend@example.org")
    assert _referred_by(shop, friend)["status"] == "pending"
    till = shop.open_till()
    assert (
        purchase(shop.client, till, card_code_of(shop, friend.member_id), 2500).status_code == 201
    )
    referral = _referred_by(shop, friend)
    assert referral["status"] == "qualified" and referral["eligible_at"]
    before_friend = balance_of(shop.app, friend.member_id)
    assert _settle(shop.app, 1).rewarded == 0  # inside the refund window: nothing yet
    assert _settle(shop.app, 15).rewarded == 1
    assert balance_of(shop.app, referrer.member_id) == 200
    assert balance_of(shop.app, friend.member_id) == before_friend + 100
    assert _settle(shop.app, 16).rewarded == 0  # idempotent: paid once
    assert balance_of(shop.app, referrer.member_id) == 200
    body = shop.client.get("/api/v1/me/referrals", headers=bearer(referrer.token)).get_json()
    assert [r["status"] for r in body["referrals"]] == ["rewarded"]
    assert body["converted"] == 1 and body["points_earned"] == 200
    with shop.app.app_context():
        assert converted_referrals_count(referrer.member_id) == 1
        kinds = db.session.scalars(
            select(LedgerEntry.reference_id).where(LedgerEntry.reference_type == "referral")
        ).all()
        db.session.rollback()
    assert sorted(kinds) == sorted(
        [f"{body['referrals'][0]['id']}:referrer", f"{body['referrals'][0]['id']}:referee"]
    )


def test_purchase_below_the_minimum_does_not_qualify(shop: Shop) -> None:
    _referrer_member, code = _referrer(shop)
    friend = _referred(shop, code, "small@example.org")
    till = shop.open_till()
    purchase(shop.client, till, card_code_of(shop, friend.member_id), 999)
    assert _referred_by(shop, friend)["status"] == "pending"
    purchase(shop.client, till, card_code_of(shop, friend.member_id), 1000)
    assert _referred_by(shop, friend)["status"] == "qualified"


def test_refund_inside_the_window_cancels_the_reward_until_a_new_purchase(shop: Shop) -> None:
    referrer, code = _referrer(shop)
    friend = _referred(shop, code, "returns@example.org")
    till = shop.open_till()
    purchase(shop.client, till, card_code_of(shop, friend.member_id), 3000, receipt_id="RF-1")
    assert refund(shop.client, till, "RF-1", 2500).status_code == 201  # 5.00 left < 10.00
    result = _settle(shop.app, 15)
    assert (result.rewarded, result.requalify) == (0, 1)
    assert balance_of(shop.app, referrer.member_id) == 0
    assert _referred_by(shop, friend)["status"] == "pending"
    # A refund that leaves the minimum standing does not cancel it.
    purchase(shop.client, till, card_code_of(shop, friend.member_id), 4000, receipt_id="RF-2")
    refund(shop.client, till, "RF-2", 1000)
    assert _settle(shop.app, 30).rewarded == 1
    assert balance_of(shop.app, referrer.member_id) == 200


def test_own_code_is_refused_as_self_referral(shop: Shop) -> None:
    referrer, code = _referrer(shop)
    response = shop.client.post(
        "/api/v1/me/referrals/claim", json={"code": code}, headers=bearer(referrer.token)
    )
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["status"], response.get_json()["rejection"]) == (
        "rejected",
        "self-referral-account",
    )


@pytest.mark.parametrize(
    ("referrer_email", "friend_email"),
    [
        ("ann.lee@gmail.com", "annlee+promo@googlemail.com"),
        ("bob@example.org", "BOB+2@example.org"),
    ],
)
def test_same_mailbox_after_normalisation_is_refused(
    shop: Shop, referrer_email: str, friend_email: str
) -> None:
    assert canonical_email(referrer_email) == canonical_email(friend_email)
    _referrer_member, code = _referrer(shop, referrer_email)
    friend = _referred(shop, code, friend_email)
    assert _referred_by(shop, friend)["rejection"] == "self-referral-email"


def test_different_people_on_similar_addresses_are_not_refused(shop: Shop) -> None:
    assert canonical_email("a.b@example.org") != canonical_email("ab@example.org")
    _referrer_member, code = _referrer(shop, "a.b@example.org")
    friend = _referred(shop, code, "ab@example.org")
    assert _referred_by(shop, friend)["status"] == "pending"


def test_same_device_is_refused(shop: Shop) -> None:
    _referrer_member, code = _referrer(shop)
    friend = _referred(shop, code, "phone@example.org", device_id="device-of-referrer")
    assert _referred_by(shop, friend)["rejection"] == "self-referral-device"


def test_same_address_within_the_window_is_refused_and_later_is_not(shop: Shop) -> None:
    _referrer_member, code = _referrer(shop)
    friend = _referred(shop, code, "wifi@example.org", address="10.0.0.1")
    assert _referred_by(shop, friend)["rejection"] == "self-referral-address"
    shop.app.config["REFERRAL_ADDRESS_WINDOW_HOURS"] = "0"
    later = _referred(shop, code, "later@example.org", address="10.0.0.1")
    assert _referred_by(shop, later)["status"] == "pending"


def test_monthly_cap_per_referrer(shop: Shop) -> None:
    shop.app.config["REFERRAL_MONTHLY_CAP"] = "2"
    shop.app.config["REFERRAL_BURST_COUNT"] = "99"
    _referrer_member, code = _referrer(shop)
    statuses = [
        _referred_by(shop, _referred(shop, code, f"cap{i}@example.org"))["rejection"]
        for i in range(3)
    ]
    assert statuses == [None, None, "monthly-cap"]


def test_burst_raises_a_fraud_event_and_holds_the_reward_until_reviewed(shop: Shop) -> None:
    shop.app.config["REFERRAL_BURST_COUNT"] = "2"
    referrer, code = _referrer(shop)
    friends = [_referred(shop, code, f"burst{i}@example.org") for i in range(2)]
    with shop.app.app_context():
        event = db.session.scalar(select(FraudEvent).where(FraudEvent.rule == "referral-burst"))
        assert event is not None and event.member_id == referrer.member_id
        event_id = event.id
        db.session.rollback()
    till = shop.open_till()
    purchase(shop.client, till, card_code_of(shop, friends[0].member_id), 2000)
    assert _settle(shop.app, 15).held == 1
    assert balance_of(shop.app, referrer.member_id) == 0
    admin = shop.login_staff("admin")
    resolved = shop.client.post(
        f"/api/v1/fraud/events/{event_id}/resolve",
        json={"resolution": "legitimate", "note": "a family"},
        headers=bearer(admin),
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert _settle(shop.app, 15).rewarded == 1
    assert balance_of(shop.app, referrer.member_id) == 200


def test_coupon_rewards_instead_of_points(shop: Shop) -> None:
    shop.app.config["REFERRAL_REWARD_KIND"] = "coupon"
    referrer, code = _referrer(shop)
    friend = _referred(shop, code, "coupon@example.org")
    purchase(shop.client, shop.open_till(), card_code_of(shop, friend.member_id), 1500)
    assert _settle(shop.app, 15).rewarded == 1
    coupons = shop.client.get("/api/v1/me/coupons", headers=bearer(referrer.token)).get_json()
    assert any(c["benefit"] == {"kind": "amount_off", "amount_cents": 500} for c in coupons)
    assert balance_of(shop.app, referrer.member_id) == 0


def test_unknown_code_does_not_stop_sign_up_and_late_claims_are_refused(shop: Shop) -> None:
    member = sign_up(shop, "nobody@example.org", referral_code="NOPE2345")
    assert _referred_by_or_none(shop, member) is None
    unknown = shop.client.post(
        "/api/v1/me/referrals/claim", json={"code": "NOPE2345"}, headers=bearer(member.token)
    )
    assert unknown.status_code == 404 and unknown.get_json()["type"] == "unknown-referral-code"
    _referrer_member, code = _referrer(shop)
    purchase(shop.client, shop.open_till(), card_code_of(shop, member.member_id), 500)
    late = shop.client.post(
        "/api/v1/me/referrals/claim", json={"code": code}, headers=bearer(member.token)
    )
    assert late.status_code == 409 and late.get_json()["type"] == "referral-claim-closed"


def test_a_member_is_referred_once(shop: Shop) -> None:
    _first, code = _referrer(shop)
    _second, other_code = _referrer(shop, "second@example.org")
    friend = _referred(shop, code, "once@example.org")
    again = shop.client.post(
        "/api/v1/me/referrals/claim", json={"code": other_code}, headers=bearer(friend.token)
    )
    assert again.status_code == 409 and again.get_json()["type"] == "referral-already-linked"


def _referred_by_or_none(shop: Shop, member: NewMember) -> Any:
    body = shop.client.get("/api/v1/me/referrals", headers=bearer(member.token)).get_json()
    return body["referred_by"]
