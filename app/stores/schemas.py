"""Request and response bodies of the store, till and staff routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.accounts.models import StaffRole


class StoreSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    address = fields.String(load_default="", validate=validate.Length(max=255))
    latitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    longitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))


class StoreDirectoryEntrySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()


class TillRequestSchema(Schema):
    store_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class TillCreatedSchema(Schema):
    till_id = fields.Integer()
    till_key = fields.String(metadata={"description": "Shown once; only its hash is stored."})
    store_id = fields.Integer()
    name = fields.String()


class StaffRequestSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in StaffRole]))
    store_ids = fields.List(fields.Integer(), load_default=list)


class TillSchema(Schema):
    till_id = fields.Integer(attribute="id")
    name = fields.String()
    store_id = fields.Integer()
    store = fields.Function(lambda till: {"id": till.store.id, "name": till.store.name})
    blocked = fields.Boolean()
    created_at = fields.AwareDateTime()


class StaffSchema(Schema):
    staff_id = fields.Integer(attribute="id")
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    store_ids = fields.List(fields.Integer())
    stores = fields.Function(
        lambda staff: [{"id": store.id, "name": store.name} for store in staff.stores],
        metadata={"description": "The stores by id and name"},
    )
    active = fields.Boolean()


class StaffChangesSchema(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    role = fields.String(validate=validate.OneOf([r.value for r in StaffRole]))
    store_ids = fields.List(fields.Integer())
    active = fields.Boolean()
