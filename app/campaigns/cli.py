"""``flask --app app coupons generate``: a campaign of anonymous codes from the command line.

It does what ``POST /api/v1/campaigns`` does, with a progress bar, and hands the codes out
itself: they go to a new file (mode 0600, one display-form code per line), and the campaign is
recorded as exported by the CLI, so the database never holds them sealed. With
``--keep-for-export`` it writes no file and leaves the codes sealed for the one API export.

The file is written to a temporary name first and renamed only after the database commit, so
an interrupted run leaves either nothing or a complete campaign with its complete file.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.campaigns.export import codes_csv, mark_exported
from app.campaigns.issuing import create_anonymous_campaign
from app.campaigns.models import Campaign
from app.errors import Problem
from app.extensions import db
from coupons.rules import Benefit, BenefitKind

MAX_CLI_CODES = 1_000_000


@click.group("coupons", cls=AppGroup)
def coupons() -> None:
    """Run coupon campaigns."""


def _aware(value: str | None) -> datetime | None:
    """Read an ISO 8601 time; one without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _benefit(
    amount_off: int | None,
    percent_off: int | None,
    cap: int | None,
    free_item: str | None,
    bonus_points: int | None,
) -> Benefit:
    """Build the one benefit the options name."""
    chosen = [
        option
        for option in (amount_off, percent_off, free_item, bonus_points)
        if option is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "Give exactly one of --amount-off, --percent-off, --free-item, --bonus-points."
        )
    if amount_off is not None:
        benefit = Benefit(BenefitKind.AMOUNT_OFF, amount_cents=amount_off)
    elif percent_off is not None:
        benefit = Benefit(BenefitKind.PERCENT_OFF, percent=percent_off, cap_cents=cap)
    elif free_item is not None:
        benefit = Benefit(BenefitKind.FREE_ITEM, sku=free_item)
    else:
        benefit = Benefit(BenefitKind.BONUS_POINTS, points=bonus_points)
    try:
        benefit.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return benefit


@coupons.command("generate")
@click.option("--name", required=True, help="The campaign's name.")
@click.option("--count", required=True, type=click.IntRange(1, MAX_CLI_CODES))
@click.option("--amount-off", type=click.IntRange(min=1), help="Cents off.")
@click.option("--percent-off", type=click.IntRange(1, 100), help="Percent off.")
@click.option("--cap", type=click.IntRange(min=1), help="Cap of a percent discount, in cents.")
@click.option("--free-item", help="SKU of the free item.")
@click.option("--bonus-points", type=click.IntRange(min=1), help="Points credited.")
@click.option("--valid-from", help="ISO 8601 start (inclusive); UTC if no offset.")
@click.option("--valid-until", help="ISO 8601 end (exclusive); UTC if no offset.")
@click.option("--store", "store_ids", type=int, multiple=True, help="A store id (repeatable).")
@click.option("--min-basket", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--max-uses-per-member", type=click.IntRange(min=1))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A new file to write the codes to (required unless --keep-for-export).",
)
@click.option(
    "--keep-for-export", is_flag=True, help="Write no file; keep the codes for one API export."
)
def generate(
    name: str,
    count: int,
    amount_off: int | None,
    percent_off: int | None,
    cap: int | None,
    free_item: str | None,
    bonus_points: int | None,
    valid_from: str | None,
    valid_until: str | None,
    store_ids: tuple[int, ...],
    min_basket: int,
    max_uses_per_member: int | None,
    output: Path | None,
    keep_for_export: bool,
) -> None:
    """Create a campaign of COUNT anonymous codes and write them to --output."""
    if (output is None) == (not keep_for_export):
        raise click.UsageError("Give either --output FILE or --keep-for-export.")
    if output is not None and output.exists():
        raise click.UsageError(f"{output} exists already; codes are never overwritten.")
    benefit = _benefit(amount_off, percent_off, cap, free_item, bonus_points)
    try:
        campaign, codes = _create_with_progress(
            count,
            name=name,
            benefit=benefit,
            valid_from=_aware(valid_from),
            valid_until=_aware(valid_until),
            store_ids=list(store_ids) or None,
            min_basket_cents=min_basket,
            max_uses_per_member=max_uses_per_member,
            seal_for_export=keep_for_export,
        )
    except Problem as problem:
        raise click.ClickException(problem.detail or problem.title) from None
    if output is None:
        db.session.commit()
        click.echo(
            f"campaign {campaign.id}: {len(codes)} codes kept for one export at "
            f"GET /api/v1/campaigns/{campaign.id}/codes.csv"
        )
        return
    mark_exported(campaign, staff_id=None, via="cli")
    temporary = output.with_name(output.name + ".partial")
    _write_private(temporary, codes_csv(codes))
    try:
        db.session.commit()
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(output)
    click.echo(f"campaign {campaign.id}: {len(codes)} codes written to {output}")


def _create_with_progress(count: int, **terms: Any) -> tuple[Campaign, list[str]]:
    """Create the campaign's codes while a progress bar (on stderr) counts them."""
    with click.progressbar(length=count, label="Generating codes", file=sys.stderr) as bar:
        return create_anonymous_campaign(code_count=count, progress=bar.update, **terms)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", newline="") as handle:
        handle.write(text)
