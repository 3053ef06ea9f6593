"""The attempt log: every till operation, accepted or refused, with who, where and why.

Rows are written on the hot path, so the table is narrow and holds no plain codes: a code is
recorded as a keyed fingerprint (HMAC), enough to group repeated attempts with the same code
but useless to redeem it. Indexes serve the fraud queries (per till, per member, per code,
per time window).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Attempt(Base):
    """One till operation and its outcome."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_till_time", "till_id", "occurred_at"),
        Index("ix_attempts_member_time", "member_id", "occurred_at"),
        Index("ix_attempts_fingerprint", "code_fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    operation: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))  # "accepted" | "refused"
    refusal_type: Mapped[str | None] = mapped_column(String(60))
    status_code: Mapped[int]
    till_id: Mapped[int | None]
    store_id: Mapped[int | None]
    staff_id: Mapped[int | None]
    member_id: Mapped[int | None]
    card_id: Mapped[str | None] = mapped_column(String(36))
    code_fingerprint: Mapped[str | None] = mapped_column(String(32))
    risk_score: Mapped[int] = mapped_column(default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(45))
