"""Segment rules: a small JSON tree over member attributes, turned into one SQL condition.

A rule tree is one of

* ``{"all": [rule, ...]}`` — every rule holds (an empty list matches everyone);
* ``{"any": [rule, ...]}`` — at least one holds (an empty list matches no one);
* ``{"not": rule}``;
* a condition ``{"field": F, "op": OP, "value": V}``, with ``"window_days": N`` for the
  window fields.

``FIELDS`` lists what a condition may test and which operators each accepts:

=========================  =======================================================  ==========
field                      meaning                                                  kind
=========================  =======================================================  ==========
stage                      lifecycle stage from the last refresh                    choice
health_score               0-100 from the last refresh                              number
p_active                   model probability the member is still active (0-1)       number
expected_purchases_90d     purchases the model expects in the next 90 days          number
tier                       the member's tier code                                   text
points_balance             current points balance                                   number
days_since_last_purchase   days since the last purchase (NULL: never bought)        number
purchases                  receipts in the last ``window_days`` days                number
spend_cents                net spend (refunds deducted) in the last ``window_days``  number
home_store                 the store of most of the member's purchases              id
signed_up                  the sign-up date                                         date
blocked                    membership blocked                                       bool
birthday_month             month of the birthday in the member profile (1-12)       month
consent                    the member's latest answer for the purpose (the value)   choice
                           is a grant: marketing, personalised_offers, surveys
=========================  =======================================================  ==========

Operators: ``eq``, ``ne``, ``lt``, ``lte``, ``gt``, ``gte``, ``between`` (``[low, high]``,
inclusive), ``in`` and ``not_in`` (lists), ``is_null`` and ``not_null`` (no value). A member
the lifecycle refresh has not seen yet has NULL lifecycle fields, and a comparison with NULL is
false, as in SQL. Profile and consent tables are read through the shared metadata rather than
by importing ``app.profiles``, which stands above segments.

``condition_for(tree, now)`` compiles the tree into a SQLAlchemy boolean over ``members``
outer-joined to ``member_lifecycle`` (``segment_query``); window and home-store fields are
correlated subqueries on ``purchases``. Nothing is evaluated in Python, so a segment of
100,000 members costs one query. ``validate_rules`` checks a tree before it is stored and
names the path of the first mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, extract, false, func, not_, or_, select, true

from app.accounts.models import Member
from app.errors import DomainError
from app.extensions import db
from app.ledger.models import Purchase
from app.lifecycle.models import STAGES, MemberLifecycle

MAX_DEPTH = 8
MAX_CONDITIONS = 64
MAX_WINDOW_DAYS = 3650
# The consent purposes of app.profiles (read through the shared metadata, not imported: profiles
# stand above segments).
CONSENT_PURPOSES = ("marketing", "personalised_offers", "surveys")
NUMBER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "is_null", "not_null")
CHOICE_OPS = ("eq", "ne", "in", "not_in", "is_null", "not_null")


@dataclass(frozen=True)
class Field:
    """A member attribute a condition may test."""

    kind: str  # "number" | "choice" | "text" | "id" | "date" | "bool"
    ops: tuple[str, ...]
    expression: Callable[[int | None, datetime], ColumnElement[Any]]
    windowed: bool = False
    choices: tuple[str, ...] = ()


def _window_start(window_days: int | None, now: datetime) -> datetime:
    return now - timedelta(days=window_days or 0)


def _purchases_in_window(window_days: int | None, now: datetime) -> ColumnElement[Any]:
    return (
        select(func.count(Purchase.id))
        .where(
            Purchase.member_id == Member.id,
            Purchase.created_at >= _window_start(window_days, now),
            Purchase.created_at <= now,
        )
        .scalar_subquery()
    )


def _spend_in_window(window_days: int | None, now: datetime) -> ColumnElement[Any]:
    return (
        select(func.coalesce(func.sum(Purchase.amount_cents - Purchase.refunded_cents), 0))
        .where(
            Purchase.member_id == Member.id,
            Purchase.created_at >= _window_start(window_days, now),
            Purchase.created_at <= now,
        )
        .scalar_subquery()
    )


def _home_store(_window: int | None, _now: datetime) -> ColumnElement[Any]:
    return (
        select(Purchase.store_id)
        .where(Purchase.member_id == Member.id)
        .group_by(Purchase.store_id)
        .order_by(func.count(Purchase.id).desc(), Purchase.store_id)
        .limit(1)
        .scalar_subquery()
    )


def _birthday_month(_window: int | None, _now: datetime) -> ColumnElement[Any]:
    profiles = db.metadata.tables["member_profiles"]
    return (
        select(extract("month", profiles.c.birthday))
        .where(profiles.c.member_id == Member.id)
        .scalar_subquery()
    )


def _consent_granted(purpose: str) -> ColumnElement[bool]:
    """Return whether the member's latest answer for ``purpose`` is a grant (none: no)."""
    records = db.metadata.tables["consent_records"]
    latest = (
        select(records.c.granted)
        .where(records.c.member_id == Member.id, records.c.purpose == purpose)
        .order_by(records.c.recorded_at.desc(), records.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, false()) == true()


def _column(column: Any) -> Callable[[int | None, datetime], ColumnElement[Any]]:
    return lambda _window, _now: column


FIELDS: dict[str, Field] = {
    "stage": Field("choice", CHOICE_OPS, _column(MemberLifecycle.stage), choices=STAGES),
    "health_score": Field("number", NUMBER_OPS, _column(MemberLifecycle.health_score)),
    "p_active": Field("number", NUMBER_OPS, _column(MemberLifecycle.p_active)),
    "expected_purchases_90d": Field(
        "number", NUMBER_OPS, _column(MemberLifecycle.expected_purchases_90d)
    ),
    "tier": Field("text", CHOICE_OPS, _column(Member.tier)),
    "points_balance": Field("number", NUMBER_OPS, _column(Member.points_balance)),
    "days_since_last_purchase": Field(
        "number", NUMBER_OPS, _column(MemberLifecycle.days_since_last_purchase)
    ),
    "purchases": Field("number", NUMBER_OPS, _purchases_in_window, windowed=True),
    "spend_cents": Field("number", NUMBER_OPS, _spend_in_window, windowed=True),
    "home_store": Field("id", CHOICE_OPS, _home_store),
    "signed_up": Field("date", NUMBER_OPS, _column(Member.created_at)),
    "blocked": Field("bool", ("eq",), _column(Member.blocked)),
    "birthday_month": Field("month", NUMBER_OPS + ("in", "not_in"), _birthday_month),
    # The value is the purpose; the condition holds when the member's latest answer granted it.
    "consent": Field("choice", ("eq",), _column(Member.id), choices=CONSENT_PURPOSES),
}


def invalid_rules(path: str, message: str) -> DomainError:
    """Return the problem for a rule tree that cannot be used."""
    return DomainError("invalid-segment-rules", f"{path}: {message}", path=path)


def validate_rules(tree: Any) -> dict[str, Any]:
    """Check a rule tree (shape, fields, operators, values) and return it; refuse with a path."""
    counter = [0]
    _check_node(tree, "rules", 0, counter)
    return dict(tree)


def _check_node(node: Any, path: str, depth: int, counter: list[int]) -> None:
    if depth > MAX_DEPTH:
        raise invalid_rules(path, f"rules nest at most {MAX_DEPTH} levels deep")
    if not isinstance(node, Mapping) or not node:
        raise invalid_rules(path, "a rule is an object: all, any, not or a condition")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if set(node) != {key} or not isinstance(node[key], list):
            raise invalid_rules(path, f"'{key}' takes a list of rules and nothing else")
        for index, child in enumerate(node[key]):
            _check_node(child, f"{path}.{key}[{index}]", depth + 1, counter)
        return
    if "not" in node:
        if set(node) != {"not"}:
            raise invalid_rules(path, "'not' takes one rule and nothing else")
        _check_node(node["not"], f"{path}.not", depth + 1, counter)
        return
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise invalid_rules(path, f"a segment has at most {MAX_CONDITIONS} conditions")
    _check_condition(node, path)


def _check_condition(node: Mapping[str, Any], path: str) -> None:
    unknown_keys = set(node) - {"field", "op", "value", "window_days"}
    if unknown_keys:
        raise invalid_rules(path, f"unknown key {sorted(unknown_keys)[0]!r}")
    field = FIELDS.get(node.get("field"))  # type: ignore[arg-type]
    if field is None:
        raise invalid_rules(path, f"unknown field {node.get('field')!r}; one of {sorted(FIELDS)}")
    op = node.get("op")
    if op not in field.ops:
        raise invalid_rules(path, f"{node['field']} takes the operators {list(field.ops)}")
    if field.windowed:
        window = node.get("window_days")
        if not isinstance(window, int) or isinstance(window, bool):
            raise invalid_rules(path, f"{node['field']} needs window_days (a whole number)")
        if not 1 <= window <= MAX_WINDOW_DAYS:
            raise invalid_rules(path, f"window_days runs from 1 to {MAX_WINDOW_DAYS}")
    elif "window_days" in node:
        raise invalid_rules(path, f"{node['field']} takes no window_days")
    if op in ("is_null", "not_null"):
        if "value" in node:
            raise invalid_rules(path, f"{op} takes no value")
        return
    if "value" not in node:
        raise invalid_rules(path, f"{op} needs a value")
    value = node["value"]
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise invalid_rules(path, "between takes [low, high]")
        for item in value:
            _check_scalar(field, item, path)
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise invalid_rules(path, f"{op} takes a non-empty list")
        for item in value:
            _check_scalar(field, item, path)
    else:
        _check_scalar(field, value, path)


def _check_scalar(field: Field, value: Any, path: str) -> None:
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_rules(path, "the value must be a number")
    elif field.kind == "id":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_rules(path, "the value must be a whole number (an id)")
    elif field.kind == "month":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
            raise invalid_rules(path, "the value must be a month, 1 to 12")
    elif field.kind == "bool":
        if not isinstance(value, bool):
            raise invalid_rules(path, "the value must be true or false")
    elif field.kind == "date":
        if not isinstance(value, str):
            raise invalid_rules(path, "the value must be a date, YYYY-MM-DD")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise invalid_rules(path, "the value must be a date, YYYY-MM-DD") from None
    elif not isinstance(value, str):
        raise invalid_rules(path, "the value must be text")
    elif field.choices and value not in field.choices:
        raise invalid_rules(path, f"the value must be one of {list(field.choices)}")


def condition_for(tree: Mapping[str, Any], now: datetime) -> ColumnElement[bool]:
    """Compile a (validated) rule tree into one SQL condition over members and lifecycle."""
    if "all" in tree:
        return and_(true(), *(condition_for(child, now) for child in tree["all"]))
    if "any" in tree:
        return or_(false(), *(condition_for(child, now) for child in tree["any"]))
    if "not" in tree:
        # NOT of a comparison with NULL stays unknown in SQL; coalesce so "not at risk"
        # includes members the refresh has not classified.
        return not_(func.coalesce(condition_for(tree["not"], now), false()))
    field = FIELDS[tree["field"]]
    if tree["field"] == "consent":
        return _consent_granted(tree["value"])
    column = field.expression(tree.get("window_days"), now)
    return _compare(column, tree["op"], _sql_value(field, tree.get("value")))


def _sql_value(field: Field, value: Any) -> Any:
    if field.kind != "date" or value is None:
        return value
    if isinstance(value, list):
        return [_sql_value(field, item) for item in value]
    return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)


def _compare(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    comparisons: dict[str, Callable[[], ColumnElement[bool]]] = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "between": lambda: and_(column >= value[0], column <= value[1]),
        "in": lambda: column.in_(value),
        "not_in": lambda: column.not_in(value),
        "is_null": lambda: column.is_(None),
        "not_null": lambda: column.is_not(None),
    }
    return comparisons[op]()


def segment_query(tree: Mapping[str, Any], now: datetime) -> Select[tuple[int]]:
    """Return ``SELECT members.id`` of the members the rule tree selects."""
    return (
        select(Member.id)
        .outerjoin(MemberLifecycle, MemberLifecycle.member_id == Member.id)
        .where(condition_for(tree, now))
    )
