"""Receivers on loopback for the delivery tests: a push service, a browser, a webhook receiver.

Each receiver is a real HTTP server on 127.0.0.1 that records what reaches it and answers a
scripted status (with ``Retry-After`` when asked). The worker is run in-process with
``deliver(app, now)``, exactly as ``flask worker --once`` runs it.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from app.extensions import db
from app.outbox.worker import run_until_idle

WORKER = "test-worker"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Receiver:
    """An HTTP server on loopback recording POSTs and answering scripted statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in order; then ``status``
        self.status = 201
        self.retry_after: str | None = None
        self.delay_seconds = 0.0  # how long each answer takes
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay_seconds)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "answered": status,
                        }
                    )
                self.send_response(status)
                if receiver.retry_after is not None and status in (429, 503):
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def trust(app: Flask, server: Receiver) -> None:
    """Exempt the loopback receiver from the outbound guard (as a development host would be)."""
    host = server.url.removeprefix("http://")
    trusted = app.config.get("OUTBOUND_TRUSTED_HOSTS") or ""
    app.config["OUTBOUND_TRUSTED_HOSTS"] = ",".join(filter(None, [trusted, host]))


@pytest.fixture
def receiver(app: Flask) -> Iterator[Receiver]:
    """Return a receiver on loopback that the app may call, closed after the test."""
    server = Receiver()
    trust(app, server)
    yield server
    server.close()


class Browser:
    """The browser's half of a push subscription: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def keys(self) -> dict[str, str]:
        return {"p256dh": b64url(self.public), "auth": b64url(self.auth)}

    def decrypt(self, body: bytes) -> bytes:
        """Decrypt with http_ece, an implementation independent of the sender's library."""
        plain: bytes = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return plain


def deliver(app: Flask, now: datetime | None = None, worker: str = WORKER) -> int:
    """Run the worker until nothing is due (at ``now``); return the rows handled."""
    with app.app_context():
        handled = run_until_idle(worker, now=now)
        db.session.remove()
    return handled
