"""Member numbers: a short, human identifier for every member, derived from the member id.

A member number is 8 Crockford Base32 digits and one check symbol, shown as ``XXXX-XXXX-C``
(``7KQD-M2XA-R``). It is what a member reads out at the till or a service desk, and what staff
type into the member search.

The 8 digits are 40 bits: the member id passed through a fixed 4-round Feistel permutation of
40 bits. A permutation is a bijection, so every id has exactly one number, no two members ever
share one, no column or uniqueness retry is needed, and a typed number turns back into the id
without a lookup table. The permutation only spreads consecutive ids so that numbers do not
count members or look sequential; it is not secret and not a credential (the signed card codes
are). The check symbol is Luhn mod 32 over the same alphabet as coupon codes, so any single
mistyped symbol and almost every swap of neighbours is caught before the database is asked.

Reading is forgiving like coupon codes: case, spaces and dashes do not matter, ``I``/``L`` read
as ``1`` and ``O`` as ``0``.
"""

from __future__ import annotations

import hashlib

from stdnum import luhn

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DIGITS = 8
HALF_BITS = 20
HALF_MASK = (1 << HALF_BITS) - 1
MAX_MEMBER_ID = (1 << (2 * HALF_BITS)) - 1
ROUNDS = 4
_ROUND_KEY = b"loyalty-wallet/member-number/v1"
_READING = str.maketrans(
    {
        **{chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)},
        "I": "1",
        "i": "1",
        "L": "1",
        "l": "1",
        "O": "0",
        "o": "0",
        "-": None,
        "\u2010": None,
        "\u2011": None,
        "\u2012": None,
        "\u2013": None,
        "\u2014": None,
        "\u2212": None,
    }
)


def _round(value: int, round_index: int) -> int:
    digest = hashlib.blake2b(
        value.to_bytes(3, "big"), digest_size=3, key=_ROUND_KEY, salt=bytes([round_index]) * 16
    ).digest()
    return int.from_bytes(digest, "big") & HALF_MASK


def _permute(number: int) -> int:
    left, right = number >> HALF_BITS, number & HALF_MASK
    for round_index in range(ROUNDS):
        left, right = right, left ^ _round(right, round_index)
    return (left << HALF_BITS) | right


def _unpermute(number: int) -> int:
    left, right = number >> HALF_BITS, number & HALF_MASK
    for round_index in reversed(range(ROUNDS)):
        left, right = right ^ _round(left, round_index), left
    return (left << HALF_BITS) | right


def member_number(member_id: int) -> str:
    """Return the canonical member number (9 symbols, no separators) of a member id."""
    if not 0 < member_id <= MAX_MEMBER_ID:
        raise ValueError("member ids run from 1 to 2**40 - 1")
    value = _permute(member_id)
    digits = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(DIGITS)))
    return digits + luhn.calc_check_digit(digits, alphabet=ALPHABET)


def format_member_number(member_id: int) -> str:
    """Return the member number for display, as ``XXXX-XXXX-C``."""
    number = member_number(member_id)
    return f"{number[:4]}-{number[4:8]}-{number[8]}"


def member_id_from_number(text: str) -> int | None:
    """Read a typed member number and return the member id it names, or None if it is none."""
    if len(text) > 32 or not text.isascii():
        return None
    cleaned = "".join(text.split()).translate(_READING)
    if len(cleaned) != DIGITS + 1 or any(symbol not in ALPHABET for symbol in cleaned):
        return None
    if luhn.calc_check_digit(cleaned[:DIGITS], alphabet=ALPHABET) != cleaned[DIGITS]:
        return None
    value = 0
    for symbol in cleaned[:DIGITS]:
        value = value * 32 + ALPHABET.index(symbol)
    member_id = _unpermute(value)
    return member_id if member_id > 0 else None
