"""Names for ids: who a member or staff account is, what a store or till is called.

Answers for staff name people and places beside their ids (``"member": {"id": 1, "name":
"Ada Lovelace"}`` next to ``"member_id": 1``), so a back office never has to show "member 1 ·
till 3". Views collect the ids they need in a ``NameBook`` and resolve them with one query per
kind, however many rows they show; an id that no longer exists resolves to ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from marshmallow import Schema, fields
from sqlalchemy import select

from app.accounts.models import Member, StaffAccount
from app.extensions import db
from app.stores.models import Store, Till

Kind = Literal["member", "staff", "store", "till"]
_NAME_COLUMNS: dict[Kind, Any] = {
    "member": (Member.id, Member.display_name),
    "staff": (StaffAccount.id, StaffAccount.display_name),
    "store": (Store.id, Store.name),
    "till": (Till.id, Till.name),
}


class NameRefSchema(Schema):
    """A named reference in an answer: ``{"id": 3, "name": "Berlin Mitte"}``."""

    id = fields.Integer()
    name = fields.String()


class NameBook:
    """Collects ids by kind, then looks their names up in one query per kind."""

    def __init__(self) -> None:
        self._wanted: dict[Kind, set[int]] = {kind: set() for kind in _NAME_COLUMNS}
        self._names: dict[Kind, dict[int, str]] = {kind: {} for kind in _NAME_COLUMNS}

    def want(self, kind: Kind, *ids: int | str | None) -> NameBook:
        """Note ids whose names will be asked for (``None`` and non-numbers are ignored)."""
        for value in ids:
            number = _as_id(value)
            if number is not None:
                self._wanted[kind].add(number)
        return self

    def want_all(self, kind: Kind, ids: Iterable[int | str | None]) -> NameBook:
        """Note many ids of one kind."""
        return self.want(kind, *ids)

    def want_target(self, target_type: str, value: int | str | None) -> NameBook:
        """Note an id whose kind is data (an audit row's target); other kinds are ignored."""
        for kind in _NAME_COLUMNS:
            if kind == target_type:
                self.want(kind, value)
        return self

    def target_name(self, target_type: str, value: int | str | None) -> str | None:
        """Return the name of a target noted with ``want_target`` (``None`` if it has none)."""
        for kind in _NAME_COLUMNS:
            if kind == target_type:
                found = self.ref(kind, value)
                return found["name"] if found else None
        return None

    def load(self) -> NameBook:
        """Look up every noted id that is not known yet."""
        for kind, (id_column, name_column) in _NAME_COLUMNS.items():
            missing = self._wanted[kind] - self._names[kind].keys()
            if missing:
                rows = db.session.execute(
                    select(id_column, name_column).where(id_column.in_(sorted(missing)))
                )
                self._names[kind].update({int(row[0]): str(row[1]) for row in rows})
        return self

    def ref(self, kind: Kind, value: int | str | None) -> dict[str, Any] | None:
        """Return ``{"id", "name"}`` for an id (``None`` for no id or an unknown one)."""
        number = _as_id(value)
        if number is None or number not in self._names[kind]:
            return None
        return {"id": number, "name": self._names[kind][number]}


def _as_id(value: int | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(value) if value.isdigit() else None
