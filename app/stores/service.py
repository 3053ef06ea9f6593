"""Creating and listing stores, tills and staff accounts.

Admins manage everything. Managers register tills in their own stores and create cashiers
for their own stores; they cannot create other managers or admins. Lists follow the same
scope: admins see every till and account, managers the tills of their stores and the accounts
that work in one of them. Only admins change an account's stores, role or whether it is active
(an account is deactivated, never deleted: ledgers and audits keep naming it).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.accounts.models import StaffAccount, StaffRole
from app.auth.passwords import hash_password
from app.auth.service import normalise_email, sha256_hex
from app.auth.tokens import Identity
from app.errors import DomainError, Problem
from app.extensions import db
from app.stores.models import Store, Till

TILL_KEY_PREFIX = "lwt_"


def _actor(identity: Identity) -> StaffAccount:
    staff = db.session.get(StaffAccount, identity.subject_id)
    if staff is None or not staff.active:
        raise DomainError("forbidden", "This staff account is not active.")
    return staff


def create_store(
    identity: Identity, name: str, address: str, latitude: float | None, longitude: float | None
) -> Store:
    """Add a store; a manager who adds one is assigned to it."""
    actor = _actor(identity)
    store = Store(
        name=name.strip(), address=address.strip(), latitude=latitude, longitude=longitude
    )
    db.session.add(store)
    if actor.role != StaffRole.ADMIN:
        actor.stores.append(store)
    db.session.flush()
    return store


def list_stores(identity: Identity) -> Sequence[Store]:
    """List the stores the caller may see (all for admins, their own for managers)."""
    query = select(Store).order_by(Store.id)
    if identity.role != StaffRole.ADMIN:
        query = query.where(Store.id.in_(_actor(identity).store_ids))
    return db.session.scalars(query).all()


def store_directory() -> Sequence[Store]:
    """List every store by name, for a member choosing a home store (names are public)."""
    return db.session.scalars(select(Store).order_by(Store.name, Store.id)).all()


def list_tills(identity: Identity) -> Sequence[Till]:
    """List the tills the caller may see, by store."""
    query = select(Till).order_by(Till.store_id, Till.id)
    if identity.role != StaffRole.ADMIN:
        query = query.where(Till.store_id.in_(_actor(identity).store_ids))
    return db.session.scalars(query).all()


def list_staff(identity: Identity) -> Sequence[StaffAccount]:
    """List staff accounts: all for admins, those sharing a store with a manager."""
    accounts = db.session.scalars(select(StaffAccount).order_by(StaffAccount.id)).all()
    if identity.role == StaffRole.ADMIN:
        return accounts
    mine = set(_actor(identity).store_ids)
    return [account for account in accounts if mine & set(account.store_ids)]


def change_staff(identity: Identity, staff_id: int, changes: dict[str, Any]) -> StaffAccount:
    """Change an account's name, role, stores or active flag (admins only)."""
    actor = _actor(identity)
    staff = db.session.get(StaffAccount, staff_id)
    if staff is None:
        raise DomainError("unknown-staff", f"There is no staff account {staff_id}.")
    if staff.id == actor.id and (
        changes.get("active") is False or changes.get("role", actor.role) != actor.role
    ):
        raise DomainError("forbidden", "You cannot deactivate or demote your own account.")
    if "store_ids" in changes:
        store_ids = changes["store_ids"]
        stores = db.session.scalars(select(Store).where(Store.id.in_(store_ids))).all()
        if len(stores) != len(set(store_ids)):
            raise DomainError("unknown-store", "One of the stores does not exist.")
        staff.stores = list(stores)
    if "display_name" in changes:
        staff.display_name = changes["display_name"].strip()
    if "role" in changes:
        staff.role = changes["role"]
    if "active" in changes:
        staff.active = changes["active"]
    if staff.role != StaffRole.ADMIN and not staff.stores:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            "Cashiers and managers need a store.",
            errors={"json": {"store_ids": ["At least one store is needed."]}},
        )
    db.session.flush()
    return staff


def register_till(identity: Identity, store_id: int, name: str) -> tuple[Till, str]:
    """Register a till and return it with its key, which is shown only this once."""
    if db.session.get(Store, store_id) is None:
        raise DomainError("unknown-store", f"There is no store {store_id}.")
    if not _actor(identity).works_in(store_id):
        raise DomainError("forbidden", "You may register tills only in your stores.")
    till_key = TILL_KEY_PREFIX + secrets.token_urlsafe(32)
    till = Till(store_id=store_id, name=name.strip(), key_hash=sha256_hex(till_key))
    db.session.add(till)
    db.session.flush()
    return till, till_key


def create_staff(
    identity: Identity,
    email: str,
    password: str,
    display_name: str,
    role: str,
    store_ids: list[int],
) -> StaffAccount:
    """Create a staff account in the given stores."""
    actor = _actor(identity)
    if actor.role != StaffRole.ADMIN and (
        role != StaffRole.CASHIER or not all(actor.works_in(s) for s in store_ids)
    ):
        raise DomainError("forbidden", "Managers may create cashiers for their own stores only.")
    email = normalise_email(email)
    if db.session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)) is not None:
        raise DomainError("email-taken", "A staff account with this e-mail exists.")
    stores = db.session.scalars(select(Store).where(Store.id.in_(store_ids))).all()
    if len(stores) != len(set(store_ids)):
        raise DomainError("unknown-store", "One of the stores does not exist.")
    if role != StaffRole.ADMIN and not stores:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            "Cashiers and managers need a store.",
            errors={"json": {"store_ids": ["At least one store is needed."]}},
        )
    staff = StaffAccount(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        stores=list(stores),
    )
    db.session.add(staff)
    db.session.flush()
    return staff
