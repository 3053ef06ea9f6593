"""Telling phones that a pass changed: the push interface, a logging stand-in, and APNs.

Apple Wallet refreshes a pass when Apple's push service (APNs) tells the device to: an empty
``{}`` payload sent to each push token the device registered, with ``apns-topic`` set to the
Pass Type ID. The device then asks the pass web service which passes changed and downloads
them; any lock-screen text comes from the fields' ``changeMessage``, not from the push.

Pushes go out only after the database transaction that changed the pass has committed
(``push_after_commit``): a device that reacts at once must find the new state, and a change
that rolled back must not wake anyone. The pusher is chosen once, at start-up:

* ``LoggingPusher`` (default): logs each push and keeps the last hundred in ``sent``. Used in
  development and tests, and on instances without APNs credentials;
* ``ApnsPusher``: token-based APNs authentication (an ES256 provider JWT made from the
  ``.p8`` key, renewed every 40 minutes, as Apple allows 20 to 60) over HTTP/2. The Python
  standard library has no HTTP/2 client and none is installed here, so the requests are sent
  by ``curl`` (built with nghttp2), one process per batch that reuses one connection. The
  JWT reaches curl on its standard input, never on its command line, where other local users
  could read it. Sending runs in a background thread so a till never waits for Apple. If
  ``APNS_KEY_FILE`` is set but the key, its id, the team or an HTTP/2-capable curl is
  missing, the app refuses to start (``WalletConfigurationError``).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.cards.passes import DEFAULT_PASS_TYPE_ID, WalletConfigurationError, wallet_setting
from app.db import utcnow
from app.extensions import db

log = logging.getLogger("app.cards.apns")

APNS_PRODUCTION_HOST = "https://api.push.apple.com"
PROVIDER_TOKEN_LIFETIME = timedelta(minutes=40)
PUSHER_EXTENSION = "lw_pass_pusher"
PENDING_PUSHES = "lw_pending_pass_pushes"
# APNs device tokens are hex (32 bytes today); anything else never reaches curl's config.
PUSH_TOKEN = re.compile(r"[0-9A-Fa-f]{16,200}")
_STATUS_LINE = re.compile(r"(\d{3}) \S*/3/device/([0-9A-Fa-f]+)")


class PassUpdatePusher(Protocol):
    """Something that tells devices, by push token, that one of their passes changed."""

    def push(self, push_tokens: list[str]) -> None:
        """Wake these devices so they fetch their changed passes."""


class LoggingPusher:
    """Log pushes instead of sending them; keeps the last hundred for inspection."""

    def __init__(self) -> None:
        self.sent: deque[tuple[str, ...]] = deque(maxlen=100)

    def push(self, push_tokens: list[str]) -> None:
        """Record and log the push (APNs is not configured)."""
        self.sent.append(tuple(push_tokens))
        log.info(
            "pass update push to %d device(s) logged, not sent: APNs is not configured",
            len(push_tokens),
        )


@dataclass(frozen=True)
class ApnsSettings:
    """What APNs token authentication needs, and where to send."""

    private_key: ec.EllipticCurvePrivateKey
    key_id: str
    team_id: str
    topic: str
    host: str = APNS_PRODUCTION_HOST
    timeout_seconds: int = 10


class ApnsPusher:
    """Send empty pass-update pushes to APNs over HTTP/2 with a provider token."""

    def __init__(self, settings: ApnsSettings, curl: str = "curl") -> None:
        self.settings = settings
        self.curl = curl
        self._lock = threading.Lock()
        self._token: tuple[str, datetime] | None = None

    def provider_token(self, now: datetime | None = None) -> str:
        """Return the ES256 provider JWT, made anew when it is 40 minutes old."""
        now = now or utcnow()
        with self._lock:
            if self._token is None or now - self._token[1] >= PROVIDER_TOKEN_LIFETIME:
                token = jwt.encode(
                    {"iss": self.settings.team_id, "iat": int(now.timestamp())},
                    self.settings.private_key,
                    algorithm="ES256",
                    headers={"kid": self.settings.key_id},
                )
                self._token = (token, now)
            return self._token[0]

    def push(self, push_tokens: list[str]) -> None:
        """Send the pushes in the background; failures are logged."""
        threading.Thread(
            target=self._send_logging_failures,
            args=(list(push_tokens),),
            daemon=True,
            name="apns-pass-push",
        ).start()

    def _send_logging_failures(self, push_tokens: list[str]) -> None:
        try:
            self.send(push_tokens)
        except Exception:  # a background thread has nobody else to tell
            log.exception("pass update push failed")

    def send(self, push_tokens: list[str]) -> dict[str, int]:
        """Send one push per token now; return APNs's HTTP status per token (0: no answer)."""
        tokens = [token for token in dict.fromkeys(push_tokens) if PUSH_TOKEN.fullmatch(token)]
        if not tokens:
            return {}
        result = subprocess.run(
            [self.curl, "--config", "-"],
            input=self._curl_config(tokens),
            capture_output=True,
            text=True,
            timeout=self.settings.timeout_seconds * len(tokens) + 5,
            check=False,
        )
        statuses = _statuses(result.stdout, tokens)
        for token, status in statuses.items():
            if status != 200:
                log.warning(
                    "APNs did not take the pass push to device ...%s: HTTP %s %s",
                    token[-8:],
                    status or "none",
                    result.stderr.strip()[:200],
                )
        return statuses

    def _curl_config(self, tokens: list[str]) -> str:
        """Write curl's configuration: one POST per device, all on one HTTP/2 connection."""
        settings = self.settings
        lines = [
            "http2",
            "silent",
            "show-error",
            'request = "POST"',
            f"max-time = {settings.timeout_seconds}",
            f'header = "authorization: bearer {self.provider_token()}"',
            f'header = "apns-topic: {settings.topic}"',
            # A pass push wakes Wallet in the background; it shows nothing by itself.
            'header = "apns-push-type: background"',
            'header = "apns-priority: 5"',
            'header = "content-type: application/json"',
            'data-binary = "{}"',
            'write-out = "\\n%{http_code} %{url_effective}\\n"',
        ]
        host = settings.host.rstrip("/")
        lines += [f'url = "{host}/3/device/{token}"' for token in tokens]
        return "\n".join(lines) + "\n"


def _statuses(output: str, tokens: list[str]) -> dict[str, int]:
    statuses = dict.fromkeys(tokens, 0)
    for line in output.splitlines():
        match = _STATUS_LINE.fullmatch(line.strip())
        if match and match.group(2) in statuses:
            statuses[match.group(2)] = int(match.group(1))
    return statuses


def _curl_with_http2() -> str:
    curl = shutil.which("curl")
    if curl is None:
        raise WalletConfigurationError(
            "APNS_KEY_FILE is set, but APNs needs HTTP/2 and this app sends it with curl,"
            " which is not on PATH"
        )
    version = subprocess.run([curl, "--version"], capture_output=True, text=True, check=False)
    if "HTTP2" not in version.stdout:
        raise WalletConfigurationError(
            "APNS_KEY_FILE is set, but the curl on PATH was built without HTTP/2 (nghttp2)"
        )
    return curl


def configured_pusher(config: Mapping[str, Any]) -> PassUpdatePusher:
    """Choose the pusher the settings ask for; refuse incomplete APNs settings."""
    key_file = wallet_setting("APNS_KEY_FILE", config=config)
    if not key_file:
        return LoggingPusher()
    key_id = wallet_setting("APNS_KEY_ID", config=config)
    team_id = wallet_setting("APNS_TEAM_ID", config=config) or wallet_setting(
        "APPLE_TEAM_ID", config=config
    )
    if not key_id or not team_id:
        raise WalletConfigurationError(
            "APNS_KEY_FILE needs APNS_KEY_ID and APNS_TEAM_ID (or APPLE_TEAM_ID)"
        )
    try:
        private_key = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise WalletConfigurationError(f"APNS_KEY_FILE={key_file!r}: {exc}") from exc
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise WalletConfigurationError("APNS_KEY_FILE must hold an EC P-256 key (Apple's .p8)")
    topic = wallet_setting("APNS_TOPIC", config=config) or wallet_setting(
        "APPLE_PASS_TYPE_ID", DEFAULT_PASS_TYPE_ID, config=config
    )
    settings = ApnsSettings(
        private_key=private_key,
        key_id=key_id,
        team_id=team_id,
        topic=topic or DEFAULT_PASS_TYPE_ID,
        host=wallet_setting("APNS_HOST", APNS_PRODUCTION_HOST, config=config)
        or APNS_PRODUCTION_HOST,
    )
    return ApnsPusher(settings, _curl_with_http2())


def install_pass_update_pusher(app: Flask) -> None:
    """Choose the app's pusher at start-up, so bad APNs settings stop the app at once."""
    pusher = configured_pusher(app.config)
    app.extensions[PUSHER_EXTENSION] = pusher
    log.info("pass update pushes: %s", type(pusher).__name__)


def pass_update_pusher() -> PassUpdatePusher:
    """Return the current app's pusher."""
    pusher: PassUpdatePusher = current_app.extensions.setdefault(PUSHER_EXTENSION, LoggingPusher())
    return pusher


def push_after_commit(push_tokens: Iterable[str]) -> None:
    """Push to these devices once the current transaction has committed (never if it rolls back)."""
    pending: set[str] = db.session.info.setdefault(PENDING_PUSHES, set())
    pending.update(push_tokens)


@event.listens_for(Session, "after_commit")
def _push_committed_changes(session: Session) -> None:
    tokens = session.info.pop(PENDING_PUSHES, None)
    if not tokens:
        return
    if not has_app_context():
        log.warning("%d pass update push(es) dropped: no app context", len(tokens))
        return
    try:
        pass_update_pusher().push(sorted(tokens))
    except Exception:  # the change is committed; a lost push only delays the phone's refresh
        log.exception("pass update push failed")


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_changes(session: Session) -> None:
    session.info.pop(PENDING_PUSHES, None)
