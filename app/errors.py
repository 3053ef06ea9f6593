"""One error shape for the whole API: RFC 9457 ``application/problem+json``.

Every error answer is ``{type, title, status, detail}``, plus ``errors`` for field problems and
any extra members a refusal carries (``redeemed_at`` on a double redemption, say). ``type`` is a
stable kebab-case word that clients switch on; the README lists them all. Domain code raises
a ``DomainError`` (or a library error that has a ``type``) and never builds a response itself:
a ``DomainError`` names its type and detail, and its HTTP status and title come from one table,
``DOMAIN_PROBLEMS``. A ``Problem`` with its own status is for the edge only (this module,
request limits, authentication with its ``WWW-Authenticate`` header, the request's transaction,
upload checks) and for the few refusals a table entry cannot say: those that carry headers, and
``validation-error``, which is answered with several titles today. ``tests/api/test_errors.py``
checks both rules by reading the source. A 500 is logged with its traceback and answered
without one.

Titles are for people: when the request's ``Accept-Language`` prefers German, the ``title`` of
the types the apps show is given in German (``GERMAN_TITLES``); ``type`` and ``detail`` stay as
they are (clients switch on ``type``; the PWA words its own messages per type).

``ProblemApi`` documents that shape in the OpenAPI document: every error response there is
``application/problem+json`` with the ``Problem`` schema, so clients (and the fuzz suite's
content-type check) find what the API really sends.
"""

from __future__ import annotations

import logging
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, g, has_request_context, json, request
from flask_smorest import Api
from marshmallow import INCLUDE, Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger("app.errors")

PROBLEM_MIMETYPE = "application/problem+json"

# The type of each HTTP status when nothing more specific was said.
STATUS_TYPES: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}

# German titles of the problem types people see in the apps (till, member app, sign-in).
GERMAN_TITLES: dict[str, str] = {
    "authentication-required": "Anmeldung erforderlich",
    "invalid-credentials": "Anmeldung fehlgeschlagen",
    "token-expired": "Sitzung abgelaufen",
    "invalid-refresh-token": "Sitzung beendet",
    "forbidden": "Nicht erlaubt",
    "not-found": "Nicht gefunden",
    "validation-error": "Ungültige Eingabe",
    "too-many-attempts": "Zu viele Versuche",
    "too-many-requests": "Zu viele Anfragen",
    "internal-error": "Interner Fehler",
    "conflict": "Konflikt",
    "malformed-code": "Unbekannter Code",
    "bad-signature": "Ungültige Karte",
    "unknown-key": "Ungültige Karte",
    "unknown-card": "Unbekannte Karte",
    "card-expired": "Karte abgelaufen",
    "card-revoked": "Karte ersetzt",
    "code-stale": "Code abgelaufen",
    "code-replayed": "Code bereits benutzt",
    "invalid-scan-token": "Scan abgelaufen",
    "member-blocked": "Mitgliedschaft gesperrt",
    "card-blocked": "Karte gesperrt",
    "till-blocked": "Kasse gesperrt",
    "risk-denied": "Abgelehnt",
    "step-up-required": "Freigabe nötig",
    "duplicate-receipt": "Beleg schon gebucht",
    "unknown-receipt": "Unbekannter Beleg",
    "refund-exceeds-purchase": "Erstattung zu hoch",
    "currency-not-accepted": "Währung nicht angenommen",
    "invalid-code": "Ungültiger Gutscheincode",
    "unknown-code": "Unbekannter Gutschein",
    "coupon-already-redeemed": "Gutschein schon eingelöst",
    "use-limit-reached": "Gutschein aufgebraucht",
    "coupon-expired": "Gutschein abgelaufen",
    "coupon-voided": "Gutschein ungültig",
    "coupon-not-yet-valid": "Gutschein noch nicht gültig",
    "wrong-store": "Anderes Geschäft",
    "wrong-member": "Anderes Mitglied",
    "basket-too-small": "Einkauf zu klein",
    "item-not-in-basket": "Artikel fehlt",
    "member-card-required": "Mitgliedskarte nötig",
    "reversal-not-allowed": "Rückgängig nicht erlaubt",
    "reversal-window-closed": "Zu spät zum Rückgängigmachen",
    "redemption-already-reversed": "Schon rückgängig gemacht",
    "insufficient-points": "Nicht genug Punkte",
    "lookup-earn-only": "Nur Punkte sammeln",
    "query-too-short": "Suchtext zu kurz",
    "email-taken": "E-Mail schon registriert",
}


def _prefers_german() -> bool:
    """Tell whether the current request's Accept-Language prefers German to English."""
    if not has_request_context():
        return False
    for tag, _quality in request.accept_languages:  # best first
        primary = tag.split("-")[0].lower()
        if primary in ("de", "en"):
            return primary == "de"
    return False


class Problem(Exception):
    """An error answer: raise it anywhere in a request and the handler renders it."""

    def __init__(
        self,
        type: str,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or type)
        self.type = type
        self.status = status
        self.title = title or type.replace("-", " ").capitalize()
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """Return the problem document."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        body["detail"] = self.detail or self.title
        body.update(self.extra)
        return body


# The HTTP status and title of each domain refusal, in one place: domain code raises a
# ``DomainError`` with a type and a detail, and the edge answers with the status listed here.
# A type raised as a ``Problem`` at the edge too (``forbidden``, ``conflict``) has the same
# status and title there.
DOMAIN_PROBLEMS: dict[str, tuple[int, str]] = {
    # a card presented at the till (app.cards.presentation)
    "malformed-code": (422, "Malformed code"),
    "bad-signature": (422, "Bad signature"),
    "unknown-key": (422, "Unknown key"),
    "card-expired": (410, "Card expired"),
    "card-revoked": (410, "Card revoked"),
    "unknown-card": (404, "Unknown card"),
    "code-stale": (422, "Code stale"),
    "code-replayed": (409, "Code replayed"),
    "invalid-scan-token": (422, "Invalid scan token"),
    # blocks (app.fraud.blocks)
    "till-blocked": (403, "Till blocked"),
    "card-blocked": (403, "Card blocked"),
    "member-blocked": (403, "Member blocked"),
    # the till's own checks
    "currency-not-accepted": (422, "Currency not accepted"),
    "duplicate-receipt": (409, "Receipt already booked"),
    "unknown-receipt": (404, "Unknown receipt"),
    "refund-exceeds-purchase": (422, "Refund exceeds purchase"),
    "unknown-code": (404, "Unknown coupon code"),
    "member-card-required": (422, "Member card required"),
    # refused by several packages
    "forbidden": (403, "Forbidden"),
    "unknown-member": (404, "Unknown member"),
    "unknown-store": (404, "Unknown store"),
    "email-taken": (409, "E-mail taken"),
    "conflict": (409, "Conflict"),
    # sign-in and accounts (app.auth, app.me, app.privacy)
    "invalid-credentials": (401, "Invalid credentials"),
    "invalid-token": (401, "Invalid token"),
    "invalid-refresh-token": (401, "Invalid refresh token"),
    "refresh-token-reused": (401, "Refresh token reused"),
    "invalid-till-key": (401, "Invalid till key"),
    "invalid-magic-link": (401, "Invalid sign-in link"),
    "member-erased": (410, "Member erased"),
    # idempotent till writes (app.idempotency, app.till.sync)
    "idempotency-key-required": (400, "Idempotency-Key required"),
    "idempotency-key-reused": (422, "Idempotency-Key reused"),
    # automations (app.automations)
    "task-already-done": (409, "Task already done"),
    "unknown-automation": (404, "Unknown automation"),
    "unknown-task": (404, "Unknown task"),
    # campaigns and coupons (app.campaigns)
    "conflict-already-resolved": (409, "Conflict already resolved"),
    "unknown-conflict": (404, "Unknown conflict"),
    "campaign-has-no-export": (409, "Nothing to export"),
    "campaign-voided": (410, "Campaign voided"),
    "codes-already-exported": (409, "Codes already exported"),
    "unknown-campaign": (404, "Unknown campaign"),
    "redemption-already-reversed": (409, "Redemption already reversed"),
    "reversal-not-allowed": (403, "Reversal not allowed"),
    "reversal-window-closed": (403, "Reversal window closed"),
    "unknown-redemption": (404, "Unknown redemption"),
    "coupon-already-voided": (409, "Coupon already voided"),
    "unknown-coupon": (404, "Unknown coupon"),
    # surveys and complaints (app.feedback)
    "complaint-already-resolved": (409, "Complaint already resolved"),
    "survey-already-answered": (409, "Survey already answered"),
    "unknown-complaint": (404, "Unknown complaint"),
    "unknown-survey": (404, "Unknown survey"),
    # fraud review and rules (app.fraud)
    "event-already-resolved": (409, "Event already resolved"),
    "unknown-event": (404, "Unknown event"),
    "unknown-target": (404, "Unknown target"),
    "invalid-manager-approval": (403, "Invalid manager approval"),
    "risk-denied": (403, "Refused by the fraud rules"),
    "step-up-required": (428, "Step-up required"),
    # purchase imports (app.imports)
    "import-bad-header": (422, "Not a purchase export"),
    "import-conflict": (409, "Import conflict"),
    "import-not-utf8": (422, "Not UTF-8"),
    # points ledger and promotions (app.ledger)
    "unknown-promotion": (404, "Unknown promotion"),
    "already-expired": (409, "Already expired"),
    "already-reversed": (409, "Already reversed"),
    "entry-not-reversible": (422, "Entry cannot be reversed"),
    "insufficient-points": (409, "Not enough points"),
    "reason-required": (422, "Reason required"),
    "unknown-entry": (404, "Unknown entry"),
    # paid memberships (app.memberships)
    "membership-not-active": (409, "Membership not active"),
    "sku-taken": (409, "SKU taken"),
    "unknown-membership": (404, "Unknown membership"),
    "unknown-membership-plan": (404, "Unknown plan"),
    # member profiles (app.profiles)
    "unknown-consent-purpose": (404, "Unknown consent purpose"),
    # push subscriptions (app.push)
    "invalid-push-keys": (422, "Invalid push keys"),
    "push-endpoint-taken": (409, "Push endpoint taken"),
    # referrals (app.referrals)
    "referral-already-linked": (409, "Already referred"),
    "referral-claim-closed": (409, "Too late for a referral code"),
    "unknown-referral-code": (404, "Unknown referral code"),
    # rewards and stamp cards (app.rewards)
    "fulfilment-not-applicable": (409, "Not a physical gift"),
    "invalid-fulfilment-transition": (409, "Invalid fulfilment step"),
    "reward-limit-reached": (409, "Limit reached"),
    "reward-not-available": (409, "Reward not available"),
    "reward-out-of-stock": (409, "Out of stock"),
    "unknown-reward": (404, "Unknown reward"),
    "unknown-reward-claim": (404, "Unknown claim"),
    "unknown-stamp-programme": (404, "Unknown stamp programme"),
    # segments (app.segments)
    "invalid-segment-rules": (422, "Invalid segment rules"),
    "segment-empty": (422, "Segment is empty"),
    "segment-name-taken": (409, "Segment name taken"),
    "segment-too-large": (422, "Segment too large"),
    "unknown-segment": (404, "Unknown segment"),
    # stores and staff (app.stores)
    "unknown-staff": (404, "Unknown staff account"),
    # the till desk and offline sync (app.till)
    "lookup-earn-only": (403, "Earning only"),
    "query-too-short": (422, "Search text too short"),
    "unknown-till": (404, "Unknown till"),
    "offline-event-too-old": (422, "Offline event too old"),
    # webhooks (app.webhooks)
    "unknown-webhook-endpoint": (404, "Unknown webhook endpoint"),
}


class DomainError(Problem):
    """A refusal raised by domain code: its status and title come from ``DOMAIN_PROBLEMS``."""

    def __init__(self, type: str, detail: str | None = None, **extra: Any) -> None:
        status, title = DOMAIN_PROBLEMS[type]
        super().__init__(type, status, title, detail, **extra)


def problem_response(problem: Problem) -> Response:
    """Render a problem as an HTTP response (and note its type for the logs)."""
    body = problem.to_dict()
    if has_request_context():
        g.problem_type = problem.type
        if _prefers_german() and problem.type in GERMAN_TITLES:
            body["title"] = GERMAN_TITLES[problem.type]
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MIMETYPE)
    response.vary.add("Accept-Language")
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> Problem:
    """Translate a werkzeug or flask-smorest HTTP error into a problem."""
    status = exc.code or 500
    data: dict[str, Any] = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if isinstance(messages, dict) and "json" in messages and status in (400, 422):
        field_errors = messages["json"]
        if status == 400 or (isinstance(field_errors, list)):
            return Problem(
                "malformed-json",
                400,
                "Malformed JSON body",
                "The request body is not valid JSON.",
            )
        return Problem(
            "validation-error",
            422,
            "Invalid request",
            "Some fields are missing or invalid.",
            errors=messages,
        )
    if isinstance(messages, dict) and status == 422:
        return Problem(
            "validation-error",
            422,
            "Invalid request",
            "Some parameters are invalid.",
            errors=messages,
        )
    headers = {}
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return Problem(
        STATUS_TYPES.get(status, "http-error"),
        status,
        exc.name,
        exc.description if status != 500 else "Something went wrong on our side.",
        headers=headers,
    )


class ProblemSchema(Schema):
    """The error body of every answer: RFC 9457 problem details (``application/problem+json``)."""

    class Meta:
        unknown = INCLUDE  # a refusal may add members (redeemed_at, retry_after, ...)

    type = fields.String(required=True, metadata={"description": "stable kebab-case type"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "field problems (validation-error)"})


class ProblemResponses(BasePlugin):
    """An apispec plugin: every error answer of every operation is a problem document."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Give each 4xx/5xx response that names no content the problem+json content."""
        for operation in (operations or {}).values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45" and isinstance(response, dict):
                    response.setdefault(
                        "content",
                        {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    )


class ProblemApi(Api):
    """flask-smorest's Api, documenting every error answer as ``application/problem+json``."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app: Flask) -> None:
        super().__init__(app, spec_kwargs={"extra_plugins": [ProblemResponses()]})
        assert self.spec is not None
        if "Problem" not in self.spec.components.schemas:  # unless an error response did
            self.spec.components.schema("Problem", schema=ProblemSchema)

    def _register_responses(self) -> None:
        # The error response components are built with the default response content type;
        # build them with the problem type instead (success answers stay application/json).
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIMETYPE
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


def register_error_handlers(app: Flask) -> None:
    """Answer every error of the app with problem+json."""

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        library_type = getattr(exc, "type", None)
        library_status = getattr(exc, "status", None)
        if isinstance(library_type, str) and isinstance(library_status, int):
            return problem_response(Problem(library_type, library_status, detail=str(exc)))
        log.exception("unhandled error")
        return problem_response(
            Problem("internal-error", 500, "Internal error", "Something went wrong on our side.")
        )
