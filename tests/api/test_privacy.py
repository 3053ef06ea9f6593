"""The member's data on request: export, erasure that keeps the books whole, retention."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, or_, select

from app.accounts.models import Member
from app.campaigns.issuing import issue_member_coupon
from app.campaigns.models import Redemption
from app.cards.models import Card
from app.db import Base, utcnow
from app.extensions import db
from app.fraud.models import Attempt, StaffAudit
from app.idempotency import IdempotencyKey
from app.ledger.models import LedgerEntry, Purchase
from app.memberships.models import Membership
from app.privacy.registry import NOT_EXPORTED, covered_tables, export_sources
from app.profiles.consent import has_consent
from app.push.models import PushSubscription
from coupons.rules import Benefit, BenefitKind
from tests.api.ledger_helpers import assert_ledger_consistent, purchase, refund
from tests.api.member_helpers import NewMember, card_code_of, sign_up
from tests.conftest import TEST_DATABASE_URL, Shop, bearer

NAME = "Zelda Quixote-Harrow"
EMAIL = "zelda.qh@example.org"
PHONE = "+49 151 2345 6789"
PHONE_DIGITS = "+4915123456789"
BIRTHDAY = "1987-11-23"


def _rich_member(shop: Shop) -> NewMember:
    """Sign a member up and give them a row in as many tables as the API allows."""
    referrer = shop.login_member(1)
    referral = shop.client.get("/api/v1/me/referrals", headers=bearer(referrer)).get_json()
    plan = shop.client.post(
        "/api/v1/membership-plans",
        json={
            "name": "Plus",
            "sku": "PLUS",
            "price_cents": 2900,
            "duration_months": 12,
            "points_multiplier_percent": 150,
            "monthly_coupon": {"kind": "amount_off", "amount_cents": 300},
        },
        headers=bearer(shop.login_staff("manager")),
    )
    assert plan.status_code == 201, plan.get_json()
    member = sign_up(
        shop,
        EMAIL,
        NAME,
        consents={"marketing": True},
        referral_code=referral["code"],
        address="10.9.9.9",
        device_id="zelda-phone-1",
    )
    headers = bearer(member.token)
    shop.client.patch(
        "/api/v1/me/profile",
        json={"birthday": BIRTHDAY, "phone": PHONE, "preferred_language": "de"},
        headers=headers,
    )
    shop.client.put("/api/v1/me/consents/surveys", json={"granted": True}, headers=headers)
    push = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={
            "endpoint": "https://push.example.org/zelda-endpoint",
            "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
        },
        headers=headers,
    )
    assert push.status_code in (200, 201), push.get_json()
    till = shop.open_till()
    code = card_code_of(shop, member.member_id)
    lines = [{"sku": "COFFEE", "amount_cents": 5000, "category": "drinks"}]
    assert purchase(shop.client, till, code, 5000, receipt_id="Z-1", lines=lines).status_code == 201
    plus = [{"sku": "PLUS", "amount_cents": 2900}, {"sku": "TEA", "amount_cents": 27100}]
    assert purchase(shop.client, till, code, 30000, receipt_id="Z-2", lines=plus).status_code == 201
    assert purchase(shop.client, till, code, 2000, receipt_id="Z-4").status_code == 201
    assert refund(shop.client, till, "Z-2", 1000).status_code == 201
    with shop.app.app_context():
        issued = issue_member_coupon(
            member.member_id, Benefit(BenefitKind.AMOUNT_OFF, amount_cents=200), source="test"
        )
        db.session.commit()
    redeemed = shop.client.post(
        "/api/v1/till/coupons/redeem",
        json={"code": issued.code, "basket_cents": 1500, "receipt_id": "Z-3", "card_code": code},
        headers={**bearer(till), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert redeemed.status_code == 200, redeemed.get_json()
    rewards = shop.client.get("/api/v1/rewards", headers=headers).get_json()
    cheapest = min(rewards, key=lambda reward: reward["cost_points"])
    claimed = shop.client.post(
        f"/api/v1/me/rewards/{cheapest['id']}/claim",
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert claimed.status_code == 201, claimed.get_json()
    return member


def _member_tables() -> dict[str, list[str]]:
    """Return every table that names a member, with the columns that do."""
    found: dict[str, list[str]] = {"members": ["id"]}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name == "member_id" or any(
                fk.column.table.name == "members" for fk in column.foreign_keys
            ):
                found.setdefault(table.name, []).append(column.name)
    return found


def _export(shop: Shop, token: str) -> dict[str, Any]:
    response = shop.client.get("/api/v1/me/export", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert set(archive.namelist()) == {"export.json", "ledger.csv", "README.txt"}
    document: dict[str, Any] = json.loads(archive.read("export.json"))
    document["ledger_csv"] = archive.read("ledger.csv").decode()
    return document


def test_every_table_that_names_a_member_is_exported_or_excluded_with_a_reason(app: Flask) -> None:
    missing = set(_member_tables()) - covered_tables() - set(NOT_EXPORTED)
    assert missing == set()
    assert all(reason for reason in NOT_EXPORTED.values())


def test_export_holds_every_row_of_the_member_and_none_of_another(shop: Shop) -> None:
    member = _rich_member(shop)
    # Another member with data of their own, which must not leak into the export.
    other_till = shop.open_till()
    purchase(shop.client, other_till, shop.static_code(1), 4200, receipt_id="O-1")
    document = _export(shop, member.token)
    data = document["data"]
    assert document["member_id"] == member.member_id
    for section in (
        "profile",
        "consents",
        "cards",
        "ledger",
        "purchases",
        "purchase_refunds",
        "coupons",
        "coupon_redemptions",
        "reward_claims",
        "push_subscriptions",
        "attempts",
        "refresh_tokens",
        "referrals",
        "sightings",
        "memberships",
        "membership_grants",
        "membership_bonuses",
    ):
        assert data[section], f"the test should give the member rows in {section}"
    assert data["member"][0]["email"] == EMAIL and "password_hash" not in data["member"][0]
    assert data["profile"][0]["birthday"] == BIRTHDAY
    assert all("token_hash" not in row for row in data["refresh_tokens"])
    assert all("sealed_code" not in row for row in data["coupons"])
    with shop.app.app_context():
        for table_name, columns in _member_tables().items():
            table = Base.metadata.tables[table_name]
            names_member = or_(*(table.c[column] == member.member_id for column in columns))
            expected = db.session.scalar(
                select(func.count()).select_from(table).where(names_member)
            )
            sources = [s for s in export_sources() if s.tables[0] == table_name]
            if not sources:
                continue
            exported = data[sources[0].name]
            assert len(exported) == expected, table_name
            for row in exported:  # columns naming the other side of a referral are left out
                assert any(row.get(c) == member.member_id for c in columns if c in row) or not any(
                    c in row for c in columns
                ), table_name
        purchase_ids = set(
            db.session.scalars(select(Purchase.id).where(Purchase.member_id == member.member_id))
        )
        db.session.rollback()
    assert {row["purchase_id"] for row in data["purchase_refunds"]} <= purchase_ids
    assert "O-1" not in json.dumps(document)
    csv_lines = document["ledger_csv"].strip().splitlines()
    assert csv_lines[0].startswith("id,created_at,kind,points,balance_after")
    assert len(csv_lines) == 1 + len(data["ledger"])


def _totals(app: Flask) -> dict[str, Any]:
    with app.app_context():
        totals = {
            "members": db.session.scalar(select(func.count()).select_from(Member)),
            "points": db.session.scalar(select(func.sum(LedgerEntry.points))),
            "entries": db.session.scalar(select(func.count()).select_from(LedgerEntry)),
            "sales": db.session.scalar(select(func.sum(Purchase.amount_cents))),
            "refunded": db.session.scalar(select(func.sum(Purchase.refunded_cents))),
            "discounts": db.session.scalar(select(func.sum(Redemption.discount_cents))),
            "membership_revenue": db.session.scalar(select(func.sum(Membership.price_cents))),
            "balances": db.session.scalar(select(func.sum(Member.points_balance))),
        }
        db.session.rollback()
    return totals


def _dump(app: Flask, backend: str) -> str:
    if backend == "postgres":
        url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
        result = subprocess.run(
            ["pg_dump", "--data-only", "--no-owner", url],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        return result.stdout
    with app.app_context():
        path = db.engine.url.database
        db.engine.dispose()
    assert path
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def test_deleting_my_account_leaves_no_personal_datum_and_the_books_whole(
    shop: Shop, backend: str, runner: Any
) -> None:
    member = _rich_member(shop)
    before = _totals(shop.app)
    dump_before = _dump(shop.app, backend)
    for datum in (EMAIL, NAME, PHONE_DIGITS, BIRTHDAY):
        assert datum in dump_before, datum  # the search below can find what is there
    wrong = shop.client.delete(
        "/api/v1/me", json={"password": "not-it-at-all"}, headers=bearer(member.token)
    )
    assert wrong.status_code == 401 and wrong.get_json()["type"] == "invalid-credentials"
    response = shop.client.delete(
        "/api/v1/me", json={"password": member.password}, headers=bearer(member.token)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["requested_by"] == "member"
    dump_after = _dump(shop.app, backend)
    for datum in (EMAIL, NAME, PHONE_DIGITS, BIRTHDAY, "zelda", "Quixote"):
        assert datum.lower() not in dump_after.lower(), datum
    assert _totals(shop.app) == before
    with shop.app.app_context():
        assert not has_consent(member.member_id, "marketing")  # erasure withdrew it
        db.session.rollback()
    assert_ledger_consistent(shop.app)
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0 and "every balance adds up" in verified.output
    login = shop.client.post(
        "/api/v1/auth/login", json={"email": EMAIL, "password": member.password}
    )
    assert login.status_code == 401
    with shop.app.app_context():
        cards = db.session.scalars(select(Card).where(Card.member_id == member.member_id)).all()
        assert cards and all(card.revoked_at is not None for card in cards)
        assert (
            db.session.scalar(
                select(func.count()).where(PushSubscription.member_id == member.member_id)
            )
            == 0
        )
        db.session.rollback()
    again = shop.client.delete(
        "/api/v1/me", json={"password": member.password}, headers=bearer(member.token)
    )
    assert again.status_code in (401, 410)


def test_a_member_who_joined_by_link_confirms_deletion_with_a_fresh_link(shop: Shop) -> None:
    shop.app.config["MAIL_SENDER"] = "memory"
    shop.app.extensions.pop("lw_mail_sender", None)
    outbox = shop.app.extensions.setdefault("lw_mail_outbox", [])
    outbox.clear()
    member = sign_up(shop, "linkonly@example.org", "Link Only")
    neither = shop.client.delete("/api/v1/me", json={}, headers=bearer(member.token))
    assert neither.status_code == 422
    forged = shop.client.delete(
        "/api/v1/me", json={"magic_link_token": "lwm_forged-token"}, headers=bearer(member.token)
    )
    assert forged.status_code == 401 and forged.get_json()["type"] == "invalid-magic-link"
    shop.client.post("/api/v1/auth/magic-link", json={"email": "linkonly@example.org"})
    token = outbox[-1].text.split("#/magic/")[1].split()[0]
    response = shop.client.delete(
        "/api/v1/me", json={"magic_link_token": token}, headers=bearer(member.token)
    )
    assert response.status_code == 200, response.get_json()


def test_staff_export_and_erasure_are_audited_and_managers_only(shop: Shop) -> None:
    member = sign_up(shop, "ask@example.org", "Asking Person")
    cashier = shop.login_staff("cashier")
    assert (
        shop.client.get(
            f"/api/v1/members/{member.member_id}/export", headers=bearer(cashier)
        ).status_code
        == 403
    )
    manager = shop.login_staff("manager")
    export = shop.client.get(f"/api/v1/members/{member.member_id}/export", headers=bearer(manager))
    assert export.status_code == 200 and export.mimetype == "application/zip"
    erased = shop.client.delete(
        f"/api/v1/members/{member.member_id}",
        json={"reason": "letter of 3 March"},
        headers=bearer(manager),
    )
    assert erased.status_code == 200, erased.get_json()
    assert erased.get_json()["requested_by"] == "staff"
    twice = shop.client.delete(
        f"/api/v1/members/{member.member_id}", json={"reason": "again"}, headers=bearer(manager)
    )
    assert twice.status_code == 410 and twice.get_json()["type"] == "member-erased"
    unknown = shop.client.get("/api/v1/members/99999/export", headers=bearer(manager))
    assert unknown.status_code == 404 and unknown.get_json()["type"] == "unknown-member"
    with shop.app.app_context():
        actions = db.session.execute(
            select(StaffAudit.action, StaffAudit.detail)
            .where(StaffAudit.target_id == str(member.member_id))
            .order_by(StaffAudit.id)
        ).all()
        db.session.rollback()
    assert [action for action, _ in actions] == ["member-export", "member-erase"]
    assert actions[1][1] == {"reason": "letter of 3 March"}


def test_retention_prunes_old_rows_only_and_is_idempotent(shop: Shop, runner: Any) -> None:
    old = utcnow() - timedelta(days=400)
    with shop.app.app_context():
        db.session.execute(
            insert(Attempt),
            [
                {"occurred_at": old, "operation": "scan", "outcome": "refused", "status_code": 404},
                {
                    "occurred_at": utcnow(),
                    "operation": "scan",
                    "outcome": "accepted",
                    "status_code": 200,
                },
            ],
        )
        db.session.add(
            IdempotencyKey(
                scope="till:1",
                key="old",
                operation="purchase",
                request_hash="0" * 64,
                created_at=old,
            )
        )
        db.session.commit()
    dry = runner.invoke(args=["retention", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "attempts: would delete 1 rows" in dry.output
    first = runner.invoke(args=["retention", "prune"])
    assert "attempts: deleted 1 rows" in first.output
    assert "idempotency_keys: deleted 1 rows" in first.output
    second = runner.invoke(args=["retention", "prune"])
    assert "attempts: deleted 0 rows" in second.output
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) >= 1
        db.session.rollback()


@pytest.mark.parametrize("period", ["30"])
def test_retention_period_is_configurable_per_table(shop: Shop, runner: Any, period: str) -> None:
    shop.app.config["PRIVACY_RETENTION_ATTEMPTS_DAYS"] = period
    with shop.app.app_context():
        db.session.execute(
            insert(Attempt),
            [
                {
                    "occurred_at": utcnow() - timedelta(days=45),
                    "operation": "scan",
                    "outcome": "refused",
                    "status_code": 404,
                }
            ],
        )
        db.session.commit()
    result = runner.invoke(args=["retention", "prune"])
    assert "attempts: deleted 1 rows older than 30 days" in result.output
