"""Issuing, redeeming, reversing and voiding coupons; running campaigns; the coupon settings.

Functions here take plain values, ``flush()`` and never commit: the request (or the CLI
command) owns the transaction.

Storage that survives a leak. A code is looked up by HMAC-SHA256 under a key derived from the
instance secret ``coupon-storage`` (``coupons.storage.derive_storage_keys``). Only coupons
bound to a member keep their code, sealed with AES-256-GCM, so the wallet can show it again.
Anonymous campaign codes are generated when the campaign is created; the database keeps their
hashes and, until the one CSV export, the whole batch sealed under a separate derived key
(``campaigns.export_sealed``), which the export sets to NULL. A dump taken after the export holds
no way back to the codes; one taken before holds ciphertext that needs the instance folder.

Redeeming checks in a fixed order: the code's format and check symbol (``invalid-code``, before
any database access, so a typo never counts as a guess), the guess lockout hook
(``check_guess_lockout``), the lookup by hash (``unknown-code``, then the ``on_unknown_code``
hook), the member card if one was shown, then ``coupons.rules.decide_redemption`` with the
coupon's stored terms, then ``member-card-required`` for bonus points without a card. The
decision is advisory: single use is one conditional UPDATE (``... WHERE redeemed_at IS NULL AND
voided_at IS NULL``). If it changes no row the coupon is read again to say why: already redeemed
(with when and in which store) or voided. When a member card is shown, the member row is locked
first, always before the coupon row, so the per-member limit cannot be raced and two
redemptions never lock the two rows in opposite orders.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from app.accounts.models import Member, StaffAccount, StaffRole
from app.auth.access import MANAGER_ROLES
from app.campaigns.models import Campaign, Coupon, CouponSettings, Redemption
from app.cards.presentation import PresentedCard, present_card
from app.db import iso_or_none, utcnow
from app.errors import Problem
from app.extensions import db
from app.fraud import lockout as fraud_lockout
from app.fraud.attempts import update_attempt
from app.fraud.rules import assess
from app.naming import NameBook
from app.stores.models import Store
from coupons.codes import CANONICAL_LENGTH, format_code, generate_code, generate_codes
from coupons.codes import normalise_code as _normalise_code
from coupons.errors import InvalidCode, SealedCodeError
from coupons.rules import (
    REFUSAL_STATUS,
    REFUSAL_TITLE,
    BasketLine,
    Benefit,
    BenefitKind,
    CouponTerms,
    Decision,
    RedemptionContext,
    Refusal,
    decide_redemption,
)
from coupons.storage import (
    StorageKeys,
    code_lookup_hash,
    derive_storage_keys,
    open_sealed_code,
    seal_code,
)

log = logging.getLogger("app.campaigns")

STORAGE_SECRET_NAME = "coupon-storage"
EXPORT_KEY_INFO = b"loyalty-wallet/campaigns/export-v1"
EXPORT_ASSOCIATED_DATA = b"campaign-export-v1:"
EXPORT_NONCE_BYTES = 12
INSERT_CHUNK = 5_000
MAX_ISSUE_ATTEMPTS = 5
CAMPAIGN_SOURCE = "campaign"

DEFAULT_SETTINGS: dict[str, int] = {
    "offline_floor_limit_cents": 2_500,
    "offline_floor_limit_points": 500,
    "offline_max_age_hours": 72,
    "reversal_window_minutes": 30,
}
SETTINGS_ROW_ID = 1


@dataclass(frozen=True)
class IssuedCoupon:
    """A coupon just issued to a member, with its plain code (show it, never store it)."""

    coupon_id: int
    code: str  # canonical: 13 symbols
    formatted: str  # XXXX-XXXX-XXXX-C


@dataclass(frozen=True)
class TillPlace:
    """Where and by whom a till operation happens."""

    till_id: int
    store_id: int
    staff_id: int | None
    role: str


@dataclass(frozen=True)
class OfflineContext:
    """What an offline till reported about a redemption it already made."""

    event_id: str
    local_time: datetime
    floor_limit_cents: int
    floor_limit_points: int


@dataclass(frozen=True)
class _Evaluation:
    """A coupon checked against one till request, before anything changes."""

    coupon: Coupon
    benefit: Benefit
    presented: PresentedCard | None
    decision: Decision
    refusal: Problem | None


# --- keys and codes ---------------------------------------------------------------------------


def storage_keys() -> StorageKeys:
    """Return the lookup, fingerprint and seal keys derived from the instance secret."""
    secret: bytes = current_app.extensions["lw_secrets"].named_key(STORAGE_SECRET_NAME)
    return derive_storage_keys(secret)


def _export_key() -> AESGCM:
    """Return the AES-GCM key that seals campaign code batches for their one export."""
    secret: bytes = current_app.extensions["lw_secrets"].named_key(STORAGE_SECRET_NAME)
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=EXPORT_KEY_INFO)
    return AESGCM(kdf.derive(secret))


def read_code(text: str) -> str:
    """Return the canonical form of a typed or scanned code, or refuse it as ``invalid-code``."""
    try:
        return _normalise_code(text)
    except InvalidCode as exc:
        raise Problem(InvalidCode.type, InvalidCode.status, InvalidCode.title, str(exc)) from None


def check_guess_lockout() -> None:
    """Refuse the request with ``too-many-attempts`` (429) if the till or card is locked out.

    A hook for the anti-fraud package: it runs after the code's format was accepted and before
    the database lookup, so typos never count.
    """
    fraud_lockout.check_guess_lockout()


def on_unknown_code() -> None:
    """Note a well-formed code that matched no coupon (a possible guess).

    A hook for the anti-fraud package, called just before the ``unknown-code`` refusal is
    raised; the attempt log already holds the code's fingerprint.
    """
    fraud_lockout.count_failed_guess("unknown-code")


def find_coupon(canonical: str) -> Coupon:
    """Return the coupon with this canonical code, or refuse with ``unknown-code``."""
    code_hash = code_lookup_hash(canonical, storage_keys().lookup)
    coupon = db.session.scalar(
        select(Coupon)
        .where(Coupon.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )
    if coupon is None:
        on_unknown_code()
        raise Problem(
            "unknown-code", 404, "Unknown coupon code", "No coupon has this code; check it again."
        )
    return coupon


# --- issuing ----------------------------------------------------------------------------------


def _store_list(store_ids: Sequence[int] | None) -> list[int] | None:
    """Return store ids sorted and without repeats (None stays None: every store)."""
    if store_ids is None:
        return None
    return sorted(set(store_ids))


def _check_terms(
    valid_from: datetime | None,
    valid_until: datetime | None,
    store_ids: list[int] | None,
    min_basket_cents: int,
    max_uses_per_member: int | None,
) -> None:
    """Raise a validation problem if the terms are inconsistent."""
    try:
        CouponTerms(
            valid_from=valid_from,
            valid_until=valid_until,
            store_ids=frozenset(store_ids) if store_ids is not None else None,
            min_basket_cents=min_basket_cents,
            max_uses_per_member=max_uses_per_member,
        )
    except ValueError as exc:
        raise _invalid("terms", str(exc)) from None
    if store_ids:
        known = set(db.session.scalars(select(Store.id).where(Store.id.in_(store_ids))))
        missing = sorted(set(store_ids) - known)
        if missing:
            raise Problem("unknown-store", 404, "Unknown store", f"There is no store {missing[0]}.")


def _invalid(field: str, message: str) -> Problem:
    """Return a validation problem about one field of the request."""
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        message,
        errors={"json": {field: [message]}},
    )


def issue_member_coupon(
    member_id: int,
    benefit: Benefit,
    *,
    source: str,
    source_id: str | None = None,
    valid_until: datetime | None = None,
    store_ids: list[int] | None = None,
    min_basket_cents: int = 0,
) -> IssuedCoupon:
    """Issue a one-time coupon bound to a member, its code sealed for the member's wallet."""
    return _issue_member_coupon(
        member_id,
        benefit,
        source=source,
        source_id=source_id,
        valid_from=None,
        valid_until=valid_until,
        store_ids=store_ids,
        min_basket_cents=min_basket_cents,
        max_uses_per_member=None,
        campaign_id=None,
    )


def _issue_member_coupon(
    member_id: int,
    benefit: Benefit,
    *,
    source: str,
    source_id: str | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    store_ids: list[int] | None,
    min_basket_cents: int,
    max_uses_per_member: int | None,
    campaign_id: int | None,
    keys: StorageKeys | None = None,
) -> IssuedCoupon:
    """Insert one member-bound coupon, drawing a new code on the (rare) hash collision."""
    benefit.validate()
    keys = keys or storage_keys()
    stores = _store_list(store_ids)
    for _attempt in range(MAX_ISSUE_ATTEMPTS):
        code = generate_code()
        coupon = Coupon(
            code_hash=code_lookup_hash(code, keys.lookup),
            sealed_code=seal_code(code, keys.seal),
            campaign_id=campaign_id,
            member_id=member_id,
            source=source,
            source_id=source_id,
            benefit=benefit.to_dict(),
            valid_from=valid_from,
            valid_until=valid_until,
            store_ids=stores,
            min_basket_cents=min_basket_cents,
            max_uses_per_member=max_uses_per_member,
        )
        try:
            with db.session.begin_nested():
                db.session.add(coupon)
        except IntegrityError:
            if db.session.get(Member, member_id) is None:
                raise Problem(
                    "unknown-member", 404, "Unknown member", f"There is no member {member_id}."
                ) from None
            continue  # the code's hash exists already: draw another code
        return IssuedCoupon(coupon.id, code, format_code(code))
    raise RuntimeError("could not draw an unused coupon code")  # pragma: no cover


def _new_campaign(
    *,
    name: str,
    audience: str,
    benefit: Benefit,
    valid_from: datetime | None,
    valid_until: datetime | None,
    store_ids: list[int] | None,
    min_basket_cents: int,
    max_uses_per_member: int | None,
    staff_id: int | None,
) -> Campaign:
    """Add a campaign row after checking its benefit and terms."""
    try:
        benefit.validate()
    except ValueError as exc:
        raise _invalid("benefit", str(exc)) from None
    stores = _store_list(store_ids)
    _check_terms(valid_from, valid_until, stores, min_basket_cents, max_uses_per_member)
    campaign = Campaign(
        name=name.strip(),
        audience=audience,
        benefit=benefit.to_dict(),
        valid_from=valid_from,
        valid_until=valid_until,
        store_ids=stores,
        min_basket_cents=min_basket_cents,
        max_uses_per_member=max_uses_per_member,
        created_by_staff_id=staff_id,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def manager_store_scope(staff_id: int, store_ids: list[int] | None) -> list[int] | None:
    """Return the stores a campaign by this staff account may cover (managers: their own)."""
    staff = db.session.get(StaffAccount, staff_id)
    if staff is None or not staff.active:
        raise Problem("forbidden", 403, "Forbidden", "This staff account is not active.")
    if staff.role == StaffRole.ADMIN:
        return store_ids
    if store_ids is None:
        return staff.store_ids
    if not all(staff.works_in(store_id) for store_id in store_ids):
        raise Problem(
            "forbidden", 403, "Forbidden", "Managers may run campaigns only in their own stores."
        )
    return store_ids


def create_anonymous_campaign(
    *,
    name: str,
    benefit: Benefit,
    code_count: int,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    store_ids: list[int] | None = None,
    min_basket_cents: int = 0,
    max_uses_per_member: int | None = None,
    staff_id: int | None = None,
    seal_for_export: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[Campaign, list[str]]:
    """Create a campaign of ``code_count`` unique anonymous codes; return it and the codes.

    The database keeps only the codes' hashes, plus (``seal_for_export``) the batch sealed for
    the one CSV export. The CLI writes the codes itself and passes ``seal_for_export=False``.
    """
    if code_count < 1:
        raise _invalid("code_count", "A campaign needs at least one code.")
    campaign = _new_campaign(
        name=name,
        audience="anonymous",
        benefit=benefit,
        valid_from=valid_from,
        valid_until=valid_until,
        store_ids=store_ids,
        min_basket_cents=min_basket_cents,
        max_uses_per_member=max_uses_per_member,
        staff_id=staff_id,
    )
    keys = storage_keys()
    template: dict[str, Any] = {
        "sealed_code": None,
        "campaign_id": campaign.id,
        "member_id": None,
        "source": CAMPAIGN_SOURCE,
        "source_id": str(campaign.id),
        "benefit": campaign.benefit,
        "valid_from": campaign.valid_from,
        "valid_until": campaign.valid_until,
        "store_ids": campaign.store_ids,
        "min_basket_cents": campaign.min_basket_cents,
        "max_uses_per_member": campaign.max_uses_per_member,
        "created_at": utcnow(),
        "use_count": 0,
    }
    codes: list[str] = []
    while len(codes) < code_count:
        batch = generate_codes(min(INSERT_CHUNK, code_count - len(codes)))
        batch = _insert_anonymous_batch(batch, template, keys.lookup)
        codes.extend(batch)
        if progress is not None:
            progress(len(batch))
    campaign.code_count = len(codes)
    if seal_for_export:
        campaign.export_sealed = _seal_export(campaign.id, codes)
    db.session.flush()
    return campaign, codes


def _insert_anonymous_batch(
    batch: list[str], template: Mapping[str, Any], lookup_key: bytes
) -> list[str]:
    """Insert a batch of codes, replacing any whose hash exists already; return those inserted."""
    for _attempt in range(MAX_ISSUE_ATTEMPTS):
        hashes_by_code = dict(zip(batch, _lookup_hashes(batch, lookup_key), strict=True))
        try:
            with db.session.begin_nested():
                _insert_coupon_rows(template, list(hashes_by_code.values()))
            return batch
        except IntegrityError:
            # A code of an earlier campaign (or batch) drew the same 60 bits: replace it.
            taken = set(
                db.session.scalars(
                    select(Coupon.code_hash).where(
                        Coupon.code_hash.in_(list(hashes_by_code.values()))
                    )
                )
            )
            kept = [code for code, h in hashes_by_code.items() if h not in taken]
            fresh = [code for code in generate_codes(len(batch) - len(kept)) if code not in kept]
            batch = kept + fresh
    raise RuntimeError("could not draw unused coupon codes")  # pragma: no cover


def _insert_coupon_rows(template: Mapping[str, Any], code_hashes: Sequence[bytes]) -> None:
    """INSERT one coupon per hash, all other columns from ``template``, in one round of writes.

    The shared values go through the columns' own bind processors once; only the hash differs
    per row. Letting SQLAlchemy process every parameter of every row instead (JSON encoding,
    UTC conversion) took most of the time of a 100 000-code campaign. SQLite gets one
    ``executemany`` of the statement SQLAlchemy compiles; PostgreSQL gets ``COPY``, several
    times faster than row-by-row INSERTs over the network.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    table = Coupon.__table__
    assert isinstance(table, Table)
    names = ["code_hash", *template]
    shared = {name: _bound(table.c[name], value, dialect) for name, value in template.items()}
    if dialect.name == "postgresql":
        _copy_coupon_rows(connection, names, shared, code_hashes)
        return
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    # Both drivers take bytes for a binary column as they are.
    rows: list[Any]
    if compiled.positional:
        order = list(compiled.positiontup or [])
        assert order[0] == "code_hash"  # the column order given above
        tail = tuple(shared[name] for name in order[1:])
        rows = [(code_hash, *tail) for code_hash in code_hashes]
    else:
        rows = [{**shared, "code_hash": code_hash} for code_hash in code_hashes]
    connection.exec_driver_sql(str(compiled), rows)


def _copy_coupon_rows(
    connection: Connection,
    names: Sequence[str],
    shared: Mapping[str, Any],
    code_hashes: Sequence[bytes],
) -> None:
    """Stream coupon rows into PostgreSQL with ``COPY ... FROM STDIN`` (psycopg 3)."""
    import psycopg

    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    tail = tuple(shared[name] for name in names[1:])
    columns = ", ".join(names)
    try:
        with (
            driver_connection.cursor() as cursor,
            cursor.copy(f"COPY coupons ({columns}) FROM STDIN") as copy,
        ):
            for code_hash in code_hashes:
                copy.write_row((code_hash, *tail))
    except psycopg.errors.UniqueViolation as exc:
        # Speak SQLAlchemy's language, so the caller handles a collision the same way everywhere.
        raise IntegrityError("COPY coupons", None, exc) from exc


def _bound(column: Any, value: Any, dialect: Any) -> Any:
    """Convert a Python value to what the driver takes for ``column``, as SQLAlchemy would."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def _lookup_hashes(codes: Sequence[str], lookup_key: bytes) -> list[bytes]:
    """Return ``code_lookup_hash`` of each code of a batch ``generate_codes`` just drew.

    The same HMAC-SHA256 (a test pins the equality), minus the library's per-code check that
    the code is canonical: these codes are canonical by construction, and that check (a Luhn
    computation) costs more than the HMAC itself at 100 000 codes.
    """
    keyed = hmac.new(lookup_key, digestmod=hashlib.sha256)
    hashes = []
    for code in codes:
        mac = keyed.copy()
        mac.update(code.encode("ascii"))
        hashes.append(mac.digest())
    return hashes


def create_member_campaign(
    *,
    name: str,
    benefit: Benefit,
    member_ids: Sequence[int],
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    store_ids: list[int] | None = None,
    min_basket_cents: int = 0,
    staff_id: int | None = None,
) -> Campaign:
    """Create a campaign that gives each listed member one coupon in their wallet."""
    wanted = sorted(set(member_ids))
    if not wanted:
        raise _invalid("member_ids", "Name at least one member.")
    known = set(db.session.scalars(select(Member.id).where(Member.id.in_(wanted))))
    missing = [member_id for member_id in wanted if member_id not in known]
    if missing:
        raise Problem("unknown-member", 404, "Unknown member", f"There is no member {missing[0]}.")
    campaign = _new_campaign(
        name=name,
        audience="members",
        benefit=benefit,
        valid_from=valid_from,
        valid_until=valid_until,
        store_ids=store_ids,
        min_basket_cents=min_basket_cents,
        max_uses_per_member=None,
        staff_id=staff_id,
    )
    keys = storage_keys()
    for member_id in wanted:
        _issue_member_coupon(
            member_id,
            benefit,
            source=CAMPAIGN_SOURCE,
            source_id=str(campaign.id),
            valid_from=campaign.valid_from,
            valid_until=campaign.valid_until,
            store_ids=campaign.store_ids,
            min_basket_cents=campaign.min_basket_cents,
            max_uses_per_member=None,
            campaign_id=campaign.id,
            keys=keys,
        )
    campaign.code_count = len(wanted)
    db.session.flush()
    return campaign


def create_campaign(request: Mapping[str, Any], *, staff_id: int) -> Campaign:
    """Create the campaign a manager asked for (the API's body, already validated)."""
    benefit = Benefit.from_dict(request["benefit"])
    store_ids = manager_store_scope(staff_id, request["store_ids"])
    common: dict[str, Any] = {
        "name": request["name"],
        "benefit": benefit,
        "valid_from": request["valid_from"],
        "valid_until": request["valid_until"],
        "store_ids": store_ids,
        "min_basket_cents": request["min_basket_cents"],
        "staff_id": staff_id,
    }
    if request["audience"] == "members":
        return create_member_campaign(member_ids=request["member_ids"], **common)
    campaign, _codes = create_anonymous_campaign(
        code_count=request["code_count"],
        max_uses_per_member=request["max_uses_per_member"],
        **common,
    )
    return campaign


# --- the one export of anonymous codes --------------------------------------------------------


def _seal_export(campaign_id: int, codes: list[str]) -> bytes:
    """Seal a campaign's codes (compressed, concatenated canonical codes) under the export key."""
    nonce = secrets.token_bytes(EXPORT_NONCE_BYTES)
    plain = zlib.compress("".join(codes).encode("ascii"))
    associated = EXPORT_ASSOCIATED_DATA + str(campaign_id).encode()
    return nonce + _export_key().encrypt(nonce, plain, associated)


def _open_export(campaign_id: int, sealed: bytes) -> list[str]:
    """Open a campaign's sealed batch and return its canonical codes."""
    blob = bytes(sealed)
    associated = EXPORT_ASSOCIATED_DATA + str(campaign_id).encode()
    try:
        plain = _export_key().decrypt(
            blob[:EXPORT_NONCE_BYTES], blob[EXPORT_NONCE_BYTES:], associated
        )
    except InvalidTag:
        raise SealedCodeError("the campaign's sealed codes do not open") from None
    text = zlib.decompress(plain).decode("ascii")
    return [text[i : i + CANONICAL_LENGTH] for i in range(0, len(text), CANONICAL_LENGTH)]


def get_campaign(campaign_id: int, *, lock: bool = False) -> Campaign:
    """Return a campaign, or refuse with ``unknown-campaign``."""
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    campaign = db.session.scalar(query)
    if campaign is None:
        raise Problem(
            "unknown-campaign", 404, "Unknown campaign", f"There is no campaign {campaign_id}."
        )
    return campaign


def export_campaign_codes(campaign_id: int, *, staff_id: int | None, via: str) -> list[str]:
    """Hand out a campaign's anonymous codes once, destroying the sealed copy; refuse a repeat."""
    campaign = db.session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(undefer(Campaign.export_sealed))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if campaign is None:
        raise Problem(
            "unknown-campaign", 404, "Unknown campaign", f"There is no campaign {campaign_id}."
        )
    if campaign.audience != "anonymous":
        raise Problem(
            "campaign-has-no-export",
            409,
            "Nothing to export",
            "Member campaigns put each code in the member's wallet; there is no code list.",
        )
    if campaign.exported_at is not None:
        raise Problem(
            "codes-already-exported",
            409,
            "Codes already exported",
            "This campaign's codes were handed out once and are not kept; void the campaign and "
            "create a new one if the export was lost.",
            exported_at=campaign.exported_at.isoformat(),
            exported_by=_staff_summary(campaign.exported_by_staff_id),
            exported_via=campaign.exported_via,
        )
    if campaign.voided_at is not None or campaign.export_sealed is None:
        raise Problem(
            "campaign-voided",
            410,
            "Campaign voided",
            "This campaign was voided; its codes were destroyed unexported.",
        )
    codes = _open_export(campaign.id, campaign.export_sealed)
    campaign.export_sealed = None
    campaign.exported_at = utcnow()
    campaign.exported_by_staff_id = staff_id
    campaign.exported_via = via
    db.session.flush()
    return codes


def codes_csv(codes: Sequence[str]) -> str:
    """Return canonical codes as CSV: one display-form code per row, CRLF line ends (RFC 4180)."""
    # The grouping of coupons.codes.format_code (a test pins the equality) without its per-code
    # check-symbol validation: these codes come from our own generator.
    return "".join(f"{c[0:4]}-{c[4:8]}-{c[8:12]}-{c[12:]}\r\n" for c in codes)


def _staff_summary(staff_id: int | None) -> dict[str, Any] | None:
    """Return who a staff account is, for answers that name one."""
    if staff_id is None:
        return None
    staff = db.session.get(StaffAccount, staff_id)
    return {"staff_id": staff_id, "display_name": staff.display_name if staff else None}


def mark_exported(campaign: Campaign, *, staff_id: int | None, via: str) -> None:
    """Record that a campaign's codes were handed out outside the API (by the CLI)."""
    campaign.export_sealed = None
    campaign.exported_at = utcnow()
    campaign.exported_by_staff_id = staff_id
    campaign.exported_via = via
    db.session.flush()


def list_campaigns() -> Sequence[Campaign]:
    """List campaigns, newest first."""
    return db.session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()


def campaign_views(campaigns: Sequence[Campaign]) -> list[dict[str, Any]]:
    """Return campaigns with their redeemed and voided counts (one grouped query), JSON-ready."""
    counts: dict[int, tuple[int, int]] = {}
    if campaigns:
        rows = db.session.execute(
            select(Coupon.campaign_id, func.count(Coupon.redeemed_at), func.count(Coupon.voided_at))
            .where(Coupon.campaign_id.in_([campaign.id for campaign in campaigns]))
            .group_by(Coupon.campaign_id)
        )
        counts = {int(row[0]): (int(row[1]), int(row[2])) for row in rows}
    names = NameBook()
    for campaign in campaigns:
        names.want("staff", campaign.created_by_staff_id, campaign.exported_by_staff_id)
    names.load()
    return [
        {
            **_campaign_view(campaign, *counts.get(campaign.id, (0, 0))),
            "created_by_staff": names.ref("staff", campaign.created_by_staff_id),
            "exported_by_staff": names.ref("staff", campaign.exported_by_staff_id),
        }
        for campaign in campaigns
    ]


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    """Return one campaign with its redeemed and voided counts, JSON-ready."""
    return campaign_views([campaign])[0]


def _campaign_view(campaign: Campaign, redeemed: int, voided: int) -> dict[str, Any]:
    """Return a campaign and its counts as JSON-ready data."""
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "audience": campaign.audience,
        "benefit": campaign.benefit,
        "valid_from": iso_or_none(campaign.valid_from),
        "valid_until": iso_or_none(campaign.valid_until),
        "store_ids": campaign.store_ids,
        "min_basket_cents": campaign.min_basket_cents,
        "max_uses_per_member": campaign.max_uses_per_member,
        "code_count": campaign.code_count,
        "redeemed_count": redeemed,
        "voided_count": voided,
        "created_at": iso_or_none(campaign.created_at),
        "created_by_staff_id": campaign.created_by_staff_id,
        "exported_at": iso_or_none(campaign.exported_at),
        "exported_by_staff_id": campaign.exported_by_staff_id,
        "voided_at": iso_or_none(campaign.voided_at),
    }


# --- views ------------------------------------------------------------------------------------


def coupon_state(coupon: Coupon, now: datetime) -> str:
    """Name a coupon's state: voided, redeemed, not-yet-valid, expired or active."""
    if coupon.voided_at is not None:
        return "voided"
    if coupon.redeemed_at is not None:
        return "redeemed"
    if coupon.valid_from is not None and now < coupon.valid_from:
        return "not-yet-valid"
    if coupon.valid_until is not None and now >= coupon.valid_until:
        return "expired"
    return "active"


def coupon_view(coupon: Coupon, now: datetime | None = None) -> dict[str, Any]:
    """Return what a till or manager may see of a coupon: its terms and state, never its code."""
    return {
        "coupon_id": coupon.id,
        "campaign_id": coupon.campaign_id,
        "source": coupon.source,
        "benefit": coupon.benefit,
        "valid_from": iso_or_none(coupon.valid_from),
        "valid_until": iso_or_none(coupon.valid_until),
        "store_ids": coupon.store_ids,
        "min_basket_cents": coupon.min_basket_cents,
        "max_uses_per_member": coupon.max_uses_per_member,
        "member_bound": coupon.member_id is not None,
        "state": coupon_state(coupon, now or utcnow()),
        "redeemed_at": iso_or_none(coupon.redeemed_at),
        "voided_at": iso_or_none(coupon.voided_at),
    }


# --- at the till ------------------------------------------------------------------------------


def _terms(coupon: Coupon) -> CouponTerms:
    """Return a coupon's stored terms and state as the rules library takes them."""
    return CouponTerms(
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        store_ids=frozenset(coupon.store_ids) if coupon.store_ids else None,
        min_basket_cents=coupon.min_basket_cents,
        member_id=coupon.member_id,
        max_uses_per_member=coupon.max_uses_per_member,
        voided=coupon.voided_at is not None,
        redeemed=coupon.redeemed_at is not None,
    )


def _basket_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[BasketLine, ...]:
    """Turn the till's basket lines into the rules library's form."""
    return tuple(
        BasketLine(
            sku=str(line["sku"]),
            category=line.get("category"),
            amount_cents=int(line["amount_cents"]),
            quantity=int(line.get("quantity", 1)),
        )
        for line in lines
    )


def _member_use_count(coupon: Coupon, member_id: int | None) -> int:
    """Count the member's standing redemptions of this offer (campaign, or the coupon itself)."""
    if coupon.max_uses_per_member is None or member_id is None:
        return 0
    query = (
        select(func.count())
        .select_from(Redemption)
        .join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Redemption.member_id == member_id, Redemption.reversed_at.is_(None))
    )
    if coupon.campaign_id is not None:
        query = query.where(Coupon.campaign_id == coupon.campaign_id)
    else:
        query = query.where(Redemption.coupon_id == coupon.id)
    return int(db.session.scalar(query) or 0)


def _active_redemption(coupon: Coupon) -> Redemption | None:
    """Return the coupon's standing (not reversed) redemption, if it has one."""
    if coupon.redemption_id is None:
        return None
    return db.session.get(Redemption, coupon.redemption_id)


def refusal_problem(coupon: Coupon, refusal: Refusal) -> Problem:
    """Turn a rules refusal into its problem, with when and where for a double redemption."""
    extra: dict[str, Any] = {}
    detail = REFUSAL_TITLE[refusal] + "."
    if refusal is Refusal.ALREADY_REDEEMED:
        redemption = _active_redemption(coupon)
        extra["redeemed_at"] = iso_or_none(coupon.redeemed_at)
        extra["store_id"] = redemption.store_id if redemption else None
        detail = "This coupon was already redeemed."
    elif refusal is Refusal.VOIDED:
        extra["voided_at"] = iso_or_none(coupon.voided_at)
    elif refusal is Refusal.EXPIRED:
        extra["valid_until"] = iso_or_none(coupon.valid_until)
    elif refusal is Refusal.NOT_YET_VALID:
        extra["valid_from"] = iso_or_none(coupon.valid_from)
    elif refusal is Refusal.BASKET_TOO_SMALL:
        extra["min_basket_cents"] = coupon.min_basket_cents
    return Problem(refusal.value, REFUSAL_STATUS[refusal], REFUSAL_TITLE[refusal], detail, **extra)


def _member_card_required() -> Problem:
    """Return the refusal of a bonus-points coupon shown without a member card."""
    return Problem(
        "member-card-required",
        422,
        "Member card required",
        "This coupon credits bonus points; scan the member's card with it.",
    )


def _check_member(member_id: int, *, lock: bool) -> None:
    """Refuse a blocked member; ``lock`` holds their row until commit, always before a coupon's."""
    query = select(Member.blocked).where(Member.id == member_id)
    blocked = db.session.scalar(query.with_for_update() if lock else query)
    if blocked:
        raise Problem("member-blocked", 403, "Member blocked", "This membership is blocked.")


def _evaluate(
    code_text: str,
    *,
    place: TillPlace,
    basket_cents: int,
    lines: Sequence[Mapping[str, Any]],
    card_code: str | None,
    when: datetime,
    lock_member: bool,
) -> _Evaluation:
    """Run every check of a redemption in the documented order, changing nothing."""
    canonical = read_code(code_text)
    check_guess_lockout()
    coupon = find_coupon(canonical)
    presented = present_card(card_code) if card_code else None
    member_id = presented.member_id if presented else None
    if member_id is not None:
        _check_member(member_id, lock=lock_member)
    benefit = Benefit.from_dict(coupon.benefit)
    context = RedemptionContext(
        now=when,
        store_id=place.store_id,
        basket_cents=basket_cents,
        member_id=member_id,
        member_use_count=_member_use_count(coupon, member_id),
        lines=_basket_lines(lines),
    )
    decision = decide_redemption(_terms(coupon), benefit, context)
    refusal: Problem | None = None
    if decision.refusal is not None:
        refusal = refusal_problem(coupon, decision.refusal)
    elif benefit.kind is BenefitKind.BONUS_POINTS and member_id is None:
        refusal = _member_card_required()
    return _Evaluation(coupon, benefit, presented, decision, refusal)


def validate_coupon(
    code_text: str,
    *,
    place: TillPlace,
    basket_cents: int,
    lines: Sequence[Mapping[str, Any]] = (),
    card_code: str | None = None,
) -> dict[str, Any]:
    """Tell whether a coupon would be accepted now and what it is worth; change nothing."""
    now = utcnow()
    # Everything (a rotating card code's one use included) happens in a savepoint that is
    # rolled back: a dry run must leave the database as it found it.
    savepoint = db.session.begin_nested()
    try:
        evaluation = _evaluate(
            code_text,
            place=place,
            basket_cents=basket_cents,
            lines=lines,
            card_code=card_code,
            when=now,
            lock_member=False,
        )
    finally:
        savepoint.rollback()
    answer: dict[str, Any] = {
        "valid": evaluation.refusal is None,
        "benefit": evaluation.benefit.to_dict(),
        "coupon": coupon_view(evaluation.coupon, now),
    }
    if evaluation.refusal is None:
        answer["discount_cents"] = evaluation.decision.discount_cents
        answer["bonus_points"] = evaluation.decision.bonus_points
        answer["free_sku"] = evaluation.decision.free_sku
        answer["currency"] = _currency()
    else:
        answer["refusal"] = evaluation.refusal.to_dict()
        # The dry run answers 200, but the attempt log records the refusal it reports.
        update_attempt(refusal_type=evaluation.refusal.type)
    return answer


def validate_request(request: Mapping[str, Any], place: TillPlace) -> dict[str, Any]:
    """Validate a coupon as the till's validate request asks."""
    return validate_coupon(
        request["code"],
        place=place,
        basket_cents=request["basket_cents"],
        lines=request["lines"],
        card_code=request["card_code"],
    )


def redeem_request(request: Mapping[str, Any], place: TillPlace) -> dict[str, Any]:
    """Redeem a coupon as the till's redeem request asks."""
    return redeem_coupon(
        request["code"],
        place=place,
        receipt_id=request["receipt_id"],
        basket_cents=request["basket_cents"],
        lines=request["lines"],
        card_code=request["card_code"],
    )


def _currency() -> str:
    """Return the shop's currency, as the points programme names it."""
    from app.ledger.earning import load_programme

    return load_programme().currency


def redeem_coupon(
    code_text: str,
    *,
    place: TillPlace,
    receipt_id: str,
    basket_cents: int,
    lines: Sequence[Mapping[str, Any]] = (),
    card_code: str | None = None,
    offline: OfflineContext | None = None,
) -> dict[str, Any]:
    """Redeem a coupon once (one conditional UPDATE) and return the JSON-ready answer.

    ``offline`` marks a redemption an offline till already made: the validity checks use the
    till's clock, and one worth more than the floor limit is accepted but flagged.
    """
    now = utcnow()
    when = min(offline.local_time, now) if offline else now
    evaluation = _evaluate(
        code_text,
        place=place,
        basket_cents=basket_cents,
        lines=lines,
        card_code=card_code,
        when=when,
        lock_member=True,
    )
    if evaluation.refusal is not None:
        raise evaluation.refusal
    coupon, decision = evaluation.coupon, evaluation.decision
    if offline is None:  # fraud rules judge live redemptions; an offline one happened already
        assess(
            "coupon-redeem",
            evaluation.presented,
            amount_cents=basket_cents,
            member_id=coupon.member_id,
        )
    redemption_id = uuid.uuid4()
    use_no = db.session.scalar(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.redeemed_at.is_(None), Coupon.voided_at.is_(None))
        .values(redeemed_at=now, redemption_id=redemption_id, use_count=Coupon.use_count + 1)
        .returning(Coupon.use_count)
    )
    if use_no is None:
        raise _lost_race(coupon.id)
    presented = evaluation.presented
    redemption = Redemption(
        id=redemption_id,
        coupon_id=coupon.id,
        use_no=use_no,
        redeemed_at=now,
        local_time=offline.local_time if offline else None,
        till_id=place.till_id,
        store_id=place.store_id,
        staff_id=place.staff_id,
        member_id=presented.member_id if presented else None,
        card_id=str(presented.card_id) if presented else None,
        receipt_id=receipt_id,
        basket_cents=basket_cents,
        discount_cents=decision.discount_cents,
        currency=_currency(),
        bonus_points=decision.bonus_points,
        free_sku=decision.free_sku,
        offline=offline is not None,
        event_id=offline.event_id if offline else None,
        flag=_offline_flag(decision, offline),
    )
    db.session.add(redemption)
    db.session.flush()
    if decision.bonus_points and presented is not None:
        redemption.ledger_entry_id = _post_bonus(redemption, presented.member_id)
        db.session.flush()
    db.session.refresh(coupon)
    return redemption_answer(redemption, coupon, evaluation.benefit)


def _offline_flag(decision: Decision, offline: OfflineContext | None) -> str | None:
    """Flag an offline redemption worth more than the floor limit allows."""
    if offline is None:
        return None
    if (
        decision.discount_cents > offline.floor_limit_cents
        or decision.bonus_points > offline.floor_limit_points
    ):
        return "over-floor-limit"
    return None


def _post_bonus(redemption: Redemption, member_id: int) -> int:
    """Credit a bonus-points coupon to the member's ledger; return the entry's id."""
    # Imported here: the ledger imports this package (reinstating coupons on refunds).
    from app.ledger.service import post_ledger_entry

    entry = post_ledger_entry(
        member_id,
        redemption.bonus_points,
        "bonus",
        reference_type="coupon-redemption",
        reference_id=str(redemption.id),
        till_id=redemption.till_id,
        store_id=redemption.store_id,
        staff_id=redemption.staff_id,
        reason="coupon",
    )
    return int(entry.id)


def _lost_race(coupon_id: int) -> Problem:
    """Explain why the conditional UPDATE changed nothing: someone else got there first."""
    coupon = db.session.scalar(
        select(Coupon).where(Coupon.id == coupon_id).execution_options(populate_existing=True)
    )
    assert coupon is not None  # coupons are never deleted
    if coupon.voided_at is not None:
        return refusal_problem(coupon, Refusal.VOIDED)
    if coupon.redeemed_at is not None:
        return refusal_problem(coupon, Refusal.ALREADY_REDEEMED)
    return Problem(
        "conflict",
        409,
        "Conflict",
        "The coupon changed while it was being redeemed; nothing was saved. Retry it.",
    )


def redemption_answer(redemption: Redemption, coupon: Coupon, benefit: Benefit) -> dict[str, Any]:
    """Return the JSON-ready answer to an accepted redemption."""
    return {
        "redemption_id": str(redemption.id),
        "benefit": benefit.to_dict(),
        "discount_cents": redemption.discount_cents,
        "currency": redemption.currency,
        "bonus_points": redemption.bonus_points,
        "free_sku": redemption.free_sku,
        "member_id": redemption.member_id,
        "receipt_id": redemption.receipt_id,
        "redeemed_at": iso_or_none(redemption.redeemed_at),
        "offline": redemption.offline,
        "flag": redemption.flag,
        "coupon": coupon_view(coupon, redemption.redeemed_at),
    }


def reverse_redemption(
    redemption_id: uuid.UUID, *, place: TillPlace, reason: str | None
) -> dict[str, Any]:
    """Undo a redemption (the sale was cancelled): the coupon can be used again; both stay."""
    redemption = db.session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if redemption is None:
        raise Problem("unknown-redemption", 404, "Unknown redemption", "No redemption has this id.")
    if redemption.reversed_at is not None:
        raise Problem(
            "redemption-already-reversed",
            409,
            "Redemption already reversed",
            "This redemption was reversed before.",
            reversed_at=iso_or_none(redemption.reversed_at),
        )
    if redemption.member_id is not None:
        # Member before coupon, as a redemption locks them: the two can never deadlock.
        db.session.execute(
            select(Member.id).where(Member.id == redemption.member_id).with_for_update()
        )
    now = utcnow()
    if place.role not in MANAGER_ROLES:
        if redemption.till_id != place.till_id:
            raise Problem(
                "reversal-not-allowed",
                403,
                "Reversal not allowed",
                "Only the till that redeemed the coupon (or a manager) may reverse it.",
            )
        window = timedelta(minutes=coupon_settings()["reversal_window_minutes"])
        if now - redemption.redeemed_at > window:
            raise Problem(
                "reversal-window-closed",
                403,
                "Reversal window closed",
                f"A cashier may reverse a redemption within {window}; ask a manager.",
            )
    reversed_now = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.reversed_at.is_(None))
        .values(
            reversed_at=now,
            reversed_by_staff_id=place.staff_id,
            reversed_at_till_id=place.till_id,
            reversal_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(reversed_now, "rowcount", 0) != 1:
        raise Problem(  # pragma: no cover - the row lock above makes this a safety net
            "redemption-already-reversed", 409, "Redemption already reversed"
        )
    db.session.execute(
        update(Coupon)
        .where(Coupon.id == redemption.coupon_id, Coupon.redemption_id == redemption.id)
        .values(redeemed_at=None, redemption_id=None)
        .execution_options(synchronize_session=False)
    )
    if redemption.ledger_entry_id is not None and redemption.member_id is not None:
        from app.ledger.service import post_ledger_entry

        entry = post_ledger_entry(
            redemption.member_id,
            -redemption.bonus_points,
            "reversal",
            reference_type="coupon-redemption",
            reference_id=str(redemption.id),
            till_id=place.till_id,
            store_id=place.store_id,
            staff_id=place.staff_id,
            reason="coupon redemption reversed",
            reverses_id=redemption.ledger_entry_id,
        )
        db.session.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id)
            .values(reversal_ledger_entry_id=entry.id)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    db.session.refresh(redemption)
    coupon = db.session.get(Coupon, redemption.coupon_id, populate_existing=True)
    assert coupon is not None
    return {
        "redemption_id": str(redemption.id),
        "reversed_at": iso_or_none(redemption.reversed_at),
        "reversed_by_staff_id": redemption.reversed_by_staff_id,
        "reason": redemption.reversal_reason,
        "coupon": coupon_view(coupon, now),
    }


# --- managers: voiding, looking up ------------------------------------------------------------


def void_coupon(coupon_id: int, *, staff_id: int, reason: str | None) -> Coupon:
    """Withdraw a coupon so no till accepts it any more."""
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.voided_at.is_(None))
        .values(voided_at=utcnow(), voided_by_staff_id=staff_id, void_reason=reason)
        .execution_options(synchronize_session=False)
    )
    coupon = db.session.get(Coupon, coupon_id, populate_existing=True)
    if coupon is None:
        raise Problem("unknown-coupon", 404, "Unknown coupon", f"There is no coupon {coupon_id}.")
    if getattr(result, "rowcount", 0) != 1:
        raise Problem(
            "coupon-already-voided",
            409,
            "Coupon already voided",
            "This coupon was voided before.",
            voided_at=iso_or_none(coupon.voided_at),
        )
    return coupon


def void_campaign(campaign_id: int, *, staff_id: int) -> Campaign:
    """Void every coupon of a campaign and destroy its unexported codes."""
    campaign = get_campaign(campaign_id, lock=True)
    if campaign.voided_at is not None:
        raise Problem(
            "campaign-voided",
            410,
            "Campaign voided",
            "This campaign was voided before.",
            voided_at=iso_or_none(campaign.voided_at),
        )
    now = utcnow()
    db.session.execute(
        update(Coupon)
        .where(Coupon.campaign_id == campaign.id, Coupon.voided_at.is_(None))
        .values(voided_at=now, voided_by_staff_id=staff_id, void_reason="campaign voided")
        .execution_options(synchronize_session=False)
    )
    campaign.voided_at = now
    campaign.voided_by_staff_id = staff_id
    campaign.export_sealed = None
    db.session.flush()
    return campaign


def lookup_coupon(code_text: str) -> Coupon:
    """Find a coupon by its code for staff (to void it, say)."""
    return find_coupon(read_code(code_text))


# --- the member's wallet ----------------------------------------------------------------------


def member_coupons(member_id: int) -> list[dict[str, Any]]:
    """List a member's own coupons with their codes, newest first."""
    coupons = db.session.scalars(
        select(Coupon).where(Coupon.member_id == member_id).order_by(Coupon.id.desc())
    ).all()
    now = utcnow()
    seal_key = storage_keys().seal
    return [{**coupon_view(coupon, now), **_wallet_code(coupon, seal_key)} for coupon in coupons]


def _wallet_code(coupon: Coupon, seal_key: bytes) -> dict[str, str | None]:
    """Return the display code of a member coupon for the wallet listing."""
    code = _open_member_code(coupon, seal_key)
    return {"code": format_code(code) if code else None}


def _open_member_code(coupon: Coupon, seal_key: bytes) -> str | None:
    """Open a member coupon's sealed code; None if it has none or it does not open."""
    if coupon.sealed_code is None:
        return None
    try:
        return open_sealed_code(coupon.sealed_code, seal_key)
    except SealedCodeError:
        # A server fault (wrong key, tampering): alert, but still list the other coupons.
        log.error("sealed code of coupon %s does not open", coupon.id)
        return None


def member_coupon_code(member_id: int, coupon_id: int) -> str:
    """Return the display code of one of the member's own coupons, or refuse with 404."""
    coupon = db.session.get(Coupon, coupon_id)
    code = None
    if coupon is not None and coupon.member_id == member_id:
        code = _open_member_code(coupon, storage_keys().seal)
    if code is None:
        raise Problem("unknown-coupon", 404, "Unknown coupon", "You have no such coupon.")
    return format_code(code)


# --- settings ---------------------------------------------------------------------------------


def coupon_settings() -> dict[str, Any]:
    """Return the coupon policy (saved values, or the defaults)."""
    row = db.session.get(CouponSettings, SETTINGS_ROW_ID)
    if row is None:
        return {**DEFAULT_SETTINGS, "updated_at": None, "updated_by_staff_id": None}
    return _settings_view(row)


def _settings_view(row: CouponSettings) -> dict[str, Any]:
    """Return the saved coupon settings as JSON-ready data."""
    return {
        **{name: getattr(row, name) for name in DEFAULT_SETTINGS},
        "updated_at": iso_or_none(row.updated_at),
        "updated_by_staff_id": row.updated_by_staff_id,
    }


def update_coupon_settings(changes: Mapping[str, int], *, staff_id: int) -> dict[str, Any]:
    """Change some of the coupon policy's values; the others keep theirs."""
    row = db.session.get(CouponSettings, SETTINGS_ROW_ID, with_for_update=True)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    CouponSettings(id=SETTINGS_ROW_ID, updated_at=utcnow(), **DEFAULT_SETTINGS)
                )
        except IntegrityError:
            pass  # a concurrent first save made the row; lock and change that one
        row = db.session.get(
            CouponSettings, SETTINGS_ROW_ID, with_for_update=True, populate_existing=True
        )
        assert row is not None
    for name, value in changes.items():
        if name in DEFAULT_SETTINGS:
            setattr(row, name, int(value))
    row.updated_at = utcnow()
    row.updated_by_staff_id = staff_id
    db.session.flush()
    return _settings_view(row)


def export_filename(campaign_id: int) -> str:
    """Return the download name of a campaign's code list."""
    return f"campaign-{campaign_id}-codes.csv"
