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
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask

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
    body = {"endpoint": "https://push.example/x", "keys": Browser().keys()}
    assert shop.client.post("/api/v1/me/push-subscriptions", json=body).status_code == 401
    staff = shop.client.post(
        "/api/v1/me/push-subscriptions", json=body, headers=bearer(shop.login_staff("admin"))
    )
    assert staff.status_code == 403
