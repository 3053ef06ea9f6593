"""The stage of every member: new, active, at risk, lapsed, won back (and advocate).

Rules, in this order (settings in ``app.lifecycle.settings``; ``docs/lifecycle.md`` tunes them):

1. **lapsed**: silent for ``lapsed_max_days`` or more, or for at least ``lapsed_min_days``
   and ``lapsed_ratio`` times the member's own interval. A member who never bought is lapsed
   once the same holds for the time since sign-up.
2. **at_risk**: silent for at least ``at_risk_min_days`` and ``at_risk_ratio`` times the
   member's own interval (a weekly shopper after about 2.5 weeks, a quarterly one after
   about 7 months); a member who never bought, once past ``new_days`` since sign-up.
3. **won_back**: the member's latest return after a lapse (a gap between two purchase days
   that met the lapsed rule, judged against the rhythm *before* the gap) was within the last
   ``won_back_days``.
4. **new**: first purchase (or, without one, sign-up) within the last ``new_days``.
5. **active**: everyone else.

On top of that, ``is_advocate`` promotes an active or won-back member with at least
``advocate_min_referrals`` converted referrals. The referral count comes from
``app.lifecycle.signals.converted_referrals_by_member``, which answers 0 for everyone until the
referral programme lands; then that one function changes and nothing else.

Stages are a pure function of the purchase history as of a date, so a refresh for any date
gives the same answer however often it runs, and a history import is classified at once
without waiting for months of nightly runs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.lifecycle.health import Array, MemberFigures
from app.lifecycle.settings import LifecycleSettings

StageArray = NDArray[np.str_]


def is_advocate(converted_referrals: int, settings: LifecycleSettings) -> bool:
    """Tell whether a member with this many converted referrals counts as an advocate."""
    return converted_referrals >= settings.advocate_min_referrals


def decide_stages(
    figures: MemberFigures,
    settings: LifecycleSettings,
    days_since: Array,
    recency_ratio: Array,
    converted_referrals: NDArray[np.int64] | None = None,
) -> StageArray:
    """Return each member's stage as of ``figures.as_of_day``."""
    bought = figures.purchase_days >= 1
    today = figures.as_of_day
    past_new = bought | (today - figures.signup_day >= settings.new_days)
    lapsed = past_new & (
        (days_since >= settings.lapsed_max_days)
        | ((days_since >= settings.lapsed_min_days) & (recency_ratio >= settings.lapsed_ratio))
    )
    at_risk = bought & (days_since >= settings.at_risk_min_days)
    at_risk &= recency_ratio >= settings.at_risk_ratio
    at_risk = (at_risk | (~bought & past_new)) & ~lapsed
    with np.errstate(invalid="ignore"):
        won_back = bought & (figures.last_return_day >= today - settings.won_back_days)
        first = np.where(bought, figures.first_day, figures.signup_day)
        new = today - first < settings.new_days
    stages = np.full(len(days_since), "active", dtype="<U8")
    stages[new] = "new"
    stages[won_back] = "won_back"
    stages[at_risk] = "at_risk"
    stages[lapsed] = "lapsed"
    if converted_referrals is not None:
        advocates = np.array(
            [is_advocate(int(count), settings) for count in converted_referrals], dtype=bool
        )
        stages[advocates & np.isin(stages, ("active", "won_back"))] = "advocate"
    return stages
