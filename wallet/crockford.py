"""Crockford Base32 for card identifiers.

A card's UUID is written the way ULIDs are: its 128 bits read as one unsigned big-endian
integer, written as exactly 26 digits of Crockford's Base32 alphabet, most significant digit
first, upper case. 26 digits hold 130 bits, so the first digit carries only the top 3 bits and
is never above ``7``; a first digit above ``7`` would overflow 128 bits and is refused.

Reading is forgiving where people make mistakes and strict everywhere else: case does not
matter, ``I`` and ``L`` read as ``1`` and ``O`` as ``0`` (Crockford's rule), but the length
must be exactly 26 and nothing outside the alphabet is accepted. Nothing here is secret or
signed; the identifier only says which card is meant.
"""

from __future__ import annotations

import uuid

from wallet.errors import MalformedCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
UUID_DIGITS = 26

_DIGIT_VALUES: dict[str, int] = {symbol: value for value, symbol in enumerate(ALPHABET)}
_DIGIT_VALUES.update({"I": 1, "L": 1, "O": 0})


def encode_uuid(card_id: uuid.UUID) -> str:
    """Write a UUID as 26 upper-case Crockford Base32 digits, most significant first."""
    number = card_id.int
    digits = []
    for _ in range(UUID_DIGITS):
        number, remainder = divmod(number, 32)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def decode_uuid(text: str) -> uuid.UUID:
    """Read 26 Crockford Base32 digits back into a UUID, or raise MalformedCode."""
    # isascii() first: str.upper() maps some non-ASCII letters (dotless i, long s) onto ASCII
    # ones, which would let look-alike text pass as a valid identifier.
    if len(text) != UUID_DIGITS or not text.isascii():
        raise MalformedCode(f"a card identifier is exactly {UUID_DIGITS} Crockford digits")
    number = 0
    for symbol in text.upper():
        value = _DIGIT_VALUES.get(symbol)
        if value is None:
            raise MalformedCode(f"{symbol!r} is not a Crockford Base32 digit")
        number = number * 32 + value
    if number >> 128:
        raise MalformedCode("a card identifier's first digit must be 0-7 (128 bits)")
    return uuid.UUID(int=number)
