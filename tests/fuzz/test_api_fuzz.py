"""Fuzzing the API with Schemathesis, from the app's own OpenAPI document: no 5xx, ever.

Every operation of ``/api/openapi.json`` gets a few generated requests, valid ones and
invalid ones, sent as each kind of caller: a member, the demo manager and a till session.
Each answer is checked by Schemathesis for:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status is documented;
- ``content_type_conformance``: the answer's content type is the documented one.

It runs on PostgreSQL (``tests/fuzz/conftest.py``). The examples per operation are bounded
(``LW_FUZZ_EXAMPLES``, 4 by default) so the suite fits CI; raise it to fuzz longer locally.
Generation is derandomized (the same examples every run) and keeps no example database; a
failure prints the request that caused it.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.conftest import Shop, bearer

EXAMPLES_PER_OPERATION = int(os.environ.get("LW_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


def _token(shop: Shop, caller: str) -> str:
    if caller == "member":
        return shop.login_member()
    if caller == "manager":
        return shop.login_staff("manager")
    return shop.open_till()


def _fuzz_operation(operation: Any, app: Flask, headers: dict[str, str]) -> list[str]:
    """Run the bounded examples of one operation, valid and invalid; return the failures."""
    return [failure for mode in MODES for failure in _fuzz_in_mode(operation, mode, app, headers)]


def _fuzz_in_mode(
    operation: Any, mode: schemathesis.GenerationMode, app: Flask, headers: dict[str, str]
) -> list[str]:
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(app=app, headers=headers, checks=CHECKS)
        except Exception as failure:  # keep going: report every failure of the run at once
            failures.append(f"{operation.label} [{mode.value}]: {failure}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid: an operation without parameters or body
    return failures


@pytest.mark.parametrize("caller", ["member", "manager", "till"])
def test_the_api_answers_no_server_error(app: Flask, shop: Shop, caller: str) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "100000 per minute"
    headers = {**bearer(_token(shop, caller)), "Idempotency-Key": "fuzz-key-1"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        failures.extend(_fuzz_operation(operation, app, headers))
    assert operations > 50, "the OpenAPI document lists every operation"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:40])
