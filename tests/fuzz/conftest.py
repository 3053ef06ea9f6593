"""The fuzz suite runs on PostgreSQL only: it is where out-of-range integers and NUL
characters turn into server errors, and one backend keeps the suite within CI's budget."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database the fuzz tests run on."""
    return str(request.param)
