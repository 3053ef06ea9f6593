"""Issuing coupons: one bound to a member (its code sealed for the wallet), or a campaign.

Only coupons bound to a member keep their code, sealed with AES-256-GCM, so the wallet can
show it again. Anonymous campaign codes are generated when the campaign is created; the
database keeps their hashes and, until the one CSV export, the whole batch sealed under a
separate derived key (``campaigns.export_sealed``, see ``app.campaigns.export``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member, StaffAccount, StaffRole
from app.campaigns.codes import storage_keys
from app.campaigns.export import seal_export
from app.campaigns.models import Campaign, Coupon
from app.campaigns.schemas import MAX_MEMBERS_PER_CAMPAIGN
from app.db import iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.events import DomainEvent, publish
from app.extensions import db
from app.segments.service import segment_audience
from app.stores.models import Store
from coupons.codes import format_code, generate_code, generate_codes
from coupons.rules import (
    Benefit,
    CouponTerms,
)
from coupons.storage import (
    StorageKeys,
    code_lookup_hash,
    seal_code,
)

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")

INSERT_CHUNK = 5_000
MAX_ISSUE_ATTEMPTS = 5
CAMPAIGN_SOURCE = "campaign"


@dataclass(frozen=True)
class IssuedCoupon:
    """A coupon just issued to a member, with its plain code (show it, never store it)."""

    coupon_id: int
    code: str  # canonical: 13 symbols
    formatted: str  # XXXX-XXXX-XXXX-C


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
            raise DomainError("unknown-store", f"There is no store {missing[0]}.")


def _invalid(field: str, message: str) -> Problem:
    """Return a validation problem about one field of the request."""
    # Problem, not DomainError: "validation-error" is answered with several titles today.
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
                raise DomainError("unknown-member", f"There is no member {member_id}.") from None
            continue  # the code's hash exists already: draw another code
        publish(
            DomainEvent(
                "coupon.issued",
                {
                    "coupon_id": coupon.id,
                    "source": source,
                    "source_id": source_id,
                    "campaign_id": campaign_id,
                    "benefit": coupon.benefit,
                    "valid_until": iso_or_none(valid_until),
                },
                member_id=member_id,
            )
        )
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
        raise DomainError("forbidden", "This staff account is not active.")
    if staff.role == StaffRole.ADMIN:
        return store_ids
    if store_ids is None:
        return staff.store_ids
    if not all(staff.works_in(store_id) for store_id in store_ids):
        raise DomainError("forbidden", "Managers may run campaigns only in their own stores.")
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
        campaign.export_sealed = seal_export(campaign.id, codes)
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
        raise DomainError("unknown-member", f"There is no member {missing[0]}.")
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
        member_ids = request["member_ids"] or segment_audience(
            request["segment_id"], MAX_MEMBERS_PER_CAMPAIGN
        )
        return create_member_campaign(member_ids=member_ids, **common)
    campaign, _codes = create_anonymous_campaign(
        code_count=request["code_count"],
        max_uses_per_member=request["max_uses_per_member"],
        **common,
    )
    return campaign
