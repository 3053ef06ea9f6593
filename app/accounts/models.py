"""Member and staff accounts.

Members and staff live in separate tables: a member sees only their own wallet, staff act on
behalf of the shop. One person may hold both (a cashier who collects points); the e-mail then
appears in both tables, and the fraud rules use that link to spot self-dealing. Passwords are
stored as scrypt hashes (memory-hard), never in a form that can be reversed.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, created_at

if TYPE_CHECKING:  # the stores package uses staff accounts; the mapper finds Store by name
    from app.stores.models import Store


class StaffRole(enum.StrEnum):
    """What a staff account may do; each role includes the powers of the ones before it."""

    CASHIER = "cashier"
    MANAGER = "manager"
    ADMIN = "admin"


staff_stores = Table(
    "staff_stores",
    Base.metadata,
    Column("staff_id", ForeignKey("staff_accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
)


class Member(Base):
    """A customer in the loyalty programme."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    # The cached balance; the ledger keeps it equal to the sum of the member's entries.
    points_balance: Mapped[int] = mapped_column(default=0, server_default="0")
    tier: Mapped[str] = mapped_column(String(40), default="base", server_default="base")
    blocked: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[created_at]
    # Hints for the till, set by the services that create the rows (``sell_membership``,
    # ``link_referral``) and never cleared: a purchase asks for a running membership or a
    # pending referral only for a member who ever had one, which most members never do.
    had_membership: Mapped[bool] = mapped_column(default=False, server_default=false())
    was_referred: Mapped[bool] = mapped_column(default=False, server_default=false())


class StaffAccount(Base):
    """A cashier, manager or admin of the shop."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[created_at]

    stores: Mapped[list[Store]] = relationship("Store", secondary=staff_stores, lazy="selectin")

    @property
    def store_ids(self) -> list[int]:
        """Return the ids of the stores this account works in."""
        return sorted(store.id for store in self.stores)

    def works_in(self, store_id: int) -> bool:
        """Tell whether this account may act in the given store."""
        return self.role == StaffRole.ADMIN or store_id in self.store_ids
