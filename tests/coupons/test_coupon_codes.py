"""Generation, normalisation and display of coupon codes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from coupons import (
    ALPHABET,
    CANONICAL_LENGTH,
    CODE_SYMBOLS,
    CouponError,
    InvalidCode,
    check_symbol,
    format_code,
    generate_code,
    generate_codes,
    is_canonical,
    looks_like_coupon_code,
    normalise_code,
)

# A valid code with ones and zeros in it, to exercise the I/L/O reading rules.
BODY_WITH_ONES_AND_ZEROS = "10A1B0C1D0EF"
CODE = BODY_WITH_ONES_AND_ZEROS + check_symbol(BODY_WITH_ONES_AND_ZEROS)

DOC = Path(__file__).resolve().parents[2] / "docs" / "coupon-codes.md"


def _with_wrong_check(code: str) -> str:
    wrong = ALPHABET[(ALPHABET.index(code[-1]) + 1) % len(ALPHABET)]
    return code[:-1] + wrong


# --- generation -------------------------------------------------------------------------------


def test_generated_code_is_canonical_thirteen_symbols() -> None:
    code = generate_code()
    assert len(code) == CANONICAL_LENGTH == CODE_SYMBOLS + 1 == 13
    assert set(code) <= set(ALPHABET)
    assert is_canonical(code)
    assert normalise_code(code) == code


def test_generated_codes_differ_from_call_to_call() -> None:
    assert len({generate_code() for _ in range(1_000)}) == 1_000


def test_batch_has_exactly_the_requested_number_of_distinct_valid_codes() -> None:
    codes = generate_codes(100_000)
    assert len(codes) == 100_000
    assert len(set(codes)) == 100_000
    assert all(is_canonical(code) for code in codes[:5_000])


def test_batch_of_zero_is_empty_and_odd_sizes_work() -> None:
    assert generate_codes(0) == []
    assert len(generate_codes(1)) == 1
    assert len(set(generate_codes(7))) == 7


@pytest.mark.parametrize("count", [-1, 1.5, True, "3"])
def test_batch_size_must_be_a_non_negative_integer(count: object) -> None:
    with pytest.raises(ValueError):
        generate_codes(count)  # type: ignore[arg-type]


@pytest.mark.parametrize("source", ["single", "batch"])
def test_every_symbol_appears_at_every_position_with_plausible_frequency(source: str) -> None:
    # A broken bit-to-symbol mapping (say, a position that can never hold "Z") would show up
    # here. Bounds are about 9 standard deviations wide, so the test does not flake.
    codes = [generate_code() for _ in range(3_000)] if source == "single" else generate_codes(3_000)
    for position in range(CODE_SYMBOLS):
        at_position = Counter(code[position] for code in codes)
        assert set(at_position) == set(ALPHABET), position
    overall = Counter(symbol for code in codes for symbol in code[:CODE_SYMBOLS])
    expected = 3_000 * CODE_SYMBOLS / 32
    assert all(abs(n - expected) < 300 for n in overall.values()), overall


# --- normalisation ----------------------------------------------------------------------------


def test_canonical_code_normalises_to_itself() -> None:
    assert normalise_code(CODE) == CODE


def test_lowercase_input_is_accepted() -> None:
    assert normalise_code(CODE.lower()) == CODE


def test_hyphens_and_spaces_are_ignored() -> None:
    formatted = format_code(CODE)
    assert normalise_code(formatted) == CODE
    assert normalise_code(formatted.replace("-", " ")) == CODE
    assert normalise_code(f"  {CODE[:4]} - {CODE[4:8]}\t{CODE[8:]}\n") == CODE
    assert normalise_code("-".join(CODE)) == CODE


def test_unicode_dashes_and_no_break_spaces_are_ignored() -> None:
    assert normalise_code(format_code(CODE).replace("-", "\u2013")) == CODE
    assert normalise_code(format_code(CODE).replace("-", "\u00a0")) == CODE


def test_i_and_l_read_as_one_and_o_reads_as_zero() -> None:
    typed = CODE.replace("1", "I", 1).replace("1", "l", 1).replace("1", "L", 1)
    typed = typed.replace("0", "O", 1).replace("0", "o", 1)
    assert typed != CODE
    assert normalise_code(typed) == CODE


def test_u_is_refused_with_a_hint() -> None:
    typed = "U" + CODE[1:]
    with pytest.raises(InvalidCode, match="U is never used"):
        normalise_code(typed)
    with pytest.raises(InvalidCode):
        normalise_code(typed.lower())


@pytest.mark.parametrize("length", [1, 11, 12, 14, 16])
def test_wrong_number_of_symbols_is_refused(length: int) -> None:
    text = (CODE * 2)[:length]
    with pytest.raises(InvalidCode, match="13 symbols"):
        normalise_code(text)


def test_wrong_check_symbol_is_refused() -> None:
    with pytest.raises(InvalidCode, match="check symbol"):
        normalise_code(_with_wrong_check(CODE))
    with pytest.raises(InvalidCode, match="check symbol"):
        normalise_code(format_code(CODE)[:-1] + _with_wrong_check(CODE)[-1])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "----",
        "LW1:6BFOXQ*P",
        "LW2:01ARZ3NDEKTSV4RRFFQ69G5FAV:12345678",
        "\uff21" * 13,  # fullwidth A: looks like a code symbol, is not one
        "\u0131" + CODE[1:],  # Turkish dotless i upper-cases to I; must not be read as 1
        CODE[:6] + "_" + CODE[6:],
        CODE[:6] + "\u200b" + CODE[6:],  # zero-width space is not whitespace
        "7" * 65,
    ],
)
def test_text_that_is_not_a_code_is_refused(text: str) -> None:
    with pytest.raises(InvalidCode):
        normalise_code(text)
    assert looks_like_coupon_code(text) is False


def test_non_text_is_refused_as_invalid_code() -> None:
    with pytest.raises(InvalidCode):
        normalise_code(1234567890123)  # type: ignore[arg-type]


def test_error_detail_never_repeats_the_typed_code() -> None:
    for typed in (_with_wrong_check(CODE), CODE[:12], "U" + CODE[1:]):
        with pytest.raises(InvalidCode) as caught:
            normalise_code(typed)
        assert CODE[:8] not in str(caught.value)
        assert CODE[4:12] not in str(caught.value)


def test_invalid_code_is_a_coupon_error_with_problem_type_and_status() -> None:
    assert issubclass(InvalidCode, CouponError)
    assert InvalidCode.type == "invalid-code"
    assert InvalidCode.status == 422


def test_looks_like_coupon_code_accepts_any_readable_form() -> None:
    assert looks_like_coupon_code(CODE)
    assert looks_like_coupon_code(format_code(CODE).lower())
    assert not looks_like_coupon_code(_with_wrong_check(CODE))


# --- display ----------------------------------------------------------------------------------


def test_format_groups_as_four_four_four_check() -> None:
    assert format_code("7K3M9Q2XH4TD4") == "7K3M-9Q2X-H4TD-4"


def test_format_then_normalise_round_trips() -> None:
    for code in generate_codes(500):
        assert normalise_code(format_code(code)) == code


@pytest.mark.parametrize("text", ["7k3m9q2xh4td4", "7K3M-9Q2X-H4TD-4", "7K3M9Q2XH4TD5", ""])
def test_format_refuses_anything_but_a_canonical_code(text: str) -> None:
    with pytest.raises(ValueError):
        format_code(text)


def test_is_canonical_is_strict() -> None:
    assert is_canonical(CODE)
    assert not is_canonical(CODE.lower())
    assert not is_canonical(format_code(CODE))
    assert not is_canonical(_with_wrong_check(CODE))


# --- the published document -------------------------------------------------------------------


def test_documented_worked_example_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    body = "7K3M9Q2XH4TD"
    assert body in text
    assert format_code(body + check_symbol(body)) in text
    assert ALPHABET in text
