"""Hazard tables (engine/tables.py, tabulate.py, ``simulate(tables=True)``,
``run --hazard-tables``).

Not bit for bit with the exact path: ``H`` and ``H^-1`` from polynomials within
1e-13 of the exact functions.  Checked here: the bit cast; the tabled values
against the exact ones at random points (within the tolerance) and outside the
tables (the exact ones, bit for bit); on four arms the same course for every
patient as the exact path, days within 1e-8; a closed-form distribution (a cured
log-normal); the distribution against the exact path from independent seeds;
thread and chunk invariance; calibration untouched; the option's errors and its
record.
"""

import json
import struct

import numpy as np
import pytest
from conftest import assert_user_error, assert_within_se, invoke
from numba import njit
from scipy import stats

import hsctsim
from hsctsim.engine.backend import Cpu, Tabled
from hsctsim.engine.kernel import process_values_into, seed_key, simulate_into
from hsctsim.engine.processes import Process, build
from hsctsim.engine.tables import (
    CUMHAZ_OCTAVES,
    INVERSE_OCTAVES,
    TABLE_TOLERANCE,
    float_bits,
    table_neglog,
    table_value,
)
from hsctsim.engine.tabulate import with_tables
from hsctsim.model.calibrate import calibrate
from hsctsim.model.hsct import engine_arrays
from hsctsim.sim.cohorts import scenario_point


@njit
def _bits(x):
    out = np.empty(x.size, np.uint64)
    for i in range(x.size):
        out[i] = float_bits(x[i])
    return out


@njit
def _hits(eng, q, which, v):
    """Share of ``v`` that the table evaluates (not NaN: no exact fallback)."""
    n = 0
    for x in v:
        n += not np.isnan(table_value(eng, q, which, x))
    return n / v.size


def _engines(arm):
    point = scenario_point(arm)
    eng = engine_arrays(point, calibrate(point))
    return eng, with_tables(eng)


def _values(eng, q, which, v):
    out = np.empty(v.size)
    process_values_into(eng, q, which, v, out)
    return out


def test_float_bits_compiled_as_in_python():
    x = np.array([0.0, -0.0, 1.0, 0.1, 2.0**-1074, 1e308, np.inf, -3.5])
    want = [struct.unpack("<Q", struct.pack("<d", v))[0] for v in x]
    assert _bits(x).tolist() == want == [float_bits(float(v)) for v in x]


@pytest.mark.parametrize("arm", ["ric", "haplo_nk", "rcc"])
def test_tabled_values_within_the_tolerance_of_the_exact_ones(arm):
    eng, tab = _engines(arm)
    rng = np.random.default_rng(7)
    tabled = np.flatnonzero(tab.tab_cells.any(axis=1))
    assert tabled.size >= 8  # every log-normal, Weibull, cured exponential and fixed one
    for q in tabled:
        top = np.log2(min(2.0**INVERSE_OCTAVES[1], eng.max_cumhaz[q]))
        for which, v in ((0, np.exp2(rng.uniform(*CUMHAZ_OCTAVES, 100_000))),
                         (1, np.exp2(rng.uniform(INVERSE_OCTAVES[0], top, 100_000)))):
            exact, fast = _values(eng, q, which, v), _values(tab, q, which, v)
            same = exact == fast
            rel = np.abs(fast[~same] - exact[~same]) / np.abs(exact[~same])
            assert rel.max(initial=0.0) <= TABLE_TOLERANCE, (q, which, rel.max())
            if tab.tab_cells[q, which]:  # and the table does the work in most of its range
                assert _hits(tab, q, which, v) > 0.5


@njit
def _neglog(eng, u):
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = table_neglog(eng, u[i])
    return out


def test_the_draws_log_within_the_tolerance():
    """``-log(u)`` for the uniforms the kernel draws, ``(k + 0.5) 2^-53``, ends included."""
    _, tab = _engines("ric")
    k = np.concatenate([np.random.default_rng(5).integers(0, 2**53, 500_000),
                        np.arange(64), 2**53 - 1 - np.arange(64)])
    u = (k.astype(np.float64) + 0.5) * 2.0**-53
    got = _neglog(tab, u)
    tabled = ~np.isnan(got)
    assert tabled.mean() > 0.98  # all but the top cell, u > 1 - 2^-6
    assert np.all(u[~tabled] > 1.0 - 2.0**-6)
    rel = np.abs(got[tabled] + np.log(u[tabled])) / -np.log(u[tabled])
    assert rel.max() <= TABLE_TOLERANCE
    assert np.isnan(_neglog(_engines("ric")[0], u[:10])).all()  # no tables: none


def test_outside_the_tables_the_exact_values_bit_for_bit():
    eng, tab = _engines("ric")
    for q in np.flatnonzero(tab.tab_cells[:, 0]):
        s = np.array([0.0, -1.0, 2.0**CUMHAZ_OCTAVES[0] / 3, 2.0**CUMHAZ_OCTAVES[1] * 1.5, np.inf])
        assert np.array_equal(_values(tab, q, 0, s), _values(eng, q, 0, s))
    for q in np.flatnonzero(tab.tab_cells[:, 1]):
        bound = eng.max_cumhaz[q]
        y = np.array([0.0, 2.0**INVERSE_OCTAVES[0] / 3, np.nextafter(bound, 0.0), bound,
                      bound * 1.01, np.inf])
        assert np.array_equal(_values(tab, q, 1, y), _values(eng, q, 1, y))


def test_a_cure_bound_below_every_cell_leaves_the_inverse_untabled():
    eng = build([Process("rare", "lognormal", (3.0, 0.5), susceptible=1e-9),
                 Process("often", "weibull", (1.3, 50.0), susceptible=0.6)])
    tab = with_tables(eng)
    assert tab.tab_cells[0].tolist()[1] == 0 and tab.tab_cells[1].all()
    y = np.array([1e-12, 5e-10, 2e-9])
    assert np.array_equal(_values(tab, 0, 1, y), _values(eng, 0, 1, y))


def test_a_fixed_day_with_a_cure_fraction_is_its_day_exactly():
    eng, tab = _engines("ric")
    names = hsctsim.simulate("ric", 1).process_names
    q = names.index("cgvhd_mod_sev")
    assert tab.tab_cells[q, 0] == 0 and tab.tab_cells[q, 1] > 0  # its inverse only
    y = np.linspace(1e-6, eng.max_cumhaz[q] * 0.999, 10_001)
    assert np.array_equal(_values(tab, q, 1, y), _values(eng, q, 1, y))


@pytest.mark.parametrize("arm", ["ric", "mac", "haplo_nk", "rcc", "ebmt4"])
def test_the_same_course_for_every_patient_as_the_exact_path(arm):
    n = 50_000
    exact = hsctsim.simulate(arm, n, seed=4).event_day
    fast = hsctsim.simulate(arm, n, seed=4, tables=True).event_day
    fired = np.isfinite(exact)
    assert np.array_equal(fired, np.isfinite(fast))  # every patient: the same events
    rel = np.abs(fast[fired] - exact[fired]) / np.maximum(exact[fired], 1e-300)
    assert rel.max() < 1e-8 and np.median(rel) < 1e-13


def test_a_cured_log_normal_has_its_closed_form_distribution():
    """One process alone: ``P(T <= t) = pi * Phi((log t - mu) / sigma)``, within 4 SE."""
    pi, mu, sigma, n = 0.6, np.log(100.0), 0.8, 200_000
    tab = with_tables(build([Process("event", "lognormal", (mu, sigma), susceptible=pi)]))
    out = np.empty((n, 1))
    simulate_into(tab, seed_key(9), 0, 1e6, out)
    days = np.array([10.0, 50.0, 100.0, 300.0, 2000.0])
    truth = pi * stats.norm.cdf((np.log(days) - mu) / sigma)
    assert_within_se((out[:, :1] <= days).mean(axis=0), truth, n)


def test_the_distribution_equals_the_exact_path_from_independent_seeds():
    """The share of patients with each event by each landmark: two independent cohorts."""
    n = 100_000
    a = hsctsim.simulate("ric", n, seed=11).event_day
    b = hsctsim.simulate("ric", n, seed=12, tables=True).event_day
    worst = 0.0
    for day in (30.0, 100.0, 365.0, 730.0):
        pa, pb = (a <= day).mean(axis=0), (b <= day).mean(axis=0)
        pooled = (pa + pb) / 2
        se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / n)
        worst = max(worst, float(np.max(np.abs(pa - pb) / se)))
    assert worst < 4.0, f"{worst:.2f} standard errors apart"


def test_the_same_cohort_whatever_the_threads_or_chunks():
    one = hsctsim.simulate("ric", 20_000, seed=3, threads=1, tables=True).event_day
    two = hsctsim.simulate("ric", 20_000, seed=3, threads=2, chunk_size=3_001,
                           tables=True).event_day
    assert np.array_equal(one, two)


def test_calibration_is_the_exact_paths():
    """``accrue`` (what calibration solves on) is exact, so a point's calibration is shared."""
    point = scenario_point("ric")
    eng = engine_arrays(point, calibrate(point))
    targets, landmarks = np.array([2, 8], np.int64), np.array([100.0, 548.0])
    got = {}
    for backend in (Cpu(), Tabled()):
        acc, dacc = np.empty((5_000, 2)), np.empty((5_000, 2))
        backend.accrue(eng, seed_key(1), targets, landmarks, acc, dacc)
        got[backend.record().get("hazards")] = (acc, dacc)
    assert all(np.array_equal(x, y) for x, y in zip(got[None], got["tables"]))
    assert Tabled() == "cpu"  # so the calibration cache key is the cpu's


def test_tables_run_on_the_cpu_only():
    with pytest.raises(ValueError, match="CPU backend only"):
        hsctsim.simulate("ebmt4", 10, batched=True, tables=True)
    assert_user_error(invoke("run", "ric", "-n", "10", "--hazard-tables", "--backend", "cuda"),
                      "--hazard-tables", "cpu")


def test_a_run_records_the_tables(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "ric", "-n", "2000", "--hazard-tables", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "hazard tables" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "cpu" and summary["hazards"] == "tables"
