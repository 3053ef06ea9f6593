"""The nightly lifecycle refresh, run by the worker.

The refresh runs at 02:00 UTC, before the automations' time triggers at 03:00, so that they act
on fresh stages and health scores; its stage changes reach the automations as
``stage.changed`` events through the outbox. ``flask --app app lifecycle refresh`` runs the
same refresh by hand.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from app.lifecycle.service import refresh_lifecycle
from app.outbox.worker import register_scheduled_job

REFRESH_HOUR_UTC = 2


def refresh_nightly(as_of: datetime) -> None:
    """Refresh every member's lifecycle as of the job's day."""
    refresh_lifecycle(as_of.date())


def install_lifecycle_refresh(app: Flask) -> None:
    """Register the nightly refresh with the worker."""
    register_scheduled_job(app, "lifecycle-refresh", REFRESH_HOUR_UTC, refresh_nightly)
