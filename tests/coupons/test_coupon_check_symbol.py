"""The check symbol, checked against an independent textbook Luhn mod N written here.

The textbook algorithm is deliberately re-implemented in this file (not imported from stdnum or
from ``coupons``) so that a mistake in how the library calls stdnum cannot hide behind the same
mistake in the test.
"""

from __future__ import annotations

import random

import pytest

from coupons import (
    ALPHABET,
    check_symbol,
    generate_code,
    generate_codes,
    is_canonical,
    looks_like_coupon_code,
)

# The public contract, written out again rather than imported.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def textbook_luhn_mod_n_is_valid(code: str, alphabet: str = CROCKFORD) -> bool:
    """Validate ``code`` with Luhn mod N the way the textbook states it."""
    n = len(alphabet)
    total = 0
    for position_from_right, symbol in enumerate(reversed(code)):
        code_point = alphabet.index(symbol)
        if position_from_right % 2 == 1:
            doubled = 2 * code_point
            # "Sum the digits in base N": a doubled value is below 2N, so it has at most two
            # base-N digits.
            code_point = doubled // n + doubled % n
        total += code_point
    return total % n == 0


def with_check_symbol(body: str) -> str:
    return body + check_symbol(body)


# Pinned vectors: body -> full canonical code. They are part of the public contract.
VECTORS = [
    ("000000000000", "0000000000000"),
    ("ZZZZZZZZZZZZ", "ZZZZZZZZZZZZC"),
    ("0123456789AB", "0123456789ABT"),
    ("7K3M9Q2XH4TD", "7K3M9Q2XH4TD4"),
    ("CDEFGHJKMNPQ", "CDEFGHJKMNPQY"),
    ("RSTVWXYZ1234", "RSTVWXYZ12340"),
]


def test_alphabet_is_the_published_crockford_alphabet() -> None:
    assert ALPHABET == CROCKFORD
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_textbook_check_accepts_a_known_decimal_luhn_number() -> None:
    # Sanity check of the test's own oracle on the classic mod 10 example.
    assert textbook_luhn_mod_n_is_valid("79927398713", alphabet="0123456789")
    assert not textbook_luhn_mod_n_is_valid("79927398710", alphabet="0123456789")


@pytest.mark.parametrize(("body", "code"), VECTORS)
def test_check_symbol_matches_pinned_vectors(body: str, code: str) -> None:
    assert with_check_symbol(body) == code
    assert textbook_luhn_mod_n_is_valid(code)


def test_every_generated_code_passes_an_independent_luhn_mod_32_check() -> None:
    codes = generate_codes(2_000) + [generate_code() for _ in range(200)]
    for code in codes:
        assert len(code) == 13
        assert set(code) <= set(CROCKFORD)
        assert textbook_luhn_mod_n_is_valid(code), code


def test_check_symbol_agrees_with_textbook_for_random_bodies() -> None:
    rng = random.Random(20240601)
    for _ in range(2_000):
        body = "".join(rng.choice(CROCKFORD) for _ in range(12))
        code = with_check_symbol(body)
        assert textbook_luhn_mod_n_is_valid(code)
        # The check symbol is the only one that works.
        others = [s for s in CROCKFORD if s != code[-1]]
        assert not any(textbook_luhn_mod_n_is_valid(body + s) for s in others)


@pytest.mark.parametrize("code", ["7K3M9Q2XH4TD4", "0000000000000", "ZZZZZZZZZZZZC", "seeded"])
def test_every_single_symbol_substitution_is_caught(code: str) -> None:
    if code == "seeded":
        code = with_check_symbol("".join(random.Random(7).choice(CROCKFORD) for _ in range(12)))
    for position in range(13):
        for symbol in CROCKFORD:
            if symbol == code[position]:
                continue
            typo = code[:position] + symbol + code[position + 1 :]
            assert not is_canonical(typo), (position, symbol)
            assert not looks_like_coupon_code(typo), (position, symbol)
            assert not textbook_luhn_mod_n_is_valid(typo)


def _valid_code_with_pair(position: int, first: str, second: str, filler: str) -> str | None:
    """Build a valid code with ``first``, ``second`` at ``position``, ``position + 1``."""
    if position < 11:
        body = list(filler)
        body[position], body[position + 1] = first, second
        return with_check_symbol("".join(body))
    # The pair is the last body symbol and the check symbol itself: vary the leftmost symbol
    # (undoubled, so each value shifts the check by one) until the check symbol is ``second``.
    for lead in CROCKFORD:
        code = with_check_symbol(lead + filler[1:11] + first)
        if code[12] == second:
            return code
    return None


def test_adjacent_transpositions_are_caught_except_0z_and_z0() -> None:
    """Luhn mod N misses exactly the swap of the symbols with values 0 and N-1.

    A swap of neighbours a, b goes unnoticed when d(a) - a == d(b) - b, where d is "double and
    sum base-32 digits". d(v) - v is v for v < 16 and v - 31 for v >= 16, so it only collides
    for v = 0 and v = 31: "0" and "Z". This is the mod-32 twin of decimal Luhn's 09 <-> 90.
    """
    missed: set[tuple[int, str, str]] = set()
    tried = 0
    for filler in ("7K3M9Q2XH4TD", "000000000000", "ZZZZZZZZZZZZ", "RSTVWXYZ1234"):
        for position in range(12):  # 12 adjacent pairs in 13 symbols, the check symbol included
            for first in CROCKFORD:
                for second in CROCKFORD:
                    if first == second:
                        continue
                    code = _valid_code_with_pair(position, first, second, filler)
                    assert code is not None
                    assert is_canonical(code)
                    swapped = code[:position] + second + first + code[position + 2 :]
                    tried += 1
                    if is_canonical(swapped):
                        assert textbook_luhn_mod_n_is_valid(swapped)
                        missed.add((position, first, second))
    assert tried == 4 * 12 * 32 * 31
    # Exactly the known blind spot, at every position, and nothing else.
    assert missed == {(p, a, b) for p in range(12) for a, b in (("0", "Z"), ("Z", "0"))}


def test_check_symbol_refuses_a_body_of_the_wrong_shape() -> None:
    for body in ("", "7K3M9Q2XH4T", "7K3M9Q2XH4TDX", "7K3M9Q2XH4TU", "7k3m9q2xh4td"):
        with pytest.raises(ValueError):
            check_symbol(body)
