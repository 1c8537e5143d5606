"""The engine's kernel: analytic answers, the plain-Python reference, reproducibility."""

import math

import numba
import numpy as np
import pytest
from scipy import integrate

from conftest import assert_within_se
from hsctsim.engine import reference
from hsctsim.api import scenario_point
from hsctsim.model.calibrate import calibrate
from hsctsim.engine.processes import BOUND_STEPS, Process, build, queue_length
from hsctsim.engine.hazards import inverse
from hsctsim.engine.kernel import seed_key, simulate_into
from hsctsim.model.hsct import engine_arrays

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
    ("loglogistic", (2.2, 45.0)),
    ("gompertz", (0.01, 0.002)),
    ("piecewise", ((0.0, 10.0, 50.0), (0.01, 0.05, 0.002))),
])
def test_single_process_with_cure_fraction(family, params):
    from hsctsim.engine.hazards import FAMILY_CODES, cumhaz, cure_cumhaz, piece_cumhaz

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
    from hsctsim.engine.hazards import EXPONENTIAL, cumhaz

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



def test_a_tie_goes_to_the_lowest_index_whatever_opened_first():
    # "y" is live from day 0, "x" only from day 5: both would fire on day 10, and the
    # lower index wins, however the kernel keeps its list of live processes
    processes = [Process("x", "fixed", (10.0,), at_start=False, terminal=True),
                 Process("y", "fixed", (10.0,), terminal=True),
                 Process("opener", "fixed", (5.0,), opens=("x",))]
    out = run(processes, n=100)
    assert np.all(out[:, 0] == 10.0) and np.all(np.isinf(out[:, 1])) and np.all(out[:, 2] == 5.0)
    assert reference.simulate(build(processes), seed_key(1), 20, 1e6) == out[:20].tolist()


def test_queue_length_counts_the_opening_and_each_multiplying_event():
    # "target" is multiplied by a, b and c (c also by 1.0: no rescaling), closed by d
    eng = build([
        Process("target", "exponential", (0.01,)),
        Process("a", "exponential", (0.01,), multiplies={"target": 2.0}),
        Process("b", "exponential", (0.01,), multiplies={"target": 0.5}),
        Process("c", "exponential", (0.01,), multiplies={"target": 1.0}),
        Process("d", "exponential", (0.01,), closes=("target",)),
        Process("e", "exponential", (0.01,), multiplies={"a": 3.0}),
    ])
    assert queue_length(eng) == 3  # its opening, a and b
    assert queue_length(build([Process("alone", "exponential", (0.01,))])) == 1

FAMILIES = [
    Process("ln", "lognormal", (4.0, 1.3), susceptible=0.6),
    Process("ln_all", "lognormal", (5.0, 0.7)),
    Process("wb", "weibull", (0.7, 300.0), susceptible=0.1),
    Process("wb_all", "weibull", (1.8, 40.0)),
    Process("ex", "exponential", (0.004,), susceptible=0.95),
    Process("gz", "gompertz", (-0.01, 0.02)),  # falling hazard: a cure of its own
    Process("pw", "piecewise", ((0.0, 10.0, 50.0), (0.01, 0.0, 0.002)), susceptible=0.8),
    Process("fx", "fixed", (28.0,), susceptible=0.3),
    Process("ll", "loglogistic", (1.8, 90.0), susceptible=0.7),
]


def test_day_bounds_never_exceed_the_event_day():
    """The kernel inverts lazily, ranking processes by these bounds: each must hold."""
    eng = build(FAMILIES)
    rng = np.random.default_rng(0)
    for q, p in enumerate(FAMILIES):
        top = min(eng.max_cumhaz[q], 40.0)
        y = np.r_[rng.uniform(0.0, top, 2000), np.linspace(0.0, top, BOUND_STEPS + 1)[1:-1],
                  top * (1 - 1e-15)]
        cell = np.minimum((y * eng.bound_scale[q]).astype(int), BOUND_STEPS)
        if p.family == "piecewise":
            day = [reference._Hazard(eng, q).inverse(v) for v in y]
        else:
            day = [inverse(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q], v)
                   for v in y]
        assert np.all(eng.bound_day[q, cell] <= np.array(day) * (1 + 1e-12)), p.name


def test_kernel_equals_reference_on_a_tangled_engine():
    """Every family, openings late on a running clock (one of them a fixed day
    already past: never fires), hazards raised and lowered repeatedly (queued
    rescalings), closes, and two events on the same day."""
    procs = [
        Process("a", "lognormal", (3.5, 1.0), 0.9, opens=("b", "g"),
                multiplies={"c": 3.0, "d": 0.5, "e": 2.0}),
        Process("b", "weibull", (1.3, 60.0), 0.7, at_start=False,
                multiplies={"c": 0.2, "d": 4.0, "e": 1.5}, closes=("f",)),
        Process("c", "piecewise", ((0.0, 30.0, 90.0), (0.002, 0.0, 0.004)), 0.8,
                opens=("k",), multiplies={"e": 0.3}),
        Process("d", "gompertz", (0.002, 0.001), 0.5, terminal=True),
        Process("e", "exponential", (0.003,), 0.6, terminal=True),
        Process("f", "lognormal", (5.0, 0.5), multiplies={"d": 2.0}),
        Process("g", "fixed", (40.0,), at_start=False, multiplies={"e": 5.0}),
        Process("h", "fixed", (40.0,), multiplies={"e": 0.1, "c": 2.0}),
        Process("k", "weibull", (0.8, 200.0), 0.3, at_start=False, clock_reset=True),
        Process("m", "loglogistic", (1.6, 400.0), 0.5, multiplies={"d": 1.5}),
    ]
    eng = build(procs)
    key, n = seed_key(5), 3000
    out = np.empty((n, len(procs)))
    simulate_into(eng, key, 0, 1500.0, out)
    ref = np.array(reference.simulate(eng, key, n, 1500.0))
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(ref))
    finite = np.isfinite(out)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-10, atol=1e-10)
    assert finite.sum(axis=0).min() > 20  # every process fires in some patients


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
