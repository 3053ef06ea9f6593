"""Automation routes for managers: automations, their enrolments and report; staff tasks."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.automations import service
from app.automations.report import automation_report
from app.automations.schemas import (
    AutomationChangeSchema,
    AutomationRequestSchema,
    AutomationSchema,
    EnrolmentSchema,
    ReportQuerySchema,
    ReportSchema,
    StaffTaskSchema,
    TaskQuerySchema,
)

blp = Blueprint("automations", __name__, url_prefix="/api/v1", description="Automations")


@blp.route("/automations")
class Automations(MethodView):
    @blp.response(200, AutomationSchema(many=True))
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List automations with how many members each treated and held back."""
        return service.list_automations()

    @blp.arguments(AutomationRequestSchema)
    @blp.response(201, AutomationSchema)
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an automation: trigger, optional segment, actions, control group."""
        automation = service.create_automation(body, current_identity().subject_id)
        return service.automation_view(automation)


@blp.route("/automations/<int:automation_id>")
class AutomationById(MethodView):
    @blp.response(200, AutomationSchema)
    @blp.alt_response(404, description="unknown-automation")
    @staff_required(*MANAGER_ROLES)
    def get(self, automation_id: int) -> dict[str, Any]:
        """Show one automation."""
        return service.automation_view(service.get_automation(automation_id))

    @blp.arguments(AutomationChangeSchema)
    @blp.response(200, AutomationSchema)
    @blp.alt_response(404, description="unknown-automation")
    @staff_required(*MANAGER_ROLES)
    def patch(self, body: dict[str, Any], automation_id: int) -> dict[str, Any]:
        """Change an automation (``enabled: false`` stops it, queued steps are skipped)."""
        return service.automation_view(service.update_automation(automation_id, body))


@blp.route("/automations/<int:automation_id>/enrolments")
class Enrolments(MethodView):
    @blp.response(200, EnrolmentSchema(many=True))
    @blp.alt_response(404, description="unknown-automation")
    @staff_required(*MANAGER_ROLES)
    def get(self, automation_id: int) -> list[dict[str, Any]]:
        """List who was enrolled (treated or held back) and what each step did."""
        return service.enrolments_view(automation_id)


@blp.route("/automations/<int:automation_id>/report")
class Report(MethodView):
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, ReportSchema)
    @blp.alt_response(404, description="unknown-automation")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any], automation_id: int) -> dict[str, Any]:
        """Treated vs held back: bought again within N days, spend, difference with 95% CI."""
        return automation_report(automation_id, query["window_days"])


@blp.route("/staff-tasks")
class StaffTasks(MethodView):
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, StaffTaskSchema(many=True))
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List staff tasks made by automations ("call this customer")."""
        return service.list_tasks(query["status"])


@blp.route("/staff-tasks/<int:task_id>/done")
class StaffTaskDone(MethodView):
    @blp.response(200, StaffTaskSchema)
    @blp.alt_response(404, description="unknown-task")
    @blp.alt_response(409, description="task-already-done")
    @staff_required(*MANAGER_ROLES)
    def post(self, task_id: int) -> dict[str, Any]:
        """Mark a task done."""
        return service.task_view(service.complete_task(task_id, current_identity().subject_id))
