"""Command-line tools: ``flask --app app <command>``.

``create-admin`` makes the first admin; ``seed-demo`` fills an empty database with the demo
shop; ``keys rotate-token-key`` rotates the access-token key. Commands that change data commit
once at the end, so an interrupted command leaves nothing half done.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.accounts.models import StaffAccount, StaffRole
from app.auth.passwords import hash_password
from app.auth.service import normalise_email
from app.campaigns.cli import coupons
from app.cards.keys import rotate_card_key
from app.demo import seed_demo
from app.extensions import db
from app.idempotency import prune_idempotency_keys
from app.ledger.cli import ledger_group, points_group
from app.memberships.cli import memberships_group
from app.privacy.cli import retention_group
from app.referrals.cli import referrals_group


def register_commands(app: Flask) -> None:
    """Add the project's commands to the ``flask`` CLI."""
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(keys)
    app.cli.add_command(idempotency)
    app.cli.add_command(coupons)
    app.cli.add_command(ledger_group)
    app.cli.add_command(points_group)
    app.cli.add_command(retention_group)
    app.cli.add_command(referrals_group)
    app.cli.add_command(memberships_group)


@click.command("create-admin")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", "display_name", default="Admin", show_default=True)
def create_admin(email: str, password: str, display_name: str) -> None:
    """Create an admin account."""
    email = normalise_email(email)
    if db.session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)):
        raise click.ClickException(f"a staff account {email} exists already")
    if len(password) < 8:
        raise click.ClickException("the password needs at least 8 characters")
    db.session.add(
        StaffAccount(
            email=email,
            display_name=display_name,
            password_hash=hash_password(password),
            role=StaffRole.ADMIN,
        )
    )
    db.session.commit()
    click.echo(f"admin {email} created")


@click.command("seed-demo")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print the logins as JSON.")
def seed_demo_command(as_json: bool) -> None:
    """Fill an empty database with the demo shop and print its logins."""
    logins, created = seed_demo()
    db.session.commit()
    data = logins.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo("Demo shop " + ("created." if created else "already there; nothing changed."))
    for role in ("admin", "manager", "cashier"):
        click.echo(f"  {role:8} {data[role]['email']:24} {data[role]['password']}")
    for member in data["members"]:
        click.echo(f"  {'member':8} {member['email']:24} {member['password']}")
    for till in data["tills"]:
        click.echo(f"  till {till['till_id']} ({till['store']}): key {till['till_key']}")


@click.group("keys", cls=AppGroup)
def keys() -> None:
    """Rotate signing keys."""


@keys.command("rotate-token-key")
def rotate_token_key() -> None:
    """Start signing access tokens with a new key (the previous one still verifies)."""
    key = current_app.extensions["lw_secrets"].rotate_token_key()
    click.echo(f"access tokens are now signed with key {key.kid}")


@keys.command("rotate-card-key")
def rotate_card_key_command() -> None:
    """Sign card codes with a new Ed25519 key; old keys stay published while codes need them."""
    ring = rotate_card_key()
    published = ", ".join(key.kid_hex for key in ring.keys)
    click.echo(f"card codes are now signed with key {ring.newest().kid_hex}; ring: {published}")


@click.group("idempotency", cls=AppGroup)
def idempotency() -> None:
    """Manage stored answers to idempotent requests."""


@idempotency.command("prune")
@click.option("--older-than-hours", default=48, show_default=True, type=click.IntRange(min=24))
def prune_idempotency(older_than_hours: int) -> None:
    """Delete stored answers older than the given age (never younger than 24 hours)."""
    removed = prune_idempotency_keys(timedelta(hours=older_than_hours))
    db.session.commit()
    click.echo(f"removed {removed} stored answers older than {older_than_hours} hours")
