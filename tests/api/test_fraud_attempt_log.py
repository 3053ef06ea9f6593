"""The attempt log: every card and coupon refusal on record with its till and cashier, no codes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt
from coupons.codes import format_code, generate_code
from tests.api.test_coupon_helpers import member_coupon, new_codes, redeem, validate
from tests.api.test_fraud_helpers import attempts, event_rows, forged_code, scan
from tests.conftest import Shop, bearer
from wallet.card_codes import encode_rotating_code, encode_static_code
from wallet.keys import generate_signing_key

CARD_REFUSALS = {
    "malformed-code",
    "bad-signature",
    "unknown-key",
    "card-expired",
    "card-revoked",
    "unknown-card",
    "code-stale",
    "code-replayed",
    "invalid-scan-token",
    "card-blocked",
    "member-blocked",
}
COUPON_REFUSALS = {
    "invalid-code",
    "unknown-code",
    "coupon-already-redeemed",
    "coupon-expired",
    "coupon-not-yet-valid",
    "coupon-voided",
    "wrong-store",
    "basket-too-small",
    "wrong-member",
    "member-card-required",
}


def _card_refusals(app: Flask, shop: Shop, till: str) -> list[str]:
    """Present one card code for each card refusal; return the codes shown."""
    from app.cards.keys import card_key_ring

    with app.app_context():
        newest = card_key_ring().newest()
        codes = [
            "LW1:NOT-BASE45!",
            forged_code(shop),
            encode_static_code(
                uuid.uuid4(), utcnow() + timedelta(days=1), generate_signing_key(utcnow())
            ),
            encode_static_code(uuid.uuid4(), utcnow() - timedelta(seconds=5), newest),
            encode_static_code(uuid.uuid4(), utcnow() + timedelta(days=1), newest),
            encode_rotating_code(uuid.uuid4(), b"x" * 20, utcnow()),
            shop.rotating_code(0, at=utcnow() - timedelta(minutes=5)),
            "lws.not-a-token",
        ]
    live = shop.rotating_code(0)
    older = shop.rotating_code(0, at=utcnow() - timedelta(seconds=30))
    codes += [live, older]  # the older step after the live one is a replay (not a double scan)
    manager = bearer(shop.login_staff("manager"))
    card = shop.client.get("/api/v1/me/card", headers=bearer(shop.login_member(1))).get_json()
    shop.client.post("/api/v1/me/card/reissue", headers=bearer(shop.login_member(1)))
    codes.append(card["static_code"])  # revoked now
    blocked_card = shop.client.get(
        "/api/v1/me/card", headers=bearer(shop.login_member(1))
    ).get_json()
    shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": "card", "target_id": blocked_card["card_id"]},
        headers=manager,
    )
    codes.append(blocked_card["static_code"])
    for code in codes:
        scan(shop, code, till)
    shop.client.post(
        "/api/v1/fraud/blocks",
        json={"target_type": "member", "target_id": str(shop.member_id(0))},
        headers=manager,
    )
    blocked_member = shop.static_code(0)
    scan(shop, blocked_member, till)
    shop.client.delete(f"/api/v1/fraud/blocks/member/{shop.member_id(0)}", headers=manager)
    return [*codes, blocked_member]


def _coupon_refusals(shop: Shop, till: str) -> list[str]:
    """Redeem one coupon code for each coupon refusal; return the codes shown."""
    from app.campaigns import voiding
    from app.extensions import db

    now = utcnow()
    [used] = new_codes(shop)
    [expired] = new_codes(shop, valid_until=now - timedelta(seconds=1))
    [future] = new_codes(shop, valid_from=now + timedelta(days=1))
    [elsewhere] = new_codes(shop, store_ids=[shop.tills[1]["store_id"]])
    [big_basket] = new_codes(shop, min_basket_cents=50_000)
    [voided] = new_codes(shop)
    with shop.app.app_context():
        coupon = voiding.lookup_coupon(voided)
        voiding.void_coupon(coupon.id, staff_id=shop.logins["manager"]["staff_id"], reason="t")
        db.session.commit()
    from coupons.rules import Benefit, BenefitKind

    [bonus] = new_codes(shop, benefit=Benefit(BenefitKind.BONUS_POINTS, points=10))
    theirs = member_coupon(shop, 1).formatted
    unknown = format_code(generate_code())
    mistyped = ("1" if used[0] != "1" else "2") + used[1:]
    assert redeem(shop.client, till, used, receipt_id="R-0").status_code == 200
    codes = [mistyped, unknown, used, expired, future, voided, elsewhere, big_basket, theirs, bonus]
    for number, code in enumerate(codes):
        redeem(shop.client, till, code, receipt_id=f"R-{number + 1}")
    return [*codes, used]


def test_every_card_and_coupon_refusal_is_on_record_with_its_till_and_cashier(
    app: Flask, shop: Shop
) -> None:
    till = shop.open_till(0)
    card_codes = _card_refusals(app, shop, till)
    coupon_codes = _coupon_refusals(shop, till)
    refused = [a for a in attempts(shop) if a.outcome == "refused" and a.till_id is not None]
    seen = {a.refusal_type for a in refused}
    assert CARD_REFUSALS <= seen, CARD_REFUSALS - seen
    assert COUPON_REFUSALS <= seen, COUPON_REFUSALS - seen
    for attempt in refused:
        assert attempt.till_id == shop.tills[0]["till_id"]
        assert attempt.store_id == shop.tills[0]["store_id"]
        assert attempt.staff_id == shop.logins["cashier"]["staff_id"]
        assert attempt.request_id
        assert attempt.operation in ("scan", "coupon-redeem")
    _assert_no_plain_code_stored(shop, card_codes + coupon_codes)


def _assert_no_plain_code_stored(shop: Shop, codes: list[str]) -> None:
    texts = []
    for attempt in attempts(shop):
        texts += [str(getattr(attempt, column.key)) for column in Attempt.__table__.columns]
    for event in event_rows(shop):
        texts += [str(event.detail), event.subject]
    stored = " ".join(texts).upper()
    for code in codes:
        for form in {code.strip().upper(), code.strip().upper().replace("-", "")}:
            assert form not in stored, form
        assert code[-16:].upper() not in stored


def test_till_logins_are_on_record_accepted_or_refused(shop: Shop) -> None:
    shop.open_till(1)
    cashier = shop.logins["cashier"]
    shop.client.post(
        "/api/v1/till/sessions",
        json={"till_key": shop.tills[1]["till_key"], "email": cashier["email"], "password": "x"},
    )
    logins = [a for a in attempts(shop) if a.operation == "till-login"]
    assert [(a.outcome, a.refusal_type) for a in logins] == [
        ("accepted", None),
        ("refused", "invalid-credentials"),
    ]
    for login in logins:
        assert (login.till_id, login.store_id, login.staff_id) == (
            shop.tills[1]["till_id"],
            shop.tills[1]["store_id"],
            cashier["staff_id"],
        )


def test_a_lockout_refusal_is_on_record_too(app: Flask, shop: Shop) -> None:
    app.config.update(FRAUD_GUESS_THRESHOLD=2, FRAUD_LOCKOUT_SECONDS=30)
    till = shop.open_till(0)
    for _ in range(2):
        redeem(shop.client, till, format_code(generate_code()))
    locked = redeem(shop.client, till, format_code(generate_code()))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) <= 30
    last = attempts(shop)[-1]
    assert (last.operation, last.refusal_type, last.till_id) == (
        "coupon-redeem",
        "too-many-attempts",
        shop.tills[0]["till_id"],
    )
    assert [e.rule for e in event_rows(shop)] == ["brute-force"]


def test_a_dry_run_refusal_is_on_record_with_its_type(app: Flask, shop: Shop) -> None:
    [code] = new_codes(shop, min_basket_cents=5_000)
    response = validate(shop.client, shop.open_till(), code, basket_cents=1_000)
    assert response.status_code == 200
    assert response.get_json()["valid"] is False
    with app.app_context():
        attempt = db.session.scalars(
            select(Attempt)
            .where(Attempt.operation == "coupon-validate")
            .order_by(Attempt.id.desc())
        ).first()
        assert attempt is not None
        assert (attempt.outcome, attempt.refusal_type, attempt.status_code) == (
            "refused",
            "basket-too-small",
            200,
        )
