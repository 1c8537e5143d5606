"""Baseline hazards against scipy's distributions, inverses against the forward maps."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from hsctsim.engine.hazards import (EXPONENTIAL, FIXED, GOMPERTZ, LOGLOGISTIC, LOGNORMAL, WEIBULL,
                             base_cumhaz,
                             cumhaz, cumhaz_dpi, cure_cumhaz, inverse, norm_ppf_lower,
                             piece_cumhaz, piece_inverse)

PW_START, PW_RATE = np.array([0.0, 10.0, 50.0]), np.array([0.01, 0.05, 0.002])

# (family code, p0, p1, scipy frozen distribution with the same survival)
FAMILIES = [
    (EXPONENTIAL, 0.02, 0.0, stats.expon(scale=50.0)),
    (WEIBULL, 1.7, 120.0, stats.weibull_min(1.7, scale=120.0)),
    (WEIBULL, 0.6, 40.0, stats.weibull_min(0.6, scale=40.0)),
    (LOGNORMAL, math.log(41.0), 0.35, stats.lognorm(0.35, scale=41.0)),
    (LOGNORMAL, math.log(200.0), 1.2, stats.lognorm(1.2, scale=200.0)),
    (GOMPERTZ, 0.01, 0.002, stats.gompertz(0.2, scale=100.0)),
    (LOGLOGISTIC, 2.5, 60.0, stats.fisk(2.5, scale=60.0)),
    (LOGLOGISTIC, 0.8, 300.0, stats.fisk(0.8, scale=300.0)),
]
DAYS = np.array([0.5, 3.0, 14.0, 41.0, 100.0, 365.0, 1000.0])


def _h(family, p0, p1, pi, s):
    return cumhaz(family, p0, p1, pi, s)


@pytest.mark.parametrize("family, p0, p1, dist", FAMILIES)
def test_cumulative_hazard_matches_scipy(family, p0, p1, dist):
    for s in DAYS:
        expected = -dist.logsf(s)
        if np.isfinite(expected):  # scipy's log survival underflows far in the tail
            assert _h(family, p0, p1, 1.0, s) == pytest.approx(expected, rel=1e-11, abs=1e-300)


@pytest.mark.parametrize("family, p0, p1, dist", FAMILIES)
@pytest.mark.parametrize("pi", [1.0, 0.7, 0.05])
def test_cure_fraction_and_inverse(family, p0, p1, dist, pi):
    for s in DAYS:
        h = _h(family, p0, p1, pi, s)
        # mixture cure: F(s) = pi * F0(s)
        assert -math.expm1(-h) == pytest.approx(pi * dist.cdf(s), rel=1e-10, abs=1e-300)
        if h > 0:
            # compared on the hazard scale: far in the tail s itself is ill-conditioned
            back = inverse(family, p0, p1, pi, h)
            assert _h(family, p0, p1, pi, back) == pytest.approx(h, rel=1e-9)
            if dist.cdf(s) < 0.99:
                assert back == pytest.approx(s, rel=1e-8)
    if pi < 1:  # beyond the cure bound the event never happens
        bound = -math.log1p(-pi)
        assert inverse(family, p0, p1, pi, bound * (1 + 1e-12)) == math.inf
        assert inverse(family, p0, p1, pi, bound * 0.999) < math.inf


def test_piecewise_constant():
    h = [piece_cumhaz(PW_START, PW_RATE, 0, 3, s) for s in (5.0, 10.0, 30.0, 80.0)]
    assert h == pytest.approx([0.05, 0.1, 0.1 + 20 * 0.05, 0.1 + 2.0 + 30 * 0.002])
    for s in (5.0, 30.0, 80.0):
        y = piece_cumhaz(PW_START, PW_RATE, 0, 3, s)
        assert piece_inverse(PW_START, PW_RATE, 0, 3, y) == pytest.approx(s)


def test_fixed_day_is_a_left_continuous_step():
    assert _h(FIXED, 7.0, 0.0, 1.0, 7.0) == 0.0
    assert _h(FIXED, 7.0, 0.0, 1.0, 7.000001) == math.inf
    assert inverse(FIXED, 7.0, 0.0, 1.0, 3.0) == 7.0
    # with a susceptible share: fires at the day with that probability
    assert _h(FIXED, 7.0, 0.0, 0.3, 8.0) == pytest.approx(-math.log(0.7))


@pytest.mark.parametrize("family, p0, p1, dist", FAMILIES[:4])
def test_derivative_in_susceptible_fraction(family, p0, p1, dist):
    eps = 1e-6
    for s in (10.0, 100.0):
        numeric = (_h(family, p0, p1, 0.5 + eps, s) - _h(family, p0, p1, 0.5 - eps, s)) / (2 * eps)
        assert cumhaz_dpi(base_cumhaz(family, p0, p1, s), 0.5) == pytest.approx(numeric, rel=1e-6)


def test_lognormal_fast_path_equals_the_general_one():
    for pi in (0.05, 0.7):
        for s in DAYS:
            general = cure_cumhaz(base_cumhaz(LOGNORMAL, 3.7, 0.35, s), pi)
            assert cumhaz(LOGNORMAL, 3.7, 0.35, pi, s) == pytest.approx(general, rel=1e-13)


def test_normal_quantile_full_precision():
    p = np.concatenate([np.logspace(-300, -1, 400), np.linspace(0.1, 0.5, 200)])
    ours = np.array([norm_ppf_lower(x) for x in p])
    np.testing.assert_allclose(ours, ndtri(p), rtol=2e-15, atol=2e-15)
