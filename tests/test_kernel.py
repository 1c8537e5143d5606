"""The engine's kernel: analytic answers, the plain-Python reference, reproducibility."""

import math

import numba
import numpy as np
import pytest
from scipy import integrate

from conftest import assert_within_se
from hsctsim import reference
from hsctsim.api import scenario_point
from hsctsim.calibrate import calibrate
from hsctsim.engine import Process, build
from hsctsim.kernel import seed_key, simulate_into
from hsctsim.model import engine_arrays

N = 200_000


def run(processes, n=N, seed=1, horizon=1e6, first_patient=0):
    eng = build(processes)
    out = np.empty((n, len(processes)))
    simulate_into(eng, seed_key(seed), first_patient, horizon, out)
    return out


def test_exponential_competing_risks():
    a, b = 0.01, 0.03
    out = run([Process("a", "exponential", (a,), terminal=True),
               Process("b", "exponential", (b,), terminal=True)])
    days = np.array([10.0, 30.0, 100.0])
    for col, rate in ((0, a), (1, b)):
        truth = rate / (a + b) * (1 - np.exp(-(a + b) * days))
        assert_within_se([(out[:, col] <= d).mean() for d in days], truth, N)
    assert not np.any(np.isfinite(out[:, 0]) & np.isfinite(out[:, 1]))


def test_weibull_competing_risks():
    k1, s1, k2, s2 = 1.5, 80.0, 0.7, 300.0
    out = run([Process("a", "weibull", (k1, s1), terminal=True),
               Process("b", "weibull", (k2, s2), terminal=True)])

    def density_a(t):
        return k1 / s1 * (t / s1) ** (k1 - 1) * math.exp(-(t / s1) ** k1 - (t / s2) ** k2)

    days = [20.0, 60.0, 150.0]
    truth = [integrate.quad(density_a, 0, d)[0] for d in days]
    assert_within_se([(out[:, 0] <= d).mean() for d in days], truth, N)


@pytest.mark.parametrize("family, params", [
    ("lognormal", (math.log(41.0), 0.35)),
    ("gompertz", (0.01, 0.002)),
    ("piecewise", ((0.0, 10.0, 50.0), (0.01, 0.05, 0.002))),
])
def test_single_process_with_cure_fraction(family, params):
    from hsctsim.hazards import FAMILY_CODES, cumhaz, cure_cumhaz, piece_cumhaz

    pi = 0.6
    out = run([Process("a", family, params, susceptible=pi)])

    def H(d):  # the hazards module's own functions, not the kernel's in-place pieces
        if family == "piecewise":
            starts, rates = map(np.array, params)
            return cure_cumhaz(piece_cumhaz(starts, rates, 0, len(starts), d), pi)
        return cumhaz(FAMILY_CODES[family], *params, pi, d)

    days = [5.0, 20.0, 41.0, 80.0, 400.0]
    truth = [1 - math.exp(-H(d)) for d in days]
    assert_within_se([(out[:, 0] <= d).mean() for d in days], truth, N)
    assert truth[-1] <= pi


def test_illness_death_multiplier():
    """A (rate a) multiplies the hazard of death B (rate b) by f from A's time on."""
    a, b, f = 0.02, 0.005, 4.0
    out = run([Process("ill", "exponential", (a,), multiplies={"death": f}),
               Process("death", "exponential", (b,), terminal=True)])

    def survival(t):
        healthy = math.exp(-(a + b) * t)
        via_ill = integrate.quad(lambda s: a * math.exp(-(a + b) * s - f * b * (t - s)), 0, t)[0]
        return healthy + via_ill

    days = [10.0, 50.0, 150.0, 400.0]
    truth = [1 - survival(d) for d in days]
    assert_within_se([(out[:, 1] <= d).mean() for d in days], truth, N)


def test_multiplier_lowering_a_cured_process_then_raising_it():
    """A budget beyond the cure bound must come back when the hazard rises again."""
    out = run([Process("down", "fixed", (10.0,), multiplies={"x": 0.25}),
               Process("up", "fixed", (20.0,), multiplies={"x": 16.0}),
               Process("x", "exponential", (0.01,), susceptible=0.3)])
    # H(t) = -log(1 - 0.3 (1 - exp(-0.01 t))), multiplied by 1, 0.25, then 4 overall
    from hsctsim.hazards import EXPONENTIAL, cumhaz

    def H(t):
        return cumhaz(EXPONENTIAL, 0.01, 0.0, 0.3, t)

    def total(t):
        if t <= 10:
            return H(t)
        if t <= 20:
            return H(10) + 0.25 * (H(t) - H(10))
        return H(10) + 0.25 * (H(20) - H(10)) + 4.0 * (H(t) - H(20))

    days = [5.0, 15.0, 60.0, 5000.0]
    assert_within_se([(out[:, 2] <= d).mean() for d in days],
                     [1 - math.exp(-total(d)) for d in days], N)


def test_opens_closes_clock_reset_and_entry_multiplier():
    a, c, d, r = 0.01, 0.02, 5.0, 3.0
    out = run([
        Process("a", "exponential", (a,), opens=("delayed", "after"), closes=("closed",)),
        Process("delayed", "fixed", (d,), at_start=False, clock_reset=True),
        Process("after", "exponential", (c,), at_start=False, clock_reset=True,
                entry_multiplier=((0.0, 1.0), (100.0, r))),
        Process("closed", "exponential", (0.001,)),
    ])
    ta, delayed, after, closed = out.T
    np.testing.assert_allclose(delayed[np.isfinite(ta)] - ta[np.isfinite(ta)], d, atol=1e-9)
    assert not np.any(np.isfinite(closed) & (closed > ta))
    early, late = ta < 100, ta >= 100
    for mask, rate in ((early, c), (late, c * r)):
        duration = after[mask] - ta[mask]
        # exponential durations: mean 1/rate, within 4 standard errors
        assert abs(duration.mean() * rate - 1) < 4 / math.sqrt(mask.sum())


@pytest.fixture(scope="module", params=["mac", "haplo_nk", "mst"])
def arm_engine(request):
    point = scenario_point(request.param)
    return engine_arrays(point, calibrate(point))


def test_kernel_equals_reference(arm_engine):
    key, n = seed_key(11), 1500
    out = np.empty((n, len(arm_engine.family)))
    simulate_into(arm_engine, key, 0, 2000.0, out)
    ref = np.array(reference.simulate(arm_engine, key, n, 2000.0))
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(ref))
    finite = np.isfinite(out)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-10, atol=1e-10)


def test_same_cohort_whatever_threads_and_chunks(arm_engine):
    key, n = seed_key(3), 50_000
    results = []
    for threads, chunk in ((1, n), (2, n), (2, 777), (1, 12_345)):
        out = np.empty((n, len(arm_engine.family)))
        before = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            for start in range(0, n, chunk):
                simulate_into(arm_engine, key, start, 730.0, out[start:start + chunk])
        finally:
            numba.set_num_threads(before)
        results.append(out)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_seeds_differ_and_repeat():
    procs = [Process("a", "exponential", (0.01,))]
    np.testing.assert_array_equal(run(procs, 1000, seed=5), run(procs, 1000, seed=5))
    assert not np.array_equal(run(procs, 1000, seed=5), run(procs, 1000, seed=6))
    # a patient's course depends on its global index only
    np.testing.assert_array_equal(run(procs, 1000, seed=5)[500:],
                                  run(procs, 500, seed=5, first_patient=500))
