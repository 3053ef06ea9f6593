"""``flask --app app import purchases FILE.csv [--no-points]``: bring a till history in."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.errors import Problem
from app.extensions import db
from app.imports.service import ImportReport, import_purchases

import_group = AppGroup("import", help="Import data from other systems.")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@import_group.command("purchases")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-points", is_flag=True, help="Import the history only; book no points.")
@click.option("--batch-size", default=5_000, show_default=True, type=click.IntRange(100, 50_000))
def import_purchases_command(csv_file: Path, no_points: bool, batch_size: int) -> None:
    """Import a POS export (one receipt per row); idempotent by receipt.

    Header: email,display_name,receipt_id,store_id,occurred_at,amount_cents,currency.
    Each batch is committed as it completes; bad rows are listed (line: reason) on stderr and
    make the command exit with status 1 after the good rows are in.
    """
    total_lines = max(_count_lines(csv_file) - 1, 0)
    with (
        csv_file.open("r", encoding="utf-8-sig", newline="") as handle,
        click.progressbar(
            length=total_lines, label="importing", file=sys.stderr, show_pos=True
        ) as bar,
    ):
        done = [1]

        def committed(report: ImportReport, line: int) -> None:
            db.session.commit()
            bar.update(line - done[0])
            done[0] = line

        try:
            report = import_purchases(
                handle,
                award_points=not no_points,
                batch_size=batch_size,
                on_batch=committed,
            )
        except Problem as problem:
            db.session.rollback()
            raise click.ClickException(problem.detail or problem.title) from None
        db.session.commit()
    click.echo(
        f"{report.rows} rows: {report.imported} imported, {report.duplicates} already there, "
        f"{report.bad_row_count} bad; {report.members_created} members created, "
        f"{report.points_awarded} points awarded"
    )
    for bad in report.bad_rows:
        click.echo(f"line {bad.line}: {bad.reason}", err=True)
    if report.bad_row_count > len(report.bad_rows):
        click.echo(f"... and {report.bad_row_count - len(report.bad_rows)} more", err=True)
    if report.bad_row_count:
        sys.exit(1)
