"""The Flask extensions, created once and bound to each app in ``create_app``.

The flask-smorest ``Api`` is made per app (it keeps the app's OpenAPI document), in
``create_app``. Every blueprint parses its arguments (and pagination) with
``HardenedArgumentsParser`` (``app.request_limits``), set here because the parser is taken
when a route is decorated, and this module is imported before any route module.
"""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Blueprint
from flask_sqlalchemy import SQLAlchemy

from app.db import Base
from app.request_limits import HardenedArgumentsParser

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# Compresses only the answers whose views ask for it (the PWA's and the API docs' files): API
# answers, which mix secrets with what the caller sent, stay uncompressed (BREACH).
compress = Compress()


def init_limiter(app: Flask) -> None:
    """Bind the limiter to ``app``, checking limits only where a route is decorated with one.

    Flask-Limiter checks every request in a ``before_request`` hook, for default and blueprint
    limits; the decorated routes (the sign-ins, the Apple web service) check their own limit in
    the decorator. This app has neither default nor blueprint limits, so the hook is removed:
    it cost every request 0.1 to 0.3 ms of CPU (7 to 10 % of ``GET /me/card`` and of a scan,
    measured in the process) to find that nothing applies. Configure a default or
    application-wide limit and the hook stays.
    """
    limiter.init_app(app)
    if app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION"):
        return
    app.before_request_funcs[None].remove(limiter._check_request_limit)


Blueprint.ARGUMENTS_PARSER = HardenedArgumentsParser()
Blueprint.PAGINATION_ARGUMENTS_PARSER = HardenedArgumentsParser()
