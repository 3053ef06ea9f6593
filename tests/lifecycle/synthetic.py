"""Synthetic shoppers with a known truth: weekly, monthly and quarterly rhythms, some who stop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RHYTHMS = {"weekly": 7.0, "monthly": 30.0, "quarterly": 91.0}


@dataclass
class Shopper:
    """One synthetic customer: rhythm, purchase days, and whether (and when) they stopped."""

    rhythm: str
    days: list[int]
    stopped_at: float | None


def simulate_shoppers(
    count: int, seed: int, end_day: int = 730, stop_share: float = 0.5
) -> list[Shopper]:
    """Simulate ``count`` shoppers up to ``end_day`` (exclusive); half of them stop at some point.

    Gaps between visits are Gamma-distributed around the rhythm (shape 4: regular but not
    clockwork). A stopper stops at a uniformly random time between their first visit and the
    end, so some stopped long ago and some only just (those no model can tell apart yet).
    """
    generator = np.random.default_rng(seed)
    shoppers = []
    names = list(RHYTHMS)
    for _ in range(count):
        rhythm = names[generator.integers(len(names))]
        mean = RHYTHMS[rhythm]
        first = float(generator.uniform(0, end_day - 60))
        stops = generator.random() < stop_share
        stop = float(generator.uniform(first, end_day)) if stops else None
        days = [int(first)]
        moment = first
        while True:
            moment += float(generator.gamma(4.0, mean / 4.0))
            if moment >= end_day or (stop is not None and moment >= stop):
                break
            days.append(int(moment))
        shoppers.append(Shopper(rhythm, sorted(set(days)), stop))
    return shoppers


def model_inputs(
    shoppers: list[Shopper], end_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return x (repeat purchase days), t_x and T in weeks, as of ``end_day``."""
    x = np.array([len(s.days) - 1 for s in shoppers], dtype=float)
    t_x = np.array([(s.days[-1] - s.days[0]) / 7.0 for s in shoppers])
    T = np.array([(end_day - s.days[0]) / 7.0 for s in shoppers])
    return x, t_x, T
