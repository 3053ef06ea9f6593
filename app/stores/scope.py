"""Store scope: which stores' data a staff account may act on.

Admins act on every store. A manager acts on the stores they work in (``staff_stores``):

- a record of one store (a till, a purchase's ledger entry, a coupon redemption, a fraud
  event) only if they work in that store;
- a record that covers several stores (a campaign, its coupons, a promotion) only if they
  work in every one of them; one that covers every store (``store_ids`` is ``None``) only if
  they work in every store of the shop.

A refusal is 403 ``forbidden``. Records that belong to no store (members, adjustments,
chain-wide settings) are outside this rule; docs/security.md lists which are which.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from app.accounts.models import StaffAccount, StaffRole
from app.errors import DomainError
from app.extensions import db
from app.stores.models import Store


def _forbidden(detail: str) -> DomainError:
    return DomainError("forbidden", detail)


def acting_staff(staff_id: int) -> StaffAccount:
    """Return the active staff account acting, or refuse."""
    staff = db.session.get(StaffAccount, staff_id)
    if staff is None or not staff.active:
        raise _forbidden("This staff account is not active.")
    return staff


def require_store(staff_id: int, store_id: int | None) -> None:
    """Refuse unless the staff account may act on a record of ``store_id`` (None: no store)."""
    if store_id is None:
        return
    if not acting_staff(staff_id).works_in(store_id):
        raise _forbidden("This belongs to a store you do not work in.")


def require_stores(staff_id: int, store_ids: Collection[int] | None) -> None:
    """Refuse unless the staff account works in every store a record covers (None: all)."""
    staff = acting_staff(staff_id)
    if staff.role == StaffRole.ADMIN:
        return
    covered = set(store_ids) if store_ids is not None else set(db.session.scalars(select(Store.id)))
    if not covered <= set(staff.store_ids):
        raise _forbidden("This covers stores you do not work in.")


def require_some_store(staff_id: int, store_ids: Collection[int] | None) -> None:
    """Refuse unless the record is valid in at least one of the account's stores (None: all)."""
    if store_ids is None:
        acting_staff(staff_id)
        return
    staff = acting_staff(staff_id)
    if staff.role != StaffRole.ADMIN and not set(store_ids) & set(staff.store_ids):
        raise _forbidden("This belongs to stores you do not work in.")


def own_stores_unless_admin(staff_id: int, store_ids: list[int] | None) -> list[int] | None:
    """Return the stores a new record of this account may cover: managers name their own.

    ``None`` (every store) becomes the manager's own stores; naming another store is refused.
    """
    staff = acting_staff(staff_id)
    if staff.role == StaffRole.ADMIN:
        return store_ids
    if store_ids is None:
        return staff.store_ids
    require_stores(staff_id, store_ids)
    return store_ids
