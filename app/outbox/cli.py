"""``flask --app app worker``: deliver the outbox and run the scheduled jobs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.outbox.worker import default_worker_name, run_due_jobs, run_forever, run_until_idle


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Deliver what is due now, run due jobs, and exit.")
@click.option("--name", default=None, help="Worker name in leases and attempts (host:pid).")
@click.option("--poll-seconds", default=1.0, show_default=True, type=float)
@click.option("--batch", default=10, show_default=True, type=int)
def worker_command(once: bool, name: str | None, poll_seconds: float, batch: int) -> None:
    """Deliver push messages, webhooks, automation steps and run the nightly jobs."""
    worker = name or default_worker_name()
    if once:
        handled = run_until_idle(worker, batch=batch)
        jobs = run_due_jobs(current_app._get_current_object())  # type: ignore[attr-defined]
        click.echo(f"delivered {handled} outbox row(s); jobs run: {', '.join(jobs) or 'none'}")
        return
    run_forever(worker, poll_seconds=poll_seconds, batch=batch)
