"""A segment: a named rule tree over member attributes, evaluated in SQL when it is used.

The rules are stored as JSON (``app.segments.rules`` defines and validates the tree) and never
as a member list: a segment's members are whoever matches *now*, so a segment of "at risk with
health below 40" follows the nightly refresh on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow


class Segment(Base):
    """A manager's rule tree that selects members."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
