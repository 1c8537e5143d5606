"""The plain competing-risks kernel (engine/plain.py): the general kernel's cohort, bit for bit.

Plain multi-state scenarios are simulated by :func:`simulate_plain_into`; its
known answers are those of ``tests/test_multistate.py`` (closed-form
illness-death, the Markov solution of re-entered states, covariate hazard
ratios), which run through it.  Here: it gives the general kernel's cohort bit
for bit on every family, cure fractions, both clocks, re-entered states, a visit
reached from two states, covariate strata and the horizon; and
:func:`is_plain` refuses the engines it would get wrong.
"""

import numpy as np
import pytest

import hsctsim
from hsctsim.engine.kernel import seed_key, simulate_into, simulate_patients_into
from hsctsim.engine.plain import (is_plain, simulate_plain_into,
                                  simulate_plain_patients_into)
from hsctsim.engine.processes import Process, build
from hsctsim.model import multistate
from hsctsim.model.scenario import load_scenario
from msm_data import relapse_cycle_model

# start -> {x, y, dead}; x -> {z, dead}; y -> {z, dead}; z -> {dead, gone}:
# z is entered from two states, so its transitions are opened by two events
DIAMOND = """
kind = "multistate"
name = "diamond"
horizon_days = {horizon}
clock = "{clock}"
[states]
names = ["start", "x", "y", "z", "dead", "gone"]
absorbing = ["dead", "gone"]
[covariates.risk]
levels = [0, 1]
shares = [0.6, 0.4]
source = "test"
[[transitions]]
from = "start"
to = "x"
timing = {{ family = "weibull", shape = 0.45, scale_day = 500.0 }}
source = "test"
[[transitions]]
from = "start"
to = "y"
timing = {{ family = "lognormal", median_day = 60.0, sigma = 1.1 }}
cure_fraction = 0.4
log_hr = {{ risk = 0.5 }}
source = "test"
[[transitions]]
from = "start"
to = "dead"
timing = {{ family = "weibull", shape = 1.3, scale_day = 3000.0 }}
cure_fraction = 0.2
source = "test"
[[transitions]]
from = "x"
to = "z"
timing = {{ family = "gompertz", shape = 0.002, rate_per_day = 0.001 }}
source = "test"
[[transitions]]
from = "x"
to = "dead"
timing = {{ family = "exponential", rate_per_day = 0.0007 }}
log_hr = {{ risk = -0.3 }}
source = "test"
[[transitions]]
from = "y"
to = "z"
timing = {{ family = "loglogistic", shape = 1.5, scale_day = 200.0 }}
source = "test"
[[transitions]]
from = "y"
to = "dead"
timing = {{ family = "piecewise", breaks_day = [0.0, 30.0, 365.0], rates_per_day = [0.004, 0.0005, 0.0001] }}
source = "test"
[[transitions]]
from = "z"
to = "dead"
timing = {{ family = "weibull", shape = 0.8, scale_day = 900.0 }}
source = "test"
[[transitions]]
from = "z"
to = "gone"
timing = {{ family = "weibull", shape = 2.0, scale_day = 1500.0 }}
source = "test"
"""

# a template for _scenario: {clock} is filled in there, so the braces are doubled
RELAPSING = relapse_cycle_model(
    "relapsing", 1500, "{clock}",
    '{{ family = "weibull", shape = 0.7, scale_day = 300.0 }}',
    '{{ family = "exponential", rate_per_day = 0.02 }}',
    '{{ family = "weibull", shape = 1.2, scale_day = 400.0 }}',
    '{{ family = "lognormal", median_day = 2000.0, sigma = 1.5 }}\ncure_fraction = 0.5')

N = 20_000


def _scenario(tmp_path, text, **fields):
    path = tmp_path / "model.toml"
    path.write_text(text.format(**fields))
    return load_scenario(path)


def _general_path(monkeypatch):
    from hsctsim.engine import backend  # where the CPU backend picks its kernel

    monkeypatch.setattr(backend, "is_plain", lambda eng: False)


@pytest.mark.parametrize("clock", ["reset", "forward"])
@pytest.mark.parametrize("horizon", [90, 3650])
def test_plain_equals_general_on_every_family_and_strata(tmp_path, monkeypatch, clock, horizon):
    s = _scenario(tmp_path, DIAMOND, clock=clock, horizon=horizon)
    plain = hsctsim.simulate(s, N, seed=5)
    for _, eng in multistate.stratum_engines(s, plain.covariates, N):
        assert is_plain(eng)
    _general_path(monkeypatch)
    general = hsctsim.simulate(s, N, seed=5)
    np.testing.assert_array_equal(plain.event_day, general.event_day)
    # busy enough for the check to mean something: every transition fires in ten years,
    # and the short horizon cuts courses
    fired = np.isfinite(plain.event_day)
    assert np.isfinite(plain.event_day).sum(axis=1).max() >= 3
    if horizon > 3000:
        assert fired.sum(axis=0).min() > 50
    else:
        assert plain.event_day[fired].max() <= horizon and 0 < fired.sum(axis=1).mean() < 1


@pytest.mark.parametrize("clock", ["reset", "forward"])
def test_plain_equals_general_with_reentered_states(tmp_path, clock):
    s = _scenario(tmp_path, RELAPSING, clock=clock)
    eng = build(multistate.processes(s))
    assert is_plain(eng)
    key, horizon = seed_key(8), float(s.horizon_days)
    general, plain = np.empty((N, len(eng.family))), np.empty((N, len(eng.family)))
    simulate_into(eng, key, 100, horizon, general)
    simulate_plain_into(eng, key, 100, horizon, plain)
    np.testing.assert_array_equal(plain, general)
    assert np.isfinite(plain).sum(axis=1).max() >= 5  # relapses again and again
    patients = np.array([7, 3, 19_999, 0, 123_456], np.int64)
    a, b = np.empty((5, len(eng.family))), np.empty((5, len(eng.family)))
    simulate_patients_into(eng, key, patients, horizon, a)
    simulate_plain_patients_into(eng, key, patients, horizon, b)
    np.testing.assert_array_equal(b, a)


def test_ebmt4_takes_the_plain_path_and_gives_the_same_cohort(monkeypatch):
    s = load_scenario("ebmt4")
    assert is_plain(build(multistate.processes(s)))
    plain = hsctsim.simulate(s, N, seed=2)
    _general_path(monkeypatch)
    np.testing.assert_array_equal(plain.event_day, hsctsim.simulate(s, N, seed=2).event_day)


def _p(name, **kw):
    return Process(name, "exponential", (0.01,), **kw)


@pytest.mark.parametrize("processes, why", [
    ([_p("a", closes=("b",), multiplies={"b": 2.0}), _p("b", closes=("a",))],
     "an event multiplies a hazard"),
    ([_p("a", opens=("b",)), _p("b", at_start=False, opens=("a",))],
     "a group would open twice (a cycle)"),
    ([_p("a"), _p("b")], "an event leaves the rest of its group open"),
    ([_p("a", closes=("b", "c")), _p("b", closes=("a",), opens=("c",)),
      _p("c", at_start=False)], "an event closes a process of another group"),
    ([_p("a", closes=("b",), opens=("c", "d")), _p("b", closes=("a",), opens=("c",)),
      _p("c", at_start=False, closes=("d",)), _p("d", at_start=False, closes=("c",))],
     "two groups share a process"),
])
def test_is_plain_refuses_what_the_plain_kernel_would_get_wrong(processes, why):
    assert not is_plain(build(processes)), why


def test_is_plain_refuses_the_hsct_arms():
    from hsctsim.api import scenario_point
    from hsctsim.model.calibrate import calibrate
    from hsctsim.model.hsct import engine_arrays

    point = scenario_point("ric")
    assert not is_plain(engine_arrays(point, calibrate(point)))


@pytest.mark.parametrize("name", ["plain", "batched"])
def test_cached_kernels_are_keyed_on_the_engine(name):
    """As tests/test_jitcache.py checks for kernel.py: an edit to hazards.py recompiles them."""
    import importlib

    from hsctsim.engine.jitcache import engine_digest

    module = importlib.import_module(f"hsctsim.engine.{name}")
    own = [v for v in vars(module).values()
           if getattr(v, "py_func", None) is not None and v.py_func.__module__ == module.__name__]
    stamps = [getattr(getattr(v._cache, "_cache_file", None), "_source_stamp", None) for v in own]
    if any(s is None for s in stamps):
        pytest.skip("numba's cache internals moved: the engine-wide cache key is inactive")
    assert own and all(s[1] == engine_digest() for s in stamps)
