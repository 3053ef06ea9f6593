"""Brute-force defence: failed guesses counted in a sliding window, then a growing lockout.

What counts as a guess: a well-formed coupon code that matches no coupon (``unknown-code``)
and a card code that fails where only a forger or a guesser fails (``bad-signature``,
``unknown-key``, ``unknown-card``). Typos never count: a coupon code with a wrong check symbol
is refused before the lookup, and a card code that is not even well formed
(``malformed-code``) is a scanner hiccup. Genuine cards that are merely expired, revoked,
stale or replayed do not count either: they have their own rules (``app.fraud.rules``).

Who is counted: the caller (the till for a till session, otherwise the staff account or
member) and, separately, the client address, each in its own window. The address threshold
is higher, because several tills of one shop may share one address. When one of them reaches
its threshold within the window, that key is locked: every code it presents is refused with
``too-many-attempts`` (429, ``Retry-After``) until the lockout ends, and a ``brute-force``
fraud event is raised. Each lockout is longer than the one before (first length, doubled
each time, capped) while the key keeps getting locked within ``FRAUD_LOCKOUT_MEMORY_SECONDS``.
A lockout clears the window, so when it ends the key starts counting from zero.

Where the counters live: with ``REDIS_URL`` set, in Redis, so every app process on every host
sees the same counts. One Lua script per failure (sliding window in a sorted set, the lockout
as a key with a TTL, the lockout level as a counter) makes counting and locking atomic on the
Redis server. Without Redis, in the database (``guess_lockouts``, ``guess_failures``), which
every worker of every host shares too: the threshold holds whatever the number of workers.
A failure is counted when the request ends, in the transaction that survives it (a refused
request's own transaction is rolled back), with the key's row locked so that two workers
take turns; the lockout is committed before the refusal goes out. If Redis is configured but
cannot be reached (a short connect and read timeout), the defence falls back to the database
for that request (logged) rather than failing open. ``MemoryGuessCounter`` keeps the same
policy in one process, for tools and tests that run without a database.

Settings (``app.config``, each also an environment variable of the same name):

==================================  ========  ==============================================
``FRAUD_GUESS_THRESHOLD``           10        failed guesses per caller within the window
``FRAUD_GUESS_ADDRESS_THRESHOLD``   30        failed guesses per client address
``FRAUD_GUESS_WINDOW_SECONDS``      600       the sliding window
``FRAUD_LOCKOUT_SECONDS``           60        the first lockout; doubled for each repeat
``FRAUD_LOCKOUT_MAX_SECONDS``       3600      the longest lockout
``FRAUD_LOCKOUT_MEMORY_SECONDS``    86400     how long a lockout makes the next one longer
==================================  ========  ==============================================
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis
from flask import current_app, g, has_request_context, request
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import utcnow
from app.errors import Problem
from app.extensions import db
from app.fraud.attempts import raise_event
from app.fraud.events import recent_attempt_ids
from app.fraud.models import Attempt, GuessFailure, GuessLockout
from app.transactions import Outcome, record_on_finish

log = logging.getLogger("app.fraud.lockout")

# Refusal types that count as a failed guess.
COUNTED_CARD_REFUSALS = frozenset({"bad-signature", "unknown-key", "unknown-card"})
COUNTED_REFUSALS = COUNTED_CARD_REFUSALS | {"unknown-code"}

REDIS_PREFIX = "lw:guess:"
REDIS_TIMEOUT_SECONDS = 0.5

DEFAULTS: dict[str, float] = {
    "FRAUD_GUESS_THRESHOLD": 10,
    "FRAUD_GUESS_ADDRESS_THRESHOLD": 30,
    "FRAUD_GUESS_WINDOW_SECONDS": 600,
    "FRAUD_LOCKOUT_SECONDS": 60,
    "FRAUD_LOCKOUT_MAX_SECONDS": 3600,
    "FRAUD_LOCKOUT_MEMORY_SECONDS": 86400,
}


@dataclass(frozen=True)
class LockoutPolicy:
    """Thresholds and lengths of the brute-force defence."""

    threshold: int
    address_threshold: int
    window_seconds: float
    first_lockout_seconds: float
    max_lockout_seconds: float
    memory_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LockoutPolicy:
        """Read the policy from app settings, with the documented defaults."""

        def value(name: str) -> float:
            raw = config.get(name)
            return float(DEFAULTS[name] if raw is None or raw == "" else raw)

        return cls(
            threshold=int(value("FRAUD_GUESS_THRESHOLD")),
            address_threshold=int(value("FRAUD_GUESS_ADDRESS_THRESHOLD")),
            window_seconds=value("FRAUD_GUESS_WINDOW_SECONDS"),
            first_lockout_seconds=value("FRAUD_LOCKOUT_SECONDS"),
            max_lockout_seconds=value("FRAUD_LOCKOUT_MAX_SECONDS"),
            memory_seconds=value("FRAUD_LOCKOUT_MEMORY_SECONDS"),
        )

    def threshold_for(self, key: str) -> int:
        """Return the threshold of a counter key (addresses get the higher one)."""
        return self.address_threshold if key.startswith("addr:") else self.threshold

    def lockout_seconds(self, level: int) -> float:
        """Return the length of the ``level``-th lockout in a row (1 is the first)."""
        doubled = self.first_lockout_seconds * float(2 ** (level - 1))
        return min(doubled, self.max_lockout_seconds)


@dataclass(frozen=True)
class Lockout:
    """A key that is locked out, for how much longer, and how many lockouts in a row."""

    key: str
    seconds_left: float
    level: int = 0

    @property
    def retry_after(self) -> int:
        """Return the whole seconds to put in ``Retry-After`` (at least 1)."""
        return max(1, math.ceil(self.seconds_left))


class GuessCounter(Protocol):
    """Counts failed guesses per key and locks keys out."""

    policy: LockoutPolicy

    def locked(self, keys: Sequence[str]) -> Lockout | None:
        """Return the longest running lockout among ``keys``, if any."""

    def record_failure(self, keys: Sequence[str]) -> list[Lockout]:
        """Count one failed guess for each key; return the lockouts this failure started."""

    def clear(self) -> None:
        """Forget every count and lockout (tests and operators)."""


class MemoryGuessCounter:
    """The in-process counter: one process's view, thread-safe."""

    def __init__(self, policy: LockoutPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._levels: dict[str, tuple[int, float]] = {}  # key -> (level, forget at)

    def locked(self, keys: Sequence[str]) -> Lockout | None:
        """Return the longest running lockout among ``keys``, if any."""
        now = time.monotonic()
        found: Lockout | None = None
        with self._lock:
            for key in keys:
                left = self._locked_until.get(key, 0.0) - now
                if left > 0 and (found is None or left > found.seconds_left):
                    found = Lockout(key, left, self._levels.get(key, (0, 0.0))[0])
        return found

    def record_failure(self, keys: Sequence[str]) -> list[Lockout]:
        """Count one failed guess for each key; return the lockouts this failure started."""
        now = time.monotonic()
        started: list[Lockout] = []
        with self._lock:
            for key in keys:
                if self._locked_until.get(key, 0.0) > now:
                    continue
                window = self._failures.setdefault(key, deque())
                while window and window[0] <= now - self.policy.window_seconds:
                    window.popleft()
                window.append(now)
                if len(window) < self.policy.threshold_for(key):
                    continue
                window.clear()
                level, forget_at = self._levels.get(key, (0, 0.0))
                level = level + 1 if forget_at > now else 1
                seconds = self.policy.lockout_seconds(level)
                self._levels[key] = (level, now + seconds + self.policy.memory_seconds)
                self._locked_until[key] = now + seconds
                started.append(Lockout(key, seconds, level))
        return started

    def clear(self) -> None:
        """Forget every count and lockout."""
        with self._lock:
            self._failures.clear()
            self._locked_until.clear()
            self._levels.clear()


# KEYS: window (sorted set), lock (string with TTL), level (counter).
# ARGV: now (s), window (s), threshold, first lockout (s), max lockout (s), memory (s), member.
# Returns {count, level, lockout milliseconds}; level 0 means no lockout started.
_RECORD_FAILURE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 0, 0} end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[3]) then return {count, 0, 0} end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[3])
local ms = math.ceil(math.min(tonumber(ARGV[4]) * 2 ^ (level - 1), tonumber(ARGV[5])) * 1000)
redis.call('PEXPIRE', KEYS[3], ms + math.ceil(tonumber(ARGV[6]) * 1000))
redis.call('SET', KEYS[2], level, 'PX', ms)
return {count, level, ms}
"""


class RedisGuessCounter:
    """The shared counter: every process and host that uses the same Redis sees one count."""

    def __init__(self, client: redis.Redis[bytes], policy: LockoutPolicy) -> None:
        self.client = client
        self.policy = policy
        self._record = client.register_script(_RECORD_FAILURE_LUA)

    @staticmethod
    def _names(key: str) -> tuple[str, str, str]:
        return (f"{REDIS_PREFIX}w:{key}", f"{REDIS_PREFIX}lock:{key}", f"{REDIS_PREFIX}lvl:{key}")

    def locked(self, keys: Sequence[str]) -> Lockout | None:
        """Return the longest running lockout among ``keys``, if any."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            lock_name = self._names(key)[1]
            pipe.pttl(lock_name)
            pipe.get(lock_name)
        replies = pipe.execute()
        found: Lockout | None = None
        for index, key in enumerate(keys):
            milliseconds, level = replies[2 * index], replies[2 * index + 1]
            if milliseconds > 0 and (found is None or milliseconds / 1000 > found.seconds_left):
                found = Lockout(key, milliseconds / 1000, int(level or 0))
        return found

    def record_failure(self, keys: Sequence[str]) -> list[Lockout]:
        """Count one failed guess for each key; return the lockouts this failure started."""
        now = time.time()
        started: list[Lockout] = []
        for key in keys:
            count, level, milliseconds = self._record(
                keys=list(self._names(key)),
                args=[
                    repr(now),
                    self.policy.window_seconds,
                    self.policy.threshold_for(key),
                    self.policy.first_lockout_seconds,
                    self.policy.max_lockout_seconds,
                    self.policy.memory_seconds,
                    uuid.uuid4().hex,
                ],
            )
            if int(level):
                started.append(Lockout(key, int(milliseconds) / 1000, int(level)))
        return started

    def clear(self) -> None:
        """Forget every count and lockout under this app's prefix."""
        names = list(self.client.scan_iter(match=f"{REDIS_PREFIX}*", count=500))
        if names:
            self.client.delete(*names)


class DatabaseGuessCounter:
    """The counter in the database: shared by every worker; counts in the request's session.

    ``record_failure`` must run in a transaction that is committed (``count_failed_guess``
    calls it from a ``record_on_finish`` callback). Each key's ``guess_lockouts`` row is
    locked while it is counted (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite takes the
    database's write lock for every transaction).
    """

    def __init__(self, policy: LockoutPolicy) -> None:
        self.policy = policy

    def locked(self, keys: Sequence[str]) -> Lockout | None:
        """Return the longest running lockout among ``keys``, if any."""
        now = utcnow()
        rows = db.session.execute(
            select(GuessLockout.key, GuessLockout.locked_until, GuessLockout.level).where(
                GuessLockout.key.in_(list(keys)), GuessLockout.locked_until > now
            )
        ).all()
        found: Lockout | None = None
        for key, locked_until, level in rows:
            left = (locked_until - now).total_seconds()
            if found is None or left > found.seconds_left:
                found = Lockout(key, left, level)
        return found

    def _state(self, key: str) -> GuessLockout:
        insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        db.session.execute(insert(GuessLockout).values(key=key, level=0).on_conflict_do_nothing())
        state = db.session.scalar(
            select(GuessLockout)
            .where(GuessLockout.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert state is not None
        return state

    def record_failure(self, keys: Sequence[str]) -> list[Lockout]:
        """Count one failed guess for each key; return the lockouts this failure started."""
        now = utcnow()
        window_start = now - timedelta(seconds=self.policy.window_seconds)
        started: list[Lockout] = []
        for key in keys:
            state = self._state(key)
            if state.locked_until is not None and state.locked_until > now:
                continue
            db.session.execute(
                delete(GuessFailure).where(
                    GuessFailure.key == key, GuessFailure.failed_at <= window_start
                )
            )
            db.session.add(GuessFailure(key=key, failed_at=now))
            db.session.flush()
            count = db.session.scalar(
                select(func.count()).select_from(GuessFailure).where(GuessFailure.key == key)
            )
            if int(count or 0) < self.policy.threshold_for(key):
                continue
            db.session.execute(delete(GuessFailure).where(GuessFailure.key == key))
            remembered = state.forget_level_at is not None and state.forget_level_at > now
            level = state.level + 1 if remembered else 1
            seconds = self.policy.lockout_seconds(level)
            state.level = level
            state.locked_until = now + timedelta(seconds=seconds)
            state.forget_level_at = now + timedelta(seconds=seconds + self.policy.memory_seconds)
            db.session.flush()
            started.append(Lockout(key, seconds, level))
        return started

    def clear(self) -> None:
        """Forget every count and lockout."""
        db.session.execute(delete(GuessFailure))
        db.session.execute(delete(GuessLockout))
        db.session.flush()


def guess_counter() -> GuessCounter:
    """Return the app's counter: Redis when ``REDIS_URL`` is set, the database otherwise."""
    policy = LockoutPolicy.from_config(current_app.config)
    redis_url = current_app.config.get("REDIS_URL")
    cached = current_app.extensions.get("lw_guess_counter")
    if cached is not None and cached[0] == (redis_url, policy):
        counter: GuessCounter = cached[1]
        return counter
    if redis_url:
        client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        counter = RedisGuessCounter(client, policy)
    else:
        counter = DatabaseGuessCounter(policy)
    current_app.extensions["lw_guess_counter"] = ((redis_url, policy), counter)
    return counter


def counter_keys() -> list[str]:
    """Return the keys the current request is counted under: its caller and its address."""
    keys: list[str] = []
    identity = g.get("identity") if has_request_context() else None
    if identity is not None:
        if identity.kind == "till":
            keys.append(f"till:{identity.till_id}")
        else:
            keys.append(f"{identity.kind}:{identity.subject_id}")
    if has_request_context() and request.remote_addr:
        keys.append(f"addr:{request.remote_addr}")
    return keys


def too_many_attempts(lockout: Lockout) -> Problem:
    """Build the refusal for a locked-out caller."""
    # Problem, not DomainError: the answer carries a Retry-After header.
    return Problem(
        "too-many-attempts",
        429,
        "Too many attempts",
        "Too many unknown or forged codes came from here; codes are refused for "
        f"{lockout.retry_after} more seconds.",
        headers={"Retry-After": str(lockout.retry_after)},
        retry_after=lockout.retry_after,
    )


def check_guess_lockout() -> None:
    """Refuse the current request with ``too-many-attempts`` if its caller is locked out."""
    keys = counter_keys()
    if not keys:
        return
    counter = guess_counter()
    try:
        lockout = counter.locked(keys)
    except redis.RedisError as exc:
        log.warning("guess counter unavailable, checking the database's: %s", exc)
        lockout = DatabaseGuessCounter(counter.policy).locked(keys)
    if lockout is not None:
        raise too_many_attempts(lockout)


def count_failed_guess(refusal_type: str) -> None:
    """Count a failed guess of the current request; raise a fraud event if it locked a key.

    In Redis the count is made at once. In the database (no Redis, or Redis unreachable) it
    is made when the request ends, in the transaction that survives it.
    """
    if refusal_type not in COUNTED_REFUSALS:
        return
    keys = counter_keys()
    if not keys:
        return
    counter = guess_counter()
    if isinstance(counter, RedisGuessCounter):
        try:
            _raise_lockout_events(counter.record_failure(keys), refusal_type)
            return
        except redis.RedisError as exc:
            log.warning("guess counter unavailable, counting in the database: %s", exc)
    database_counter = DatabaseGuessCounter(counter.policy)

    def count_when_the_request_ends(outcome: Outcome) -> None:
        _raise_lockout_events(database_counter.record_failure(keys), refusal_type)

    # First, so the fraud events it raises are written by the callback that writes events.
    record_on_finish(count_when_the_request_ends, first=True)


def _raise_lockout_events(started: list[Lockout], refusal_type: str) -> None:
    if started:
        for lockout in started:
            raise_lockout_event(lockout, refusal_type)


def raise_lockout_event(lockout: Lockout, refusal_type: str) -> None:
    """Raise the ``brute-force`` event for a lockout that just started."""
    kind, _, value = lockout.key.partition(":")
    window = guess_counter().policy.window_seconds
    refused = Attempt.refusal_type.in_(sorted(COUNTED_REFUSALS))
    if kind == "till":
        evidence = recent_attempt_ids(Attempt.till_id == int(value), refused, since_seconds=window)
    elif kind == "addr":
        evidence = recent_attempt_ids(
            Attempt.client_address == value, refused, since_seconds=window
        )
    elif kind in ("staff", "member"):
        column = Attempt.staff_id if kind == "staff" else Attempt.member_id
        evidence = recent_attempt_ids(column == int(value), refused, since_seconds=window)
    else:
        evidence = []
    raise_event(
        "brute-force",
        severity="high",
        action="lockout",
        subject=lockout.key,
        detail={
            "locked": lockout.key,
            "lockout_seconds": lockout.retry_after,
            "lockout_level": lockout.level,
            "last_refusal": refusal_type,
        },
        evidence=evidence,
    )
