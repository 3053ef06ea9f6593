"""The Loyalty Wallet Flask application.

``create_app(config)`` builds the app: settings from the environment (``app.config``), then
any overrides the caller passes (the tests do), the instance folder's generated secrets, the
extensions, one blueprint per resource, the problem+json error handler, per-request
transactions and JSON logs. The domain libraries ``wallet`` and ``coupons`` know nothing of
Flask; the packages here wire them to HTTP and the database.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Api

from app import (  # noqa: F401  (models: registers every table)
    extensions,
    models,
    request_limits,
    response_headers,
    transactions,
)
from app.auth.access import check_access_early
from app.config import settings_from_environment
from app.db import configure_sqlite, ping_idle_connections
from app.errors import ProblemApi, register_error_handlers
from app.instance_secrets import InstanceSecrets
from app.logs import configure_logging

MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent.parent / "migrations")

API_SETTINGS: dict[str, Any] = {
    "API_TITLE": "Loyalty Wallet API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
}

# Compression of the PWA's and the docs' text files (the views opt in; see app.extensions).
COMPRESS_SETTINGS: dict[str, Any] = {
    "COMPRESS_REGISTER": False,
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 500,
}


class LoyaltyWalletApp(Flask):
    """The Flask app, remembering which of its views and hooks are coroutine functions.

    Flask asks ``ensure_sync`` about every view, every decorator layer of a view and every
    hook on every request, and each answer costs several calls into ``inspect``: about 110
    Python calls of ``GET /me/card``'s 2,600 and 180 of a scan's 4,100
    (``bench/statements.py``). A function's answer never changes, so it is remembered (weakly:
    a function that goes away takes its entry with it). Bound methods are asked about by their
    function, so the view's method, bound anew on every request, hits the same entry.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._coroutine_functions: weakref.WeakKeyDictionary[Callable[..., Any], bool] = (
            weakref.WeakKeyDictionary()
        )

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func``, or a synchronous wrapper of it if it is a coroutine function."""
        key = getattr(func, "__func__", func)
        try:
            is_coroutine = self._coroutine_functions[key]
        except KeyError:
            is_coroutine = inspect.iscoroutinefunction(func)
            self._coroutine_functions[key] = is_coroutine
        except TypeError:  # not weakly referable: asked every time
            is_coroutine = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the application."""
    settings = settings_from_environment()
    settings.update(config or {})
    app = LoyaltyWalletApp(__name__, instance_path=settings["INSTANCE_PATH"], static_folder=None)
    app.config.update(API_SETTINGS)
    app.config.update(COMPRESS_SETTINGS)
    app.config.update(settings)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    Path(app.instance_path).mkdir(parents=True, exist_ok=True, mode=0o700)
    app.extensions["lw_secrets"] = InstanceSecrets(app.instance_path)

    configure_logging(app)
    extensions.db.init_app(app)
    with app.app_context():
        configure_sqlite(extensions.db.engine)
        ping_idle_connections(extensions.db.engine, app.config["DB_PING_IDLE_SECONDS"])
    extensions.migrate.init_app(app, extensions.db, directory=MIGRATIONS_DIRECTORY)
    extensions.init_limiter(app)
    extensions.compress.init_app(app)
    api = ProblemApi(app)
    app.extensions["lw_api"] = api
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    register_error_handlers(app)
    app.before_request(check_access_early)
    request_limits.init_app(app)
    response_headers.init_app(app)
    transactions.init_app(app)
    _register_blueprints(api)
    _register_delivery(app)
    _register_public_documents(app)
    _register_cli(app)
    _subscribe_to_events(app)
    return app


def _subscribe_to_events(app: Flask) -> None:
    from app.cards.pass_updates import subscribe_pass_updates
    from app.events import subscribe
    from app.memberships import service as memberships
    from app.profiles.service import record_signup_consents
    from app.referrals import service as referrals

    subscribe_pass_updates(app)
    subscribe(app, "member.signed_up", record_signup_consents)
    subscribe(app, "member.signed_up", referrals.record_sighting)
    subscribe(app, "member.logged_in", referrals.record_sighting)
    subscribe(app, "member.signed_up", referrals.link_at_signup)
    subscribe(app, "purchase.booked", referrals.note_qualifying_purchase)
    subscribe(app, "purchase.booked", memberships.on_purchase_booked)
    subscribe(app, "purchase.refunded", memberships.on_purchase_refunded)


def _register_blueprints(api: Api) -> None:
    from app.auth.routes import blp as auth_blp
    from app.auth.routes import till_blp as till_sessions_blp
    from app.automations.routes import blp as automations_blp
    from app.branding.routes import blp as branding_blp
    from app.campaigns.routes import blp as campaigns_blp
    from app.cards.pass_routes import register_pass_blueprints
    from app.cards.routes import blp as cards_blp
    from app.feedback.routes import blp as feedback_blp
    from app.fraud.routes import blp as fraud_blp
    from app.imports.routes import blp as imports_blp
    from app.kpis.routes import blp as kpis_blp
    from app.ledger.routes import BLUEPRINTS as ledger_blueprints
    from app.me.routes import blp as me_blp
    from app.members.routes import blp as members_blp
    from app.members.routes import segment_members_blp
    from app.memberships.routes import blp as memberships_blp
    from app.privacy.routes import blp as privacy_blp
    from app.profiles.routes import blp as profiles_blp
    from app.push.routes import blp as push_blp
    from app.referrals.routes import blp as referrals_blp
    from app.rewards.routes import blp as rewards_blp
    from app.segments.routes import blp as segments_blp
    from app.stores.routes import blp as stores_blp
    from app.till.routes import blp as till_blp
    from app.webhooks.routes import blp as webhooks_blp

    blueprints = (
        auth_blp,
        till_sessions_blp,
        me_blp,
        profiles_blp,
        privacy_blp,
        referrals_blp,
        memberships_blp,
        cards_blp,
        push_blp,
        *ledger_blueprints,
        rewards_blp,
        campaigns_blp,
        fraud_blp,
        stores_blp,
        till_blp,
        members_blp,
        imports_blp,
        segments_blp,
        segment_members_blp,
        kpis_blp,
        branding_blp,
        webhooks_blp,
        automations_blp,
        feedback_blp,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    register_pass_blueprints(api)


def _register_delivery(app: Flask) -> None:
    """Record every domain event in the outbox; register what the worker delivers."""
    from app.automations.service import install_automations
    from app.feedback.service import install_feedback
    from app.lifecycle.jobs import install_lifecycle_refresh
    from app.outbox.jobs import install_scheduled_jobs
    from app.outbox.service import install_outbox_writer
    from app.push.delivery import install_push_delivery
    from app.webhooks.service import install_webhooks

    install_outbox_writer(app)
    install_push_delivery(app)
    install_webhooks(app)
    install_automations(app)
    install_feedback(app)
    install_scheduled_jobs(app)
    install_lifecycle_refresh(app)


def _register_public_documents(app: Flask) -> None:
    from app.api_docs.routes import docs
    from app.cards.routes import well_known
    from app.pwa_routes import pwa

    app.register_blueprint(well_known)
    app.register_blueprint(pwa)
    app.register_blueprint(docs)


def _register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
