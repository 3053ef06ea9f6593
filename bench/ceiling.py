"""The ceiling: a one-route Flask app, served with the same gunicorn settings as the real one.

What one worker model and count can serve on this machine when a request does nothing; the
benchmark reports every till route as a share of this, measured in the same run, so the shared
machine's noise cancels out of the ratios.
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    """Return an app with one route that answers a small JSON body."""
    app = Flask(__name__)

    @app.get("/")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    return app
