"""Survey routes for members; complaint and feedback-KPI routes for staff."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.feedback import service
from app.feedback.schemas import (
    ComplaintQuerySchema,
    ComplaintRequestSchema,
    ComplaintResolveSchema,
    ComplaintSchema,
    FeedbackKpiSchema,
    KpiQuerySchema,
    SurveyAnswerSchema,
    SurveySchema,
)

blp = Blueprint("feedback", __name__, url_prefix="/api/v1", description="Surveys and complaints")
STAFF_ROLES = ("cashier", *MANAGER_ROLES)


@blp.route("/me/surveys")
class MySurveys(MethodView):
    @blp.response(200, SurveySchema(many=True))
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """List my unanswered surveys."""
        return service.open_surveys(current_identity().subject_id)


@blp.route("/me/surveys/<int:survey_id>/answer")
class AnswerSurvey(MethodView):
    @blp.arguments(SurveyAnswerSchema)
    @blp.response(200, SurveySchema)
    @blp.alt_response(404, description="unknown-survey")
    @blp.alt_response(409, description="survey-already-answered")
    @member_required
    def post(self, body: dict[str, Any], survey_id: int) -> dict[str, Any]:
        """Answer a survey: a score 0-10 and an optional comment."""
        return service.answer_survey(
            current_identity().subject_id, survey_id, body["score"], body["comment"]
        )


@blp.route("/members/<int:member_id>/complaints")
class MemberComplaints(MethodView):
    @blp.response(200, ComplaintSchema(many=True))
    @staff_required(*STAFF_ROLES)
    def get(self, member_id: int) -> list[dict[str, Any]]:
        """List a member's complaints and service cases."""
        return service.list_complaints(member_id=member_id)

    @blp.arguments(ComplaintRequestSchema)
    @blp.response(201, ComplaintSchema)
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*STAFF_ROLES)
    def post(self, body: dict[str, Any], member_id: int) -> dict[str, Any]:
        """Record a complaint or service case on a member."""
        complaint = service.record_complaint(member_id, body, current_identity().subject_id)
        return service.complaint_view(complaint)


@blp.route("/complaints")
class Complaints(MethodView):
    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintSchema(many=True))
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List complaints, newest first (``status=open`` for the open ones)."""
        return service.list_complaints(status=query["status"])


@blp.route("/complaints/<int:complaint_id>/resolve")
class ResolveComplaint(MethodView):
    @blp.arguments(ComplaintResolveSchema)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(404, description="unknown-complaint")
    @blp.alt_response(409, description="complaint-already-resolved")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], complaint_id: int) -> dict[str, Any]:
        """Resolve a complaint with a note."""
        complaint = service.resolve_complaint(
            complaint_id, body["resolution"], current_identity().subject_id
        )
        return service.complaint_view(complaint)


@blp.route("/feedback/kpis")
class FeedbackKpis(MethodView):
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, FeedbackKpiSchema)
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """NPS, promoters, passives, detractors over the last N days; open complaints."""
        return service.feedback_kpis(query["days"])
