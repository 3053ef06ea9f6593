"""Refusal reasons for card codes.

Every way a card code can be refused by this library is one exception class with a stable,
kebab-case ``type``. The app turns them into ``application/problem+json`` bodies and records the
``type`` with each scan attempt, so the strings are part of the API: never rename them.

Refusals that need the database ("card-revoked", "unknown-card", "code-replayed") are the app's
business and are deliberately absent here.
"""

from __future__ import annotations


class CardCodeError(Exception):
    """A card code was refused; ``type`` says why in machine-readable form."""

    type: str = "card-code-error"
    title: str = "The card code was refused."


class MalformedCode(CardCodeError):
    """The text is not a card code of any known shape."""

    type = "malformed-code"
    title = "The card code is not in a known format."


class BadSignature(CardCodeError):
    """The static code's Ed25519 signature does not match its content."""

    type = "bad-signature"
    title = "The card code's signature is not valid."


class UnknownKey(CardCodeError):
    """The static code names a signing key (kid) that is not in the key ring."""

    type = "unknown-key"
    title = "The card code was signed with an unknown key."


class CardExpired(CardCodeError):
    """The static code's ``not_after`` instant has passed."""

    type = "card-expired"
    title = "The card code has expired."


class CodeStale(CardCodeError):
    """The rotating code's one-time password matches no time step in the accepted window."""

    type = "code-stale"
    title = "The rotating card code is out of date."
