"""Secrets the app generates for itself on first run, kept in the instance folder.

Nothing secret is committed or configured by hand: the first process that needs a secret
creates ``secrets.json`` in the instance folder with owner-only permissions (0600), under a
file lock so several workers starting at once agree on one value. Several hosts share secrets
by sharing the instance folder (or copying the file) before they start.

The file holds named random keys (coupon lookup HMAC, coupon sealing, scan tokens, log
fingerprints), the list of access-token signing keys, and documents other packages keep
there (the card-signing key ring). Token keys rotate with
``flask --app app keys rotate-token-key``: the new key signs, the previous one still
verifies until every token it signed has expired.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.db import utcnow

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True)
class TokenKey:
    """One HMAC key for access tokens, named by its ``kid``."""

    kid: str
    secret: bytes
    created_at: datetime


class InstanceSecrets:
    """Read and create the secrets in one instance folder."""

    def __init__(self, instance_path: str | Path) -> None:
        self.folder = Path(instance_path)
        self.path = self.folder / SECRETS_FILE
        self._cache: dict[str, Any] | None = None
        self._cache_mtime: float | None = None
        self._parsed_token_keys: tuple[Any, tuple[TokenKey, ...]] | None = None

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the file lock and yield the current contents; write them back on exit."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.folder / ".secrets.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._read_file()
                before = json.dumps(data, sort_keys=True)
                yield data
                if json.dumps(data, sort_keys=True) != before:
                    self._write_file(data)
                self._cache = data
                self._cache_mtime = self.path.stat().st_mtime if self.path.exists() else None
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_file(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        loaded: dict[str, Any] = json.loads(self.path.read_text())
        return loaded

    def _write_file(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def _data(self) -> dict[str, Any]:
        # Another process (the rotate command, a sibling worker) may have changed the file.
        try:
            mtime: float | None = os.stat(self.path).st_mtime
        except FileNotFoundError:
            mtime = None
        if self._cache is None or mtime != self._cache_mtime:
            self._cache_mtime = mtime
            with self._locked() as data:
                self._cache = data
        return self._cache

    def named_key(self, name: str, size: int = 32) -> bytes:
        """Return the random key called ``name``, creating it on first use."""
        keys = self._data().get("keys", {})
        if name not in keys:
            with self._locked() as data:
                data.setdefault("keys", {})
                if name not in data["keys"]:
                    data["keys"][name] = _b64(secrets.token_bytes(size))
                keys = data["keys"]
        return base64.b64decode(keys[name])

    def token_keys(self) -> tuple[TokenKey, ...]:
        """Return the access-token keys, newest first, creating the first one if needed.

        The same tuple is returned until the keys change, so callers may cache what they
        verified with it (``app.auth.tokens``).
        """
        entries = self._data().get("token_keys")
        if not entries:
            self.rotate_token_key()
            entries = self._data()["token_keys"]
        if self._parsed_token_keys is not None and self._parsed_token_keys[0] is entries:
            return self._parsed_token_keys[1]  # the file did not change since then
        keys = tuple(
            TokenKey(
                e["kid"], base64.b64decode(e["secret"]), datetime.fromisoformat(e["created_at"])
            )
            for e in entries
        )
        self._parsed_token_keys = (entries, keys)
        return keys

    def rotate_token_key(self, keep: int = 2) -> TokenKey:
        """Add a new access-token signing key and keep only the newest ``keep`` keys."""
        key = TokenKey(secrets.token_hex(4), secrets.token_bytes(32), utcnow())
        with self._locked() as data:
            entry = {
                "kid": key.kid,
                "secret": _b64(key.secret),
                "created_at": key.created_at.isoformat(),
            }
            data["token_keys"] = [entry, *data.get("token_keys", [])][:keep]
        return key

    def document(self, name: str) -> Any:
        """Return a stored document (another package's keys, say), or None."""
        return self._data().get("documents", {}).get(name)

    def update_document(self, name: str, change: Callable[[Any], Any]) -> Any:
        """Replace a stored document with ``change(current)`` under the file lock; return it."""
        with self._locked() as data:
            documents = data.setdefault("documents", {})
            documents[name] = change(documents.get(name))
            return documents[name]

    def reload(self) -> None:
        """Forget the cached contents so the next read sees the file again."""
        self._cache = None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
