"""The BG/NBD and Gamma-Gamma maths (analytics.clv): the published CDNOW fit,
recovery of known parameters, and the customers without repeat purchases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics import clv

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary_with_transactions.csv"
# Fader, Hardie & Lee (2005), "Counting your customers the easy way", table 1 / p. 279,
# and "RFM and CLV" (2005), for the same 2,357 customers over 39 weeks.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow() -> np.ndarray:
    return np.genfromtxt(CDNOW, delimiter=",", names=True)


def within(value: float, expected: float, share: float) -> bool:
    return abs(value - expected) <= share * abs(expected)


def test_bgnbd_fit_on_cdnow_gives_the_published_parameters_within_one_percent(cdnow):
    model = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert model.customers == 2357
    for name, expected in PUBLISHED_BGNBD.items():
        assert within(getattr(model, name), expected, 0.01), (name, getattr(model, name))
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_fit_on_cdnow_gives_the_published_parameters_within_one_percent(cdnow):
    model = clv.gamma_gamma_fit(cdnow["x"], cdnow["zbar"])
    assert model.customers == 946  # the customers with a repeat purchase
    for name, expected in PUBLISHED_GAMMA_GAMMA.items():
        assert within(getattr(model, name), expected, 0.01), (name, getattr(model, name))


def test_conditional_expectation_matches_the_papers_worked_example(cdnow):
    """FHL 2005, p. 281: a customer with x = 2, t_x = 30.43, T = 38.86 is expected
    to make 1.226 purchases in the next 39 weeks."""
    model = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    expected = clv.bgnbd_expected_purchases(
        model, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86])
    )
    assert expected[0] == pytest.approx(1.226, abs=0.002)


def test_grouping_identical_summaries_changes_nothing_in_the_likelihood(cdnow):
    """The fit sums the likelihood over distinct (x, t_x, T) with counts: the
    same value as the sum over every customer."""
    params = np.array([0.243, 4.414, 0.793, 2.426])
    each, _grad = clv.bgnbd_log_likelihood(params, cdnow["x"], cdnow["t_x"], cdnow["T"])
    (x, t_x, T), counts = clv._grouped(cdnow["x"], cdnow["t_x"], cdnow["T"])
    grouped, _grad = clv.bgnbd_log_likelihood(params, x, t_x, T)
    assert len(counts) < len(cdnow) / 2
    assert counts @ grouped == pytest.approx(each.sum(), rel=1e-12)


def test_analytic_gradients_agree_with_finite_differences(cdnow):
    for function, params, columns in (
        (
            clv.bgnbd_log_likelihood,
            np.array([0.3, 5.0, 0.9, 2.0]),
            (cdnow["x"], cdnow["t_x"], cdnow["T"]),
        ),
        (
            clv.gamma_gamma_log_likelihood,
            np.array([6.0, 4.0, 15.0]),
            (cdnow["x"][cdnow["x"] > 0], cdnow["zbar"][cdnow["x"] > 0]),
        ),
    ):
        _ll, grad = function(params, *columns)
        for i in range(params.size):
            step = np.zeros_like(params)
            step[i] = 1e-6 * params[i]
            up, _g = function(params + step, *columns)
            down, _g = function(params - step, *columns)
            numeric = (up.sum() - down.sum()) / (2 * step[i])
            assert grad[i].sum() == pytest.approx(numeric, rel=1e-5)


def test_fits_recover_known_parameters_from_simulated_customers():
    rng = np.random.default_rng(2026)
    T = rng.integers(30, 3 * 365, size=200_000).astype(float)
    truth = {"r": 0.25, "alpha": 10.0, "a": 0.8, "b": 2.5}
    x, t_x = clv.bgnbd_simulate(**truth, T=T, rng=rng)
    model = clv.bgnbd_fit(x, t_x, T)
    for name, value in truth.items():
        assert within(getattr(model, name), value, 0.08), (name, getattr(model, name))
    means = clv.gamma_gamma_simulate(p=6.0, q=4.0, v=15.0, x=x, rng=rng)
    spend = clv.gamma_gamma_fit(x, means)
    for name, value in {"p": 6.0, "q": 4.0, "v": 15.0}.items():
        assert within(getattr(spend, name), value, 0.08), (name, getattr(spend, name))


def test_customers_without_repeat_purchases_are_alive_and_expected_to_buy_less_as_time_passes(
    cdnow,
):
    """BG/NBD's drop-out follows a repeat purchase, so x = 0 means P(alive) = 1;
    the longer they have waited, the lower their rate, the fewer purchases expected."""
    model = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    zeros = np.zeros(3)
    T = np.array([1.0, 20.0, 60.0])
    assert clv.bgnbd_p_alive(model, zeros, zeros, T).tolist() == [1.0, 1.0, 1.0]
    expected = clv.bgnbd_expected_purchases(model, 52.0, zeros, zeros, T)
    assert expected[0] > expected[1] > expected[2] > 0
    # A one-time buyer has no repeat value: the spend expected is the population mean.
    spend = clv.gamma_gamma_fit(cdnow["x"], cdnow["zbar"])
    mean = spend.p * spend.v / (spend.q - 1)
    values = clv.gamma_gamma_expected_spend(spend, np.array([0.0, 3.0]), np.array([0.0, 40.0]))
    assert values[0] == pytest.approx(mean)
    assert mean < values[1] < 40.0  # shrunk towards the mean


def test_a_long_silence_after_repeat_purchases_lowers_p_alive(cdnow):
    model = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    x = np.array([5.0, 5.0])
    alive = clv.bgnbd_p_alive(model, x, np.array([38.0, 5.0]), np.array([38.86, 38.86]))
    assert 0.85 < alive[0] <= 1.0
    assert alive[1] < 0.2


def test_too_little_data_raises_fit_failed():
    with pytest.raises(clv.FitFailed):
        clv.bgnbd_fit(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 3.0]), np.array([5.0] * 3))
    with pytest.raises(clv.FitFailed):
        clv.gamma_gamma_fit(np.array([0.0, 2.0]), np.array([0.0, 10.0]))


def test_an_impossible_summary_is_refused():
    with pytest.raises(ValueError):
        clv.bgnbd_fit(np.array([1.0, 2.0]), np.array([6.0, 1.0]), np.array([5.0, 5.0]))


def test_starting_django_does_not_import_scipy():
    """SciPy is loaded by a fit, not by every process (analytics.clv)."""
    code = "import sys, django; django.setup(); print('scipy' in sys.modules)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "False"
