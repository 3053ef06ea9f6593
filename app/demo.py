"""The demo shop: two stores, a till each, staff, and two members with some history.

Everything here is public by design: the passwords and till keys are documented in the
README so a newcomer can log in at once. Seeding is idempotent: on a database that already
holds the demo shop it changes nothing and reports the same logins. Never seed a production
database: the demo credentials are known to everyone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from app.accounts.models import Member, StaffAccount, StaffRole
from app.auth.passwords import hash_password
from app.auth.service import sha256_hex
from app.cards.service import issue_card
from app.extensions import db
from app.stores.models import Store, Till

DEMO_ADMIN: dict[str, str] = {"email": "admin@demo.shop", "password": "demo-admin-2026"}
DEMO_MANAGER: dict[str, str] = {"email": "manager@demo.shop", "password": "demo-manager-2026"}
DEMO_CASHIER: dict[str, str] = {"email": "cashier@demo.shop", "password": "demo-cashier-2026"}
DEMO_MEMBERS: list[dict[str, str]] = [
    {"email": "ada@demo.shop", "password": "demo-member-2026", "display_name": "Ada Lovelace"},
    {"email": "grace@demo.shop", "password": "demo-member-2026", "display_name": "Grace Hopper"},
]


@dataclass(frozen=True)
class DemoStore:
    """A demo store with its one till."""

    name: str
    address: str
    latitude: float
    longitude: float
    till_key: str


DEMO_STORES = [
    DemoStore(
        "Demo Shop Berlin Mitte",
        "Rosenthaler Str. 1, 10119 Berlin",
        52.5298,
        13.4015,
        "lwt_demo-berlin-till-1",
    ),
    DemoStore(
        "Demo Shop Hamburg",
        "Jungfernstieg 7, 20354 Hamburg",
        53.5526,
        9.9925,
        "lwt_demo-hamburg-till-1",
    ),
]


@dataclass
class DemoLogins:
    """The demo accounts and tills, as printed by ``seed-demo``."""

    admin: dict[str, Any]
    manager: dict[str, Any]
    cashier: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)
    tills: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the logins as plain data."""
        return asdict(self)


def _staff(email: str, password: str, name: str, role: str, stores: list[Store]) -> StaffAccount:
    staff = db.session.scalar(select(StaffAccount).where(StaffAccount.email == email))
    if staff is None:
        staff = StaffAccount(
            email=email,
            display_name=name,
            password_hash=hash_password(password),
            role=role,
            stores=stores,
        )
        db.session.add(staff)
        db.session.flush()
    return staff


def _store_with_till(spec: DemoStore) -> Till:
    till = db.session.scalar(select(Till).where(Till.key_hash == sha256_hex(spec.till_key)))
    if till is None:
        store = Store(
            name=spec.name, address=spec.address, latitude=spec.latitude, longitude=spec.longitude
        )
        till = Till(store=store, name="Till 1", key_hash=sha256_hex(spec.till_key))
        db.session.add_all([store, till])
        db.session.flush()
    return till


def _member(email: str, password: str, display_name: str) -> Member:
    member = db.session.scalar(select(Member).where(Member.email == email))
    if member is None:
        member = Member(
            email=email, display_name=display_name, password_hash=hash_password(password)
        )
        db.session.add(member)
        db.session.flush()
        issue_card(member.id)
    return member


def seed_demo() -> tuple[DemoLogins, bool]:
    """Create the demo shop if it is missing; return the logins and whether anything was added."""
    created = (
        db.session.scalar(select(StaffAccount.id).where(StaffAccount.email == DEMO_ADMIN["email"]))
        is None
    )
    tills = [_store_with_till(spec) for spec in DEMO_STORES]
    stores = [till.store for till in tills]
    admin = _staff(DEMO_ADMIN["email"], DEMO_ADMIN["password"], "Demo Admin", StaffRole.ADMIN, [])
    manager = _staff(
        DEMO_MANAGER["email"], DEMO_MANAGER["password"], "Demo Manager", StaffRole.MANAGER, stores
    )
    cashier = _staff(
        DEMO_CASHIER["email"], DEMO_CASHIER["password"], "Demo Cashier", StaffRole.CASHIER, stores
    )
    members = [
        {
            "email": spec["email"],
            "password": spec["password"],
            "member_id": _member(spec["email"], spec["password"], spec["display_name"]).id,
        }
        for spec in DEMO_MEMBERS
    ]
    logins = DemoLogins(
        admin={**DEMO_ADMIN, "staff_id": admin.id},
        manager={**DEMO_MANAGER, "staff_id": manager.id},
        cashier={**DEMO_CASHIER, "staff_id": cashier.id},
        members=members,
        tills=[
            {
                "till_id": till.id,
                "till_key": spec.till_key,
                "store_id": till.store_id,
                "store": till.store.name,
            }
            for till, spec in zip(tills, DEMO_STORES, strict=True)
        ],
    )
    if created:
        for extend in DEMO_EXTENSIONS:
            extend(logins)
        db.session.flush()
    return logins, created


# Later packages (cards, ledger, rewards) append a function here that adds their part of the
# demo shop; each runs once, when the demo shop is first created.
DEMO_EXTENSIONS: list[Any] = []
from app.rewards.demo import add_demo_rewards  # noqa: E402  (joins the list above)

DEMO_EXTENSIONS.append(add_demo_rewards)
from app.ledger.demo import add_demo_ledger  # noqa: E402  (joins the list above)

DEMO_EXTENSIONS.append(add_demo_ledger)
