"""The customer-base model: published values, parameter recovery, and how well it separates
shoppers who stopped from those who did not (AUC on a held-out synthetic set)."""

from __future__ import annotations

import numpy as np
import pytest

from app.lifecycle.model import (
    ModelParameters,
    expected_purchases,
    fit,
    log_likelihood,
    p_active,
    roc_auc,
)
from tests.lifecycle.synthetic import model_inputs, simulate_shoppers

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", fitted to CDNOW.
CDNOW = ModelParameters("bgnbd", r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_conditional_expectation_matches_the_published_example() -> None:
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 weeks expects 1.226 purchases
    # in the next 39 weeks.
    value = expected_purchases(CDNOW, 39, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert value[0] == pytest.approx(1.226, abs=0.0005)


def test_bgnbd_one_time_buyers_look_alive_and_mbgnbd_does_not() -> None:
    long_ago = (np.array([0.0]), np.array([0.0]), np.array([104.0]))
    assert p_active(CDNOW, *long_ago)[0] == 1.0  # the BG/NBD artefact
    modified = ModelParameters("mbgnbd", r=0.243, alpha=4.414, a=0.793, b=2.426)
    last_week = (np.array([0.0]), np.array([0.0]), np.array([1.0]))
    assert p_active(modified, *long_ago)[0] < 0.7
    assert p_active(modified, *long_ago)[0] < p_active(modified, *last_week)[0] - 0.1


def test_likelihood_is_finite_and_the_fit_recovers_simulated_parameters() -> None:
    generator = np.random.default_rng(7)
    true = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    count, horizon = 4000, 78.0
    rates = generator.gamma(true["r"], 1.0 / true["alpha"], count)
    dropout = generator.beta(true["a"], true["b"], count)
    x, t_x = np.zeros(count), np.zeros(count)
    for i in range(count):
        moment = 0.0
        while True:
            moment += generator.exponential(1.0 / rates[i])
            if moment >= horizon:
                break
            x[i] += 1
            t_x[i] = moment
            if generator.random() < dropout[i]:
                break
    T = np.full(count, horizon)
    params = fit(x, t_x, T, variant="bgnbd")
    assert params.converged
    assert np.all(np.isfinite(log_likelihood("bgnbd", 0.8, 6.0, 0.9, 3.0, x, t_x, T)))
    assert params.r == pytest.approx(true["r"], rel=0.25)
    assert params.alpha == pytest.approx(true["alpha"], rel=0.35)
    # The fitted parameters explain the data at least as well as the true ones.
    fitted_ll = log_likelihood("bgnbd", params.r, params.alpha, params.a, params.b, x, t_x, T)
    assert fitted_ll.sum() >= log_likelihood("bgnbd", 0.8, 6.0, 0.9, 3.0, x, t_x, T).sum() - 1e-6


def test_roc_auc_of_known_orderings() -> None:
    labels = np.array([True, True, False, False])
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 0.0
    assert roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5


def test_p_active_separates_stoppers_on_a_held_out_set(capsys: pytest.CaptureFixture[str]) -> None:
    end = 730
    training = simulate_shoppers(3000, seed=1, end_day=end)
    held_out = simulate_shoppers(3000, seed=2, end_day=end)
    params = fit(*model_inputs(training, end), variant="mbgnbd")
    x, t_x, T = model_inputs(held_out, end)
    still_active = np.array([shopper.stopped_at is None for shopper in held_out])
    model_auc = roc_auc(p_active(params, x, t_x, T), still_active)
    expected_auc = roc_auc(expected_purchases(params, 90 / 7, x, t_x, T), still_active)
    recency_auc = roc_auc(-(T - t_x), still_active)  # days since the last purchase, negated
    with capsys.disabled():
        print(
            f"\nheld-out AUC: P(active) {model_auc:.3f}, E[purchases 90d] {expected_auc:.3f}, "
            f"recency alone {recency_auc:.3f}"
        )
    assert model_auc >= 0.9
    # Judging silence against each shopper's own rhythm beats raw recency on mixed rhythms.
    assert model_auc > recency_auc
