"""The outbound address guard: which URLs the server may call, and that calls are bounded."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from flask import Flask

from app import outbound

REFUSED_URLS = [
    "http://1.1.1.1/push",  # not https
    "ftp://1.1.1.1/push",
    "https://127.0.0.1/push",
    "https://127.1.2.3:8443/push",
    "https://localhost/push",
    "https://10.0.0.8/push",
    "https://172.16.5.4/push",
    "https://192.168.1.1/push",
    "https://100.64.0.1/push",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
    "https://0.0.0.0/push",
    "https://224.0.0.1/push",
    "https://240.0.0.1/push",
    "https://192.0.2.1/push",  # documentation
    "https://[::1]/push",
    "https://[::]/push",
    "https://[fe80::1]/push",
    "https://[fc00::1]/push",
    "https://[ff02::1]/push",
    "https://[::ffff:127.0.0.1]/push",  # v4-mapped loopback
    "https://[::ffff:10.0.0.1]/push",
    "https://[64:ff9b::a00:1]/push",  # NAT64 of 10.0.0.1
    "https://[2002:7f00:1::]/push",  # 6to4 of 127.0.0.1
    "https://user:secret@1.1.1.1/push",
    "https:///push",
    "https://[::1/push",
    "https://no-such-host.invalid/push",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_urls_that_are_not_public_https_are_refused(url: str) -> None:
    with pytest.raises(outbound.EndpointNotAllowed) as refused:
        outbound.check_public_https_url(url)
    assert refused.value.status == 422
    assert refused.value.type == "endpoint-not-allowed"


@pytest.mark.parametrize(
    "url", ["https://1.1.1.1/push/abc", "https://8.8.8.8:8443/x?y=1", "https://[2606:4700::1]/p"]
)
def test_public_https_urls_pass(url: str) -> None:
    outbound.check_public_https_url(url)


def test_the_allow_list_limits_hosts_on_top_of_the_rule() -> None:
    allowed = ["*.push.example", "1.1.1.1"]
    outbound.check_public_https_url("https://1.1.1.1/x", allowed)
    with pytest.raises(outbound.EndpointNotAllowed, match="allow-list"):
        outbound.check_public_https_url("https://8.8.8.8/x", allowed)


def test_every_resolved_address_must_be_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """One private address among public ones is enough to refuse (and to refuse at send)."""
    answers = {"push.example": ["1.1.1.1", "10.1.2.3"]}

    def fake_getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(outbound.EndpointNotAllowed, match="not a public address"):
        outbound.check_public_https_url("https://push.example/x")
    answers["push.example"] = ["1.1.1.1"]
    outbound.check_public_https_url("https://push.example/x")
    # The record changes after the check (DNS rebinding): the send checks again and refuses.
    answers["push.example"] = ["127.0.0.1"]
    with pytest.raises(outbound.EndpointNotAllowed):
        outbound.post("https://push.example/x", b"{}", {})


def test_embedded_ipv4_is_looked_at() -> None:
    """v4-mapped addresses are refused whatever they embed; so is NAT64 of a private one."""
    assert not outbound.is_public_address(ipaddress.ip_address("::ffff:1.1.1.1"))
    assert not outbound.is_public_address(ipaddress.ip_address("64:ff9b::7f00:1"))
    assert not outbound.is_public_address(ipaddress.ip_address("::ffff:192.168.0.1"))
    assert not outbound.is_public_address(
        ipaddress.ip_address("2001:0:4136:e378:8000:63bf:f5ff:fffe")
    )


class SlowService:
    """A local HTTP service that answers after a delay, one header byte at a time."""

    def __init__(self, delay: float) -> None:
        self.hits = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                service.hits += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                for byte in b"HTTP/1.1 201 Created\r\n":
                    time.sleep(delay)
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def slow_service() -> Iterator[SlowService]:
    service = SlowService(delay=0.2)
    yield service
    service.server.shutdown()
    service.server.server_close()


def test_trusted_hosts_are_for_development_and_sends_stop_at_the_deadline(
    sqlite_app: Flask, slow_service: SlowService
) -> None:
    url = f"http://{slow_service.host}/push"
    with sqlite_app.app_context():
        with pytest.raises(outbound.EndpointNotAllowed):
            outbound.check_public_https_url(url)
        sqlite_app.config["OUTBOUND_TRUSTED_HOSTS"] = slow_service.host
        try:
            outbound.check_public_https_url(url)
            started = time.monotonic()
            with pytest.raises(outbound.OutboundFailed):
                # Every byte comes within the read timeout, but the whole answer takes ~4.4 s.
                outbound.post(url, b"{}", {}, read_timeout=1.0, deadline_seconds=1.0)
            assert time.monotonic() - started < 2.0
            assert slow_service.hits == 1
        finally:
            sqlite_app.config.pop("OUTBOUND_TRUSTED_HOSTS")
