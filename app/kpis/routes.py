"""``GET /api/v1/kpis``: the programme's key figures for a period, for managers and admins.

Managers see their own stores; admins the whole programme or one store. Every figure is
defined in ``docs/kpis.md``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.kpis.service import kpi_report, report_period

blp = Blueprint("kpis", __name__, url_prefix="/api/v1/kpis", description="Key figures")


class KpiQuerySchema(Schema):
    start = fields.Date(load_default=None, metadata={"description": "First day (default: 30 days)"})
    end = fields.Date(load_default=None, metadata={"description": "Last day, included (today)"})
    store_id = fields.Integer(load_default=None)


class KpiReportSchema(Schema):
    period = fields.Dict()
    members = fields.Dict()
    stages = fields.Dict()
    churn = fields.Dict()
    purchases = fields.Dict()
    points = fields.Dict()
    coupons = fields.List(fields.Dict())
    refusals = fields.Dict()
    cohorts = fields.List(fields.Dict())


@blp.route("")
class Kpis(MethodView):
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, KpiReportSchema)
    @blp.alt_response(403, description="forbidden (another manager's store)")
    @blp.alt_response(404, description="unknown-store")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Report members, stages, churn, purchases, points, coupons, refusals and cohorts."""
        period = report_period(
            current_identity().subject_id, query["start"], query["end"], query["store_id"]
        )
        return kpi_report(period)
