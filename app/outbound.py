"""The guard in front of every request the server makes to an address a user gave it.

Push subscriptions (and webhook endpoints) are URLs chosen by someone outside. Without a guard
the server would POST wherever it is told: to ``127.0.0.1``, to the cloud's metadata service,
to a database on the private network. This module is the one place that decides whether such
a URL may be called, and the one place that calls it.

The rule: the URL is ``https``, has no user name or password, and its host resolves *only* to
public unicast addresses. Loopback, private (RFC 1918, ULA), carrier-grade NAT, link-local,
multicast, reserved, documentation, benchmarking and unspecified ranges are refused, and so
are IPv4-mapped IPv6 addresses and IPv6 addresses that embed a refused IPv4 address (NAT64,
6to4, Teredo). One bad address
among several is enough to refuse: a resolver may hand out any of them.

Two moments are checked:

- **when the URL is stored** (``check_public_https_url``): the user gets a 422
  ``endpoint-not-allowed`` at once;
- **when it is called** (``post``): the host is resolved again, every address is checked
  again, and the connection goes to one of the checked addresses, with the TLS certificate
  still verified against the host name. A DNS record that changed after the check
  ("DNS rebinding") therefore cannot send the request somewhere else.

``post`` is bounded: a connect timeout, a read timeout per socket operation, and an overall
deadline after which the socket is shut, so a peer that trickles its answer a byte at a time
cannot hold a worker. Only the status and the first few KB of the answer are read.

Configuration (``app.config``, environment variables of the same name):

- ``OUTBOUND_TRUSTED_HOSTS``: comma-separated ``host:port`` pairs exempt from the https and
  public-address rules: a local push service in development, the tests' fake services.
  Empty by default; never set it in production.

Callers may pass an allow-list of host names (``allowed_hosts``; ``*.example.com`` matches
every subdomain) on top of the rule, e.g. ``PUSH_ALLOWED_HOSTS`` for the push services.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, has_app_context

from app.errors import Problem

NOT_ALLOWED_TYPE = "endpoint-not-allowed"
DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
DEFAULT_READ_TIMEOUT_SECONDS = 5.0
DEFAULT_DEADLINE_SECONDS = 8.0
MAX_ANSWER_BYTES = 4096

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class EndpointNotAllowed(Problem):
    """A URL the server refuses to call (422 ``endpoint-not-allowed``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(NOT_ALLOWED_TYPE, 422, "Endpoint not allowed", detail)


class OutboundFailed(Exception):
    """The call was allowed but did not get an answer (refused, timed out, TLS failed)."""


@dataclass(frozen=True)
class OutboundTarget:
    """A checked URL and the addresses it may be connected to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class OutboundAnswer:
    """What the peer answered: its status and the start of its body."""

    status: int
    body: bytes
    retry_after: str | None = None  # the Retry-After header, for the outbox's retries


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Return whether an address is public unicast, looking inside IPv6 wrappers of IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _trusted_hosts() -> frozenset[str]:
    raw = current_app.config.get("OUTBOUND_TRUSTED_HOSTS") if has_app_context() else None
    if not raw:
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return frozenset(item.strip().lower() for item in items if item.strip())


def _host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    for pattern in allowed_hosts:
        pattern = pattern.strip().lower()
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if host == pattern:
            return True
    return False


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (str(literal),)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EndpointNotAllowed(f"The host {host!r} does not resolve.") from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise EndpointNotAllowed(f"The host {host!r} does not resolve.")
    return addresses


def resolve_target(url: str, allowed_hosts: Iterable[str] | None = None) -> OutboundTarget:
    """Check a URL against the rule, resolve its host and return the target to connect to.

    Raises ``EndpointNotAllowed`` when the URL may not be called.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointNotAllowed("The URL cannot be parsed.") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise EndpointNotAllowed("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise EndpointNotAllowed("The URL may not carry a user name or password.")
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    trusted = f"{host}:{port}" in _trusted_hosts()
    if scheme not in ("https", "http") or (scheme != "https" and not trusted):
        raise EndpointNotAllowed("Only https URLs are allowed.")
    if allowed_hosts is not None and not trusted and not _host_allowed(host, allowed_hosts):
        raise EndpointNotAllowed(f"The host {host!r} is not on the allow-list.")
    addresses = _resolve(host, port)
    if not trusted:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
                raise EndpointNotAllowed(f"The host {host!r} is not a public address.")
    return OutboundTarget(url, scheme, host, port, path, addresses)


def check_public_https_url(url: str, allowed_hosts: Iterable[str] | None = None) -> None:
    """Refuse (``EndpointNotAllowed``, 422) a URL the server may not call; see the module."""
    resolve_target(url, allowed_hosts)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a fixed address, verifying the certificate for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, connect: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address, self._connect_timeout = address, connect

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self._connect_timeout)
        raw.settimeout(self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """A plain HTTP connection to a fixed address (trusted development hosts only)."""

    def __init__(self, host: str, port: int, address: str, timeout: float, connect: float):
        super().__init__(host, port, timeout=timeout)
        self._address, self._connect_timeout = address, connect

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self._connect_timeout)
        self.sock.settimeout(self.timeout)


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allowed_hosts: Iterable[str] | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> OutboundAnswer:
    """POST to a URL after checking it again, connected to a checked address, bounded in time.

    Raises ``EndpointNotAllowed`` if the URL (or what its host resolves to now) is refused,
    ``OutboundFailed`` if no answer came within the limits.
    """
    target = resolve_target(url, allowed_hosts)
    started = time.monotonic()
    failure: Exception | None = None
    for address in target.addresses:
        left = deadline_seconds - (time.monotonic() - started)
        if left <= 0:
            break
        connection_class = (
            _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(
            target.host,
            target.port,
            address,
            timeout=min(read_timeout, left),
            connect=min(connect_timeout, left),
        )
        watchdog = threading.Timer(left, _shut, args=(connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                connection.connect()
            except OSError as exc:  # nothing was sent: the next address may be tried
                failure = exc
                continue
            try:
                connection.request("POST", target.path, body=body, headers=headers)
                response = connection.getresponse()
                return OutboundAnswer(
                    response.status,
                    response.read(MAX_ANSWER_BYTES),
                    response.getheader("Retry-After"),
                )
            except (OSError, http.client.HTTPException) as exc:  # sent: never send twice
                failure = exc
                break
        finally:
            watchdog.cancel()
            connection.close()
    raise OutboundFailed(f"no answer from {target.host}: {failure.__class__.__name__}")
