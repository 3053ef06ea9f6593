"""Settings that rarely change, cached per process and invalidated across processes.

The earning programme, the tier ladder, the fraud rule settings and the coupon settings are
read on every till request and change a few times a year. Each is cached in the process under
a name, together with the *version* it was loaded at. The versions live in one small table,
``settings_versions`` (name, version):

* a request that needs any cached setting reads every version with one ``SELECT`` (once per
  request, remembered on ``flask.g``) and reloads only what is older than its version;
* a service that changes a setting calls ``bump_version(name)`` in the same transaction as the
  change. The bump is an ``UPDATE ... SET version = version + 1`` (or the first ``INSERT``), so
  it commits with the change or not at all, and every process, on every host, sees the new
  version on its next request. The process that made the change forgets its copy at once,
  and the changing request reads the setting fresh (never caching what it has not committed).

So a change applies everywhere from the next request on, never later, at the cost of one
primary-key-sized query per request instead of several. Outside a request (the CLI, tests in
an app context) nothing is cached: the loader runs every time.

Versions are read before the data they guard, so the worst race (a change committed between
the two reads) caches new data under the old version, which the next request reloads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, has_request_context
from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.extensions import db

T = TypeVar("T")

EXTENSION_KEY = "lw_settings_cache"


class SettingsVersion(Base):
    """How many times a cached setting changed: processes reload when the number moves."""

    __tablename__ = "settings_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class _ProcessCache:
    """The values of one app in this process, with the version each was loaded at."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, tuple[int, Any]] = {}


def _process_cache() -> _ProcessCache:
    cache = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(EXTENSION_KEY, _ProcessCache())
    assert isinstance(cache, _ProcessCache)
    return cache


def versions_query() -> Any:
    """Return the columns that read every setting's version (to join into another query)."""
    return SettingsVersion.name, SettingsVersion.version


def prime_versions(versions: dict[str, int]) -> None:
    """Take this request's versions from a query that read them along with something else."""
    g.settings_versions = versions


def _versions() -> dict[str, int]:
    """Return every setting's version, read once per request."""
    versions: dict[str, int] | None = g.get("settings_versions")
    if versions is None:
        versions = {
            name: int(version)
            for name, version in db.session.execute(
                select(SettingsVersion.name, SettingsVersion.version)
            )
        }
        g.settings_versions = versions
    return versions


def cached_setting(name: str, load: Callable[[], T]) -> T:
    """Return the setting ``name``, loading it with ``load`` only when it changed."""
    if not has_request_context() or name in g.get("settings_changed", ()):
        return load()  # outside a request, or changed by this request and not yet committed
    version = _versions().get(name, 0)
    cache = _process_cache()
    found = cache.values.get(name)
    if found is not None and found[0] == version:
        value: T = found[1]
        return value
    value = load()
    with cache.lock:
        cache.values[name] = (version, value)
    return value


def bump_version(name: str) -> None:
    """Mark the setting ``name`` as changed (in the caller's transaction) and forget our copy."""
    bumped = db.session.execute(
        update(SettingsVersion)
        .where(SettingsVersion.name == name)
        .values(version=SettingsVersion.version + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(bumped, "rowcount", 0) != 1:
        db.session.add(SettingsVersion(name=name, version=1))
        db.session.flush()
    forget(name)


def forget(name: str) -> None:
    """Drop this process's copy of a setting; this request reads it fresh from now on."""
    cache = current_app.extensions.get(EXTENSION_KEY)
    if isinstance(cache, _ProcessCache):
        with cache.lock:
            cache.values.pop(name, None)
    if has_request_context():
        g.setdefault("settings_changed", set()).add(name)
