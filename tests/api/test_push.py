"""Web Push: messages are encrypted for the subscription, and only its key decrypts them.

A local HTTP server plays the push service. The test holds the browser's side: a P-256 key pair
and an auth secret of its own. It decrypts what the app sent with RFC 8291 / RFC 8188 written
out here, independently of the library that encrypted it, and checks the VAPID JWT with the
public key the API publishes.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask

from app.extensions import db
from app.outbox.models import OutboxMessage
from tests.api.delivery_helpers import deliver
from tests.conftest import Shop, bearer


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on localhost that records what it receives and answers a chosen status."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(app: Flask) -> Iterator[PushService]:
    """A fake push service on localhost, which the app may call only as a trusted host."""
    service = PushService()
    app.config["OUTBOUND_TRUSTED_HOSTS"] = service.url.removeprefix("http://")
    yield service
    service.close()


class Browser:
    """The browser's half of a push subscription."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def keys(self) -> dict[str, str]:
        return {"p256dh": b64url(self.public), "auth": b64url(self.auth)}

    def decrypt(self, body: bytes) -> bytes:
        """Decrypt an aes128gcm Web Push message (RFC 8291 over RFC 8188)."""
        salt, record_size, key_length = body[:16], struct.unpack("!L", body[16:20])[0], body[20]
        sender_public = body[21 : 21 + key_length]
        ciphertext = body[21 + key_length :]
        assert record_size >= len(ciphertext)
        shared = self.key.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        )
        ikm = HKDF(
            hashes.SHA256(), 32, self.auth, b"WebPush: info\x00" + self.public + sender_public
        ).derive(shared)
        cek = HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\x00").derive(ikm)
        nonce = HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\x00").derive(ikm)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        assert padded.rstrip(b"\x00").endswith(b"\x02"), (
            "the last record ends with the 0x02 delimiter"
        )
        return padded.rstrip(b"\x00")[:-1]


def subscribe(shop: Shop, token: str, endpoint: str, browser: Browser) -> int:
    response = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={"endpoint": endpoint, "keys": browser.keys()},
        headers=bearer(token),
    )
    return response.status_code


def test_push_message_decrypts_with_the_subscribers_key_and_carries_a_valid_vapid_jwt(
    shop: Shop, push_service: PushService
) -> None:
    token = shop.login_member()
    browser = Browser()
    endpoint = f"{push_service.url}/push/abc"
    assert subscribe(shop, token, endpoint, browser) == 201
    assert subscribe(shop, token, endpoint, browser) == 200  # re-subscribing on launch is an upsert

    report = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    assert report.status_code == 202
    assert report.get_json() == {"queued": 1}
    assert push_service.received == [], "the request only queues; the worker sends"
    deliver(shop.app)

    [message] = push_service.received
    headers = {k.lower(): v for k, v in message["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) >= 3600, "a TTL of 0 would drop messages for offline phones"
    payload = json.loads(browser.decrypt(message["body"]))
    assert payload["title"] == "Loyalty Wallet"

    # The VAPID token verifies with the public key the API hands to browsers.
    scheme, _, credentials = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    params = dict(part.strip().split("=", 1) for part in credentials.split(","))
    published = shop.client.get("/api/v1/push/vapid-public-key").get_json()["public_key"]
    assert params["k"] == published
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(published))
    claims = jwt.decode(
        params["t"], public_key, algorithms=["ES256"], options={"verify_aud": False}
    )
    assert claims["sub"].startswith("mailto:")
    assert claims["aud"].startswith("http://127.0.0.1")


def test_a_stranger_cannot_decrypt_the_message(shop: Shop, push_service: PushService) -> None:
    token = shop.login_member()
    subscribe(shop, token, f"{push_service.url}/push/x", Browser())
    shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    deliver(shop.app)
    with pytest.raises(Exception):  # noqa: B017 (any decryption failure will do)
        Browser().decrypt(push_service.received[0]["body"])


def test_gone_subscription_is_removed(shop: Shop, push_service: PushService) -> None:
    token = shop.login_member()
    subscribe(shop, token, f"{push_service.url}/push/gone", Browser())
    push_service.status = 410
    first = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token)).get_json()
    assert first == {"queued": 1}
    deliver(shop.app)
    second = shop.client.post(
        "/api/v1/me/push-subscriptions/test", headers=bearer(token)
    ).get_json()
    assert second == {"queued": 0}, "the 410 removed the subscription"
    deliver(shop.app)
    assert len(push_service.received) == 1


def test_a_member_only_pushes_to_their_own_devices(shop: Shop, push_service: PushService) -> None:
    subscribe(shop, shop.login_member(0), f"{push_service.url}/push/ada", Browser())
    report = shop.client.post(
        "/api/v1/me/push-subscriptions/test", headers=bearer(shop.login_member(1))
    )
    assert report.get_json()["queued"] == 0
    deliver(shop.app)
    assert push_service.received == []


def test_push_subscriptions_need_a_member_token(shop: Shop) -> None:
    body = {"endpoint": "https://1.1.1.1/x", "keys": Browser().keys()}
    assert shop.client.post("/api/v1/me/push-subscriptions", json=body).status_code == 401
    staff = shop.client.post(
        "/api/v1/me/push-subscriptions", json=body, headers=bearer(shop.login_staff("admin"))
    )
    assert staff.status_code == 403


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9/push",
        "https://127.0.0.1:9/push",
        "https://10.0.0.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push",
        "https://localhost/push",
        "http://1.1.1.1/push",
    ],
)
def test_endpoints_on_private_addresses_or_without_https_are_refused(
    shop: Shop, endpoint: str
) -> None:
    """The server would POST there on every send: refused with 422 at subscribe time."""
    token = shop.login_member()
    response = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={"endpoint": endpoint, "keys": Browser().keys()},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert response.get_json()["type"] == "endpoint-not-allowed"
    assert response.mimetype == "application/problem+json"


def test_a_trusted_development_host_is_refused_once_it_is_no_longer_trusted(
    shop: Shop, push_service: PushService
) -> None:
    """Send time checks the endpoint again: a stored endpoint that is now refused is not called."""
    token = shop.login_member()
    assert subscribe(shop, token, f"{push_service.url}/push/dev", Browser()) == 201
    shop.app.config["OUTBOUND_TRUSTED_HOSTS"] = ""
    report = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    assert report.get_json() == {"queued": 1}
    deliver(shop.app)
    assert push_service.received == []


def test_the_allow_list_of_push_services_is_enforced(shop: Shop) -> None:
    shop.app.config["PUSH_ALLOWED_HOSTS"] = "*.push.services.example,8.8.8.8"
    token = shop.login_member()
    assert subscribe(shop, token, "https://1.1.1.1/push/a", Browser()) == 422
    assert subscribe(shop, token, "https://8.8.8.8/push/a", Browser()) == 201


def test_keys_that_are_not_a_p256_point_and_a_16_byte_secret_are_refused(shop: Shop) -> None:
    token = shop.login_member()
    good = Browser().keys()
    off_curve = b64url(b"\x04" + bytes(range(1, 65)))  # the right length, not on the curve
    bad_keys = [
        {"p256dh": off_curve, "auth": good["auth"]},
        {"p256dh": good["p256dh"][:-4], "auth": good["auth"]},
        {"p256dh": "!" * 87, "auth": good["auth"]},
        {"p256dh": good["p256dh"], "auth": b64url(b"x" * 12)},
        {"p256dh": good["p256dh"], "auth": "%%%%%%%%%%%%%%%%%%%%%%"},
    ]
    for keys in bad_keys:
        response = shop.client.post(
            "/api/v1/me/push-subscriptions",
            json={"endpoint": "https://1.1.1.1/push/k", "keys": keys},
            headers=bearer(token),
        )
        assert response.status_code == 422, keys
        assert response.get_json()["type"] == "invalid-push-keys"


def test_another_member_cannot_take_over_a_subscription(
    shop: Shop, push_service: PushService
) -> None:
    endpoint = f"{push_service.url}/push/ada-phone"
    ada, bob = shop.login_member(0), shop.login_member(1)
    assert subscribe(shop, ada, endpoint, Browser()) == 201
    taken = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={"endpoint": endpoint, "keys": Browser().keys()},
        headers=bearer(bob),
    )
    assert taken.status_code == 409
    assert taken.get_json()["type"] == "push-endpoint-taken"
    # Still Ada's, with Ada's keys: her test message arrives and decrypts for her browser.
    shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(bob))
    deliver(shop.app)
    assert push_service.received == []
    report = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(ada))
    assert report.get_json() == {"queued": 1}
    deliver(shop.app)
    assert [message["path"] for message in push_service.received] == ["/push/ada-phone"]


def test_a_member_keeps_at_most_the_cap_of_subscriptions(
    shop: Shop, push_service: PushService
) -> None:
    shop.app.config["PUSH_MAX_SUBSCRIPTIONS_PER_MEMBER"] = 3
    token = shop.login_member()
    for index in range(5):
        assert subscribe(shop, token, f"{push_service.url}/push/{index}", Browser()) == 201
    report = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    assert report.get_json() == {"queued": 3}
    deliver(shop.app)
    paths = sorted(message["path"] for message in push_service.received)
    assert paths == ["/push/2", "/push/3", "/push/4"], "the oldest made room for the newest"


def test_sends_to_push_services_that_never_answer_are_bounded(
    shop: Shop, push_service: PushService
) -> None:
    """Endpoints that accept the connection and never answer hold neither request nor worker."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    host = f"127.0.0.1:{silent.getsockname()[1]}"
    shop.app.config["OUTBOUND_TRUSTED_HOSTS"] = host
    shop.app.config["OUTBOX_SEND_TIMEOUT_SECONDS"] = 1.0
    token = shop.login_member()
    try:
        for index in range(4):
            assert subscribe(shop, token, f"http://{host}/push/{index}", Browser()) == 201
        report = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
        assert report.get_json() == {"queued": 4}, "the request only queues"
        started = time.monotonic()
        deliver(shop.app)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    # Four sends of at most a second each (plus the machine's slack), not four hung workers.
    assert elapsed < 4 * 1.0 + 4.0, elapsed
    with shop.app.app_context():
        statuses = db.session.scalars(
            sa.select(OutboxMessage.status).where(OutboxMessage.kind == "push")
        ).all()
    assert len(statuses) == 4
    assert "delivered" not in statuses, "unanswered sends stay queued for a retry"
