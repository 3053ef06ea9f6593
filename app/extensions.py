"""The Flask extensions, created once and bound to each app in ``create_app``.

The flask-smorest ``Api`` is made per app (it keeps the app's OpenAPI document), in
``create_app``. Every blueprint parses its arguments (and pagination) with
``HardenedArgumentsParser`` (``app.request_limits``), set here because the parser is taken
when a route is decorated, and this module is imported before any route module.
"""

from __future__ import annotations

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
Blueprint.ARGUMENTS_PARSER = HardenedArgumentsParser()
Blueprint.PAGINATION_ARGUMENTS_PARSER = HardenedArgumentsParser()
