"""Every error is application/problem+json with a stable type.

The last tests read the source of ``app`` with ``ast``: domain code raises ``DomainError``
(status and title from ``DOMAIN_PROBLEMS``), and a ``Problem`` with its own status is built only
where the lists below say why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import app as app_package
from app import create_app
from app.errors import DOMAIN_PROBLEMS


def assert_problem(response, status: int, type_: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == type_
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_unknown_url_is_a_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    assert_problem(client.get("/no/such/page"), 404, "not-found")


def test_wrong_method_is_a_problem(client: FlaskClient) -> None:
    body = assert_problem(client.delete("/api/v1/auth/login"), 405, "method-not-allowed")
    assert body["status"] == 405


def test_malformed_json_is_a_problem(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_missing_field_is_a_problem_that_names_the_field(client: FlaskClient) -> None:
    body = assert_problem(
        client.post("/api/v1/auth/register", json={"email": "a@b.co"}), 422, "validation-error"
    )
    assert "password" in body["errors"]["json"]
    assert "display_name" in body["errors"]["json"]


def test_a_crash_is_a_problem_without_a_stack_trace(app: Flask) -> None:
    # A fresh app: routes cannot be added to the shared one once it has served requests.
    crashing = create_app({**app.config, "TESTING": False})

    @crashing.get("/api/v1/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = crashing.test_client().get("/api/v1/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert set(body) == {"type", "title", "status", "detail"}


def test_login_rate_limit_answers_429_problem(app: Flask) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    statuses = [
        client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "p"}).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [401, 401, 401]
    response = client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "p"})
    assert_problem(response, 429, "too-many-requests")


def test_only_routes_with_a_limit_run_the_limiter(app: Flask) -> None:
    from app.extensions import limiter

    assert limiter._check_request_limit not in app.before_request_funcs[None]
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "p"})
    assert login.headers["X-RateLimit-Limit"] == "1000"
    assert "X-RateLimit-Limit" not in client.get("/api/v1/me").headers


def test_a_default_limit_keeps_the_limiters_check_on_every_route(app: Flask) -> None:
    limited = create_app({**app.config, "RATELIMIT_DEFAULT": "2 per minute"})
    client = limited.test_client()
    statuses = [client.get("/api/openapi.json").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_responses_carry_a_request_id(client: FlaskClient) -> None:
    assert len(client.get("/api/v1/me").headers["X-Request-ID"]) >= 8
    echoed = client.get("/api/v1/me", headers={"X-Request-ID": "till-7-abcdef12"})
    assert echoed.headers["X-Request-ID"] == "till-7-abcdef12"


def test_openapi_says_error_answers_are_problem_json(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    responses = spec["components"]["responses"]
    for name in ("NOT_FOUND", "CONFLICT", "UNPROCESSABLE_ENTITY", "DEFAULT_ERROR"):
        if name in responses:
            content = responses[name]["content"]
            assert list(content) == ["application/problem+json"], (name, content)
            schema = content["application/problem+json"]["schema"]["$ref"]
            assert schema.endswith("/Problem")
    redeem = spec["paths"]["/api/v1/till/coupons/redeem"]["post"]["responses"]
    for status in ("403", "404", "409", "410", "422", "428", "429"):
        schema = redeem[status]["content"]["application/problem+json"]["schema"]
        assert schema["$ref"].endswith("/Problem")
    assert list(redeem["200"]["content"]) == ["application/json"]
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}


def test_openapi_document_is_served(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/login" in spec["paths"]
    assert client.get("/api/docs").status_code == 200


APP_DIR = Path(app_package.__file__).parent

# Modules at the HTTP edge, which build a ``Problem`` with its own status: why.
EDGE_MODULES: dict[str, str] = {
    "app/errors.py": "renders problems and turns werkzeug's HTTP errors into them",
    "app/request_limits.py": "refuses oversized or malformed request bodies before any route",
    "app/auth/tokens.py": "a 401 carries its WWW-Authenticate header",
    "app/auth/access.py": "a 401 carries its WWW-Authenticate header",
    "app/transactions.py": "the request's transaction answers a collision with a 409",
    "app/imports/routes.py": "upload size and multipart checks of the HTTP request itself",
}

# Problems kept in other modules, by module and the source of their type argument: why.
KEPT_PROBLEMS: dict[tuple[str, str], str] = {
    ("app/cards/apple_web_service.py", "'pass-authentication-required'"): "WWW-Authenticate",
    ("app/cards/apple_web_service.py", "'invalid-pass-token'"): "WWW-Authenticate header",
    ("app/fraud/lockout.py", "'too-many-attempts'"): "carries a Retry-After header",
    ("app/campaigns/codes.py", "InvalidCode.type"): "the coupons library's error says it all",
    ("app/campaigns/redemption.py", "refusal.value"): "status and title from coupons.rules",
    ("app/till/sync.py", "str(answer['flag'])"): "the type is the redemption's stored flag",
}

# Types answered with more than one title today: they stay Problems wherever they are built.
AMBIGUOUS_TYPES: dict[str, str] = {
    "validation-error": "titled 'Invalid request', 'Validation error' and 'Invalid event'",
    "not-found": "titled 'Not found' for a missing logo, 'Not Found' by werkzeug's 404",
}


def _app_calls(*names: str) -> Iterator[tuple[str, ast.Call]]:
    """Yield (module path, call) for each call of one of these names in the app's source."""
    for path in sorted(APP_DIR.rglob("*.py")):
        module = path.relative_to(APP_DIR.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in names and node.args:
                    yield module, node


def _literal(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _domain_error_classes() -> set[str]:
    """Return ``DomainError`` and the names of the app's classes that derive from it."""
    names = {"DomainError"}
    for path in APP_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                if any(isinstance(b, ast.Name) and b.id == "DomainError" for b in node.bases):
                    names.add(node.name)
    return names


def test_only_the_edge_builds_problems_with_their_own_status() -> None:
    stray, kept_seen = [], set()
    for module, call in _app_calls("Problem"):
        key = (module, ast.unparse(call.args[0]))
        if module in EDGE_MODULES or _literal(call.args[0]) in AMBIGUOUS_TYPES:
            continue
        if key in KEPT_PROBLEMS:
            kept_seen.add(key)
            continue
        stray.append(f"{module}:{call.lineno} {key[1]}")
    assert stray == [], "raise DomainError (and list the type in DOMAIN_PROBLEMS) instead"
    assert kept_seen == set(KEPT_PROBLEMS), "an allowed Problem is gone: drop it from the list"
    assert {path.split("/", 1)[1] for path in EDGE_MODULES} <= {
        path.relative_to(APP_DIR).as_posix() for path in APP_DIR.rglob("*.py")
    }


def test_every_domain_error_type_is_in_the_table() -> None:
    unknown = [
        f"{module}:{call.lineno} {type_}"
        for module, call in _app_calls(*_domain_error_classes())
        if isinstance(type_ := _literal(call.args[0]), str) and type_ not in DOMAIN_PROBLEMS
    ]
    assert unknown == [], "add these types to DOMAIN_PROBLEMS in app/errors.py"


def test_a_table_type_built_as_a_problem_keeps_the_table_status_and_title() -> None:
    differing = []
    for module, call in _app_calls("Problem"):
        type_ = _literal(call.args[0])
        if isinstance(type_, str) and type_ in DOMAIN_PROBLEMS:
            said = tuple(_literal(arg) for arg in call.args[1:3])
            if said != DOMAIN_PROBLEMS[type_]:
                differing.append(f"{module}:{call.lineno} {type_} {said}")
    assert differing == []
    assert not set(AMBIGUOUS_TYPES) & set(DOMAIN_PROBLEMS)


def test_the_app_remembers_which_views_are_coroutines(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ensure_sync`` asks once per function: plain views come back as they are."""

    def view() -> str:
        return "ok"

    class Holder:
        def method(self) -> str:
            return "ok"

    async def coroutine_view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    bound_once, bound_again = Holder().method, Holder().method
    assert app.ensure_sync(bound_once) is bound_once
    assert app.ensure_sync(bound_again) is bound_again
    remembered = app._coroutine_functions  # type: ignore[attr-defined]
    assert remembered[view] is False and remembered[Holder.method] is False
    # A coroutine function still goes to Flask's async support.
    wrapped = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or "sync")
    assert app.ensure_sync(coroutine_view) == "sync"
    assert wrapped == [coroutine_view]
    assert remembered[coroutine_view] is True
