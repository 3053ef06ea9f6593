"""Errors the coupon library raises, each with a stable machine-readable type.

Every error a till can cause carries the two things the API's problem+json handler needs: a
kebab-case ``type`` that never changes (till software from other vendors matches on it) and the
HTTP ``status`` to answer with. The message (``str(error)``) is the human ``detail``; it never
repeats the code that was typed, because a coupon code is a bearer secret and error details end
up in logs.

``SealedCodeError`` is deliberately *not* a ``CouponError``: it means the database holds bytes
that do not decrypt under the configured key (corruption, tampering or a wrong key). That is a
server fault to alert on, never an answer to give a till.
"""

from __future__ import annotations


class CouponError(Exception):
    """Base class for problems a client caused, mapped to one problem+json answer."""

    type: str = "coupon-error"
    title: str = "Coupon problem"
    status: int = 400


class InvalidCode(CouponError):
    """Refuse text that is not a well-formed coupon code or whose check symbol is wrong."""

    type = "invalid-code"
    title = "Not a valid coupon code"
    status = 422


class SealedCodeError(ValueError):
    """Signal that a sealed code failed to decrypt: corrupt, tampered or wrong key."""
