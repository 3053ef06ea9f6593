"""``flask --app app retention prune``: delete what has outlived its retention period."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.privacy.retention import prune_expired_rows


@click.group("retention", cls=AppGroup)
def retention_group() -> None:
    """Enforce the retention periods of docs/privacy.md."""


@retention_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def prune_command(dry_run: bool) -> None:
    """Delete rows older than their table's retention period (idempotent)."""
    results = prune_expired_rows(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    verb = "would delete" if dry_run else "deleted"
    for result in results:
        click.echo(
            f"{result.table}: {verb} {result.rows} rows older than {result.period_days:g} days"
        )
