"""``flask --app app memberships run``: the daily membership job."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.memberships.service import run_memberships


@click.group("memberships", cls=AppGroup)
def memberships_group() -> None:
    """Paid memberships."""


@memberships_group.command("run")
def run_command() -> None:
    """Grant monthly coupons, end finished memberships, announce those about to end."""
    result = run_memberships()
    db.session.commit()
    click.echo(f"ended {result.ended}, reminders announced {result.reminded}")
