"""The fraud rules' settings: defaults, the admins' changes, and the cache that serves them.

Every rule has an action (``allow``, ``flag``, ``step-up``, ``deny``), a severity, a score and
its own thresholds (``RULE_DEFAULTS``). Admins change them through ``PUT /api/v1/fraud/rules``;
a change is stored per rule in ``fraud_rule_settings`` (only what differs from the defaults),
audited, and announced to every process by bumping the ``fraud-rules`` settings version, so
the rules (``app.fraud.rules``) run on the new settings from the next request on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.db import utcnow
from app.errors import Problem
from app.extensions import db
from app.fraud.models import FraudRuleSetting, StaffAudit
from app.settings_cache import bump_version, cached_setting

SETTINGS_NAME = "fraud-rules"
ACTIONS = ("allow", "flag", "step-up", "deny")  # weakest first
SEVERITIES = ("low", "medium", "high")

RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "velocity": {
        "action": "flag",
        "severity": "medium",
        "score": 30,
        "max_purchases_per_day": 5,
        "max_redemptions_per_day": 5,
    },
    "impossible-travel": {
        "action": "step-up",
        "severity": "high",
        "score": 60,
        "max_speed_kmh": 300.0,
        "min_distance_km": 2.0,
        "lookback_hours": 24,
    },
    "self-dealing": {
        "action": "step-up",
        "severity": "high",
        "score": 70,
        "operations": {"purchase": True, "coupon-redeem": True, "refund": True},
    },
    "refund-abuse": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "window_days": 30,
        "min_refunds": 3,
        "max_member_refund_share": 0.5,
        "max_staff_refund_share": 0.25,
    },
    "live-code": {
        "action": "step-up",
        "severity": "low",
        "score": 20,
        "operations": {
            "scan": False,
            "purchase": False,
            "coupon-redeem": False,
            "points-spend": True,
        },
    },
    "replayed-code": {"action": "flag", "severity": "medium", "score": 50},
    "stale-code": {"action": "allow", "severity": "low", "score": 10},
    "revoked-card": {"action": "flag", "severity": "medium", "score": 40},
    "blocked": {"action": "flag", "severity": "high", "score": 80},
    "reward-claim-burst": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "max_claims": 5,
        "window_minutes": 10,
    },
    "signup-burst": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "max_signups": 5,
        "window_minutes": 60,
    },
}

# The actions that make sense for each rule (a refusal rule can only be quiet or raise an event;
# a member's own request has no till to step up on).
RULE_ACTIONS: dict[str, tuple[str, ...]] = {
    "replayed-code": ("allow", "flag"),
    "stale-code": ("allow", "flag"),
    "revoked-card": ("allow", "flag"),
    "blocked": ("allow", "flag"),
    "reward-claim-burst": ("allow", "flag", "deny"),
    "signup-burst": ("allow", "flag", "deny"),
}

RULE_DESCRIPTIONS: dict[str, str] = {
    "velocity": "A member earns on or redeems too many times in 24 hours.",
    "impossible-travel": "One card used in two stores farther apart than anyone could travel.",
    "self-dealing": "A cashier books onto a member account with their own e-mail.",
    "refund-abuse": "A member's or cashier's refund share is too high.",
    "live-code": "Operations that need a rotating LW2 code (or a manager) instead of LW1.",
    "replayed-code": "A rotating code was presented again (screenshot or relay).",
    "stale-code": "A rotating code from outside the time window was presented.",
    "revoked-card": "A replaced or revoked card was presented.",
    "blocked": "A blocked member, card or till was used.",
    "reward-claim-burst": "Many reward claims from one client address.",
    "signup-burst": "Many sign-ups from one client address.",
}

REFUSAL_RULES = {
    "code-replayed": "replayed-code",
    "code-stale": "stale-code",
    "card-revoked": "revoked-card",
    "member-blocked": "blocked",
    "card-blocked": "blocked",
    "till-blocked": "blocked",
}


def rule_settings() -> dict[str, dict[str, Any]]:
    """Return every rule's settings: the defaults with the admins' changes applied.

    Cached per process (``app.settings_cache``): no query for them on most requests, and a
    change made on any process applies everywhere from the next request.
    """
    return cached_setting(SETTINGS_NAME, load_rule_settings)


def load_rule_settings() -> dict[str, dict[str, Any]]:
    """Read every rule's settings from the database (defaults plus the stored changes)."""
    settings = {name: _copy(defaults) for name, defaults in RULE_DEFAULTS.items()}
    for row in db.session.scalars(select(FraudRuleSetting)):
        if row.rule in settings:
            settings[row.rule] = _merge(settings[row.rule], row.settings)
    return settings


def _copy(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in settings.items()}


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = _copy(base)
    for key, value in changes.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key in merged:
            merged[key] = value
    return merged


def update_rule_settings(
    changes: Mapping[str, Mapping[str, Any]], *, staff_id: int
) -> dict[str, dict[str, Any]]:
    """Apply an admin's changes to rules (validated by the schema) and audit them."""
    for rule, rule_changes in changes.items():
        if rule not in RULE_DEFAULTS:
            raise _invalid_rule(rule, "There is no such rule.")
        action = rule_changes.get("action")
        if action is not None and action not in RULE_ACTIONS.get(rule, ACTIONS):
            raise _invalid_rule(
                rule, f"Action must be one of: {', '.join(RULE_ACTIONS.get(rule, ACTIONS))}."
            )
        row = db.session.get(FraudRuleSetting, rule, with_for_update=True)
        if row is None:
            row = FraudRuleSetting(rule=rule, settings={})
            db.session.add(row)
        row.settings = _merge_stored(row.settings, rule_changes)
        row.updated_at = utcnow()
        row.updated_by = staff_id
        db.session.add(
            StaffAudit(
                staff_id=staff_id,
                action="update-rule",
                target_type="rule",
                target_id=rule,
                detail={"changes": dict(rule_changes)},
            )
        )
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return load_rule_settings()


def _merge_stored(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in changes.items():
        if isinstance(value, dict):
            merged[key] = {**dict(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged


def _invalid_rule(rule: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        f"Rule {rule}: {message}",
        errors={"json": {rule: [message]}},
    )
