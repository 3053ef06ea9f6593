"""A registered webhook endpoint: where to send which events, and its signing secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at


class WebhookEndpoint(Base):
    """An address that receives the chosen event types, signed with its own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(String(200))
    # "whsec_" + base64 of 32 random bytes (Standard Webhooks); needed in clear to sign
    secret: Mapped[str] = mapped_column(String(100))
    # dotted event types, or ["*"] for every event
    event_types: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]
