"""The Flask app serves the PWA: shell, service worker, manifest, icons, and nothing else."""

from __future__ import annotations

import io
import json
import re

from flask.testing import FlaskClient
from PIL import Image

from app.pwa_routes import PWA_DIRECTORY, ROOT_ONLY_FILES, SERVED_SUFFIXES

NEEDED_CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}


def _csp(header: str) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


def _shell_files_in_worker() -> list[str]:
    source = (PWA_DIRECTORY / "sw.js").read_text()
    block = re.search(r"const SHELL_FILES = \[(.*?)\];", source, re.S)
    assert block is not None
    return re.findall(r'"([^"]+)"', block.group(1))


def test_root_serves_the_app_shell_under_a_same_origin_content_security_policy(
    client: FlaskClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<link rel="manifest" href="/manifest.webmanifest">' in response.data
    assert b'<script type="module" src="/pwa/js/app.js">' in response.data
    assert b"<script>" not in response.data, "no inline scripts"
    assert b"style=" not in response.data, "no inline styles"
    policy = _csp(response.headers["Content-Security-Policy"])
    for name, value in NEEDED_CSP_DIRECTIVES.items():
        assert policy[name] == value, name
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_service_worker_comes_from_the_root_uncached_with_root_scope(
    client: FlaskClient,
) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    version = re.search(r'const SHELL_VERSION = "([0-9a-f]{12})";', response.get_data(as_text=True))
    assert version is not None, "the cache name carries the shell's content hash"


def test_cache_version_changes_when_a_shell_file_changes(
    client: FlaskClient, monkeypatch: object, tmp_path: object
) -> None:
    import shutil
    from pathlib import Path

    import app.pwa_routes as pwa_routes

    copy = Path(str(tmp_path)) / "pwa"
    shutil.copytree(PWA_DIRECTORY, copy)
    monkeypatch.setattr(pwa_routes, "PWA_DIRECTORY", copy)  # type: ignore[attr-defined]
    before = client.get("/sw.js").get_data(as_text=True)
    (copy / "css" / "app.css").write_text("body { color: red; }\n")
    after = client.get("/sw.js").get_data(as_text=True)
    assert before != after


def test_manifest_is_manifest_json_with_what_installation_needs(client: FlaskClient) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    seen = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200, icon["src"]
        assert image.mimetype == "image/png"
        width, height = Image.open(io.BytesIO(image.data)).size
        assert f"{width}x{height}" == icon["sizes"], icon["src"]
        seen.add((icon["sizes"], icon.get("purpose", "any")))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= seen


def test_every_served_shell_file_is_precached_and_every_precached_file_exists(
    client: FlaskClient,
) -> None:
    precached = _shell_files_in_worker()
    on_disk = {
        "/pwa/" + path.relative_to(PWA_DIRECTORY).as_posix()
        for path in PWA_DIRECTORY.rglob("*")
        if path.is_file() and path.suffix in SERVED_SUFFIXES and path.name not in ROOT_ONLY_FILES
    }
    assert on_disk <= set(precached), "a shell file the worker does not cache fails offline"
    for path in precached:
        assert client.get(path).status_code == 200, path


def test_shell_files_are_revalidated_so_a_new_worker_never_caches_stale_files(
    client: FlaskClient,
) -> None:
    for path in ("/", "/pwa/js/app.js", "/pwa/css/app.css", "/manifest.webmanifest"):
        assert client.get(path).headers["Cache-Control"] == "no-cache", path
    assert client.get("/pwa/js/app.js").mimetype == "text/javascript"


def test_unknown_and_unserved_paths_stay_problem_json_404(client: FlaskClient) -> None:
    for path in (
        "/no/such/page",
        "/pwa/js/nothing.js",
        "/pwa/icons/make_icons.py",
        "/pwa/../app/__init__.py",
        "/pwa/index.html",
        "/pwa/sw.js",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json", path
        assert response.get_json()["type"] == "not-found"
