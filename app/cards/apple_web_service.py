"""The Apple Wallet pass web service: devices register passes and fetch them when they change.

Routes live under ``PUBLIC_BASE_URL + "/passkit"``, the pass's ``webServiceURL``:

==========================================================================  ==========  ============
call                                                                        auth        answers
==========================================================================  ==========  ============
``POST   /v1/devices/<device>/registrations/<passType>/<serial>``           ApplePass   201 new, 200
``DELETE /v1/devices/<device>/registrations/<passType>/<serial>``           ApplePass   200
``GET    /v1/devices/<device>/registrations/<passType>?passesUpdatedSince``  none        200, 204
``GET    /v1/passes/<passType>/<serial>``                                   ApplePass   200, 304
``POST   /v1/log``                                                          none        200
==========================================================================  ==========  ============

``ApplePass`` routes need ``Authorization: ApplePass <authenticationToken>``, the token the
pass carries (``app.cards.passes.pass_authentication_token``); anything else is a 401. Apple
defines the other two routes without authentication: the device library id in the path is
the device's secret.

**When did a pass change?** A pass's content is the ``pass.json`` built from the card and the
member right now (points, tier, name, the LW1 code, which a card-key rotation changes, and
whether the card is revoked). ``apple_pass_states`` keeps, per card, a SHA-256 digest of that
content and ``updated_at``, the time it last changed. The state is refreshed lazily, under a
row lock, whenever the service looks at a pass (registration, the device's update query, a
download) and whenever ``notify_pass_changed`` is called. So changes are noticed even where
nobody calls ``notify_pass_changed``; the call adds only the push that makes the phone ask at
once.

``updated_at`` moves forward by at least one second per change. ``Last-Modified`` is it
rounded up to a whole second (HTTP dates have no fractions), so a device's
``If-Modified-Since`` can never hide a second change made within the same second.

The ``lastUpdated`` tag is the query's clock reading in Unix microseconds, taken after it
refreshed the device's passes. A change the query did not see was made by a refresh that
took the pass's row lock after the query committed and read its clock only then, so its
``updated_at`` is later than the tag: no change falls between two queries. This relies on the
app hosts' clocks agreeing (NTP), as token expiry and TOTP codes already do.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import ForeignKey, Insert, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import Member
from app.auth.access import ACCESS_CHECK
from app.cards import passes
from app.cards.apns import PUSH_TOKEN, install_pass_update_pusher, push_after_commit
from app.cards.models import Card
from app.db import Base, created_at, utcnow
from app.errors import DomainError, Problem
from app.extensions import db, limiter
from wallet.apple import PKPASS_MEDIA_TYPE

log = logging.getLogger("app.cards.apple_web_service")

F = TypeVar("F", bound=Callable[..., Any])

AUTH_SCHEME = "ApplePass"
MAX_LOGGED_MESSAGES = 50
MAX_LOGGED_MESSAGE_LENGTH = 1000
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


# --- models ---------------------------------------------------------------------------------


class ApplePassRegistration(Base):
    """A device that holds a pass and wants a push when it changes."""

    __tablename__ = "apple_pass_registrations"

    device_library_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    pass_type_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    push_token: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[created_at]


class ApplePassState(Base):
    """What a card's pass holds now (a digest) and when that last changed."""

    __tablename__ = "apple_pass_states"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    content_digest: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


# --- service --------------------------------------------------------------------------------


def _insert_ignoring_conflict(model: type[Base], values: dict[str, Any]) -> Insert:
    """Build an INSERT that does nothing when the row exists (both dialects support it)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(model).values(**values).on_conflict_do_nothing()
    raise NotImplementedError(f"no conflict-ignoring insert for {dialect}")


def _microseconds(moment: datetime) -> int:
    return (moment - NEVER) // timedelta(microseconds=1)


def last_modified_of(state: ApplePassState) -> datetime:
    """Return the pass's ``Last-Modified`` time: its change time rounded up to a second."""
    whole = state.updated_at.replace(microsecond=0)
    return whole if whole == state.updated_at else whole + timedelta(seconds=1)


def refresh_pass_state(card: Card) -> tuple[ApplePassState, bool]:
    """Compare a card's pass with its last known content; return the state and if it changed."""
    db.session.flush()
    db.session.execute(
        _insert_ignoring_conflict(
            ApplePassState, {"card_id": card.id, "content_digest": "", "updated_at": NEVER}
        )
    )
    # Lock first, read the card and member second: the content is then read after any
    # concurrent refresh of the same pass has committed, never before.
    state = db.session.scalars(
        select(ApplePassState)
        .where(ApplePassState.card_id == card.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    db.session.refresh(card)
    member = db.session.get(Member, card.member_id, populate_existing=True)
    if member is None:
        return state, False
    digest = passes.pass_content_digest(
        passes.apple_pass_json(card, member, passes.apple_credentials())
    )
    if digest == state.content_digest:
        return state, False
    state.content_digest = digest
    state.updated_at = max(utcnow(), state.updated_at + timedelta(seconds=1))
    db.session.flush()
    return state, True


def authenticate_pass(pass_type_id: str, serial_number: str, authorization: str) -> Card:
    """Return the card whose pass the ``ApplePass`` token opens, or raise a 401 problem."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != AUTH_SCHEME.lower() or not token.strip():
        # Problem, not DomainError: a 401 carries its WWW-Authenticate header.
        raise Problem(
            "pass-authentication-required",
            401,
            "Pass authentication required",
            f"Send the pass's authenticationToken as 'Authorization: {AUTH_SCHEME} <token>'.",
            headers={"WWW-Authenticate": AUTH_SCHEME},
        )
    card_id = passes.card_id_from_serial(serial_number)
    card = db.session.get(Card, card_id) if card_id is not None else None
    if (
        card is None
        or pass_type_id != passes.apple_pass_type_id()
        or not passes.pass_token_matches(card.id, pass_type_id, token.strip())
    ):
        # Problem, not DomainError: a 401 carries its WWW-Authenticate header.
        raise Problem(
            "invalid-pass-token",
            401,
            "Invalid pass token",
            "This token does not open this pass.",
            headers={"WWW-Authenticate": AUTH_SCHEME},
        )
    return card


def register_device(device_library_id: str, pass_type_id: str, card: Card, push_token: str) -> bool:
    """Register a device for a card's pass updates; return whether it is a new registration."""
    serial_number = passes.card_serial_number(card.id)
    inserted = db.session.execute(
        _insert_ignoring_conflict(
            ApplePassRegistration,
            {
                "device_library_id": device_library_id,
                "pass_type_id": pass_type_id,
                "serial_number": serial_number,
                "push_token": push_token,
                "created_at": utcnow(),
            },
        ).returning(ApplePassRegistration.serial_number)
    )
    created = inserted.first() is not None
    if not created:
        # Apple sends repeated registrations; the newest push token is the one that works.
        db.session.execute(
            update(ApplePassRegistration)
            .where(
                ApplePassRegistration.device_library_id == device_library_id,
                ApplePassRegistration.pass_type_id == pass_type_id,
                ApplePassRegistration.serial_number == serial_number,
                ApplePassRegistration.push_token != push_token,
            )
            .values(push_token=push_token)
            .execution_options(synchronize_session=False)
        )
    refresh_pass_state(card)
    return created


def unregister_device(device_library_id: str, pass_type_id: str, card: Card) -> None:
    """Stop pushing a card's pass updates to a device (it removed the pass)."""
    db.session.execute(
        delete(ApplePassRegistration).where(
            ApplePassRegistration.device_library_id == device_library_id,
            ApplePassRegistration.pass_type_id == pass_type_id,
            ApplePassRegistration.serial_number == passes.card_serial_number(card.id),
        )
    )


def parse_update_tag(tag: str | None) -> int | None:
    """Read a ``passesUpdatedSince`` tag (Unix microseconds); anything else means "ever"."""
    if tag is None or not tag.strip().isdigit():
        return None
    return int(tag.strip())


def serials_updated_since(
    device_library_id: str, pass_type_id: str, tag: str | None
) -> tuple[list[str], str]:
    """List the serial numbers of the device's passes changed since the tag, and the new tag."""
    serial_numbers: Sequence[str] = db.session.scalars(
        select(ApplePassRegistration.serial_number)
        .where(
            ApplePassRegistration.device_library_id == device_library_id,
            ApplePassRegistration.pass_type_id == pass_type_id,
        )
        .order_by(ApplePassRegistration.serial_number)
    ).all()
    since = parse_update_tag(tag)
    changed = []
    # Sorted, so two queries that share passes take their row locks in the same order.
    for serial_number in serial_numbers:
        card_id = passes.card_id_from_serial(serial_number)
        card = db.session.get(Card, card_id) if card_id is not None else None
        if card is None:
            continue
        state, _ = refresh_pass_state(card)
        if since is None or _microseconds(state.updated_at) > since:
            changed.append(serial_number)
    return changed, str(_microseconds(utcnow()))


def pass_for_device(
    card: Card, if_modified_since: datetime | None
) -> tuple[bytes | None, datetime]:
    """Return a card's signed pass (None if the device's copy is current) and its change time."""
    state, _ = refresh_pass_state(card)
    last_modified = last_modified_of(state)
    if if_modified_since is not None and last_modified <= if_modified_since:
        return None, last_modified
    member = db.session.get(Member, card.member_id)
    if member is None:
        raise DomainError("unknown-card", "No member holds this card.")
    return passes.apple_pass_bundle(card, member), last_modified


def notify_pass_changed(member_id: int) -> int:
    """Push to every device holding one of the member's passes whose content changed.

    Call it after anything a pass shows has changed (points, tier, name, card reissued or
    revoked), in the same transaction; the push goes out after the commit. Returns how many
    devices will be woken.
    """
    cards = db.session.scalars(select(Card).where(Card.member_id == member_id)).all()
    serial_to_card = {passes.card_serial_number(card.id): card for card in cards}
    if not serial_to_card:
        return 0
    registrations = db.session.scalars(
        select(ApplePassRegistration)
        .where(
            ApplePassRegistration.serial_number.in_(serial_to_card),
            ApplePassRegistration.pass_type_id == passes.apple_pass_type_id(),
        )
        .order_by(ApplePassRegistration.serial_number)
    ).all()
    push_tokens: set[str] = set()
    for serial_number in sorted({r.serial_number for r in registrations}):
        _, changed = refresh_pass_state(serial_to_card[serial_number])
        if changed:
            push_tokens.update(
                r.push_token for r in registrations if r.serial_number == serial_number
            )
    if push_tokens:
        push_after_commit(push_tokens)
    return len(push_tokens)


def log_device_messages(messages: Sequence[str]) -> None:
    """Write what a device reports about its pass updates to the log."""
    for message in messages[:MAX_LOGGED_MESSAGES]:
        log.warning("Apple Wallet device log: %s", message[:MAX_LOGGED_MESSAGE_LENGTH])


# --- routes ---------------------------------------------------------------------------------


def apple_pass_required(view: F) -> F:
    """Let only a device that holds the pass (its authentication token) call the route."""

    def check() -> None:
        if "apple_pass_card" in g:
            return
        arguments = request.view_args or {}
        g.apple_pass_card = authenticate_pass(
            arguments["pass_type_id"],
            arguments["serial_number"],
            request.headers.get("Authorization", ""),
        )

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check()
        return view(*args, **kwargs)

    # Checked before the body is parsed, like every other route (app.auth.access).
    setattr(wrapper, ACCESS_CHECK, check)
    return wrapper  # type: ignore[return-value]


def authenticated_pass_card() -> Card:
    """Return the card whose pass authenticated the current request."""
    card: Card = g.apple_pass_card
    return card


blp = Blueprint(
    "apple_pass_web_service",
    __name__,
    url_prefix=passes.PASS_WEB_SERVICE_PATH,
    description="Apple Wallet pass web service (called by iPhones, not by the PWA)",
)

PASS_AUTH_ERRORS = "pass-authentication-required, invalid-pass-token"
REGISTRATION = (
    "/v1/devices/<string(maxlength=100):device_library_id>/registrations"
    "/<string(maxlength=255):pass_type_id>/<string(maxlength=64):serial_number>"
)


class PushTokenSchema(Schema):
    push_token = fields.String(
        data_key="pushToken", required=True, validate=validate.Regexp(rf"\A{PUSH_TOKEN.pattern}\Z")
    )


class SerialNumbersSchema(Schema):
    serial_numbers = fields.List(fields.String(), data_key="serialNumbers")
    last_updated = fields.String(data_key="lastUpdated")


class UpdatesQuerySchema(Schema):
    passes_updated_since = fields.String(data_key="passesUpdatedSince", load_default=None)


class DeviceLogSchema(Schema):
    logs = fields.List(fields.String(), required=True)


def _empty(status: int) -> Response:
    return current_app.response_class(status=status)


@blp.route(REGISTRATION)
class PassRegistration(MethodView):
    @blp.arguments(PushTokenSchema)
    @blp.response(201)
    @blp.alt_response(200, description="The device was registered already.")
    @blp.alt_response(401, description=PASS_AUTH_ERRORS)
    @apple_pass_required
    def post(
        self, body: dict[str, str], device_library_id: str, pass_type_id: str, serial_number: str
    ) -> Response:
        """Register a device to receive pushes when this pass changes."""
        created = register_device(
            device_library_id, pass_type_id, authenticated_pass_card(), body["push_token"]
        )
        return _empty(201 if created else 200)

    @blp.response(200)
    @blp.alt_response(401, description=PASS_AUTH_ERRORS)
    @apple_pass_required
    def delete(self, device_library_id: str, pass_type_id: str, serial_number: str) -> Response:
        """Unregister a device from this pass's updates."""
        unregister_device(device_library_id, pass_type_id, authenticated_pass_card())
        return _empty(200)


@blp.route(
    "/v1/devices/<string(maxlength=100):device_library_id>/registrations"
    "/<string(maxlength=255):pass_type_id>"
)
class DevicePassUpdates(MethodView):
    @blp.arguments(UpdatesQuerySchema, location="query")
    @blp.response(200, SerialNumbersSchema)
    @blp.alt_response(204, description="No pass of this device changed since the tag.")
    def get(self, query: dict[str, Any], device_library_id: str, pass_type_id: str) -> Any:
        """List this device's passes that changed since the tag (no auth: Apple's design)."""
        changed, tag = serials_updated_since(
            device_library_id, pass_type_id, query["passes_updated_since"]
        )
        return {"serial_numbers": changed, "last_updated": tag} if changed else _empty(204)


@blp.route("/v1/passes/<string(maxlength=255):pass_type_id>/<string(maxlength=64):serial_number>")
class DevicePass(MethodView):
    @blp.response(200, content_type=PKPASS_MEDIA_TYPE)
    @blp.alt_response(304, description="The device's copy is current (If-Modified-Since).")
    @blp.alt_response(401, description=PASS_AUTH_ERRORS)
    @apple_pass_required
    def get(self, pass_type_id: str, serial_number: str) -> Response:
        """Download the current version of this pass."""
        bundle, last_modified = pass_for_device(
            authenticated_pass_card(), request.if_modified_since
        )
        response = (
            _empty(304)
            if bundle is None
            else current_app.response_class(bundle, mimetype=PKPASS_MEDIA_TYPE)
        )
        response.last_modified = last_modified
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/v1/log")
class DeviceLog(MethodView):
    decorators = [limiter.limit("60 per minute")]

    @blp.arguments(DeviceLogSchema)
    @blp.response(200)
    def post(self, body: dict[str, list[str]]) -> Response:
        """Record problems a device had with this service (no auth: Apple's design)."""
        log_device_messages(body["logs"])
        return _empty(200)


def _start(app: Flask) -> None:
    install_pass_update_pusher(app)


blp.record_once(lambda state: _start(state.app))
