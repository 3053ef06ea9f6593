"""Surveys and complaints, and the figures they feed (NPS, detractors, open complaints).

**Surveys.** A survey is one question answered with a score 0–10 (Net Promoter Score) and an
optional comment. A member is invited at most once per period (the calendar quarter, UTC):
``invite_to_survey`` returns None when they were invited already, and the unique key
``(member_id, period)`` holds that even under concurrent invitations. Invitations come from
automations (the ``survey`` action, announced by push) and, with ``SURVEY_AFTER_PURCHASE``
on (and the member's ``surveys`` consent), from a member's first purchase in a period. The
PWA asks ``GET /me/surveys`` on launch and opens ``#/survey?id=<id>`` from the push message.

**Complaints.** Staff record complaints and service cases on a member (``kind`` complaint or
service, a category, what happened); a manager resolves them with a note.

**Figures.** NPS over a period = % promoters (9–10) − % detractors (0–6) of the answers in
it; passives are 7–8. Open complaints count what is not resolved. For the health score the
lifecycle package reads ``survey_scores_by_member`` and ``open_complaints_by_member``. Both
facts are also announced as domain events (``survey.answered``, ``complaint.recorded``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member
from app.db import iso_or_none, utcnow
from app.errors import DomainError
from app.events import DomainEvent, publish
from app.extensions import db
from app.feedback.models import Complaint, SurveyInvitation, SurveyResponse
from app.outbox.service import EventEnvelope, register_consumer
from app.profiles.consent import members_with_consent

POST_PURCHASE_QUESTION = "How likely are you to recommend us to a friend?"


def period_of(moment: datetime) -> str:
    """Return the survey period of a moment: its calendar quarter, e.g. ``2026-Q4``."""
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def invite_to_survey(
    member_id: int, question: str, source: str, now: datetime | None = None
) -> SurveyInvitation | None:
    """Invite a member to a survey, unless they were invited this period already."""
    now = now or utcnow()
    period = period_of(now)
    exists = db.session.scalar(
        select(SurveyInvitation.id).where(
            SurveyInvitation.member_id == member_id, SurveyInvitation.period == period
        )
    )
    if exists is not None:
        return None
    invitation = SurveyInvitation(
        member_id=member_id, period=period, question=question[:200], source=source[:40]
    )
    invitation.created_at = now
    try:
        with db.session.begin_nested():
            db.session.add(invitation)
    except IntegrityError:
        return None
    return invitation


def invitation_view(invitation: SurveyInvitation) -> dict[str, Any]:
    """Return (JSON-ready) a survey invitation."""
    return {
        "id": invitation.id,
        "question": invitation.question,
        "scale": {"min": 0, "max": 10},
        "period": invitation.period,
        "created_at": iso_or_none(invitation.created_at),
        "answered_at": iso_or_none(invitation.answered_at),
    }


def open_surveys(member_id: int) -> list[dict[str, Any]]:
    """Return the member's unanswered survey invitations."""
    invitations = db.session.scalars(
        select(SurveyInvitation)
        .where(SurveyInvitation.member_id == member_id, SurveyInvitation.answered_at.is_(None))
        .order_by(SurveyInvitation.id.desc())
    )
    return [invitation_view(invitation) for invitation in invitations]


def answer_survey(
    member_id: int, invitation_id: int, score: int, comment: str | None
) -> dict[str, Any]:
    """Record a member's answer to their own survey, once."""
    invitation = db.session.get(SurveyInvitation, invitation_id, with_for_update=True)
    if invitation is None or invitation.member_id != member_id:
        raise DomainError("unknown-survey", f"No survey {invitation_id}.")
    if invitation.answered_at is not None:
        raise DomainError("survey-already-answered", "This survey was answered already.")
    now = utcnow()
    invitation.answered_at = now
    db.session.add(
        SurveyResponse(
            invitation_id=invitation.id,
            member_id=member_id,
            score=score,
            comment=(comment or "").strip()[:1000] or None,
            answered_at=now,
        )
    )
    db.session.flush()
    publish(
        DomainEvent(
            "survey.answered",
            {"survey_id": invitation.id, "score": score, "period": invitation.period},
            member_id=member_id,
        )
    )
    return invitation_view(invitation)


def invite_after_purchase(event: EventEnvelope, now: datetime) -> None:
    """With ``SURVEY_AFTER_PURCHASE`` on, invite a buyer once per period (a consumer)."""
    setting = str(current_app.config.get("SURVEY_AFTER_PURCHASE", "")).lower()
    if event.member_id is None or setting not in ("1", "true", "yes", "on"):
        return
    if event.member_id not in members_with_consent([event.member_id], "surveys"):
        return
    invite_to_survey(event.member_id, POST_PURCHASE_QUESTION, "purchase", now)


# --- complaints -------------------------------------------------------------------------


def _unknown_member(member_id: int) -> DomainError:
    return DomainError("unknown-member", f"There is no member {member_id}.")


def complaint_view(complaint: Complaint) -> dict[str, Any]:
    """Return (JSON-ready) a complaint or service case."""
    return {
        "id": complaint.id,
        "member_id": complaint.member_id,
        "store_id": complaint.store_id,
        "kind": complaint.kind,
        "category": complaint.category,
        "description": complaint.description,
        "status": complaint.status,
        "resolution": complaint.resolution,
        "created_by": complaint.created_by,
        "created_at": iso_or_none(complaint.created_at),
        "resolved_at": iso_or_none(complaint.resolved_at),
        "resolved_by": complaint.resolved_by,
    }


def record_complaint(member_id: int, fields: Mapping[str, Any], staff_id: int) -> Complaint:
    """Record a complaint or service case on a member."""
    if db.session.get(Member, member_id) is None:
        raise _unknown_member(member_id)
    complaint = Complaint(
        member_id=member_id,
        store_id=fields.get("store_id"),
        kind=fields["kind"],
        category=fields.get("category"),
        description=fields["description"],
        status="open",
        created_by=staff_id,
    )
    db.session.add(complaint)
    db.session.flush()
    publish(
        DomainEvent(
            "complaint.recorded",
            {"complaint_id": complaint.id, "kind": complaint.kind, "category": complaint.category},
            member_id=member_id,
            store_id=complaint.store_id,
        )
    )
    return complaint


def resolve_complaint(complaint_id: int, resolution: str, staff_id: int) -> Complaint:
    """Close a complaint with a note on how it was resolved."""
    complaint = db.session.get(Complaint, complaint_id, with_for_update=True)
    if complaint is None:
        raise DomainError("unknown-complaint", f"No complaint {complaint_id}.")
    if complaint.status == "resolved":
        raise DomainError("complaint-already-resolved", "This complaint was resolved before.")
    complaint.status = "resolved"
    complaint.resolution = resolution
    complaint.resolved_at = utcnow()
    complaint.resolved_by = staff_id
    db.session.flush()
    return complaint


def list_complaints(
    status: str | None = None, member_id: int | None = None
) -> list[dict[str, Any]]:
    """Return complaints, newest first, optionally only open or resolved ones, or one member's."""
    query = select(Complaint).order_by(Complaint.id.desc()).limit(500)
    if status:
        query = query.where(Complaint.status == status)
    if member_id is not None:
        query = query.where(Complaint.member_id == member_id)
    return [complaint_view(complaint) for complaint in db.session.scalars(query)]


# --- figures ----------------------------------------------------------------------------


def feedback_kpis(days: int = 90, now: datetime | None = None) -> dict[str, Any]:
    """Return NPS, promoters, passives, detractors (answers in the last ``days``), complaints."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    scores = list(
        db.session.scalars(
            select(SurveyResponse.score).where(
                SurveyResponse.answered_at > since, SurveyResponse.answered_at <= now
            )
        )
    )
    promoters = sum(1 for score in scores if score >= 9)
    detractors = sum(1 for score in scores if score <= 6)
    answers = len(scores)
    open_complaints = db.session.scalar(
        select(func.count(Complaint.id)).where(Complaint.status == "open")
    )
    new_complaints = db.session.scalar(
        select(func.count(Complaint.id)).where(Complaint.created_at > since)
    )
    return {
        "days": days,
        "answers": answers,
        "promoters": promoters,
        "passives": answers - promoters - detractors,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / answers, 1) if answers else None,
        "open_complaints": open_complaints or 0,
        "complaints_in_period": new_complaints or 0,
    }


def survey_scores_by_member(as_of: date) -> dict[int, float]:
    """Return each member's latest survey score up to ``as_of`` (for the health score)."""
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time()).replace(
        tzinfo=utcnow().tzinfo
    )
    rows = db.session.execute(
        select(SurveyResponse.member_id, SurveyResponse.score)
        .where(SurveyResponse.answered_at < end)
        .order_by(SurveyResponse.answered_at)
    ).all()
    return {member_id: float(score) for member_id, score in rows}


def open_complaints_by_member(as_of: date) -> dict[int, int]:
    """Return the number of open complaints per member (for the health score)."""
    rows = db.session.execute(
        select(Complaint.member_id, func.count(Complaint.id))
        .where(Complaint.status == "open")
        .group_by(Complaint.member_id)
    ).all()
    return {member_id: int(count) for member_id, count in rows}


def install_feedback(app: Flask) -> None:
    """Invite buyers to the survey after a purchase (when ``SURVEY_AFTER_PURCHASE`` is on)."""
    register_consumer(app, "purchase.booked", invite_after_purchase)
