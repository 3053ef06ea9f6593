"""The worker's daily jobs, registered in one place.

``install_scheduled_jobs(app)`` registers each daily job with ``register_scheduled_job`` (see
``app.outbox.worker`` for how exactly one worker runs each once a day). To add a job, write a
function ``job(as_of: datetime) -> None`` that works in the current session (the worker
commits it) and register it here with its UTC hour.

The lifecycle refresh (stages, health, segments) is meant to be the first job of the night,
at ``LIFECYCLE_REFRESH_HOUR_UTC``, so automations on stage and health act on fresh figures. It
is registered here when the lifecycle package (``app.lifecycle``, ``refresh_lifecycle(as_of:
date)``) is part of the app: ``register_scheduled_job(app, "lifecycle-refresh",
LIFECYCLE_REFRESH_HOUR_UTC, lambda as_of: refresh_lifecycle(as_of.date()))``. Its stage changes
are announced as ``stage.changed`` events, which the automations consume.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from app.automations.service import run_time_triggers
from app.outbox.service import prune_finished
from app.outbox.worker import register_scheduled_job

LIFECYCLE_REFRESH_HOUR_UTC = 2
AUTOMATIONS_HOUR_UTC = 3
PRUNE_HOUR_UTC = 4


def run_automations(as_of: datetime) -> None:
    """Evaluate the time-based automation triggers (idempotent, like the CLI command)."""
    run_time_triggers(as_of)


def prune_outbox(as_of: datetime) -> None:
    """Delete delivered outbox rows past their retention (``OUTBOX_RETENTION_DAYS``)."""
    prune_finished(as_of)


def install_scheduled_jobs(app: Flask) -> None:
    """Register the worker's daily jobs."""
    register_scheduled_job(app, "automations-time-triggers", AUTOMATIONS_HOUR_UTC, run_automations)
    register_scheduled_job(app, "outbox-prune", PRUNE_HOUR_UTC, prune_outbox)
