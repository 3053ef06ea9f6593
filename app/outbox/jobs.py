"""The outbox's own daily job, and where the nightly lifecycle refresh plugs in.

A daily job is a function ``job(as_of: datetime) -> None`` that works in the current session
(the worker commits it), registered with ``register_scheduled_job(app, name, hour_utc, job)``
(see ``app.outbox.worker`` for how exactly one worker runs each once a day). Each package
registers its own jobs when it is installed, so the outbox imports none of them:

* ``outbox-prune`` (04:00, here): delete delivered rows past their retention;
* ``automations-time-triggers`` (03:00, ``app.automations.service``);
* ``lifecycle-refresh`` (02:00, ``app.lifecycle.jobs``): stages, health and the model run
  first, so the automations act on fresh stages. Its stage changes are announced as
  ``stage.changed`` events, which the automations consume.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from app.outbox.service import prune_finished
from app.outbox.worker import register_scheduled_job

PRUNE_HOUR_UTC = 4


def prune_outbox(as_of: datetime) -> None:
    """Delete delivered outbox rows past their retention (``OUTBOX_RETENTION_DAYS``)."""
    prune_finished(as_of)


def install_scheduled_jobs(app: Flask) -> None:
    """Register the worker's daily jobs."""
    register_scheduled_job(app, "outbox-prune", PRUNE_HOUR_UTC, prune_outbox)
