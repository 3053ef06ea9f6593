"""Member cards.

A member has exactly one active card at a time; the partial unique index makes the database
refuse a second one. A reissued card revokes the old one (``revoked_at``), whose codes are
refused from then on. The card's TOTP secret is stored sealed (AES-GCM under an instance key),
so a database dump alone cannot mint rotating codes. ``last_rotating_step`` is the newest TOTP
step the server accepted for the card: a rotating code is accepted only for a newer step, by
one conditional ``UPDATE``, so a replay fails in the database on every process and host. This
is stricter than refusing the exact (card, step) again: once the live code was used, a
screenshot of the previous step is refused too.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at


class Card(Base):
    """A member card: the identity behind LW1 and LW2 codes."""

    __tablename__ = "cards"
    __table_args__ = (
        Index(
            "uq_cards_one_active_per_member",
            "member_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    not_after: Mapped[datetime]
    totp_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    last_rotating_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[created_at]
