"""Serving the progressive web app from the Flask app itself.

The PWA in ``pwa/`` has no build step: what is in the folder is what the browser gets. This
blueprint maps it onto URLs:

* ``/`` is ``pwa/index.html``, the app shell (a hash router picks the view: ``#/card``,
  ``#/till``, ``#/staff``, ``#/login``);
* ``/sw.js`` is the service worker. It lives at the root so its scope is the whole origin,
  says so with ``Service-Worker-Allowed: /``, and is served ``Cache-Control: no-cache`` so the
  browser checks for a new version on every navigation. Its cache name carries a hash of every
  file under ``pwa/`` (the ``__SHELL_HASH__`` token is replaced on the way out), so any change to
  the shell changes the worker's bytes, which installs a fresh cache and drops the old one;
* ``/manifest.webmanifest`` is the web app manifest (``application/manifest+json``);
* ``/pwa/<path>`` are the shell's files: only the suffixes in ``SERVED_SUFFIXES`` are served,
  so helper scripts kept next to them (the icon generator) never are, and the worker and the
  manifest only at the root.

Everything else stays a problem+json 404 from the app's error handler. The shell's files are
answered ``no-cache`` (revalidated by ETag), so the worker's ``cache.addAll`` never fills a new
cache from a stale HTTP cache. Text files are compressed (brotli or gzip, by the client's
``Accept-Encoding``; ``Vary: Accept-Encoding`` on every answer); a compressed answer's ETag
names its encoding, so revalidation works for each encoding. Every answer carries a
Content-Security-Policy that allows only this origin: no inline scripts or styles, no CDN, no
framing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from app.extensions import compress

PWA_DIRECTORY = Path(__file__).resolve().parent.parent / "pwa"
SHELL_HASH_TOKEN = "__SHELL_HASH__"
SHELL_HASH_CHARS = 12

SERVED_SUFFIXES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
# Served at the root only: a second copy under /pwa/ would be a worker with the wrong scope.
ROOT_ONLY_FILES = {"sw.js", "manifest.webmanifest"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # blob: for the static QR image fetched with the member's token; data: for canvas
        # exports.
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        # Forms are submitted by script only; should the script not run, a form must not send
        # a password anywhere, not even into this origin's URL bar.
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

pwa = Blueprint("pwa", __name__)


@pwa.after_request
def add_security_headers(response: Response) -> Response:
    """Confine every PWA answer to this origin."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(self), geolocation=(), microphone=()"
    return compress.after_request(response)


def _shell_file(relative: str, mimetype: str) -> Response:
    # Read whole (the files are small), so the compressor can give the answer its own ETag.
    path = safe_join(str(PWA_DIRECTORY), relative)
    if path is None or not Path(path).is_file():
        raise NotFound()
    response = current_app.response_class(Path(path).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


def shell_hash() -> str:
    """Return a short hash of every served file of the shell, to version the worker's cache."""
    digest = hashlib.sha256()
    for path in sorted(PWA_DIRECTORY.rglob("*")):
        if path.is_file() and (path.suffix in SERVED_SUFFIXES or path.name == "index.html"):
            digest.update(path.relative_to(PWA_DIRECTORY).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:SHELL_HASH_CHARS]


@pwa.get("/")
def index() -> Response:
    """Serve the app shell."""
    return _shell_file("index.html", "text/html")


@pwa.get("/sw.js")
def service_worker() -> Response:
    """Serve the service worker from the root, never from an HTTP cache."""
    source = (PWA_DIRECTORY / "sw.js").read_text(encoding="utf-8")
    response = current_app.response_class(
        source.replace(SHELL_HASH_TOKEN, shell_hash()), mimetype="text/javascript"
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@pwa.get("/manifest.webmanifest")
def manifest() -> Response:
    """Serve the web app manifest."""
    return _shell_file("manifest.webmanifest", SERVED_SUFFIXES[".webmanifest"])


@pwa.get("/pwa/<path:filename>")
def shell_asset(filename: str) -> Response:
    """Serve a file of the app shell (scripts, styles, icons)."""
    mimetype = SERVED_SUFFIXES.get(Path(filename).suffix)
    if mimetype is None or filename in ROOT_ONLY_FILES:
        raise NotFound()
    return _shell_file(filename, mimetype)
