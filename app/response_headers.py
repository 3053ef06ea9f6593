"""Headers every answer carries, whatever route made it.

- ``X-Content-Type-Options: nosniff`` on every answer, so a browser never runs an answer as
  something other than its declared type.
- ``Cache-Control: no-store`` on every API answer (``/api/v1/``) that did not choose its own
  caching: API answers carry tokens (login, refresh, till sessions), secrets (``/me/card``
  holds the card's TOTP secret) or a member's data, none of which a shared or browser cache
  may keep. Routes that may be cached (public keys, the card's QR image) set their own header.

Pages with a user interface add their own Content-Security-Policy (``app.pwa_routes``,
``app.api_docs.routes``). TLS and HSTS are the reverse proxy's (docs/security.md).
"""

from __future__ import annotations

from flask import Flask, Response, request

API_PREFIX = "/api/v1/"


def add_response_headers(response: Response) -> Response:
    """Add the headers every answer of the app carries (an ``after_request`` hook)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(API_PREFIX) and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Install the hook."""
    app.after_request(add_response_headers)
