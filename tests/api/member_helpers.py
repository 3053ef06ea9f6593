"""Helpers for the member-side tests: sign a new member up, show their card at the till."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.cards.service import active_card, static_code_of
from app.extensions import db
from tests.conftest import Shop


@dataclass(frozen=True)
class NewMember:
    """A member signed up through the API during the test."""

    member_id: int
    email: str
    password: str
    token: str


def sign_up(
    shop: Shop,
    email: str,
    display_name: str = "New Member",
    password: str = "long-enough-pw",
    address: str = "127.0.0.1",
    **extra: Any,
) -> NewMember:
    """Register a member through the API (from ``address``) and return who they are."""
    response = shop.client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": display_name, **extra},
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return NewMember(body["member_id"], email, password, body["access_token"])


def card_code_of(shop: Shop, member_id: int) -> str:
    """Return a valid LW1 code of the member's active card."""
    with shop.app.app_context():
        code = static_code_of(active_card(member_id))
        db.session.commit()
    return code
