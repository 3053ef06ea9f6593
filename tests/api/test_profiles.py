"""Profile, consents with their history, and sign-in by e-mailed link."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select, update

from app.auth.models import MagicLinkToken
from app.db import utcnow
from app.extensions import db
from app.profiles.consent import has_consent, members_with_consent
from app.profiles.models import ConsentRecord
from tests.conftest import Shop, bearer


def _memory_mail(app: Flask) -> list:  # type: ignore[type-arg]
    app.config["MAIL_SENDER"] = "memory"
    app.extensions.pop("lw_mail_sender", None)
    outbox: list = app.extensions.setdefault("lw_mail_outbox", [])  # type: ignore[type-arg]
    outbox.clear()
    return outbox


def test_profile_starts_empty_and_patch_changes_only_the_given_fields(shop: Shop) -> None:
    token = shop.login_member(0)
    first = shop.client.get("/api/v1/me/profile", headers=bearer(token)).get_json()
    assert first["birthday"] is None and first["phone"] is None
    response = shop.client.patch(
        "/api/v1/me/profile",
        json={
            "birthday": "1990-04-02",
            "preferred_language": "de",
            "phone": "+49 (30) 1234-567",
            "home_store_id": shop.tills[0]["store_id"],
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["birthday"] == "1990-04-02"
    assert body["phone"] == "+49301234567"
    assert body["display_name"] == first["display_name"]
    cleared = shop.client.patch(
        "/api/v1/me/profile", json={"phone": None, "display_name": "Ada L."}, headers=bearer(token)
    ).get_json()
    assert cleared["phone"] is None and cleared["birthday"] == "1990-04-02"
    assert shop.client.get("/api/v1/me", headers=bearer(token)).get_json()["display_name"] == (
        "Ada L."
    )


def test_profile_refuses_unknown_store_and_implausible_values(shop: Shop) -> None:
    token = shop.login_member(0)
    store = shop.client.patch(
        "/api/v1/me/profile", json={"home_store_id": 999}, headers=bearer(token)
    )
    assert store.status_code == 404 and store.get_json()["type"] == "unknown-store"
    for body in ({"birthday": "2999-01-01"}, {"preferred_language": "Deutsch!"}, {"phone": "abc"}):
        response = shop.client.patch("/api/v1/me/profile", json=body, headers=bearer(token))
        assert response.status_code == 422, body
        assert response.get_json()["type"] == "validation-error"


def test_consent_changes_are_kept_with_time_source_and_who(shop: Shop) -> None:
    token = shop.login_member(0)
    member_id = shop.member_id(0)
    state = shop.client.get("/api/v1/me/consents", headers=bearer(token)).get_json()
    assert all(not c["granted"] for c in state["consents"])  # opt-in: nothing by default
    shop.client.put("/api/v1/me/consents/marketing", json={"granted": True}, headers=bearer(token))
    again = shop.client.put(
        "/api/v1/me/consents/marketing", json={"granted": True}, headers=bearer(token)
    )
    assert again.status_code == 200  # no change: nothing recorded
    manager = shop.login_staff("manager")
    withdrawn = shop.client.put(
        f"/api/v1/members/{member_id}/consents/marketing",
        json={"granted": False, "source": "till", "wording_version": "till-2026"},
        headers=bearer(manager),
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    history = shop.client.get("/api/v1/me/consents", headers=bearer(token)).get_json()["history"]
    assert [(h["granted"], h["source"]) for h in history] == [(True, "app"), (False, "till")]
    assert history[0]["recorded_by"] == "member"
    assert history[1]["recorded_by"].startswith("staff:")
    assert history[1]["wording_version"] == "till-2026"
    unknown = shop.client.put(
        "/api/v1/me/consents/telepathy", json={"granted": True}, headers=bearer(token)
    )
    assert unknown.status_code == 404 and unknown.get_json()["type"] == "unknown-consent-purpose"


def test_has_consent_answers_for_any_moment_in_the_history(shop: Shop) -> None:
    member_id = shop.member_id(0)
    token = shop.login_member(0)
    shop.client.put("/api/v1/me/consents/surveys", json={"granted": True}, headers=bearer(token))
    with shop.app.app_context():
        given_at = db.session.scalar(select(ConsentRecord.recorded_at))
        assert given_at is not None
        assert has_consent(member_id, "surveys")
        assert not has_consent(member_id, "surveys", at=given_at - timedelta(seconds=1))
        assert not has_consent(member_id, "marketing")
        assert members_with_consent([member_id, shop.member_id(1)], "surveys") == {member_id}
        db.session.rollback()
    shop.client.put("/api/v1/me/consents/surveys", json={"granted": False}, headers=bearer(token))
    with shop.app.app_context():
        assert not has_consent(member_id, "surveys")
        assert has_consent(member_id, "surveys", at=given_at)
        db.session.rollback()


def test_cashier_cannot_record_consent_and_members_cannot_read_others(shop: Shop) -> None:
    cashier = shop.login_staff("cashier")
    response = shop.client.put(
        f"/api/v1/members/{shop.member_id(0)}/consents/marketing",
        json={"granted": True},
        headers=bearer(cashier),
    )
    assert response.status_code == 403
    member = shop.login_member(1)
    other = shop.client.get(f"/api/v1/members/{shop.member_id(0)}/consents", headers=bearer(member))
    assert other.status_code == 403


def test_sign_up_stays_short_and_records_the_consents_ticked(shop: Shop) -> None:
    response = shop.client.post(
        "/api/v1/auth/register",
        json={
            "email": "new@example.org",
            "password": "long-enough-1",
            "display_name": "New",
            "consents": {"marketing": True, "surveys": False},
        },
    )
    assert response.status_code == 201, response.get_json()
    member_id = response.get_json()["member_id"]
    with shop.app.app_context():
        assert has_consent(member_id, "marketing")
        assert not has_consent(member_id, "surveys")
        db.session.rollback()


def _token_from(text: str) -> str:
    match = re.search(r"#/magic/(lwm_[A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


def test_magic_link_signs_a_member_in_once(shop: Shop) -> None:
    outbox = _memory_mail(shop.app)
    email = shop.members[0]["email"]
    response = shop.client.post("/api/v1/auth/magic-link", json={"email": email.upper()})
    assert response.status_code == 202
    assert len(outbox) == 1 and outbox[0].to == email
    token = _token_from(outbox[0].text)
    with shop.app.app_context():
        stored = db.session.scalars(select(MagicLinkToken.token_hash)).all()
        db.session.rollback()
    assert token not in stored and len(stored) == 1  # only the hash is kept
    session = shop.client.post("/api/v1/auth/magic-link/session", json={"token": token})
    assert session.status_code == 201, session.get_json()
    assert session.get_json()["created"] is False
    me = shop.client.get("/api/v1/me", headers=bearer(session.get_json()["access_token"]))
    assert me.get_json()["member_id"] == shop.member_id(0)
    replay = shop.client.post("/api/v1/auth/magic-link/session", json={"token": token})
    assert replay.status_code == 401 and replay.get_json()["type"] == "invalid-magic-link"


def test_expired_magic_link_is_refused(shop: Shop) -> None:
    outbox = _memory_mail(shop.app)
    shop.client.post("/api/v1/auth/magic-link", json={"email": shop.members[0]["email"]})
    token = _token_from(outbox[0].text)
    with shop.app.app_context():
        db.session.execute(
            update(MagicLinkToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    response = shop.client.post("/api/v1/auth/magic-link/session", json={"token": token})
    assert response.status_code == 401 and response.get_json()["type"] == "invalid-magic-link"


def test_magic_link_for_an_unknown_email_signs_up_only_when_used(shop: Shop) -> None:
    from app.accounts.models import Member

    outbox = _memory_mail(shop.app)
    response = shop.client.post(
        "/api/v1/auth/magic-link",
        json={"email": "linky@example.org", "display_name": "Linky", "consents": {"surveys": True}},
    )
    assert response.status_code == 202  # the same answer as for a member: no enumeration
    with shop.app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(Member.email == "linky@example.org")) == 0
        )
        db.session.rollback()
    session = shop.client.post(
        "/api/v1/auth/magic-link/session", json={"token": _token_from(outbox[0].text)}
    )
    assert session.status_code == 201 and session.get_json()["created"] is True
    profile = shop.client.get(
        "/api/v1/me/profile", headers=bearer(session.get_json()["access_token"])
    ).get_json()
    assert profile["email"] == "linky@example.org" and profile["display_name"] == "Linky"
    with shop.app.app_context():
        assert has_consent(profile["member_id"], "surveys")
        db.session.rollback()


def test_console_sender_is_the_default_and_sends_nothing(shop: Shop) -> None:
    from app.mail import ConsoleSender, mail_sender

    shop.app.extensions.pop("lw_mail_sender", None)
    shop.app.config.pop("MAIL_SENDER", None)
    with shop.app.app_context():
        assert isinstance(mail_sender(), ConsoleSender)
    response = shop.client.post("/api/v1/auth/magic-link", json={"email": "x@example.org"})
    assert response.status_code == 202


def test_members_list_the_stores_by_name_to_choose_a_home_store(shop: Shop) -> None:
    member = bearer(shop.login_member(0))
    directory = shop.client.get("/api/v1/me/stores", headers=member)
    assert directory.status_code == 200
    stores = directory.get_json()
    assert {store["id"] for store in stores} >= {till["store_id"] for till in shop.tills}
    assert [store["name"] for store in stores] == sorted(store["name"] for store in stores)
    assert set(stores[0]) == {"id", "name", "address"}
    staff = shop.client.get("/api/v1/me/stores", headers=bearer(shop.login_staff("manager")))
    assert staff.status_code == 403 and staff.get_json()["type"] == "forbidden"
