"""The health score and the stage, computed for every member at once from their RFM figures.

Everything here is a pure function of NumPy arrays (one element per member) and the settings,
so the tests drive it with hand-made members and the refresh with 100,000 rows alike.

**The member's own rhythm.** ``interval`` is the member's typical number of days between
purchase days, pulled towards the shop's typical interval (``population_interval``, the median
over repeat buyers) by ``prior_intervals`` intervals' worth:
``(last - first + k x population) / (purchase_days - 1 + k)``. A weekly shopper with a year of
history has an interval of about 7 days, a member with two purchases something between their
one gap and the shop's rhythm. ``recency_ratio`` = days since the last purchase / interval: a
weekly shopper silent for five weeks has a ratio near 5, a quarterly shopper silent for five
weeks one near 0.4. For a member who never bought, the sign-up counts as the first visit.

**Factors** (each scored 0-1, then weighted; see ``docs/lifecycle.md``):

* ``recency``: 1 up to the usual interval, 0.5 at ``at_risk_ratio``, falling towards 0 beyond
  (``1 / (1 + ((ratio - 1) / (at_risk_ratio - 1))^2)``);
* ``frequency_trend``: purchase days in the last ``trend_days`` against what the member's own
  history before them predicts; scored ``min(1, 2 P(N <= recent))`` with N Poisson of the
  expected count, so one quiet month of a quarterly shopper is no alarm, five weeks without a
  weekly shopper's visits are;
* ``spend_trend``: spend in the last ``trend_days`` against the member's own earlier spend rate
  (one average basket of slack on both sides), capped at 1;
* ``refund_share``: refunded share of the last year's spend; 0 at ``refund_share_bad``;
* ``open_complaints`` and ``survey``: hooks (``open_complaints_by_member`` and
  ``survey_scores_by_member`` in ``app.lifecycle.signals``) that have no data until those
  features exist.

A factor without data for a member (no history before the trend window, no purchases in the
last year, no complaints system) is left out and the other weights are rescaled, so the score
always spans 0-100. Each member's factors are stored with value, score, weight and
``points`` (its contribution to the score), which is how staff see why a score is low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import poisson

from app.lifecycle.settings import LifecycleSettings

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass
class MemberFigures:
    """RFM figures of many members, as of one day (``as_of_day``, days since 1970-01-01)."""

    as_of_day: int
    signup_day: Array
    purchase_days: Array  # distinct days with a purchase
    first_day: Array  # NaN when the member never bought
    last_day: Array
    spend_cents: Array  # net of refunds
    receipts: Array
    recent_days: Array  # purchase days in the trend window
    recent_spend: Array
    gross_365: Array
    refunded_365: Array
    last_return_day: Array  # NaN unless the member came back after a lapse


@dataclass
class HealthResult:
    """The figures the refresh stores for each member."""

    interval: Array
    days_since: Array
    recency_ratio: Array
    frequency_trend: Array  # NaN where not enough history
    spend_trend: Array
    refund_share: Array
    score: NDArray[np.int64]
    factors: list[list[dict[str, float | str | None]]]


def population_interval(figures: MemberFigures) -> float:
    """Return the shop's typical interval between purchase days (median over repeat buyers)."""
    repeat = figures.purchase_days >= 2
    if not repeat.any():
        return 30.0
    spans = (figures.last_day - figures.first_day)[repeat] / (figures.purchase_days[repeat] - 1)
    return float(max(np.median(spans), 1.0))


def rhythm(
    figures: MemberFigures, settings: LifecycleSettings, population: float
) -> tuple[Array, Array, Array]:
    """Return each member's interval, days since the last purchase (or sign-up) and their ratio."""
    bought = figures.purchase_days >= 1
    k = settings.prior_intervals
    with np.errstate(invalid="ignore"):
        own_span = np.where(bought, figures.last_day - figures.first_day, 0.0)
        interval = (own_span + k * population) / (np.maximum(figures.purchase_days - 1, 0) + k)
    interval = np.maximum(interval, 1.0)
    reference = np.where(bought, figures.last_day, figures.signup_day)
    days_since = np.maximum(figures.as_of_day - reference, 0.0)
    return interval, days_since, days_since / interval


def _recency_score(ratio: Array, settings: LifecycleSettings) -> Array:
    scale = max(settings.at_risk_ratio - 1.0, 0.1)
    result: Array = 1.0 / (1.0 + np.square(np.maximum(ratio - 1.0, 0.0) / scale))
    return result


def compute_health(
    figures: MemberFigures,
    settings: LifecycleSettings,
    population: float,
    open_complaints: Array | None = None,
    survey_scores: Array | None = None,
) -> HealthResult:
    """Score every member's health (0-100) and keep each factor's share of the score."""
    count = len(figures.purchase_days)
    window = float(settings.trend_days)
    interval, days_since, ratio = rhythm(figures, settings, population)
    with np.errstate(invalid="ignore", divide="ignore"):
        history_span = (figures.as_of_day - window) - figures.first_day + 1
        has_history = np.nan_to_num(history_span, nan=0.0) >= window
        earlier_days = figures.purchase_days - figures.recent_days
        expected_days = np.where(has_history, earlier_days / history_span * window, np.nan)
        frequency_trend = (figures.recent_days + 0.5) / (expected_days + 0.5)
        frequency_score = np.minimum(
            1.0, 2.0 * poisson.cdf(figures.recent_days, np.nan_to_num(expected_days, nan=1.0))
        )
        basket = np.where(figures.receipts > 0, figures.spend_cents / figures.receipts, 0.0)
        earlier_spend = figures.spend_cents - figures.recent_spend
        expected_spend = np.where(has_history, earlier_spend / history_span * window, np.nan)
        spend_trend = (figures.recent_spend + basket) / (expected_spend + basket)
        spend_score = np.clip(np.nan_to_num(spend_trend, nan=1.0), 0.0, 1.0)
        refund_share = np.where(
            figures.gross_365 > 0, figures.refunded_365 / figures.gross_365, np.nan
        )
        refund_score = 1.0 - np.minimum(1.0, refund_share / settings.refund_share_bad)
    complaints = open_complaints if open_complaints is not None else np.full(count, np.nan)
    surveys = survey_scores if survey_scores is not None else np.full(count, np.nan)
    factor_values = {
        "recency": (ratio, _recency_score(ratio, settings), np.ones(count, dtype=bool)),
        "frequency_trend": (frequency_trend, frequency_score, has_history),
        "spend_trend": (spend_trend, spend_score, has_history & (figures.receipts > 0)),
        "refund_share": (refund_share, refund_score, ~np.isnan(refund_share)),
        "open_complaints": (
            complaints,
            1.0 / (1.0 + np.nan_to_num(complaints)),
            ~np.isnan(complaints),
        ),
        "survey": (surveys, np.clip(np.nan_to_num(surveys) / 10.0, 0, 1), ~np.isnan(surveys)),
    }
    weights = settings.weights
    available_weight = np.zeros(count)
    for name, (_value, _score, present) in factor_values.items():
        available_weight += np.where(present, weights[name], 0.0)
    available_weight = np.maximum(available_weight, 1e-9)
    total = np.zeros(count)
    shares: dict[str, Array] = {}
    for name, (_value, score, present) in factor_values.items():
        share = np.where(present, weights[name] * score / available_weight * 100.0, 0.0)
        shares[name] = share
        total += share
    score_int = np.clip(np.rint(total), 0, 100).astype(np.int64)
    factors = _factor_lists(factor_values, shares, weights, available_weight)
    return HealthResult(
        interval=interval,
        days_since=days_since,
        recency_ratio=ratio,
        frequency_trend=np.where(has_history, frequency_trend, np.nan),
        spend_trend=np.where(has_history, spend_trend, np.nan),
        refund_share=np.nan_to_num(refund_share, nan=0.0),
        score=score_int,
        factors=factors,
    )


def _factor_lists(
    factor_values: dict[str, tuple[Array, Array, BoolArray]],
    shares: dict[str, Array],
    weights: dict[str, float],
    available_weight: Array,
) -> list[list[dict[str, float | str | None]]]:
    """Turn the factor arrays into one list of factor records per member (what is stored)."""
    names = list(factor_values)
    columns = {
        name: (
            np.round(factor_values[name][0], 3).tolist(),
            np.round(factor_values[name][1], 3).tolist(),
            factor_values[name][2].tolist(),
            np.round(weights[name] / available_weight * 100.0, 1).tolist(),
            np.round(shares[name], 1).tolist(),
        )
        for name in names
    }
    count = len(available_weight)
    result: list[list[dict[str, float | str | None]]] = []
    for index in range(count):
        member: list[dict[str, float | str | None]] = []
        for name in names:
            values, scores, present, weight, points = columns[name]
            if not present[index]:
                continue
            value = values[index]
            member.append(
                {
                    "factor": name,
                    "value": None if value != value else value,  # NaN -> None
                    "score": scores[index],
                    "weight": weight[index],
                    "points": points[index],
                }
            )
        result.append(member)
    return result
