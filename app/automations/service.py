"""Automations: enrolling members, holding a control group back, running the actions in order.

**Enrolment.** When a trigger catches a member (``app.automations.triggers``), ``enrol``
decides, in this order: the automation is on; the member exists and is not blocked; the
segment (if any) contains them; they consented to what the actions do (``marketing`` for
coupons and push, ``surveys`` for surveys); the frequency cap is not reached (at most
``cap_count`` *treated* enrolments of the member, in any automation, in ``cap_days``); and this
occurrence has not been enrolled before. Only then is the member drawn: with probability
``holdout_percent`` into the **control** group (recorded, gets nothing), otherwise
**treated**. Everything before the draw is the same for both groups, so comparing them
measures what the actions did, not who was picked.

**Actions** run in order, each after its ``delay_minutes`` counted from the step before: the
first step is an ``automation-step`` outbox row, and each step queues the next one when it is
done. A step that reaches the member (coupon, push, survey) waits for the end of the
automation's quiet hours (``AUTOMATIONS_TIMEZONE``, default Europe/Berlin); push messages also
respect the member's own quiet hours and muted kinds. Each step is recorded once
(``automation_step_runs``, unique per enrolment and step), so a redelivered step does nothing.

* ``coupon``: a member coupon from the action's template (``benefit``, ``valid_days``,
  ``min_basket_cents``); source ``automation``.
* ``push``: ``title``, ``body``, ``url``, ``kind`` (default ``offers``) with placeholders
  ``{name}``, ``{points}``, ``{expiry_date}`` (the coupon's expiry if this enrolment issued
  one, else the date the member's points expire).
* ``webhook``: a signed call to ``endpoint_id`` with event type ``automation.webhook``.
* ``survey``: a one-question NPS survey, once per member per period (``app.feedback``),
  announced by push (kind ``surveys``).
* ``task``: a staff task ("call this customer"), listed at ``/api/v1/staff-tasks``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member
from app.automations import seams
from app.automations.models import Automation, AutomationEnrolment, AutomationStepRun, StaffTask
from app.automations.sources import install_profile_sources
from app.automations.triggers import (
    EVENT_TRIGGERS,
    TIME_TRIGGERS,
    check_params,
    match_event,
    match_time,
)
from app.campaigns.issuing import issue_member_coupon
from app.db import iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.feedback.service import invite_to_survey
from app.ledger.expiry import expiring_points
from app.outbox.models import OutboxMessage
from app.outbox.service import (
    Delivery,
    EventEnvelope,
    enqueue,
    register_consumer,
    register_handler,
)
from app.outbox.worker import register_scheduled_job
from app.push.delivery import KINDS, queue_push, quiet_until
from app.webhooks.models import WebhookEndpoint
from app.webhooks.service import queue_webhook
from coupons.rules import Benefit

STEP_KIND = "automation-step"
TIME_TRIGGERS_HOUR_UTC = 3  # after the lifecycle refresh (02:00), so stages are fresh
ACTIONS = ("coupon", "push", "webhook", "survey", "task")
REACHES_MEMBER = ("coupon", "push", "survey")
CONSENT_PURPOSE = {"coupon": "marketing", "push": "marketing", "survey": "surveys"}
PLACEHOLDER = re.compile(r"\{(name|points|expiry_date)\}")
DEFAULT_TIMEZONE = "Europe/Berlin"


# --- managing automations ---------------------------------------------------------------


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error", 422, "Validation error", message, errors={"json": {field: [message]}}
    )


def unknown_automation(automation_id: int) -> DomainError:
    """Return the problem for an automation id that does not exist."""
    return DomainError("unknown-automation", f"No automation {automation_id}.")


def _check_action(index: int, action: Mapping[str, Any]) -> None:
    kind = action.get("type")
    field = f"actions.{index}"
    if kind == "coupon":
        try:
            Benefit.from_dict(action.get("benefit") or {})
        except ValueError as exc:
            raise _invalid(field, f"benefit: {exc}") from None
        if not isinstance(action.get("valid_days"), int) or action["valid_days"] < 1:
            raise _invalid(field, "a coupon action needs valid_days of at least 1")
    elif kind == "push":
        if not action.get("title") or not action.get("body"):
            raise _invalid(field, "a push action needs a title and a body")
        if action.get("kind", "offers") not in KINDS or action.get("kind") == "service":
            raise _invalid(field, "kind must be points, offers, reminders or surveys")
    elif kind == "webhook":
        if db.session.get(WebhookEndpoint, action.get("endpoint_id") or 0) is None:
            raise _invalid(field, "endpoint_id is not a registered webhook endpoint")
    elif kind == "survey":
        if not action.get("question"):
            raise _invalid(field, "a survey action needs a question")
    elif kind == "task":
        if not action.get("title"):
            raise _invalid(field, "a task action needs a title")
    else:
        raise _invalid(field, f"type must be one of {', '.join(ACTIONS)}")


def _apply(automation: Automation, fields: Mapping[str, Any]) -> None:
    for name in (
        "name",
        "trigger",
        "trigger_params",
        "segment_id",
        "actions",
        "holdout_percent",
        "cap_count",
        "cap_days",
        "report_window_days",
        "enabled",
    ):
        if name in fields:
            setattr(automation, name, fields[name])
    if "quiet_hours" in fields:
        quiet = fields["quiet_hours"]
        automation.quiet_start_minute = _minute(quiet["start"]) if quiet else None
        automation.quiet_end_minute = _minute(quiet["end"]) if quiet else None
    problem = check_params(automation.trigger, automation.trigger_params or {})
    if problem:
        raise _invalid("trigger_params", problem)
    for index, action in enumerate(automation.actions):
        _check_action(index, action)
    if (automation.cap_count is None) != (automation.cap_days is None):
        raise _invalid("cap_count", "cap_count and cap_days go together")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def create_automation(fields: Mapping[str, Any], staff_id: int) -> Automation:
    """Store a new automation after checking its trigger and actions."""
    automation = Automation(
        trigger_params={}, holdout_percent=10, report_window_days=30, enabled=True
    )
    automation.created_by = staff_id
    _apply(automation, fields)
    db.session.add(automation)
    db.session.flush()
    return automation


def get_automation(automation_id: int) -> Automation:
    """Return an automation or refuse with ``unknown-automation``."""
    automation = db.session.get(Automation, automation_id)
    if automation is None:
        raise unknown_automation(automation_id)
    return automation


def update_automation(automation_id: int, changes: Mapping[str, Any]) -> Automation:
    """Change an automation; enrolments made so far stay as they are."""
    automation = get_automation(automation_id)
    _apply(automation, changes)
    db.session.flush()
    return automation


def automation_view(automation: Automation) -> dict[str, Any]:
    """Return (JSON-ready) an automation with its enrolment counts."""
    rows = db.session.execute(
        select(AutomationEnrolment.group, func.count(AutomationEnrolment.id))
        .where(AutomationEnrolment.automation_id == automation.id)
        .group_by(AutomationEnrolment.group)
    ).all()
    counts = {str(group): int(count) for group, count in rows}
    quiet = None
    if automation.quiet_start_minute is not None and automation.quiet_end_minute is not None:
        quiet = {
            "start": _hhmm(automation.quiet_start_minute),
            "end": _hhmm(automation.quiet_end_minute),
        }
    return {
        "id": automation.id,
        "name": automation.name,
        "trigger": automation.trigger,
        "trigger_params": automation.trigger_params,
        "segment_id": automation.segment_id,
        "actions": automation.actions,
        "holdout_percent": automation.holdout_percent,
        "cap_count": automation.cap_count,
        "cap_days": automation.cap_days,
        "quiet_hours": quiet,
        "report_window_days": automation.report_window_days,
        "enabled": automation.enabled,
        "created_at": iso_or_none(automation.created_at),
        "treated": counts.get("treated", 0),
        "control": counts.get("control", 0),
    }


def list_automations() -> list[dict[str, Any]]:
    """Return every automation, newest first."""
    automations = db.session.scalars(select(Automation).order_by(Automation.id.desc()))
    return [automation_view(automation) for automation in automations]


# --- enrolment --------------------------------------------------------------------------


def _rng() -> random.Random:
    # SystemRandom in production; tests may fix a seed through the config.
    seed = current_app.config.get("AUTOMATIONS_RANDOM_SEED")
    return random.Random(seed) if seed is not None else random.SystemRandom()


def _consent_purposes(automation: Automation) -> set[str]:
    return {CONSENT_PURPOSE[a["type"]] for a in automation.actions if a["type"] in CONSENT_PURPOSE}


def _capped(automation: Automation, member_id: int, now: datetime) -> bool:
    if automation.cap_count is None or automation.cap_days is None:
        return False
    recent = db.session.scalar(
        select(func.count(AutomationEnrolment.id)).where(
            AutomationEnrolment.member_id == member_id,
            AutomationEnrolment.group == "treated",
            AutomationEnrolment.enrolled_at > now - timedelta(days=automation.cap_days),
        )
    )
    return (recent or 0) >= automation.cap_count


def eligible(automation: Automation, member_ids: Sequence[int], now: datetime) -> list[int]:
    """Return the members an automation may enrol now: active, in segment, consenting."""
    ids = list(
        db.session.scalars(
            select(Member.id).where(Member.id.in_(list(member_ids)), Member.blocked.is_(False))
        )
    )
    if automation.segment_id is not None:
        inside = seams.members_in_segment(automation.segment_id, ids, now)
        ids = [member_id for member_id in ids if member_id in inside]
    for purpose in sorted(_consent_purposes(automation)):
        consenting = seams.members_with_consent(ids, purpose)
        ids = [member_id for member_id in ids if member_id in consenting]
    return sorted(ids)


def enrol(
    automation: Automation,
    member_id: int,
    occurrence: str,
    now: datetime,
    context: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> AutomationEnrolment | None:
    """Enrol a member for one occurrence (treated or control); None if not enrolled.

    The caller has checked eligibility (``eligible``); the cap and "once per occurrence" are
    checked here, under the enrolment's unique key.
    """
    already = db.session.scalar(
        select(AutomationEnrolment.id).where(
            AutomationEnrolment.automation_id == automation.id,
            AutomationEnrolment.member_id == member_id,
            AutomationEnrolment.occurrence == occurrence,
        )
    )
    if already is not None or _capped(automation, member_id, now):
        return None
    draw = (rng or _rng()).random() * 100
    enrolment = AutomationEnrolment(
        automation_id=automation.id,
        member_id=member_id,
        occurrence=occurrence[:80],
        group="control" if draw < automation.holdout_percent else "treated",
        enrolled_at=now,
        context=dict(context or {}),
    )
    try:
        with db.session.begin_nested():
            db.session.add(enrolment)
    except IntegrityError:  # the same occurrence enrolled by a concurrent run
        return None
    if enrolment.group == "treated" and automation.actions:
        _queue_step(enrolment, 0, now + _delay(automation, 0))
    return enrolment


def _delay(automation: Automation, step: int) -> timedelta:
    return timedelta(minutes=int(automation.actions[step].get("delay_minutes") or 0))


def _queue_step(enrolment: AutomationEnrolment, step: int, at: datetime) -> OutboxMessage:
    return enqueue(
        STEP_KIND,
        {"enrolment_id": enrolment.id, "step": step},
        member_id=enrolment.member_id,
        available_at=at,
    )


def enrol_from_event(event: EventEnvelope, now: datetime) -> None:
    """Enrol the member an event catches in every automation listening to it (a consumer)."""
    triggers = [name for name, event_type in EVENT_TRIGGERS.items() if event_type == event.type]
    automations = db.session.scalars(
        select(Automation)
        .where(Automation.enabled.is_(True), Automation.trigger.in_(triggers))
        .order_by(Automation.id)
    ).all()
    for automation in automations:
        match = match_event(automation.trigger, automation.trigger_params or {}, event)
        if match is None or not eligible(automation, [match.member_id], now):
            continue
        enrol(automation, match.member_id, match.occurrence, now, match.context)


def run_time_triggers(as_of: datetime | None = None) -> dict[str, int]:
    """Evaluate every time-based automation as of ``as_of``; return enrolments per group.

    Idempotent: a second run for the same day (or a later one) enrols nobody twice, because an
    occurrence is enrolled once.
    """
    as_of = as_of or utcnow()
    counts = {"treated": 0, "control": 0}
    automations = db.session.scalars(
        select(Automation)
        .where(Automation.enabled.is_(True), Automation.trigger.in_(TIME_TRIGGERS))
        .order_by(Automation.id)
    ).all()
    rng = _rng()
    for automation in automations:
        matches = match_time(automation.trigger, automation.trigger_params or {}, as_of)
        allowed = set(eligible(automation, [m.member_id for m in matches], as_of))
        for match in matches:
            if match.member_id not in allowed:
                continue
            enrolment = enrol(
                automation, match.member_id, match.occurrence, as_of, match.context, rng
            )
            if enrolment is not None:
                counts[enrolment.group] += 1
    db.session.flush()
    return counts


# --- running the steps ------------------------------------------------------------------


def _timezone() -> str:
    return str(current_app.config.get("AUTOMATIONS_TIMEZONE") or DEFAULT_TIMEZONE)


def render(text: str, member: Member, expiry_date: str | None) -> str:
    """Fill ``{name}``, ``{points}`` and ``{expiry_date}`` into a message."""
    values = {
        "name": member.display_name,
        "points": str(member.points_balance),
        "expiry_date": expiry_date or "",
    }
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def _expiry_date(enrolment: AutomationEnrolment, now: datetime) -> str | None:
    issued = db.session.scalars(
        select(AutomationStepRun)
        .where(AutomationStepRun.enrolment_id == enrolment.id, AutomationStepRun.action == "coupon")
        .order_by(AutomationStepRun.step.desc())
    ).first()
    if issued is not None and issued.detail.get("valid_until"):
        return str(issued.detail["valid_until"])[:10]
    expiring = expiring_points(enrolment.member_id, now)["expiring"]
    return expiring[0]["expires_at"].date().isoformat() if expiring else None


def _run_action(
    automation: Automation,
    enrolment: AutomationEnrolment,
    step: int,
    action: Mapping[str, Any],
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    member = db.session.get_one(Member, enrolment.member_id)
    source = f"automation:{automation.id}"
    kind = action["type"]
    if kind == "coupon":
        valid_until = now + timedelta(days=int(action["valid_days"]))
        issued = issue_member_coupon(
            member.id,
            Benefit.from_dict(action["benefit"]),
            source="automation",
            source_id=f"{automation.id}:{enrolment.id}:{step}",
            valid_until=valid_until,
            min_basket_cents=int(action.get("min_basket_cents") or 0),
        )
        return "done", {"coupon_id": issued.coupon_id, "valid_until": valid_until.isoformat()}
    if kind == "push":
        expiry = _expiry_date(enrolment, now)
        message = {
            "title": render(action["title"], member, expiry),
            "body": render(action["body"], member, expiry),
            "url": action.get("url") or "/#/coupons",
            "tag": f"automation-{automation.id}",
        }
        queued = queue_push(
            member.id, action.get("kind", "offers"), message, now=now, source=source
        )
        return ("done" if queued else "skipped"), {"queued": queued, "message": message}
    if kind == "webhook":
        webhook_id = f"msg_automation_{enrolment.id}_{step}"
        body = {
            "id": webhook_id,
            "type": "automation.webhook",
            "timestamp": now.isoformat(),
            "member_id": member.id,
            "store_id": None,
            "data": {
                "automation_id": automation.id,
                "automation": automation.name,
                "enrolment_id": enrolment.id,
                "occurrence": enrolment.occurrence,
                "context": enrolment.context,
            },
        }
        queue_webhook(int(action["endpoint_id"]), webhook_id, body, "automation.webhook", now)
        return "done", {"endpoint_id": action["endpoint_id"]}
    if kind == "survey":
        invitation = invite_to_survey(member.id, action["question"], source, now)
        if invitation is None:
            return "skipped", {"reason": "already surveyed this period"}
        message = {
            "title": render(action.get("title") or "A quick question", member, None),
            "body": action["question"],
            "url": f"/#/survey?id={invitation.id}",
            "tag": "survey",
        }
        queue_push(member.id, "surveys", message, now=now, source=source)
        return "done", {"survey_id": invitation.id}
    task = StaffTask(
        member_id=member.id,
        automation_id=automation.id,
        title=render(action["title"], member, _expiry_date(enrolment, now))[:200],
        status="open",
    )
    db.session.add(task)
    db.session.flush()
    return "done", {"task_id": task.id}


def run_step(row: OutboxMessage, now: datetime) -> Delivery:
    """Run one action of one enrolment and queue the next (the outbox handler for steps)."""
    enrolment = db.session.get(AutomationEnrolment, row.payload["enrolment_id"])
    if enrolment is None:
        return Delivery("skipped", detail="enrolment gone", record=False)
    automation = db.session.get_one(Automation, enrolment.automation_id)
    step = int(row.payload["step"])
    done = db.session.scalar(
        select(AutomationStepRun.id).where(
            AutomationStepRun.enrolment_id == enrolment.id, AutomationStepRun.step == step
        )
    )
    if done is not None or step >= len(automation.actions):
        return Delivery("done", record=False)
    action = automation.actions[step]
    purpose = CONSENT_PURPOSE.get(action["type"])
    if not automation.enabled:
        outcome, detail = "skipped", {"reason": "automation switched off"}
    elif purpose and enrolment.member_id not in seams.members_with_consent(
        [enrolment.member_id], purpose
    ):
        # Checked again at send time: a consent withdrawn after the enrolment counts.
        outcome, detail = "skipped", {"reason": f"no {purpose} consent"}
    else:
        if action["type"] in REACHES_MEMBER:
            wait_until = quiet_until(
                automation.quiet_start_minute, automation.quiet_end_minute, _timezone(), now
            )
            if wait_until is not None:
                seconds = (wait_until - now).total_seconds()
                return Delivery("deferred", retry_after_seconds=seconds, record=False)
        outcome, detail = _run_action(automation, enrolment, step, action, now)
    db.session.add(
        AutomationStepRun(
            enrolment_id=enrolment.id,
            step=step,
            action=action["type"],
            outcome=outcome,
            detail=detail,
            ran_at=now,
        )
    )
    if automation.enabled and step + 1 < len(automation.actions):
        _queue_step(enrolment, step + 1, now + _delay(automation, step + 1))
    db.session.flush()
    return Delivery("done", record=False)


def run_daily_time_triggers(as_of: datetime) -> None:
    """The worker's daily job: evaluate the time-based triggers (idempotent, like the CLI)."""
    run_time_triggers(as_of)


def install_automations(app: Flask) -> None:
    """Enrol members from events, run automation steps, and evaluate time triggers daily."""
    register_consumer(app, None, enrol_from_event)
    register_handler(app, STEP_KIND, run_step)
    install_profile_sources(app)
    register_scheduled_job(
        app, "automations-time-triggers", TIME_TRIGGERS_HOUR_UTC, run_daily_time_triggers
    )


# --- views for staff --------------------------------------------------------------------


def enrolments_view(automation_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Return an automation's enrolments, newest first, with what each step did."""
    get_automation(automation_id)
    enrolments = db.session.scalars(
        select(AutomationEnrolment)
        .where(AutomationEnrolment.automation_id == automation_id)
        .order_by(AutomationEnrolment.id.desc())
        .limit(limit)
    ).all()
    runs: dict[int, list[dict[str, Any]]] = {}
    if enrolments:
        for run in db.session.scalars(
            select(AutomationStepRun)
            .where(AutomationStepRun.enrolment_id.in_([e.id for e in enrolments]))
            .order_by(AutomationStepRun.step)
        ):
            runs.setdefault(run.enrolment_id, []).append(
                {
                    "step": run.step,
                    "action": run.action,
                    "outcome": run.outcome,
                    "detail": run.detail,
                    "ran_at": iso_or_none(run.ran_at),
                }
            )
    return [
        {
            "id": e.id,
            "member_id": e.member_id,
            "occurrence": e.occurrence,
            "group": e.group,
            "enrolled_at": iso_or_none(e.enrolled_at),
            "steps": runs.get(e.id, []),
        }
        for e in enrolments
    ]


def task_view(task: StaffTask) -> dict[str, Any]:
    """Return (JSON-ready) a staff task."""
    return {
        "id": task.id,
        "member_id": task.member_id,
        "automation_id": task.automation_id,
        "title": task.title,
        "status": task.status,
        "created_at": iso_or_none(task.created_at),
        "done_at": iso_or_none(task.done_at),
        "done_by": task.done_by,
    }


def list_tasks(status: str) -> list[dict[str, Any]]:
    """Return staff tasks (open, done or all), oldest open first."""
    query = select(StaffTask).order_by(StaffTask.id).limit(500)
    if status != "all":
        query = query.where(StaffTask.status == status)
    return [task_view(task) for task in db.session.scalars(query)]


def complete_task(task_id: int, staff_id: int) -> StaffTask:
    """Mark a staff task done."""
    task = db.session.get(StaffTask, task_id, with_for_update=True)
    if task is None:
        raise DomainError("unknown-task", f"No task {task_id}.")
    if task.status == "done":
        raise DomainError("task-already-done", "This task is done.")
    task.status, task.done_at, task.done_by = "done", utcnow(), staff_id
    db.session.flush()
    return task
