"""Password hashing with scrypt, a memory-hard KDF.

Checking a password for an unknown e-mail still runs one scrypt comparison against a dummy
hash, so response time does not tell which e-mails have accounts.
"""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

# werkzeug's default scrypt cost (N=2**15, r=8, p=1: about 32 MiB of memory per hash).
DEFAULT_METHOD = "scrypt"
_DUMMY_HASH = generate_password_hash("not a real password", method=DEFAULT_METHOD)


def hash_password(password: str) -> str:
    """Hash a password for storage (the tests lower the cost through PASSWORD_HASH_METHOD)."""
    method: str = current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_METHOD)
    return generate_password_hash(password, method=method)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Check a password in constant work, also when there is no account."""
    if stored_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(stored_hash, password)
