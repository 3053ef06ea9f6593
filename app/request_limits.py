"""What a request may carry: its size, its JSON's shape, its characters and its integers.

Every limit here is checked centrally, before a route does any work, so no route can forget
one and a bad request costs the server next to nothing:

- **Body size.** ``MAX_CONTENT_LENGTH`` (256 KiB by default) caps every body. A declared
  ``Content-Length`` above the cap is refused with 413 ``payload-too-large`` before a byte of
  the body is read; a chunked body is cut off by werkzeug at the same cap. A route that needs
  more (a CSV import, say) says so with ``@body_limit(bytes)``.
- **JSON shape.** A JSON body nested deeper than ``MAX_JSON_DEPTH`` (20) is refused with 422
  ``json-too-deep``; an array longer than ``MAX_JSON_ARRAY_ITEMS`` (10,000) with 422
  ``too-many-items``. Schemas may cap their own lists lower (purchase lines, for one).
- **Characters.** NUL, the other C0 control characters except tab, line feed and carriage
  return, DEL and lone UTF-16 surrogates are refused with 422 ``invalid-characters`` wherever
  they appear: JSON strings (keys too), query parameters and path segments. Databases choke
  on them (PostgreSQL refuses NUL outright) and no name, code or receipt id needs them.
- **Integers.** Every ``Integer`` field of every argument schema is limited to what the
  database's ``INTEGER`` holds (±2^31), and in JSON bodies it is strict: ``10.9``, ``"1000"``
  and ``1e3`` are refused rather than rounded or converted. Integers in paths use the
  ``int`` converter, which now matches only values up to 2^31 - 1, so a bigger id is a 404.
  The parser applies this to schemas as flask-smorest hands them over
  (``HardenedArgumentsParser``), so schemas need not repeat it; a field that holds a 64-bit
  value says so with ``metadata={"format": "int64"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import marshmallow as ma
from flask import Flask, current_app, request
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter, ValidationError

from app.errors import Problem

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_CONTENT_LENGTH = 256 * 1024
DEFAULT_MAX_JSON_DEPTH = 20
DEFAULT_MAX_JSON_ARRAY_ITEMS = 10_000
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

BODY_LIMIT_ATTRIBUTE = "_lw_body_limit"
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Let a route accept bodies up to ``max_bytes`` instead of ``MAX_CONTENT_LENGTH``."""

    def decorator(view: F) -> F:
        setattr(view, BODY_LIMIT_ATTRIBUTE, max_bytes)
        return view

    return decorator


def _setting(name: str, default: int) -> int:
    raw = current_app.config.get(name)
    return int(default if raw is None or raw == "" else raw)


def _route_body_limit() -> int:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, request.method.lower(), None) if view_class else view
    route_limit = getattr(handler, BODY_LIMIT_ATTRIBUTE, None)
    if route_limit is not None:
        return int(route_limit)
    return _setting("MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH)


def payload_too_large(limit: int) -> Problem:
    """Build the refusal of a body above the limit."""
    return Problem(
        "payload-too-large",
        413,
        "Payload too large",
        f"The request body may not exceed {limit} bytes.",
        max_bytes=limit,
    )


def invalid_characters(where: str) -> Problem:
    """Build the refusal of text with control characters."""
    return Problem(
        "invalid-characters",
        422,
        "Invalid characters",
        f"{where} contains NUL or other control characters.",
    )


def check_body_size() -> None:
    """Refuse a declared body above the route's limit, and cap what werkzeug will read."""
    limit = _route_body_limit()
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise payload_too_large(limit)


def _check_json_document(document: Any, max_depth: int, max_items: int) -> None:
    """Walk a parsed JSON document once (no recursion) and refuse what breaks a limit."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _FORBIDDEN_CHARACTERS.search(value):
                raise invalid_characters("A text field")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise Problem(
                "json-too-deep",
                422,
                "JSON too deep",
                f"The JSON body may not nest more than {max_depth} levels.",
            )
        if isinstance(value, list):
            if len(value) > max_items:
                raise Problem(
                    "too-many-items",
                    422,
                    "Too many items",
                    f"A JSON array may not hold more than {max_items} items.",
                )
            pending.extend((item, depth + 1) for item in value)
        else:
            for key, item in value.items():
                if _FORBIDDEN_CHARACTERS.search(key):
                    raise invalid_characters("A field name")
                pending.append((item, depth + 1))


def check_json_body() -> None:
    """Refuse a JSON body that is too deep, too long or carries control characters.

    A body that is not valid JSON is left to the route, which answers ``malformed-json``.
    """
    if not request.is_json:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    try:
        document = json.loads(raw)
    except RecursionError as exc:
        raise Problem(
            "json-too-deep", 422, "JSON too deep", "The JSON body nests too deeply."
        ) from exc
    except ValueError:
        return
    _check_json_document(
        document,
        _setting("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH),
        _setting("MAX_JSON_ARRAY_ITEMS", DEFAULT_MAX_JSON_ARRAY_ITEMS),
    )


def check_query_and_path() -> None:
    """Refuse control characters in query parameters and path segments."""
    for name, value in request.args.items(multi=True):
        if _FORBIDDEN_CHARACTERS.search(name) or _FORBIDDEN_CHARACTERS.search(value):
            raise invalid_characters(f"The query parameter {name!r}")
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and _FORBIDDEN_CHARACTERS.search(value):
            raise invalid_characters("The path")


def check_request() -> None:
    """Apply every limit of this module to the current request (a ``before_request`` hook)."""
    check_body_size()
    check_query_and_path()
    check_json_body()


class TrimmedString(fields.String):
    """A text field read without its leading and trailing whitespace (receipt ids, say).

    Validators see the trimmed text, so ``"  "`` fails a minimum length and ``" B-1"`` is
    the same receipt as ``"B-1"``.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class DatabaseIntegerConverter(IntegerConverter):
    """The ``int`` URL converter, matching only ids a database ``INTEGER`` can hold."""

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > INT32_MAX:
            raise ValidationError()
        return number


def _integer_range(field: fields.Integer) -> validate.Range:
    if field.metadata.get("format") == "int64":
        return validate.Range(INT64_MIN, INT64_MAX)
    return validate.Range(
        INT32_MIN, INT32_MAX, error="Must be between {min} and {max} (a database integer)."
    )


def harden_field(field: fields.Field[Any], strict_integers: bool) -> None:
    """Bound the integers of a field (and of the fields inside it), once."""
    if getattr(field, "_lw_hardened", False):
        return
    field._lw_hardened = True  # type: ignore[attr-defined]
    if isinstance(field, fields.Integer):
        field.validators.append(_integer_range(field))
        if strict_integers:
            field.strict = True
    elif isinstance(field, fields.List):
        harden_field(field.inner, strict_integers)
    elif isinstance(field, fields.Tuple):
        for item in field.tuple_fields:
            harden_field(item, strict_integers)
    elif isinstance(field, fields.Dict):
        if field.value_field is not None:
            harden_field(field.value_field, strict_integers)
    elif isinstance(field, fields.Nested) and isinstance(field.schema, ma.Schema):
        harden_schema(field.schema, strict_integers)


def harden_schema(schema: ma.Schema, strict_integers: bool) -> ma.Schema:
    """Bound every integer field of a schema instance; strict in JSON bodies."""
    for field in schema.fields.values():
        harden_field(field, strict_integers)
    return schema


class HardenedArgumentsParser(FlaskParser):
    """flask-smorest's argument parser, handing out schemas with bounded integers.

    A schema given as a class is instantiated and hardened once per location and kept; an
    instance is hardened in place.
    """

    def __init__(self) -> None:
        super().__init__()
        self._hardened: dict[tuple[int, bool], ma.Schema] = {}

    def parse(self, argmap: Any, req: Any = None, **kwargs: Any) -> Any:
        location = kwargs.get("location") or self.location
        strict = location in ("json", "json_or_form")
        key = (id(argmap), strict)
        schema = self._hardened.get(key)
        if schema is None:
            if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
                schema = harden_schema(argmap(), strict)
                self._hardened[key] = schema
            elif isinstance(argmap, ma.Schema):
                schema = harden_schema(argmap, strict)
                self._hardened[key] = schema
            else:
                return super().parse(argmap, req, **kwargs)
        return super().parse(schema, req, **kwargs)


def init_app(app: Flask) -> None:
    """Install the limits: the bounded ``int`` converter and the request checks."""
    app.url_map.converters["int"] = DatabaseIntegerConverter
    app.before_request(check_request)
