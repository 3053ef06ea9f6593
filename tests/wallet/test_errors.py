"""The refusal types are stable strings the app and tills rely on."""

from __future__ import annotations

import pytest

from wallet.errors import (
    BadSignature,
    CardCodeError,
    CardExpired,
    CodeStale,
    MalformedCode,
    UnknownKey,
)


@pytest.mark.parametrize(
    ("error", "problem_type"),
    [
        (MalformedCode, "malformed-code"),
        (BadSignature, "bad-signature"),
        (UnknownKey, "unknown-key"),
        (CardExpired, "card-expired"),
        (CodeStale, "code-stale"),
    ],
)
def test_each_refusal_has_its_documented_problem_type(
    error: type[CardCodeError], problem_type: str
) -> None:
    assert issubclass(error, CardCodeError)
    assert error.type == problem_type
    assert error("detail").type == problem_type
    assert error.title


def test_a_caught_card_code_error_still_tells_which_refusal_it_was() -> None:
    with pytest.raises(CardCodeError) as caught:
        raise CardExpired("gone")
    assert caught.value.type == "card-expired"
