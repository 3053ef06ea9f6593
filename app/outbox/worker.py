"""The worker: ``flask --app app worker`` delivers the outbox and runs the scheduled jobs.

One loop, any number of processes: each pass claims a batch of due rows (``claim_due``),
delivers them one by one (``deliver_claimed``: each in its own transaction, network calls
outside any lock the web requests wait for), then runs whichever scheduled job is due. When
nothing was due it sleeps ``poll_seconds``. ``SIGTERM``/``SIGINT`` end it after the row in
hand; a ``SIGKILL`` loses nothing either, because claimed rows come back when their lease
runs out.

**Scheduled jobs.** ``register_scheduled_job(app, name, hour_utc, job)`` adds a daily job: it
runs once per UTC day, at the first pass at or after ``hour_utc``. Which worker runs it is
decided by a conditional ``UPDATE`` of its ``scheduled_job_runs`` row (or the row's insert),
so with several workers exactly one does. ``job(as_of)`` gets the run's time and its own
transaction, which the worker commits. Registered today: ``automations-time-triggers``
(``app.automations``) and, where the lifecycle package is installed, its nightly refresh (see
``app.outbox.jobs``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType

from flask import Flask, current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.extensions import db
from app.outbox.models import ScheduledJobRun
from app.outbox.service import claim_due, deliver_claimed

log = logging.getLogger("app.worker")

JOBS_KEY = "lw_scheduled_jobs"
JOB_CHECK_SECONDS = 30  # how often a running worker looks for a due daily job

ScheduledJobFunction = Callable[[datetime], None]


@dataclass(frozen=True)
class ScheduledJob:
    """A job the worker runs once a day at or after ``hour_utc``."""

    name: str
    hour_utc: int
    run: ScheduledJobFunction


def register_scheduled_job(app: Flask, name: str, hour_utc: int, job: ScheduledJobFunction) -> None:
    """Have the worker run ``job(as_of)`` once per UTC day at or after ``hour_utc``."""
    # A new dict each time (never changed in place), so a copy of app.extensions restores it.
    app.extensions[JOBS_KEY] = {
        **app.extensions.get(JOBS_KEY, {}),
        name: ScheduledJob(name, hour_utc, job),
    }


def scheduled_jobs(app: Flask) -> list[ScheduledJob]:
    """Return the registered scheduled jobs."""
    return list(app.extensions.get(JOBS_KEY, {}).values())


def default_worker_name() -> str:
    """Name this worker after its host and process (shown in ``claimed_by`` and attempts)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _take_job_run(job: ScheduledJob, now: datetime) -> bool:
    """Record that ``job`` starts now, unless it already started today; commit. Won it?"""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now.hour < job.hour_utc:
        return False
    result = db.session.execute(
        update(ScheduledJobRun)
        .where(ScheduledJobRun.name == job.name, ScheduledJobRun.last_started_at < day_start)
        .values(last_started_at=now, last_finished_at=None, last_error=None)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        db.session.commit()
        return True
    if db.session.get(ScheduledJobRun, job.name) is not None:
        db.session.rollback()
        return False
    try:
        db.session.add(ScheduledJobRun(name=job.name, last_started_at=now))
        db.session.commit()
    except IntegrityError:  # another worker inserted it first: it runs the job
        db.session.rollback()
        return False
    return True


def run_due_jobs(app: Flask, now: datetime | None = None) -> list[str]:
    """Run every scheduled job that is due and not yet taken by another worker today."""
    now = now or utcnow()
    ran: list[str] = []
    for job in scheduled_jobs(app):
        if not _take_job_run(job, now):
            continue
        error: str | None = None
        try:
            job.run(now)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.exception("scheduled job %s failed", job.name)
            error = exc.__class__.__name__
        row = db.session.get(ScheduledJobRun, job.name)
        if row is not None:
            row.last_finished_at = utcnow()
            row.last_error = error
        db.session.commit()
        ran.append(job.name)
    return ran


def run_once(worker: str, *, batch: int = 10, now: datetime | None = None) -> int:
    """Claim and deliver one batch of due rows; return how many were handled."""
    handled = 0
    for message_id in claim_due(worker, limit=batch, now=now):
        if deliver_claimed(message_id, worker, now=now) is not None:
            handled += 1
    return handled


def run_until_idle(
    worker: str, *, batch: int = 10, now: datetime | None = None, max_passes: int = 1000
) -> int:
    """Deliver until nothing is due (fan-outs add rows, so this loops); return rows handled."""
    total = 0
    for _ in range(max_passes):
        handled = run_once(worker, batch=batch, now=now)
        if handled == 0:
            break
        total += handled
    return total


class _StopFlag:
    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        log.info("worker stopping on signal %s", signum)
        self.stop = True


def run_forever(worker: str, *, poll_seconds: float = 1.0, batch: int = 10) -> None:
    """Deliver and run scheduled jobs until SIGTERM or SIGINT."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    flag = _StopFlag()
    signal.signal(signal.SIGTERM, flag)
    signal.signal(signal.SIGINT, flag)
    log.info("worker %s started", worker)
    jobs_checked = 0.0
    while not flag.stop:
        try:
            handled = run_once(worker, batch=batch)
            if time.monotonic() - jobs_checked >= JOB_CHECK_SECONDS:
                jobs_checked = time.monotonic()
                run_due_jobs(app)
        except Exception:  # the database went away for a moment: wait and carry on
            db.session.rollback()
            log.exception("worker pass failed")
            handled = 0
        finally:
            db.session.remove()
        if handled == 0 and not flag.stop:
            time.sleep(poll_seconds)
    log.info("worker %s stopped", worker)
