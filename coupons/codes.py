"""Coupon codes: generation, check symbol, normalisation and display.

The format is a public contract (till software from other vendors parses it), see
``docs/coupon-codes.md``:

* 12 random symbols from the Crockford Base32 alphabet ``0-9 A-Z`` without ``I L O U``.
  That is 60 random bits, so a guesser facing a million live codes wins with probability
  about 9e-13 per guess.
* One check symbol: Luhn mod N with N = 32 over the same alphabet, exactly what
  ``stdnum.luhn.calc_check_digit(body, alphabet=ALPHABET)`` computes. It catches every
  single-symbol typo and every adjacent transposition except ``0Z`` <-> ``Z0``. It is a typo
  guard, not a security measure: anyone can compute it, so it adds no guessing resistance.
* Shown as ``XXXX-XXXX-XXXX-C``; stored and looked up in the canonical form, the 13 symbols
  without separators.

Reading is forgiving in the ways people and scanners actually err, and strict otherwise: case is
ignored, whitespace and hyphens (including the Unicode dashes that phones and mail clients
substitute) are dropped, ``I``/``L`` read as ``1`` and ``O`` as ``0`` (Crockford's rule). Anything
else, including ``U`` and non-ASCII look-alike letters, is refused, and so is a wrong check
symbol, so a typo never reaches the database and never counts as a guess.

Generation uses the operating system's CSPRNG through ``secrets``. Codes are unique within a batch;
uniqueness against codes already issued is the database's job (a UNIQUE index on the lookup hash,
retry on conflict), since with 2**60 possible bodies a collision is rare but not impossible.
"""

from __future__ import annotations

import base64
import secrets

from stdnum import luhn

from coupons.errors import InvalidCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS = 12
CANONICAL_LENGTH = CODE_SYMBOLS + 1
GROUP_SIZE = 4

# A code with separators is 16 characters; allow generous padding but refuse megabytes of input
# before doing any work on it.
MAX_INPUT_LENGTH = 64

_SYMBOLS = frozenset(ALPHABET)

# Hyphen-minus plus the dashes that autocorrect and copy-paste put in its place.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"

# Only ASCII letters are upper-cased: str.upper() would turn e.g. the Turkish dotless "ı" into "I"
# and so accept text no till could have printed.
_CLEANUP = str.maketrans(
    {
        **{chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)},
        "I": "1",
        "i": "1",
        "L": "1",
        "l": "1",
        "O": "0",
        "o": "0",
        **dict.fromkeys(_DASHES),
    }
)

# RFC 4648 Base32 encodes in C and is a bijection on 5-bit groups, so renaming its symbols gives
# uniformly random Crockford symbols far faster than one secrets.choice() call per symbol.
_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
# 15 random bytes are 120 bits: exactly two 12-symbol bodies, with no padding to throw away.
_BYTES_PER_TWO_BODIES = 15


def check_symbol(body12: str) -> str:
    """Return the Luhn mod 32 check symbol for a 12-symbol code body."""
    if len(body12) != CODE_SYMBOLS or not _SYMBOLS.issuperset(body12):
        raise ValueError(f"a code body is {CODE_SYMBOLS} symbols of the coupon alphabet")
    return luhn.calc_check_digit(body12, alphabet=ALPHABET)


def generate_code() -> str:
    """Return one new random coupon code in canonical form (13 symbols, no hyphens)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return body + check_symbol(body)


def generate_codes(count: int) -> list[str]:
    """Return ``count`` new random canonical coupon codes, all different from each other."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("count must be a non-negative integer")
    # A dict keeps the order codes were drawn in while dropping the (astronomically rare)
    # duplicate; the loop tops the batch up until it is complete.
    codes: dict[str, None] = {}
    while len(codes) < count:
        for body in _random_bodies(count - len(codes)):
            codes[body + check_symbol(body)] = None
    return list(codes)


def _random_bodies(count: int) -> list[str]:
    """Draw ``count`` uniformly random 12-symbol bodies from the CSPRNG in one call."""
    pairs = (count + 1) // 2
    raw = base64.b32encode(secrets.token_bytes(pairs * _BYTES_PER_TWO_BODIES))
    symbols = raw.decode("ascii").translate(_RFC4648_TO_CROCKFORD)
    return [symbols[i : i + CODE_SYMBOLS] for i in range(0, count * CODE_SYMBOLS, CODE_SYMBOLS)]


def is_canonical(text: str) -> bool:
    """Tell whether ``text`` is exactly a canonical code with a correct check symbol."""
    return (
        isinstance(text, str)
        and len(text) == CANONICAL_LENGTH
        and _SYMBOLS.issuperset(text)
        and check_symbol(text[:CODE_SYMBOLS]) == text[CODE_SYMBOLS]
    )


def clean_code_text(text: str) -> str:
    """Apply the reading rules (case, separators, I/L/O) to ``text`` without validating it."""
    return "".join(text.split()).translate(_CLEANUP)


def normalise_code(text: str) -> str:
    """Read a typed or scanned coupon code and return its canonical 13-symbol form."""
    if not isinstance(text, str):
        raise InvalidCode("a coupon code must be text")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidCode(f"a coupon code is at most {MAX_INPUT_LENGTH} characters long")
    cleaned = clean_code_text(text)
    if not cleaned:
        raise InvalidCode("the coupon code is empty")
    for position, symbol in enumerate(cleaned, start=1):
        if symbol not in _SYMBOLS:
            # Name the offending symbol and where it is, but never echo the whole code: error
            # details are logged and a coupon code is a bearer secret.
            hint = " (U is never used in coupon codes)" if symbol == "U" else ""
            raise InvalidCode(f"symbol {position} ({symbol!r}) is not a coupon-code symbol{hint}")
    if len(cleaned) != CANONICAL_LENGTH:
        raise InvalidCode(
            f"a coupon code has {CANONICAL_LENGTH} symbols (XXXX-XXXX-XXXX-C), "
            f"this one has {len(cleaned)}"
        )
    if check_symbol(cleaned[:CODE_SYMBOLS]) != cleaned[CODE_SYMBOLS]:
        raise InvalidCode("the check symbol does not match: a symbol was probably mistyped")
    return cleaned


def looks_like_coupon_code(text: str) -> bool:
    """Tell whether ``text`` reads as a valid coupon code, without raising."""
    try:
        normalise_code(text)
    except InvalidCode:
        return False
    return True


def format_code(canonical: str) -> str:
    """Return a canonical code for display, grouped as ``XXXX-XXXX-XXXX-C``."""
    if not is_canonical(canonical):
        raise ValueError("format_code() takes a canonical code; call normalise_code() first")
    groups = [canonical[i : i + GROUP_SIZE] for i in range(0, CODE_SYMBOLS, GROUP_SIZE)]
    return "-".join([*groups, canonical[CODE_SYMBOLS]])
