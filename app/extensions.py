"""The Flask extensions, created once and bound to each app in ``create_app``.

The flask-smorest ``Api`` is made per app (it keeps the app's OpenAPI document), in
``create_app``.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
limiter = Limiter(key_func=get_remote_address, default_limits=[])
