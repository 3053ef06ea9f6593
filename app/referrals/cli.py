"""``flask --app app referrals settle``: pay the referrals whose refund window has passed."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.referrals.service import settle_referrals


@click.group("referrals", cls=AppGroup)
def referrals_group() -> None:
    """Referral rewards."""


@referrals_group.command("settle")
def settle_command() -> None:
    """Reward both sides of every referral whose qualifying purchase cleared (idempotent)."""
    result = settle_referrals()
    db.session.commit()
    click.echo(
        f"rewarded {result.rewarded}, back to pending {result.requalify}, "
        f"rejected {result.rejected}, held for review {result.held}"
    )
