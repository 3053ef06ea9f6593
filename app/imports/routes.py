"""``POST /api/v1/imports/purchases``: a manager uploads a POS export (multipart, field ``file``).

The upload runs the same import as the CLI (``app.imports.service``) inside the request's
transaction: it commits when the answer is sent, and a conflict leaves nothing behind. A
manager imports into their own stores only (rows naming another store are bad rows); admins
into any. Files up to ``IMPORT_MAX_BYTES`` (default 64 MiB, about 600,000 rows); larger
histories go through the CLI.
"""

from __future__ import annotations

import io
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.accounts.models import StaffAccount, StaffRole
from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.errors import Problem
from app.extensions import db
from app.imports.service import import_purchases
from app.request_limits import body_limit

blp = Blueprint(
    "imports", __name__, url_prefix="/api/v1/imports", description="Importing history (managers)"
)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ImportQuerySchema(Schema):
    no_points = fields.Boolean(
        load_default=False, metadata={"description": "Import the history only; book no points."}
    )


class BadRowSchema(Schema):
    line = fields.Integer()
    reason = fields.String()


class ImportReportSchema(Schema):
    rows = fields.Integer()
    imported = fields.Integer()
    duplicates = fields.Integer(metadata={"description": "Receipts booked before: unchanged"})
    members_created = fields.Integer()
    points_awarded = fields.Integer()
    bad_row_count = fields.Integer()
    bad_rows = fields.List(fields.Nested(BadRowSchema))


def _allowed_stores() -> set[int] | None:
    identity = current_identity()
    if identity.role == StaffRole.ADMIN:
        return None
    staff = db.session.get(StaffAccount, identity.subject_id)
    return set(staff.store_ids) if staff else set()


@blp.route("/purchases")
class PurchaseImport(MethodView):
    @body_limit(DEFAULT_MAX_BYTES)  # a POS export is larger than any JSON body
    @blp.arguments(ImportQuerySchema, location="query")
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(400, description="import-file-required")
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(409, description="import-conflict")
    @blp.alt_response(413, description="import-too-large")
    @blp.alt_response(422, description="import-bad-header")
    @staff_required(*MANAGER_ROLES)
    def post(self, query: dict[str, Any]) -> dict[str, Any]:
        """Import a POS export (CSV, one receipt per row) as multipart field ``file``."""
        limit = int(current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))
        if request.content_length is not None and request.content_length > limit:
            raise Problem(
                "import-too-large",
                413,
                "File too large",
                f"Uploads take at most {limit} bytes; import larger files with the CLI.",
            )
        upload = request.files.get("file")
        if upload is None:
            raise Problem(
                "import-file-required",
                400,
                "File required",
                "Send the CSV as multipart/form-data in the field 'file'.",
            )
        text = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
        report = import_purchases(
            text,
            award_points=not query["no_points"],
            staff_id=current_identity().subject_id,
            store_ids=_allowed_stores(),
        )
        return report.to_dict()
