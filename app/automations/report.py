"""The control-group report: did the treated members buy again more than the held-back ones?

For each group (treated, control) of an automation, over every enrolment so far:

* ``members``: enrolments in the group;
* ``bought_again``: enrolments followed by at least one purchase in the window
  ``(enrolled_at, enrolled_at + window_days]`` (cut at ``as_of`` for recent enrolments);
* ``rate`` = bought_again ÷ members;
* ``spend_cents``: what those purchases came to (amount minus refunds), and
  ``spend_per_member_cents`` = spend ÷ members (members who did not buy count as 0).

**Difference** treated − control, with a 95 % confidence interval by the normal
approximation: for the rates, ``d ± 1.96·√(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂)`` (Wald interval for a
difference of two independent proportions); for spend per member, ``d ± 1.96·√(s₁²/n₁ +
s₂²/n₂)`` with the sample variances (Welch). The approximation wants roughly ten or more
buyers and non-buyers in each group; below that the interval is reported but flagged
``small_sample``. An interval that contains 0 means the data cannot tell the automation from
doing nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.automations.models import AutomationEnrolment
from app.automations.service import get_automation
from app.db import utcnow
from app.extensions import db
from app.ledger.models import Purchase

Z_95 = 1.959964


def _group_figures(outcomes: list[tuple[bool, int]]) -> dict[str, Any]:
    members = len(outcomes)
    bought = sum(1 for again, _ in outcomes if again)
    spend = sum(cents for _, cents in outcomes)
    mean = spend / members if members else 0.0
    variance = (
        sum((cents - mean) ** 2 for _, cents in outcomes) / (members - 1) if members > 1 else 0.0
    )
    return {
        "members": members,
        "bought_again": bought,
        "rate": bought / members if members else None,
        "spend_cents": spend,
        "spend_per_member_cents": mean if members else None,
        "_variance": variance,
    }


def _interval(difference: float, standard_error: float) -> list[float]:
    return [difference - Z_95 * standard_error, difference + Z_95 * standard_error]


def automation_report(
    automation_id: int, window_days: int | None = None, as_of: datetime | None = None
) -> dict[str, Any]:
    """Return the treated-vs-control report of an automation (JSON-ready)."""
    automation = get_automation(automation_id)
    window = timedelta(days=window_days or automation.report_window_days)
    as_of = as_of or utcnow()
    enrolments = db.session.scalars(
        select(AutomationEnrolment).where(AutomationEnrolment.automation_id == automation.id)
    ).all()
    member_ids = sorted({e.member_id for e in enrolments})
    purchases: dict[int, list[tuple[datetime, int]]] = {}
    if member_ids:
        rows = db.session.execute(
            select(
                Purchase.member_id,
                Purchase.created_at,
                Purchase.amount_cents,
                Purchase.refunded_cents,
            ).where(Purchase.member_id.in_(member_ids), Purchase.created_at <= as_of)
        ).all()
        for member_id, created, amount, refunded in rows:
            purchases.setdefault(member_id, []).append((created, amount - (refunded or 0)))
    outcomes: dict[str, list[tuple[bool, int]]] = {"treated": [], "control": []}
    for enrolment in enrolments:
        start, end = enrolment.enrolled_at, min(enrolment.enrolled_at + window, as_of)
        spent = [
            cents
            for created, cents in purchases.get(enrolment.member_id, ())
            if start < created <= end
        ]
        outcomes[enrolment.group].append((bool(spent), sum(spent)))
    treated, control = _group_figures(outcomes["treated"]), _group_figures(outcomes["control"])
    difference: dict[str, Any] = {"rate": None, "rate_ci95": None, "spend_per_member_cents": None}
    if treated["members"] and control["members"]:
        p1, n1, p2, n2 = treated["rate"], treated["members"], control["rate"], control["members"]
        rate_difference = p1 - p2
        rate_error = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        spend_difference = treated["spend_per_member_cents"] - control["spend_per_member_cents"]
        spend_error = math.sqrt(treated["_variance"] / n1 + control["_variance"] / n2)
        difference = {
            "rate": rate_difference,
            "rate_ci95": _interval(rate_difference, rate_error),
            "spend_per_member_cents": spend_difference,
            "spend_per_member_ci95": _interval(spend_difference, spend_error),
            "small_sample": min(
                treated["bought_again"],
                n1 - treated["bought_again"],
                control["bought_again"],
                n2 - control["bought_again"],
            )
            < 10,
        }
    for group in (treated, control):
        group.pop("_variance")
    return {
        "automation_id": automation.id,
        "window_days": window.days,
        "as_of": as_of.isoformat(),
        "holdout_percent": automation.holdout_percent,
        "treated": treated,
        "control": control,
        "difference": difference,
        "method": "normal approximation (Wald) for the difference of proportions; Welch for spend",
    }
