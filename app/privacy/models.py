"""The record that a member was erased.

One row per erased member: when, and whether the member asked or staff acted on their request
(staff actions are also in ``staff_audit``). It holds no personal data; it exists so the erasure
is not run twice and so the shop can answer "was this account erased, and when?".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class MemberErasure(Base):
    """A member whose personal data was erased."""

    __tablename__ = "member_erasures"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(10))  # "member" | "staff"
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
