"""The customer-base model: BG/NBD and its MBG/NBD variant, fitted by maximum likelihood.

Why our own ~100 lines and not a library: ``lifetimes`` has been unmaintained since 2020 (and
breaks on current NumPy/SciPy), and ``pymc-marketing`` brings PyMC and its compiler toolchain
for what is a closed-form likelihood. The formulas below are the published ones, and the tests
pin them against the published example of Fader, Hardie & Lee (2005).

Data per customer (``x``, ``t_x``, ``T``), in weeks: ``x`` repeat purchases (distinct purchase
*days* after the first), ``t_x`` the time of the last purchase and ``T`` the time of the
as-of date, both measured from the first purchase.

* **BG/NBD** (Fader, Hardie & Lee, "Counting your customers the easy way", Marketing Science
  24(2), 2005). While active a customer buys at a Poisson rate drawn from Gamma(r, alpha); after
  each *repeat* purchase they drop out with a probability drawn from Beta(a, b). Its known
  artefact: a customer without repeat purchases cannot have dropped out, so P(active) = 1 for
  every one-time buyer, however long ago they came.
* **MBG/NBD** (Batislam, Denizel & Filiztekin, IJRM 24(3), 2007) lets customers drop out at
  time zero too, so a one-time buyer seen a year ago has a low P(active). It is the default
  here (``LIFECYCLE_MODEL=bgnbd`` switches), because one-time buyers are usually the majority.

Per customer the log-likelihood is ``A1 + log(exp(A2) + exp(A3))`` with gammaln/betaln terms,
so the fit minimises the negative sum with L-BFGS-B over the log-parameters (all four stay
positive) and takes well under a second on 20,000 customers.

Outputs: ``p_active(x, t_x, T)`` and ``expected_purchases(t, x, t_x, T)``, the purchases
expected in the next ``t`` weeks (it needs the Gauss hypergeometric function, ``hyp2f1``). Where
``hyp2f1`` does not converge (extreme parameters), the expectation falls back to
``P(active) x (the customer's expected rate) x t`` and is never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

Array = NDArray[np.float64]
VARIANTS = ("mbgnbd", "bgnbd")
START = np.log(np.array([1.0, 1.0, 1.0, 1.0]))


@dataclass(frozen=True)
class ModelParameters:
    """The four parameters of a fitted (M)BG/NBD model, and how the fit went."""

    variant: str
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    customers: int = 0
    converged: bool = True


def _as_arrays(x: Array, t_x: Array, T: Array) -> tuple[Array, Array, Array]:
    return (
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )


def log_likelihood(
    variant: str, r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array
) -> Array:
    """Return each customer's log-likelihood under the model."""
    x, t_x, T = _as_arrays(x, t_x, T)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    if variant == "bgnbd":
        a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        repeat = x > 0
        a3 = np.full_like(x, -np.inf)
        a3[repeat] = (
            betaln(a + 1, b + x[repeat] - 1)
            - betaln(a, b)
            - (r + x[repeat]) * np.log(alpha + t_x[repeat])
        )
    else:
        a2 = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + T)
        a3 = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    result: Array = a1 + np.logaddexp(a2, a3)
    return result


def fit(
    x: Array, t_x: Array, T: Array, variant: str = "mbgnbd", weights: Array | None = None
) -> ModelParameters:
    """Fit the model by maximum likelihood on the customers given (one row each)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}")
    x, t_x, T = _as_arrays(x, t_x, T)
    if len(x) == 0:
        raise ValueError("fitting needs at least one customer")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())

    def negative(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        # An elementwise product, not np.dot: BLAS threads gain nothing on a vector this size
        # and spin on a busy machine.
        value = -float((w * log_likelihood(variant, r, alpha, a, b, x, t_x, T)).sum()) / total
        return value if np.isfinite(value) else 1e300

    result = minimize(
        negative, START, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4, options={"maxiter": 500}
    )
    r, alpha, a, b = (float(value) for value in np.exp(result.x))
    return ModelParameters(
        variant=variant,
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-float(result.fun) * total,
        customers=len(x),
        converged=bool(result.success),
    )


def _dropout_odds(params: ModelParameters, x: Array, t_x: Array, T: Array) -> Array:
    """Return the odds of "dropped out" against "still active" for each customer."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        if params.variant == "bgnbd":
            odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(log_ratio), 0.0)
        else:
            odds = a / (b + x) * np.exp(log_ratio)
    result: Array = np.nan_to_num(odds, nan=np.inf, posinf=np.inf)
    return result


def p_active(params: ModelParameters, x: Array, t_x: Array, T: Array) -> Array:
    """Return P(still active | x, t_x, T) for each customer."""
    x, t_x, T = _as_arrays(x, t_x, T)
    result: Array = 1.0 / (1.0 + _dropout_odds(params, x, t_x, T))
    return result


def expected_purchases(params: ModelParameters, t: float, x: Array, t_x: Array, T: Array) -> Array:
    """Return E[purchases in the next ``t`` weeks | x, t_x, T] for each customer."""
    x, t_x, T = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shift = 1.0 if params.variant == "bgnbd" else 0.0
    with np.errstate(all="ignore"):
        z = t / (alpha + T + t)
        hyper = hyp2f1(r + x, b + x + 1 - shift, a + b + x - shift, z)
        head = (a + b + x - shift) / (a - 1)
        body = 1 - np.power((alpha + T) / (alpha + T + t), r + x) * hyper
        expected = head * body / (1.0 + _dropout_odds(params, x, t_x, T))
    fallback = p_active(params, x, t_x, T) * (r + x) / (alpha + T) * t
    usable = np.isfinite(expected) & (expected >= 0)
    result: Array = np.where(usable, expected, fallback)
    return result


def roc_auc(scores: Array, labels: NDArray[np.bool_]) -> float:
    """Return the area under the ROC curve of ``scores`` for the positive ``labels``.

    The Mann-Whitney form: the share of (positive, negative) pairs the scores order right,
    ties counting half.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("the AUC needs both positive and negative cases")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)
