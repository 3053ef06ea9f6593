"""The retention job (GDPR Art. 5(1)(e), storage limitation).

``prune_expired_rows`` walks the retention registry and deletes, per table, the rows whose time
column is older than the table's period (and that its ``where`` lets go). Each period can be
changed with ``PRIVACY_RETENTION_<TABLE>_DAYS`` (upper case table name). The job is idempotent:
running it twice deletes nothing the second time. It commits nothing itself; the CLI command
commits once at the end. ``flask --app app retention prune --dry-run`` shows what would go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app.db import Base, utcnow
from app.extensions import db
from app.privacy import sources  # noqa: F401  (registers the core retention rules)
from app.privacy.registry import RetentionRule, retention_rules


@dataclass(frozen=True)
class PruneResult:
    """What the job did (or would do) to one table."""

    table: str
    period_days: float
    cutoff: datetime
    rows: int


def retention_period(rule: RetentionRule) -> timedelta:
    """Return the rule's period, or the one configured for its table."""
    configured = current_app.config.get(f"PRIVACY_RETENTION_{rule.table.upper()}_DAYS")
    return timedelta(days=float(configured)) if configured else rule.period


def prune_expired_rows(*, now: datetime | None = None, dry_run: bool = False) -> list[PruneResult]:
    """Delete every table's rows older than its retention period; return the counts."""
    now = now or utcnow()
    results = []
    for rule in retention_rules():
        table = Base.metadata.tables.get(rule.table)
        if table is None:
            continue  # a registered table that this deployment does not have
        period = retention_period(rule)
        cutoff = now - period
        conditions = [table.c[rule.time_column] < cutoff]
        if rule.where is not None:
            conditions.append(rule.where(table))
        if dry_run:
            count = db.session.scalar(select(func.count()).select_from(table).where(*conditions))
        else:
            result = db.session.execute(delete(table).where(*conditions))
            count = getattr(result, "rowcount", 0)
        results.append(
            PruneResult(rule.table, period.total_seconds() / 86400, cutoff, int(count or 0))
        )
    return results
