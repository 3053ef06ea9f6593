"""The Apple pass web service: registration, update queries, downloads, pushes, and APNs."""

from __future__ import annotations

import io
import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.accounts.models import Member
from app.cards import apple_web_service
from app.cards.apns import ApnsPusher, ApnsSettings, LoggingPusher, pass_update_pusher
from app.cards.apple_web_service import ApplePassRegistration, notify_pass_changed
from app.cards.passes import WalletConfigurationError
from app.extensions import db
from tests.api.delivery_helpers import deliver
from tests.conftest import Shop, base_config, bearer

PASS_TYPE = "pass.example.loyalty"
DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH_TOKEN = "ab" * 32


class Clock:
    """A settable clock for the web service's update times and tags."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(apple_web_service, "utcnow", clock)
    return clock


def downloaded_pass(shop: Shop, index: int = 0) -> dict[str, Any]:
    """Download the member's pass as a phone would first get it, and return its pass.json."""
    response = shop.client.get(
        "/api/v1/me/card/pass.pkpass", headers=bearer(shop.login_member(index))
    )
    assert response.status_code == 200
    return pass_json_of(response.data)


def pass_json_of(bundle: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        result: dict[str, Any] = json.loads(archive.read("pass.json"))
    return result


def apple(token: str) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def registration_url(serial: str, device: str = DEVICE, pass_type: str = PASS_TYPE) -> str:
    return f"/passkit/v1/devices/{device}/registrations/{pass_type}/{serial}"


def register(
    shop: Shop, pass_json: dict[str, Any], push_token: str = PUSH_TOKEN, device: str = DEVICE
) -> Any:
    return shop.client.post(
        registration_url(pass_json["serialNumber"], device),
        json={"pushToken": push_token},
        headers=apple(pass_json["authenticationToken"]),
    )


def updates(shop: Shop, tag: str | None = None, device: str = DEVICE) -> Any:
    query = "" if tag is None else f"?passesUpdatedSince={tag}"
    return shop.client.get(f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE}{query}")


def set_points(shop: Shop, points: int, index: int = 0) -> None:
    with shop.app.app_context():
        member = db.session.get(Member, shop.member_id(index))
        assert member is not None
        member.points_balance = points
        db.session.commit()


def registrations(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(ApplePassRegistration)).all()
        return [(r.device_library_id, r.serial_number, r.push_token) for r in rows]


def test_pass_routes_refuse_callers_without_the_pass_token(shop: Shop, clock: Clock) -> None:
    pass_json = downloaded_pass(shop)
    other_member_pass = downloaded_pass(shop, index=1)
    serial = pass_json["serialNumber"]
    body = {"pushToken": PUSH_TOKEN}
    refusals = [
        ({}, registration_url(serial), "pass-authentication-required"),
        (bearer(shop.login_member()), registration_url(serial), "pass-authentication-required"),
        (apple("x" * 40), registration_url(serial), "invalid-pass-token"),
        (
            apple(other_member_pass["authenticationToken"]),
            registration_url(serial),
            "invalid-pass-token",
        ),
        (
            apple(pass_json["authenticationToken"]),
            registration_url(serial, pass_type="pass.other"),
            "invalid-pass-token",
        ),
        (
            apple(pass_json["authenticationToken"]),
            registration_url("NOT-A-CARD"),
            "invalid-pass-token",
        ),
    ]
    for headers, url, problem_type in refusals:
        for method in ("POST", "DELETE"):
            response = shop.client.open(url, method=method, json=body, headers=headers)
            assert response.status_code == 401, (url, headers)
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["type"] == problem_type
            assert response.headers["WWW-Authenticate"] == "ApplePass"
    download = shop.client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers=apple("y" * 40))
    assert download.get_json()["type"] == "invalid-pass-token"
    malformed = shop.client.post(
        registration_url(serial),
        json={"pushToken": "not hex"},
        headers=apple(pass_json["authenticationToken"]),
    )
    assert (malformed.status_code, malformed.get_json()["type"]) == (422, "validation-error")


def test_device_learns_which_passes_changed_since_its_tag_until_it_unregisters(
    app: Flask, shop: Shop, clock: Clock
) -> None:
    pass_json = downloaded_pass(shop)
    assert register(shop, pass_json).status_code == 201
    clock.advance(5)
    everything = updates(shop)
    assert everything.status_code == 200
    assert everything.get_json()["serialNumbers"] == [pass_json["serialNumber"]]
    tag = everything.get_json()["lastUpdated"]

    clock.advance(5)
    assert updates(shop, tag).status_code == 204

    set_points(shop, 420)
    clock.advance(5)
    changed = updates(shop, tag)
    assert changed.status_code == 200
    assert changed.get_json()["serialNumbers"] == [pass_json["serialNumber"]]
    clock.advance(5)
    assert updates(shop, changed.get_json()["lastUpdated"]).status_code == 204
    assert updates(shop, device="f" * 32).status_code == 204  # a device with no passes

    # Once the device removed the pass, it is no longer told about it.
    removed = shop.client.delete(
        registration_url(pass_json["serialNumber"]), headers=apple(pass_json["authenticationToken"])
    )
    assert removed.status_code == 200
    assert registrations(app) == []
    assert updates(shop).status_code == 204
    log = shop.client.post("/passkit/v1/log", json={"logs": ["Web service error: 401 for pass"]})
    assert log.status_code == 200


def test_device_downloads_the_current_pass_and_gets_304_when_it_has_it(
    shop: Shop, clock: Clock
) -> None:
    clock.now = datetime(2026, 5, 1, 12, 0, 0, 750000, tzinfo=UTC)
    pass_json = downloaded_pass(shop)
    url = f"/passkit/v1/passes/{PASS_TYPE}/{pass_json['serialNumber']}"
    headers = apple(pass_json["authenticationToken"])
    first = shop.client.get(url, headers=headers)
    assert first.status_code == 200
    assert first.mimetype == "application/vnd.apple.pkpass"
    assert pass_json_of(first.data)["authenticationToken"] == pass_json["authenticationToken"]
    last_modified = first.headers["Last-Modified"]
    # Rounded up to whole seconds, as HTTP dates are.
    assert last_modified == format_datetime(datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC), usegmt=True)

    clock.advance(1)
    unchanged = shop.client.get(url, headers={**headers, "If-Modified-Since": last_modified})
    assert unchanged.status_code == 304

    set_points(shop, 99)
    # Changed within the same second as the first download: still not hidden by a 304.
    clock.advance(0.2)
    changed = shop.client.get(url, headers={**headers, "If-Modified-Since": last_modified})
    assert changed.status_code == 200
    assert pass_json_of(changed.data)["storeCard"]["primaryFields"][0]["value"] == 99
    assert changed.headers["Last-Modified"] != last_modified


def test_reissued_card_pass_is_served_voided_and_the_new_card_is_a_new_pass(
    shop: Shop, clock: Clock
) -> None:
    old_pass = downloaded_pass(shop)
    assert register(shop, old_pass).status_code == 201
    reissued = shop.client.post("/api/v1/me/card/reissue", headers=bearer(shop.login_member()))
    assert reissued.status_code == 201
    clock.advance(5)
    assert updates(shop).get_json()["serialNumbers"] == [old_pass["serialNumber"]]
    voided = shop.client.get(
        f"/passkit/v1/passes/{PASS_TYPE}/{old_pass['serialNumber']}",
        headers=apple(old_pass["authenticationToken"]),
    )
    assert voided.status_code == 200
    assert pass_json_of(voided.data)["voided"] is True
    new_pass = downloaded_pass(shop)
    assert new_pass["serialNumber"] != old_pass["serialNumber"]
    assert new_pass["authenticationToken"] != old_pass["authenticationToken"]
    assert "voided" not in new_pass


def test_notify_pass_changed_pushes_after_commit_and_never_after_rollback(
    app: Flask, shop: Shop
) -> None:
    pass_json = downloaded_pass(shop)
    register(shop, pass_json)
    register(shop, pass_json, push_token="ef" * 32, device="b" * 32)
    with app.app_context():
        pusher = pass_update_pusher()
        assert isinstance(pusher, LoggingPusher)
        pusher.sent.clear()

        member = db.session.get(Member, shop.member_id())
        assert member is not None
        member.points_balance = 10
        assert notify_pass_changed(member.id) == 2
        assert list(pusher.sent) == []  # not before the commit
        db.session.commit()
        assert list(pusher.sent) == [tuple(sorted([PUSH_TOKEN, "ef" * 32]))]

        member.points_balance = 20
        assert notify_pass_changed(member.id) == 2
        db.session.rollback()
        assert len(pusher.sent) == 1

        assert notify_pass_changed(member.id) == 0  # nothing a pass shows has changed
        assert notify_pass_changed(shop.member_id(1)) == 0  # no device holds that pass
        db.session.commit()
        assert len(pusher.sent) == 1


def test_concurrent_registrations_of_one_device_make_one_registration_with_the_newest_token(
    app: Flask, shop: Shop
) -> None:
    pass_json = downloaded_pass(shop)
    url = registration_url(pass_json["serialNumber"])
    headers = apple(pass_json["authenticationToken"])
    statuses: list[int] = []
    start = threading.Barrier(6)

    def register_from_a_thread() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(
            client.post(url, json={"pushToken": PUSH_TOKEN}, headers=headers).status_code
        )

    threads = [threading.Thread(target=register_from_a_thread) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert registrations(app) == [(DEVICE, pass_json["serialNumber"], PUSH_TOKEN)]
    # A later registration with a new push token keeps the one row and the newest token.
    assert register(shop, pass_json, push_token="cd" * 32).status_code == 200
    assert registrations(app) == [(DEVICE, pass_json["serialNumber"], "cd" * 32)]


# --- APNs -----------------------------------------------------------------------------------


class FakeApns(BaseHTTPRequestHandler):
    """Answers like APNs: 200, or 410 Unregistered for tokens starting with "dead"."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        FakeApns.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        gone = self.path.rsplit("/", 1)[-1].startswith("dead")
        answer = b'{"reason":"Unregistered"}' if gone else b""
        self.send_response(410 if gone else 200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def fake_apns() -> Iterator[str]:
    if shutil.which("curl") is None:
        pytest.skip("curl not on PATH")
    FakeApns.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApns)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_apns_pusher_sends_an_empty_push_per_device_with_a_provider_token(fake_apns: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pusher = ApnsPusher(
        ApnsSettings(
            private_key=key,
            key_id="KEY1234567",
            team_id="TEAM123456",
            topic=PASS_TYPE,
            host=fake_apns,
        ),
        curl=shutil.which("curl") or "curl",
    )
    gone = "dead" + "00" * 30
    statuses = pusher.send([PUSH_TOKEN, gone, "not-a-token"])
    assert statuses == {PUSH_TOKEN: 200, gone: 410}
    assert [r["path"] for r in FakeApns.received] == [
        f"/3/device/{PUSH_TOKEN}",
        f"/3/device/{gone}",
    ]
    for request in FakeApns.received:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        assert request["body"] == b"{}"
        assert headers["apns-topic"] == PASS_TYPE
        scheme, token = headers["authorization"].split(" ")
        assert scheme == "bearer"
        assert jwt.get_unverified_header(token)["kid"] == "KEY1234567"
        claims = jwt.decode(token, key.public_key(), algorithms=["ES256"])
        assert claims["iss"] == "TEAM123456"
    # The provider token is reused, not made per push.
    assert pusher.provider_token() == token


def test_apns_settings_are_checked_when_the_app_starts(tmp_path: Path, instance_path: Path) -> None:
    key_file = tmp_path / "AuthKey_KEY1234567.p8"
    key_file.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = base_config(instance_path, f"sqlite:///{tmp_path / 'x.db'}")
    config["APNS_KEY_FILE"] = str(key_file)
    with pytest.raises(WalletConfigurationError, match="APNS_KEY_ID"):
        create_app(config)
    config.update(APNS_KEY_ID="KEY1234567", APPLE_TEAM_ID="TEAM123456")
    if shutil.which("curl") is not None:
        app = create_app(config)
        assert isinstance(app.extensions["lw_pass_pusher"], ApnsPusher)
    config["APNS_KEY_FILE"] = str(tmp_path / "missing.p8")
    with pytest.raises(WalletConfigurationError, match="missing.p8"):
        create_app(config)


def test_a_purchase_wakes_the_members_registered_passes_once(app: Flask, shop: Shop) -> None:
    pass_json = downloaded_pass(shop)
    register(shop, pass_json)
    with app.app_context():
        pusher = pass_update_pusher()
        assert isinstance(pusher, LoggingPusher)
        pusher.sent.clear()
    till = shop.open_till()
    response = shop.client.post(
        "/api/v1/till/purchases",
        json={
            "code": shop.static_code(),
            "receipt_id": "R-pass-1",
            "amount_cents": 2500,
            "currency": "EUR",
        },
        headers={**bearer(till), "Idempotency-Key": "pass-push-1"},
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert list(pass_update_pusher().sent) == [], "the till does not wait for Apple"
    deliver(app)  # the worker: points.changed and tier.changed wake the pass once
    with app.app_context():
        assert list(pass_update_pusher().sent) == [(PUSH_TOKEN,)]


def test_registration_without_the_pass_token_is_refused_before_the_body_is_read(
    shop: Shop,
) -> None:
    pass_json = downloaded_pass(shop)
    response = shop.client.post(registration_url(pass_json["serialNumber"]), json={})
    assert response.status_code == 401
    assert response.get_json()["type"] == "pass-authentication-required"
