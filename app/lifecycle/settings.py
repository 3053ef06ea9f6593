"""The lifecycle's tunable numbers: stage thresholds, health-factor weights, the model.

Each is read from the app config key ``LIFECYCLE_<NAME>`` (so from the environment variable of
the same name, see ``app.config``), falling back to the defaults below. ``docs/lifecycle.md``
explains what each one does and how to tune it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from flask import current_app


@dataclass(frozen=True)
class LifecycleSettings:
    """Thresholds and weights of the lifecycle refresh."""

    # Stages. Recency is judged against the member's own rhythm: ratio = days since the last
    # purchase / the member's typical interval between purchase days.
    new_days: int = 30
    at_risk_ratio: float = 2.5
    at_risk_min_days: int = 14
    lapsed_ratio: float = 5.0
    lapsed_min_days: int = 60
    lapsed_max_days: int = 365
    won_back_days: int = 90
    advocate_min_referrals: int = 2
    # How many intervals of the shop's typical rhythm the member's own interval is pulled
    # towards (a member with few purchases has an unreliable rhythm of their own).
    prior_intervals: float = 1.0
    # Trend: the last ``trend_days`` against the member's history before them.
    trend_days: int = 90
    refund_share_bad: float = 0.30
    # Health-score weights (relative; factors without data are left out and the rest rescaled).
    weight_recency: float = 40
    weight_frequency: float = 20
    weight_spend: float = 15
    weight_refunds: float = 10
    weight_complaints: float = 10
    weight_survey: float = 5
    # The customer-base model.
    model: str = "mbgnbd"
    fit_sample: int = 20_000
    min_fit_customers: int = 20
    horizon_days: int = 90

    @property
    def weights(self) -> dict[str, float]:
        """Return the health factors' weights by factor name."""
        return {
            "recency": self.weight_recency,
            "frequency_trend": self.weight_frequency,
            "spend_trend": self.weight_spend,
            "refund_share": self.weight_refunds,
            "open_complaints": self.weight_complaints,
            "survey": self.weight_survey,
        }


def settings_from(config: dict[str, Any] | Any) -> LifecycleSettings:
    """Build the settings from a config mapping (keys ``LIFECYCLE_<NAME>``)."""
    values: dict[str, Any] = {}
    for spec in fields(LifecycleSettings):
        raw = config.get(f"LIFECYCLE_{spec.name.upper()}")
        if raw is None or raw == "":
            continue
        kind: type[Any] = type(spec.default)
        values[spec.name] = kind(raw)
    return LifecycleSettings(**values)


def lifecycle_settings() -> LifecycleSettings:
    """Return the settings of the running app."""
    return settings_from(current_app.config)
