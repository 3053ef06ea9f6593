"""``flask --app app automations run [--as-of DATE]``: evaluate the time-based triggers."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.automations.service import run_time_triggers
from app.extensions import db

automations_group = AppGroup("automations", help="Automations: time-based triggers.")


def parse_as_of(text: str | None) -> datetime | None:
    """Read ``--as-of``: a date (that day, 00:00 UTC) or an ISO date-time (UTC if naive)."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@automations_group.command("run")
@click.option("--as-of", "as_of", default=None, help="Evaluate as of DATE (default: now).")
def run_command(as_of: str | None) -> None:
    """Enrol the members time-based triggers catch (idempotent: run it as often as you like)."""
    try:
        moment = parse_as_of(as_of)
    except ValueError:
        raise click.BadParameter(
            "use YYYY-MM-DD or an ISO date-time", param_hint="--as-of"
        ) from None
    counts = run_time_triggers(moment)
    db.session.commit()
    click.echo(f"enrolled {counts['treated']} treated, {counts['control']} held back")
