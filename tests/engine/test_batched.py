"""Batched draws with vectorised log and exp (engine/batched.py, ``simulate(batched=True)``).

Not bit for bit: the same random draws with another log and exp.  Checked here:
the polynomial log and exp against libm (a few ulps); on ebmt4 the same course
for every patient as the exact path, with days within 1e-13; the distribution
against the exact path from independent seeds (state occupation, within Monte
Carlo standard errors); a closed-form answer (illness-death); chunk and thread
invariance; covariate strata; and a one-line ValueError for what it cannot run.
"""

import math

import numpy as np
import pytest
from numba import njit

import hsctsim
from conftest import assert_within_se
from hsctsim.engine.batched import vec_exp, vec_log
from hsctsim.model.scenario import load_scenario
from msm_data import relapse_cycle_model


@njit
def _log(x):
    out = np.empty(x.size)
    vec_log(x, x.size, np.empty(x.size, np.uint64), np.empty(x.size, np.uint64), out)
    return out


@njit
def _exp(x):
    out = np.empty(x.size)
    vec_exp(x, x.size, np.empty(x.size), np.empty(x.size, np.uint64), out)
    return out


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_log_and_exp_within_a_few_ulps_of_libm():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-700.0, 700.0, 200_000)),
                        rng.uniform(0.5, 2.0, 200_000), 1.0 + rng.uniform(-1e-9, 1e-9, 10_000),
                        # the uniforms the kernel draws reach 2^-54 and 1 - 2^-54
                        np.array([2.0**-54, 1.0 - 2.0**-53, 1.0, 2.0, math.sqrt(2.0)])])
    assert _ulps(_log(x), np.log(x)).max() <= 3.0
    y = np.concatenate([rng.uniform(-708.0, 709.7, 200_000), rng.uniform(-1.0, 1.0, 200_000),
                        rng.uniform(-1e-9, 1e-9, 10_000), np.array([0.0, -707.9, 709.78])])
    assert _ulps(_exp(y), np.exp(y)).max() <= 3.0
    edge = _exp(np.array([709.8, 710.0, 1e6, -708.5, -1e6]))
    assert np.array_equal(edge, [np.inf, np.inf, np.inf, 0.0, 0.0])


def test_ebmt4_same_courses_as_the_exact_path():
    n = 100_000
    exact = hsctsim.simulate("ebmt4", n, seed=4).event_day
    fast = hsctsim.simulate("ebmt4", n, seed=4, batched=True).event_day
    fired = np.isfinite(exact)
    assert np.array_equal(fired, np.isfinite(fast))  # every patient: the same transitions
    rel = np.abs(fast[fired] - exact[fired]) / exact[fired]
    assert rel.max() < 1e-13 and fired.sum() > n  # and busy: most patients move


def test_ebmt4_distribution_equals_the_exact_path_from_independent_seeds():
    """Occupation of each state at landmarks: two independent cohorts, a two-sample test."""
    n = 100_000
    a = hsctsim.simulate("ebmt4", n, seed=11)
    b = hsctsim.simulate("ebmt4", n, seed=12, batched=True)
    days = [30.0, 180.0, 365.0, 1825.0, 3652.0]
    sa, sb = a.state_at(days), b.state_at(days)
    worst = 0.0
    for k in range(len(a.states)):
        pa, pb = (sa == k).mean(axis=0), (sb == k).mean(axis=0)
        pooled = (pa + pb) / 2
        se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / n)
        worst = max(worst, float(np.max(np.abs(pa - pb) / se)))
    assert worst < 4.0, f"{worst:.2f} standard errors apart"


IDM = """
kind = "multistate"
name = "idm"
horizon_days = 400
clock = "reset"
[states]
names = ["healthy", "ill", "dead"]
absorbing = ["dead"]
[covariates.risk]
levels = [0, 1]
shares = [0.5, 0.5]
source = "test"
[[transitions]]
from = "healthy"
to = "ill"
timing = { family = "exponential", rate_per_day = 0.01 }
log_hr = { risk = 0.4 }
source = "test"
[[transitions]]
from = "healthy"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.004 }
source = "test"
[[transitions]]
from = "ill"
to = "dead"
timing = { family = "weibull", shape = 1.0, scale_day = 50.0 }
source = "test"
"""


def test_illness_death_against_the_closed_form(tmp_path):
    """Exponential healthy->ill (a), healthy->dead (b), ill->dead (c) by risk stratum."""
    path = tmp_path / "idm.toml"
    path.write_text(IDM)
    s = load_scenario(path)
    n = 100_000
    cohort = hsctsim.simulate(s, n, seed=6, batched=True)
    days = np.array([30.0, 100.0, 300.0])
    state = cohort.state_at(days)
    risk = cohort.covariates["risk"]
    b, c = 0.004, 1.0 / 50.0
    for level in (0.0, 1.0):
        a = 0.01 * math.exp(0.4 * level)
        rows = risk == level
        healthy = np.exp(-(a + b) * days)
        ill = a / (a + b - c) * (np.exp(-c * days) - np.exp(-(a + b) * days))
        for k, truth in enumerate([healthy, ill]):
            assert_within_se((state[rows] == k).mean(axis=0), truth, rows.sum())
    # the same cohort whatever the chunks and threads (each patient on its own)
    again = hsctsim.simulate(s, n, seed=6, batched=True, chunk_size=33_333, threads=1)
    np.testing.assert_array_equal(again.event_day, cohort.event_day)
    exact = hsctsim.simulate(s, n, seed=6)
    fired = np.isfinite(exact.event_day)
    assert np.array_equal(fired, np.isfinite(cohort.event_day))


@pytest.mark.parametrize("edit, words", [
    (('timing = { family = "weibull", shape = 1.0, scale_day = 50.0 }',
      'timing = { family = "lognormal", median_day = 50.0, sigma = 1.0 }'),
     "Weibull and exponential"),
    (('source = "test"\n[[transitions]]\nfrom = "ill"',
      'source = "test"\ncure_fraction = 0.2\n[[transitions]]\nfrom = "ill"'),
     "cure fraction"),
    (('clock = "reset"', 'clock = "forward"'), 'clock = "reset"'),
])
def test_what_it_cannot_run_is_a_one_line_error(tmp_path, edit, words):
    assert edit[0] in IDM
    path = tmp_path / "idm.toml"
    path.write_text(IDM.replace(edit[0], edit[1], 1))
    with pytest.raises(ValueError) as info:
        hsctsim.simulate(load_scenario(path), 100, seed=1, batched=True)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and words in message, message


def test_hsct_arms_refuse_batched():
    with pytest.raises(ValueError, match="plain multi-state models only"):
        hsctsim.simulate("ric", 100, seed=1, batched=True)


RELAPSING = relapse_cycle_model(
    "relapsing", 1500, "reset", '{ family = "weibull", shape = 0.7, scale_day = 300.0 }',
    '{ family = "exponential", rate_per_day = 0.02 }',
    '{ family = "weibull", shape = 1.2, scale_day = 400.0 }',
    '{ family = "weibull", shape = 0.9, scale_day = 4000.0 }')


def test_reentered_states_same_courses_as_the_exact_path(tmp_path):
    path = tmp_path / "relapsing.toml"
    path.write_text(RELAPSING)
    s = load_scenario(path)
    n = 50_000
    exact = hsctsim.simulate(s, n, seed=3).event_day
    fast = hsctsim.simulate(s, n, seed=3, batched=True).event_day
    fired = np.isfinite(exact)
    assert np.array_equal(fired, np.isfinite(fast))
    assert np.max(np.abs(fast[fired] - exact[fired]) / exact[fired]) < 1e-13
    assert fired.sum(axis=1).max() >= 5  # visits beyond the first are drawn too
