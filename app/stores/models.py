"""Stores (with coordinates, for the impossible-travel rule) and tills.

A till is a registered device in one store. Registering it hands out a till key exactly once;
only the key's SHA-256 is stored, so a database dump does not let anyone open a till session.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, created_at


class Store(Base):
    """A shop location."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255), default="", server_default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    created_at: Mapped[created_at]

    tills: Mapped[list[Till]] = relationship(back_populates="store", lazy="selectin")


class Till(Base):
    """A registered point-of-sale device in one store."""

    __tablename__ = "tills"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    blocked: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[created_at]

    store: Mapped[Store] = relationship(back_populates="tills")
