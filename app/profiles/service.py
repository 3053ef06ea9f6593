"""Reading and changing a member's profile and consents.

Services flush and never commit (the request owns the transaction). A consent change is a new
``ConsentRecord``; setting a purpose to the state it already has records nothing, so the
history shows changes, not clicks. ``record_signup_consents`` subscribes to
``member.signed_up``: the boxes ticked at sign-up are recorded with source ``app``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from app.accounts.models import Member
from app.db import iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.events import DomainEvent
from app.extensions import db
from app.profiles.models import CONSENT_PURPOSES, ConsentRecord, MemberProfile
from app.stores.models import Store

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()/-]{4,24}$")
CURRENT_WORDING = "2026-01"


def _member(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        raise DomainError("unknown-member", f"There is no member {member_id}.")
    return member


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        message,
        errors={"json": {field: [message]}},
    )


def profile_view(member_id: int) -> dict[str, Any]:
    """Return the member's profile (empty fields until they fill them in)."""
    member = _member(member_id)
    profile = db.session.get(MemberProfile, member_id)
    return {
        "member_id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        "birthday": profile.birthday.isoformat() if profile and profile.birthday else None,
        "home_store_id": profile.home_store_id if profile else None,
        "preferred_language": profile.preferred_language if profile else None,
        "phone": profile.phone if profile else None,
        "updated_at": iso_or_none(profile.updated_at) if profile else None,
    }


def normalise_phone(text: str) -> str:
    """Keep a leading ``+`` and the digits of a phone number."""
    if not PHONE.match(text.strip()):
        raise _invalid("phone", "Not a phone number.")
    digits = re.sub(r"[^0-9]", "", text)
    return ("+" if text.strip().startswith("+") else "") + digits


def _check_birthday(birthday: date) -> date:
    today = utcnow().date()
    if birthday > today or birthday.year < 1900:
        raise _invalid("birthday", "Not a plausible birthday.")
    return birthday


def update_profile(member_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change the fields given in ``changes`` (``None`` clears an optional field)."""
    member = _member(member_id)
    profile = db.session.get(MemberProfile, member_id)
    if profile is None:
        profile = MemberProfile(member_id=member_id)
        db.session.add(profile)
    if "display_name" in changes:
        name = (changes["display_name"] or "").strip()
        if not name:
            raise _invalid("display_name", "A name cannot be empty.")
        member.display_name = name
    if "birthday" in changes:
        profile.birthday = _check_birthday(changes["birthday"]) if changes["birthday"] else None
    if "home_store_id" in changes:
        store_id = changes["home_store_id"]
        if store_id is not None and db.session.get(Store, store_id) is None:
            raise DomainError("unknown-store", f"There is no store {store_id}.")
        profile.home_store_id = store_id
    if "preferred_language" in changes:
        language = changes["preferred_language"]
        if language is not None and not LANGUAGE_TAG.match(language):
            raise _invalid("preferred_language", "Use a language tag such as 'de' or 'en-GB'.")
        profile.preferred_language = language
    if "phone" in changes:
        profile.phone = normalise_phone(changes["phone"]) if changes["phone"] else None
    profile.updated_at = utcnow()
    db.session.flush()
    return profile_view(member_id)


def _record_view(record: ConsentRecord) -> dict[str, Any]:
    return {
        "purpose": record.purpose,
        "granted": record.granted,
        "source": record.source,
        "recorded_by": "member"
        if record.recorded_by_staff_id is None
        else f"staff:{record.recorded_by_staff_id}",
        "wording_version": record.wording_version,
        "recorded_at": iso_or_none(record.recorded_at),
    }


def consent_history(member_id: int) -> list[ConsentRecord]:
    """Return every consent record of the member, oldest first."""
    return list(
        db.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.member_id == member_id)
            .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
        )
    )


def consents_view(member_id: int) -> dict[str, Any]:
    """Return the current state of every purpose and the full history."""
    _member(member_id)
    history = consent_history(member_id)
    current: dict[str, dict[str, Any]] = {
        purpose: {"purpose": purpose, "granted": False, "since": None, "source": None}
        for purpose in CONSENT_PURPOSES
    }
    for record in history:
        current[record.purpose] = {
            "purpose": record.purpose,
            "granted": record.granted,
            "since": iso_or_none(record.recorded_at),
            "source": record.source,
        }
    return {
        "consents": list(current.values()),
        "history": [_record_view(record) for record in history],
    }


def set_consent(
    member_id: int,
    purpose: str,
    granted: bool,
    *,
    source: str,
    staff_id: int | None = None,
    wording_version: str | None = CURRENT_WORDING,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Give or withdraw consent to one purpose; a change is appended to the history."""
    _member(member_id)
    if purpose not in CONSENT_PURPOSES:
        raise DomainError(
            "unknown-consent-purpose", f"Purposes are: {', '.join(CONSENT_PURPOSES)}."
        )
    newest = db.session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.member_id == member_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    if newest is None or newest.granted != granted:
        newest = ConsentRecord(
            member_id=member_id,
            purpose=purpose,
            granted=granted,
            source=source,
            recorded_by_staff_id=staff_id,
            wording_version=wording_version,
            recorded_at=at or utcnow(),
        )
        db.session.add(newest)
        db.session.flush()
    return {
        "purpose": purpose,
        "granted": newest.granted,
        "since": iso_or_none(newest.recorded_at),
        "source": newest.source,
    }


def record_signup_consents(event: DomainEvent) -> None:
    """Record the consents ticked at sign-up (a ``member.signed_up`` subscriber)."""
    if event.member_id is None:
        return
    for purpose, granted in (event.data.get("consents") or {}).items():
        if granted and purpose in CONSENT_PURPOSES:
            set_consent(event.member_id, purpose, True, source="app")
