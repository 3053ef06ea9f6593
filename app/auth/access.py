"""Who may call a route: decorators that check the bearer token and the role.

Every route outside ``/api/v1/auth`` and the public documents is wrapped in exactly one of
these. They raise 401 when the token is missing or invalid and 403 when the caller is known
but not allowed. The identity is kept on ``flask.g`` for the rest of the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from app.auth.tokens import API_AUDIENCE, TILL_AUDIENCE, Identity, decode_access_token
from app.errors import Problem

F = TypeVar("F", bound=Callable[..., Any])

# The staff roles that manage a shop (stores, tills, catalogues, campaigns, fraud review).
MANAGER_ROLES = ("manager", "admin")


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            "authentication-required",
            401,
            "Authentication required",
            "Send an access token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def current_identity() -> Identity:
    """Return the identity the current request was authenticated as."""
    identity: Identity = g.identity
    return identity


def _forbidden() -> Problem:
    return Problem("forbidden", 403, "Forbidden", "Your role may not do this.")


ACCESS_CHECK = "_lw_access_check"


def _guard(audience: str, allowed: Callable[[Identity], bool]) -> Callable[[F], F]:
    def check() -> None:
        if "identity" in g:
            return
        identity = decode_access_token(_bearer_token(), audience)
        if not allowed(identity):
            raise _forbidden()
        g.identity = identity

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check()
            return view(*args, **kwargs)

        # flask-smorest's decorators copy this attribute outwards, so check_access_early
        # finds it on the view that Flask dispatches to.
        setattr(wrapper, ACCESS_CHECK, check)
        return wrapper  # type: ignore[return-value]

    return decorator


def check_access_early() -> None:
    """Check the route's access rule before its body is parsed (a ``before_request`` hook).

    Without this, an anonymous caller would learn from a 422 what a valid body looks like
    before hearing that it may not call the route at all.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, request.method.lower(), None) if view_class else view
    check = getattr(handler, ACCESS_CHECK, None)
    if check is not None:
        check()


def member_required(view: F) -> F:
    """Let only members call the route."""
    return _guard(API_AUDIENCE, lambda identity: identity.kind == "member")(view)


def staff_required(*roles: str) -> Callable[[F], F]:
    """Let only staff with one of the given roles call the route."""
    return _guard(
        API_AUDIENCE, lambda identity: identity.kind == "staff" and identity.role in roles
    )


def till_required(*roles: str) -> Callable[[F], F]:
    """Let only a till session (of staff with one of the given roles, if named) call the route.

    Whether the till itself was blocked meanwhile is checked by the till package
    (``app.till.routes``) on every till route, right after this.
    """
    return _guard(
        TILL_AUDIENCE,
        lambda identity: identity.kind == "till" and (not roles or identity.role in roles),
    )
