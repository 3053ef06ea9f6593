"""``flask --app app lifecycle refresh [--as-of YYYY-MM-DD]``: the nightly lifecycle run."""

from __future__ import annotations

import json
from datetime import date, datetime

import click
from flask.cli import AppGroup

from app.extensions import db
from app.lifecycle.service import refresh_lifecycle

lifecycle_group = AppGroup("lifecycle", help="Member lifecycle: stages, health, the model.")


@lifecycle_group.command("refresh")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Compute as of the end of this day (UTC); default: today.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def refresh_command(as_of: datetime | None, as_json: bool) -> None:
    """Recompute every member's stage, health score and model outlook (idempotent)."""
    day: date | None = as_of.date() if as_of else None
    summary = refresh_lifecycle(day)
    db.session.commit()
    data = summary.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"lifecycle as of {data['as_of']}: {data['members']} members")
    for stage, count in sorted(data["stages"].items()):
        click.echo(f"  {stage:9} {count}")
    click.echo(f"  {data['changes']} stage changes, {data['announced']} announced")
    if data["model"]:
        click.echo(f"  model {json.dumps(data['model'])}")
    click.echo(f"  seconds {json.dumps(data['seconds'])}")
