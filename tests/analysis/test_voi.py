"""Value of information: EVPI, EVPPI (regression), EVSI of a pilot, ENBS.

Closed forms: a normal incremental net benefit (EVPI and EVPPI of a linear-Gaussian
model are ``E[max(0, X)] - max(0, mu)`` with ``X`` normal), a quadratic one
(by quadrature), and a beta-binomial pilot (the exact preposterior sum).
Tolerances: four Monte Carlo standard errors, plus a stated allowance for the
regression's own error where one is fitted.
"""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import betabinom, norm

from hsctsim.analysis.voi import (enbs, evpi, evpi_standard_error, evppi, evsi,
                                  fitted_values, population_factor, simulate_pilot)


def expected_positive_part(mu, sd):
    """E[max(0, X)] - max(0, mu), X ~ N(mu, sd^2)."""
    if sd == 0:
        return 0.0
    z = mu / sd
    return mu * norm.cdf(z) + sd * norm.pdf(z) - max(0.0, mu)


def linear_gaussian(n, mu, b1, b2, seed):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n, 2))
    inb = mu + b1 * theta[:, 0] + b2 * theta[:, 1]
    base = rng.normal(10_000, 500, n)  # the first arm's own noise cancels
    return np.column_stack([base, base + inb]), theta


@pytest.mark.parametrize("mu", [0.0, 300.0, -800.0])
def test_evpi_of_a_normal_incremental_net_benefit(mu):
    nb, _ = linear_gaussian(200_000, mu, 600.0, 800.0, seed=11)
    exact = expected_positive_part(mu, 1000.0)
    est = evpi(nb)
    se = evpi_standard_error(nb)
    # the sample mean of the incremental net benefit carries the choice too
    assert abs(est - exact) < 4 * se + abs(nb[:, 1].mean() - nb[:, 0].mean() - mu) + 1e-9


def test_evpi_over_a_grid_and_never_negative():
    nb = np.zeros((3, 100, 2))
    nb[:, :, 1] = 1.0
    assert np.all(evpi(nb) == 0.0)
    rng = np.random.default_rng(2)
    stacked = rng.normal(size=(4, 500, 3))
    assert np.allclose(evpi(stacked), [evpi(s) for s in stacked])


@pytest.mark.parametrize("mu", [0.0, 400.0])
def test_evppi_linear_gaussian_closed_form(mu):
    # INB = mu + 600 t1 + 800 t2: EVPPI(t1) = g(mu, 600), EVPPI(t2) = g(mu, 800),
    # EVPPI(t1, t2) = EVPI = g(mu, 1000)
    n = 4000
    nb, theta = linear_gaussian(n, mu, 600.0, 800.0, seed=5)
    for cols, sd in (([0], 600.0), ([1], 800.0), ([0, 1], 1000.0)):
        out = evppi(nb, theta[:, cols])
        exact = expected_positive_part(mu, sd)
        # allowance for the regression (a few per cent of the value) and for the
        # sample mean of the net benefit, which decides the arm chosen without data
        slack = 0.03 * exact + abs(nb[:, 1].mean() - nb[:, 0].mean() - mu) * 0.5
        assert abs(out["evppi"] - exact) < 4 * out["standard_error"] + slack, cols


def test_evppi_of_a_nonlinear_effect_by_quadrature():
    # INB = -300 + 400 t1^2 + 200 t2: EVPPI(t1) = E[max(0, -300 + 400 t1^2)] - max(0,
    # E[...]) = E[max(0, -300 + 400 t1^2)] - 100 (the mean is +100)
    n = 6000
    rng = np.random.default_rng(9)
    t = rng.standard_normal((n, 2))
    inb = -300 + 400 * t[:, 0] ** 2 + 200 * t[:, 1]
    nb = np.column_stack([np.zeros(n), inb])
    pos, _ = integrate.quad(lambda x: max(0.0, -300 + 400 * x * x) * norm.pdf(x), -12, 12,
                            points=[-math.sqrt(0.75), math.sqrt(0.75)], limit=200)
    exact = pos - 100.0
    out = evppi(nb, t[:, 0])
    slack = 0.05 * exact + abs(inb.mean() - 100.0)
    assert abs(out["evppi"] - exact) < 4 * out["standard_error"] + slack
    # a parameter with no effect has (close to) no value
    noise = rng.standard_normal(n)
    assert evppi(nb, noise)["evppi"] < 0.05 * evpi(nb)


def test_smoother_recovers_a_curve_and_an_additive_pair():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (3000, 2))
    truth = np.sin(2 * math.pi * x[:, 0]) + 4 * (x[:, 1] - 0.5) ** 2
    y = truth + rng.normal(0, 0.3, 3000)
    fit = fitted_values(y, x)
    assert np.sqrt(np.mean((fit - truth) ** 2)) < 0.06  # noise sd 0.3: a 5x reduction
    with pytest.raises(ValueError, match="draws"):
        fitted_values(y[:10], x[:10])


@pytest.mark.parametrize("n", [5, 20, 50])
def test_evsi_of_a_beta_binomial_pilot_exact_sum(n):
    # incidence p ~ Beta(6, 14) (mean 0.3); INB = 2000 - 8000 p (positive below 0.25):
    # EVSI = sum_x P(x) max(0, 2000 - 8000 E[p|x]) - max(0, 2000 - 8000 * 0.3),
    # E[p|x] = (6 + x) / (20 + n), x beta-binomial
    a, b = 6.0, 14.0
    draws = 40_000
    rng = np.random.default_rng(21)
    p = rng.beta(a, b, draws)
    nb = np.column_stack([np.zeros(draws), 2000 - 8000 * p])
    x = np.arange(n + 1)
    post = (a + x) / (a + b + n)
    exact = float(np.sum(betabinom.pmf(x, n, a, b) * np.maximum(0, 2000 - 8000 * post)))
    exact -= max(0.0, 2000 - 8000 * a / (a + b))
    out = evsi(nb, p, n, np.random.default_rng(22))
    slack = 0.04 * exact + 8000 * abs(p.mean() - 0.3)
    assert abs(out["evsi"] - exact) < 4 * out["standard_error"] + slack
    # EVSI is below EVPI (perfect information on p is all there is to learn here)
    assert out["evsi"] <= evpi(nb) + 4 * evpi_standard_error(nb)


def test_evsi_grows_with_the_pilot_and_two_arm_pilots():
    draws = 20_000
    rng = np.random.default_rng(4)
    p1, p2 = rng.beta(8, 12, draws), rng.beta(8, 12, draws)
    nb = np.column_stack([np.zeros(draws), 5000 * (p1 - p2)])
    values = [evsi(nb, np.column_stack([p1, p2]), n, np.random.default_rng(5))["evsi"]
              for n in (5, 20, 80)]
    assert values[0] < values[1] < values[2] < evpi(nb)


def test_simulated_pilot_and_bad_incidences():
    rng = np.random.default_rng(1)
    obs = simulate_pilot(np.full(100_000, 0.2), 10, rng)
    assert set(np.unique(obs)) <= {k / 10 for k in range(11)}
    assert abs(obs.mean() - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 10 / 100_000)
    with pytest.raises(ValueError, match="incidences"):
        simulate_pilot(np.array([0.5, 1.5]), 10, rng)


def test_population_factor_and_enbs_closed_forms():
    # a geometric sum: 100 a year for 10 years at 3.5%
    assert population_factor(100, 10, 0.035) == pytest.approx(
        100 * (1 - 1.035**-10) / (1 - 1 / 1.035))
    assert population_factor(100, 2.5, 0.0) == pytest.approx(250)
    assert population_factor(50, 0, 0.03) == 0
    with pytest.raises(ValueError):
        population_factor(-1, 10)
    out = enbs([1000.0, 1500.0], [10, 20], fixed_cost=200.0, cost_per_patient=10.0,
               arms_enrolled=2)
    assert list(out) == [1000 - 200 - 200, 1500 - 200 - 400]


def test_nested_pilots_match_the_beta_binomial_sums_at_every_size():
    from hsctsim.analysis.voi import evsi_by_size

    a, b = 6.0, 14.0
    draws = 40_000
    rng = np.random.default_rng(31)
    p = rng.beta(a, b, draws)
    nb = np.column_stack([np.zeros(draws), 2000 - 8000 * p])
    sizes = [50, 5, 20]  # any order
    out = evsi_by_size(nb, p, sizes, np.random.default_rng(32))
    for n, o in zip(sizes, out):
        x = np.arange(n + 1)
        post = (a + x) / (a + b + n)
        exact = float(np.sum(betabinom.pmf(x, n, a, b) * np.maximum(0, 2000 - 8000 * post)))
        exact -= max(0.0, 2000 - 8000 * a / (a + b))
        slack = 0.04 * exact + 8000 * abs(p.mean() - 0.3)
        assert abs(o["evsi"] - exact) < 4 * o["standard_error"] + slack, n
    by_size = dict(zip(sizes, (o["evsi"] for o in out)))
    assert by_size[5] < by_size[20] < by_size[50]
