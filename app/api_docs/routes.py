"""``/api/docs``: Swagger UI over ``/api/openapi.json``, working offline and under a strict CSP.

Swagger UI's files come from the ``swagger-ui-bundle`` Python package, installed with the
app, so the page needs no CDN (and works on a machine without internet). The page is written
here rather than taken from flask-smorest, whose template loads the files from a URL and
starts Swagger UI from an inline script; with the start-up script served as a file, the
page's Content-Security-Policy allows scripts from this origin only. Swagger UI sets inline
``style`` attributes, so styles also allow ``'unsafe-inline'`` (styles cannot run code).
The files are served compressed, like the PWA's.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

from app.extensions import compress

SWAGGER_UI_DIRECTORY = Path(str(swagger_ui_path))
SWAGGER_UI_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}

DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="/api/openapi.json"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/api/docs/start.js"></script>
</body>
</html>
"""

START_SCRIPT = """\
// Starts Swagger UI on the page's #swagger-ui element with the app's OpenAPI document.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
"""

docs = Blueprint("api_docs", __name__, url_prefix="/api/docs")


@docs.after_request
def confine_to_this_origin(response: Response) -> Response:
    """Give every docs answer its CSP; compress the text ones."""
    response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    return compress.after_request(response)


def _text(body: str | bytes, mimetype: str) -> Response:
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


@docs.get("")
def page() -> Response:
    """Serve the documentation page."""
    return _text(DOCS_PAGE.format(title=current_app.config["API_TITLE"]), "text/html")


@docs.get("/start.js")
def start_script() -> Response:
    """Serve the script that starts Swagger UI."""
    return _text(START_SCRIPT, "text/javascript")


@docs.get("/assets/<name>")
def asset(name: str) -> Response:
    """Serve one of Swagger UI's files from the installed package."""
    mimetype = SWAGGER_UI_FILES.get(name)
    if mimetype is None:
        raise NotFound()
    return _text((SWAGGER_UI_DIRECTORY / name).read_bytes(), mimetype)
