"""The scan's floor: a till scan's own work with no framework, to price leaving the framework.

The till's targets are ratios to a one-route Flask app. What the till costs on top of that is
partly its own work (the database, Redis, the signatures) and partly the framework around it
(Flask's request handling and hooks, flask-smorest's schemas, SQLAlchemy's execution, the
session's transaction handling). This app serves ``POST /api/v1/till/scan`` as a plain WSGI
callable that does only the scan's own work, with the app's own functions and statements:

1. the JSON body and the till's access token (``decode_access_token``, remembered per process
   as in the app);
2. the lockout check: the same Redis pipeline as the app's (``RedisGuessCounter.locked``);
3. the code's own checks (``read_card_code``: format, Ed25519 signature, remembered per
   process);
4. on one psycopg connection, no SQLAlchemy: ``BEGIN``, the till's state with the settings
   versions, the card with its member, block and last accepted use, the attempt row,
   ``COMMIT``: the app's own statements, compiled once for PostgreSQL;
5. the card's acceptance (``accept_card``) and the scan token (``issue_scan_token``);
6. the JSON answer.

Left out, and so not priced here: the fraud rules' evaluation, the request limits, the log
line, the attempt's code fingerprint, problem+json answers (a refusal answers a bare 4xx), the
OpenAPI schemas. So this is a lower bound of what a scan without the framework would cost,
not a second implementation: ``make bench`` serves it with the ``Procfile``'s gunicorn settings
(PostgreSQL only) and reports its share of the ceiling next to the real scan's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy.dialects import postgresql

from app import create_app
from app.accounts.models import Member
from app.auth.tokens import TILL_AUDIENCE, decode_access_token
from app.cards.presentation import (
    CardRefused,
    CardState,
    accept_card,
    issue_scan_token,
    read_card_code,
)
from app.db import utcnow
from app.errors import Problem
from app.fraud.blocks import _till_state_query
from app.fraud.lockout import guess_counter
from app.fraud.models import Attempt
from app.fraud.rules import prior_use_params
from app.fraud.settings import RULE_DEFAULTS
from app.settings_cache import versions_query
from app.till.pipeline import _CARD_MEMBER_AND_PRIOR_USE

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_MEMBER_COLUMNS = len(Member.__table__.columns)
_ATTEMPT_COLUMNS = (
    "operation outcome refusal_type status_code till_id store_id staff_id member_id card_id "
    "code_fingerprint risk_score request_id client_address occurred_at"
).split()


def _compiled(statement: Any) -> tuple[str, dict[str, Any]]:
    """Return a statement's PostgreSQL text for psycopg and the values it carries itself."""
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


def create_app_floor(app: Flask | None = None) -> Callable[[dict[str, Any], StartResponse], Any]:
    """Return the WSGI callable, on ``app``'s database and keys (made from the environment)."""
    app = app or create_app()
    till_state_sql, till_state_values = _compiled(_till_state_query(tuple(versions_query())))
    card_sql, card_values = _compiled(_CARD_MEMBER_AND_PRIOR_USE)
    attempt_sql = (
        f"INSERT INTO {Attempt.__tablename__} ({', '.join(_ATTEMPT_COLUMNS)}) "
        f"VALUES ({', '.join(f'%({name})s' for name in _ATTEMPT_COLUMNS)})"
    )
    database_url = str(app.config["SQLALCHEMY_DATABASE_URI"]).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    connection: list[psycopg.Connection[Any]] = []  # made in the worker, after the fork

    def refuse(start_response: StartResponse, status: str) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with app.app_context():  # the app's functions read keys and settings via current_app
            return scan(environ, start_response)

    def scan(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/api/v1/till/scan" or environ["REQUEST_METHOD"] != "POST":
            return refuse(start_response, "404 Not Found")
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        try:
            token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
            identity = decode_access_token(token, TILL_AUDIENCE)
        except Problem:
            return refuse(start_response, "401 Unauthorized")
        assert identity.till_id is not None
        address = environ.get("REMOTE_ADDR") or ""
        if guess_counter().locked([f"till:{identity.till_id}", f"addr:{address}"]):
            return refuse(start_response, "429 Too Many Requests")
        now = utcnow()
        try:
            shown = read_card_code(body["code"], identity.till_id, now)
        except CardRefused:
            return refuse(start_response, "422 Unprocessable Entity")
        if not connection:
            connection.append(psycopg.connect(database_url))
        naive_now = now.replace(tzinfo=None)
        with connection[0].cursor() as cursor:
            cursor.execute(
                till_state_sql,
                {**till_state_values, "till_id": identity.till_id, "staff_id": identity.subject_id},
            )
            till_rows = cursor.fetchall()
            if not till_rows or till_rows[0][0]:
                connection[0].rollback()
                return refuse(start_response, "403 Forbidden")
            prior = prior_use_params(shown.card_id, RULE_DEFAULTS, now)
            prior["use_since"] = prior["use_since"].replace(tzinfo=None)
            cursor.execute(
                card_sql,
                {**card_values, "card_id": shown.card_id, "card_key": str(shown.card_id), **prior},
            )
            row = cursor.fetchone()
            state = row[_MEMBER_COLUMNS + 1 : _MEMBER_COLUMNS + 5] if row else None
            try:
                card = accept_card(shown, CardState(*state) if state else None, now)
            except CardRefused:
                connection[0].rollback()
                return refuse(start_response, "410 Gone")
            member = dict(zip((c.name for c in Member.__table__.columns), row or (), strict=False))
            if row is None or row[_MEMBER_COLUMNS] is not None or member["blocked"]:
                connection[0].rollback()
                return refuse(start_response, "403 Forbidden")
            attempt = dict.fromkeys(_ATTEMPT_COLUMNS)
            attempt |= {
                "operation": "scan",
                "outcome": "accepted",
                "status_code": 200,
                "till_id": identity.till_id,
                "store_id": identity.store_id,
                "staff_id": identity.subject_id,
                "member_id": member["id"],
                "card_id": str(card.card_id),
                "risk_score": 0,
                "client_address": address,
                "occurred_at": naive_now,
            }
            cursor.execute(attempt_sql, attempt)
        connection[0].commit()
        scan_token, expires_at = issue_scan_token(card, identity.till_id)
        answer = {
            "card_id": str(card.card_id),
            "member": {
                "display_name": member["display_name"],
                "points_balance": member["points_balance"],
                "tier": member["tier"],
            },
            "credential": card.credential,
            "scan_token": scan_token,
            "scan_token_expires_at": expires_at.isoformat(),
        }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    return serve
