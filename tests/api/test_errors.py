"""Every error is application/problem+json with a stable type."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app import create_app


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
