"""Request and response bodies of the rewards, reward-claim and stamp-programme routes.

Times are ISO 8601 with an offset (naive input is read as UTC). Field ranges are checked here;
rules that span fields (a discount needs an amount or a percentage, a physical gift issues no
coupon) are checked by the service, after a change has been merged into the stored reward.
"""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

from app.naming import NameRefSchema
from app.rewards.models import FulfilmentStatus, RewardKind
from coupons.rules import BenefitKind

COUPON_DAYS = validate.Range(min=1, max=3650)


class RewardChangesSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=5000))
    image_url = fields.Url(
        allow_none=True, relative=True, require_tld=False, validate=validate.Length(max=500)
    )
    cost_points = fields.Integer(strict=True, validate=validate.Range(min=1))
    stock = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"description": "Units left; null means unlimited."},
    )
    per_member_limit = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    active = fields.Boolean()
    active_from = fields.AwareDateTime(allow_none=True, default_timezone=UTC)
    active_until = fields.AwareDateTime(
        allow_none=True, default_timezone=UTC, metadata={"description": "Exclusive."}
    )
    amount_off_cents = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    percent_off = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=100)
    )
    percent_cap_cents = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    sku = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    min_basket_cents = fields.Integer(strict=True, validate=validate.Range(min=0))
    coupon_valid_days = fields.Integer(
        strict=True,
        allow_none=True,
        validate=COUPON_DAYS,
        metadata={"description": "How long the issued coupon is valid; null: no expiry."},
    )


class RewardCreateSchema(RewardChangesSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in RewardKind]))
    cost_points = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))


class RewardSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    image_url = fields.String(allow_none=True)
    kind = fields.String()
    cost_points = fields.Integer()
    stock = fields.Integer(allow_none=True)
    per_member_limit = fields.Integer(allow_none=True)
    active = fields.Boolean()
    active_from = fields.DateTime(allow_none=True)
    active_until = fields.DateTime(allow_none=True)
    amount_off_cents = fields.Integer(allow_none=True)
    percent_off = fields.Integer(allow_none=True)
    percent_cap_cents = fields.Integer(allow_none=True)
    sku = fields.String(allow_none=True)
    min_basket_cents = fields.Integer()
    coupon_valid_days = fields.Integer(allow_none=True)
    claims_count = fields.Integer(metadata={"description": "Claims not returned (catalogue)."})


class MemberRewardSchema(RewardSchema):
    affordable = fields.Boolean(metadata={"description": "My balance covers the cost."})
    claims_left = fields.Integer(
        allow_none=True, metadata={"description": "Claims left within the limit; null: no limit."}
    )


class ClaimedCouponSchema(Schema):
    coupon_id = fields.Integer()
    code = fields.String(metadata={"description": "Formatted XXXX-XXXX-XXXX-C."})


class ClaimAnswerSchema(Schema):
    claim_id = fields.Integer()
    reward_id = fields.Integer()
    points_spent = fields.Integer()
    points_balance = fields.Integer()
    coupon = fields.Nested(ClaimedCouponSchema, allow_none=True)
    fulfilment_status = fields.String(allow_none=True)


class ClaimSchema(Schema):
    claim_id = fields.Integer()
    reward_id = fields.Integer()
    reward_name = fields.String()
    kind = fields.String()
    points_spent = fields.Integer()
    coupon_id = fields.Integer(allow_none=True)
    fulfilment_status = fields.String(allow_none=True)
    points_returned = fields.Boolean()
    claimed_at = fields.DateTime()


class StaffClaimSchema(ClaimSchema):
    member_id = fields.Integer()
    member = fields.Nested(NameRefSchema, allow_none=True)


class ClaimsQuerySchema(Schema):
    fulfilment_status = fields.String(validate=validate.OneOf([s.value for s in FulfilmentStatus]))


class FulfilmentRequestSchema(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in FulfilmentStatus])
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class BenefitSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in BenefitKind]))
    amount_cents = fields.Integer(strict=True, validate=validate.Range(min=1))
    percent = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    cap_cents = fields.Integer(strict=True, validate=validate.Range(min=1))
    sku = fields.String(validate=validate.Length(min=1, max=64))
    points = fields.Integer(strict=True, validate=validate.Range(min=1))


class StampProgrammeRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    category = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    skus = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=200),
    )
    stamps_needed = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=1000)
    )
    reward = fields.Nested(
        BenefitSchema,
        required=True,
        metadata={"description": "The coupon a full card earns, e.g. {kind: free_item, sku}."},
    )
    coupon_valid_days = fields.Integer(
        strict=True, load_default=30, allow_none=True, validate=COUPON_DAYS
    )
    active = fields.Boolean(load_default=True)


class StampProgrammeChangesSchema(Schema):
    active = fields.Boolean(required=True)


class StampProgrammeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    category = fields.String(allow_none=True)
    skus = fields.List(fields.String())
    stamps_needed = fields.Integer()
    reward = fields.Dict(attribute="reward_benefit")
    coupon_valid_days = fields.Integer(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class StampCardSchema(Schema):
    programme_id = fields.Integer()
    name = fields.String()
    stamps = fields.Integer(metadata={"description": "Towards the next reward."})
    stamps_needed = fields.Integer()
    rewards_issued = fields.Integer()
    reward = fields.Dict()
