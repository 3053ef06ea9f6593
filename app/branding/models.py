"""The branding row: one row, id 1; until an admin saves it, configuration applies.

The logo is kept in the database (at most ``MAX_LOGO_BYTES``, PNG, JPEG or WebP) and served
from this origin, because the PWA's Content-Security-Policy allows images from ``'self'`` only:
a logo URL on another host would not show. SVG is not accepted (a served SVG can carry script).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.db import Base

BRANDING_ROW_ID = 1


class Branding(Base):
    """The shop's name, colours and logo as saved by an admin."""

    __tablename__ = "branding"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    primary_color: Mapped[str] = mapped_column(String(7))
    accent_color: Mapped[str] = mapped_column(String(7))
    logo_type: Mapped[str | None] = mapped_column(String(20))
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    updated_at: Mapped[datetime]
    updated_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
