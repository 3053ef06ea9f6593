"""Refresh tokens, stored hashed and grouped in families.

A login starts a family. Each refresh uses up the presented token and hands out the next one
in the same family. Presenting a token that was already used means two parties hold it, one of
them a thief, so the whole family is revoked and both must log in again.

A ``MagicLinkToken`` is a sign-in link sent by e-mail (``app.auth.magic_links``): single use,
short-lived, and stored only as a hash, like refresh tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at


class RefreshToken(Base):
    """One refresh token of a login (member, staff or till session)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int]
    till_id: Mapped[int | None]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class MagicLinkToken(Base):
    """A single-use sign-in link sent by e-mail, stored as the SHA-256 of its token."""

    __tablename__ = "magic_link_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The member it logs in; NULL for a sign-up link (the account is made when it is used).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    # Only for a sign-up link: the e-mail and sign-up details. Deleted with the row.
    signup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
