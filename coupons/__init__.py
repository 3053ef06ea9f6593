"""One-time coupon codes as a plain library: no Flask, no database.

The package has four parts, and the app (``app/``) is their only caller:

* ``coupons.codes``: the public code format (12 random Crockford Base32 symbols plus a Luhn
  mod 32 check symbol, shown ``XXXX-XXXX-XXXX-C``), its generation, normalisation of typed or
  scanned input and display. A code with a wrong check symbol is refused here, before any
  database lookup.
* ``coupons.storage``: what is stored instead of the code, so that a leaked database or log does
  not let anyone redeem: a keyed lookup hash, a log-safe fingerprint and, for member-bound
  coupons only, the code sealed with AES-256-GCM.
* ``coupons.rules``: a pure decision of whether a redemption may go ahead (voided, redeemed,
  validity window, store, member, per-member limit, minimum basket, free item present) and what
  it is worth in integer cents or points.
* ``coupons.errors``: exceptions with a stable problem+json ``type`` and HTTP ``status``.

Single use itself is enforced by the database (a conditional UPDATE), not here: see
``coupons.rules`` and ``docs/coupon-codes.md``.
"""

from coupons.codes import (
    ALPHABET,
    CANONICAL_LENGTH,
    CODE_SYMBOLS,
    check_symbol,
    clean_code_text,
    format_code,
    generate_code,
    generate_codes,
    is_canonical,
    looks_like_coupon_code,
    normalise_code,
)
from coupons.errors import CouponError, InvalidCode, SealedCodeError
from coupons.rules import (
    CHECK_ORDER,
    REFUSAL_STATUS,
    REFUSAL_TITLE,
    BasketLine,
    Benefit,
    BenefitKind,
    CouponTerms,
    Decision,
    RedemptionContext,
    RedemptionRefused,
    Refusal,
    decide_redemption,
)
from coupons.storage import (
    StorageKeys,
    code_fingerprint,
    code_lookup_hash,
    derive_storage_keys,
    open_sealed_code,
    seal_code,
)

__all__ = [
    "ALPHABET",
    "CANONICAL_LENGTH",
    "CHECK_ORDER",
    "CODE_SYMBOLS",
    "REFUSAL_STATUS",
    "REFUSAL_TITLE",
    "BasketLine",
    "Benefit",
    "BenefitKind",
    "CouponError",
    "CouponTerms",
    "Decision",
    "InvalidCode",
    "RedemptionContext",
    "RedemptionRefused",
    "Refusal",
    "SealedCodeError",
    "StorageKeys",
    "check_symbol",
    "clean_code_text",
    "code_fingerprint",
    "code_lookup_hash",
    "decide_redemption",
    "derive_storage_keys",
    "format_code",
    "generate_code",
    "generate_codes",
    "is_canonical",
    "looks_like_coupon_code",
    "normalise_code",
    "open_sealed_code",
    "seal_code",
]
