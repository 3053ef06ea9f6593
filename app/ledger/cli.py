"""``flask --app app ledger verify``, ``points expire`` and ``points review-tiers``.

``ledger verify`` proves the ledger's invariant: every member's cached balance equals the sum
of their entries. It only reads, and exits with status 1 when a member is off, listing them.

``points expire`` expires the points of inactive members (``app.ledger.expiry``): idempotent,
safe to run concurrently, committing in batches; large runs show a progress bar.
``points review-tiers`` applies pending tier reviews (period boundaries) to every member who
might be affected, so reports see current tiers even for members who stay away.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from contextlib import AbstractContextManager

import click
from flask.cli import AppGroup

from app.accounts.models import Member
from app.db import utcnow
from app.extensions import db
from app.ledger.expiry import DEFAULT_BATCH_SIZE, run_points_expiry
from app.ledger.service import count_members_and_entries, find_balance_mismatches
from app.ledger.tiers import members_to_review, refresh_tier

# Below this many members a run is quick and a progress bar would only add noise.
PROGRESS_BAR_FROM = 100


@click.group("ledger", cls=AppGroup)
def ledger_group() -> None:
    """Check the points ledger."""


@ledger_group.command("verify")
def verify() -> None:
    """Prove that every member's balance equals the sum of their ledger entries."""
    mismatches = find_balance_mismatches()
    members, entries = count_members_and_entries()
    db.session.rollback()
    for mismatch in mismatches:
        click.echo(
            f"member {mismatch.member_id}: balance {mismatch.cached_balance}, "
            f"ledger sum {mismatch.ledger_sum}",
            err=True,
        )
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} of {members} members do not add up")
    click.echo(f"ledger ok: {members} members, {entries} entries, every balance adds up")


@click.group("points", cls=AppGroup)
def points_group() -> None:
    """Expire inactive members' points and review tiers."""


@points_group.command("expire")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1))
def expire(batch_size: int) -> None:
    """Expire the points of members inactive for longer than the configured period."""
    report = run_points_expiry(
        batch_size=batch_size,
        progress=lambda member_ids: _progress_bar(member_ids, "Expiring points"),
    )
    click.echo(
        f"{report.points_expired} points of {report.members_expired} members expired "
        f"({report.members_checked} inactive members checked)"
    )


@points_group.command("review-tiers")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1))
def review_tiers(batch_size: int) -> None:
    """Apply pending tier reviews (downgrades at the end of a qualification period)."""
    now = utcnow()
    member_ids = members_to_review()
    db.session.commit()
    changed = 0
    with _progress_bar(member_ids, "Reviewing tiers") as items:
        for done, member_id in enumerate(items, start=1):
            before = db.session.get_one(Member, member_id).tier
            changed += refresh_tier(member_id, now=now).code != before
            if done % batch_size == 0:
                db.session.commit()
    db.session.commit()
    click.echo(f"{len(member_ids)} members reviewed, {changed} changed tier")


def _progress_bar(member_ids: list[int], label: str) -> AbstractContextManager[Iterable[int]]:
    """Wrap a long list of members in a progress bar; leave a short one alone."""
    if len(member_ids) < PROGRESS_BAR_FROM:
        return contextlib.nullcontext(member_ids)
    return click.progressbar(member_ids, label=label, show_pos=True)
