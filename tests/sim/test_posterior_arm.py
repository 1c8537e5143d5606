"""Posterior calibration of a real arm, end to end, at tiny sizes.

Known answers: a target that is one of the arm's configured incidences is held by
the calibration for every parameter set, so its simulated value sits at the
configured incidence within the Monte Carlo error of the simulated patients; every
stored set's susceptible fractions are its own calibration (solving it again gives
them back); and the same seed gives the same posterior with one thread or two.
"""

import math

import numpy as np
import pytest

from hsctsim.model.calibrate import calibrate
from hsctsim.model.scenario import load_scenario
from hsctsim.sim.posterior import calibrate_arm

N = 2000
SIZES = dict(n_sets=30, n_patients=N, calibration_patients=N, n0=30, batch=15,
             max_iterations=1, seed=11)


@pytest.fixture(scope="module")
def ric():
    return calibrate_arm("ric", threads=1, **SIZES)


def test_targets_held_and_informative(ric):
    held = {t["label"]: t["held_by_calibration"] for t in ric.targets}
    assert held == {"trm d548": False, "relapse d548": True, "trm d1461": True,
                    "os d548": False, "rfs d548": False}
    for t in ric.targets:
        if t["held_by_calibration"]:
            se = math.sqrt(t["estimate"] * (1 - t["estimate"]) / N)
            assert abs(t["posterior_model"][1] - t["estimate"]) < 4 * se, t
        low, high = t["posterior_predictive"]
        assert low < high and t["inside_posterior_predictive"] == (low <= t["estimate"] <= high)


def test_sets_carry_their_own_calibration(ric):
    scenario = load_scenario("ric")
    assert ric.values.shape == (30, len(ric.keys))
    for row, susceptible in list(zip(ric.values, ric.susceptible))[:3]:
        point = scenario.with_values(dict(zip(ric.keys, row.tolist())))
        start = calibrate(scenario.at_midpoints(), N, use_cache=False)
        assert calibrate(point, N, use_cache=False, start=start) == susceptible
    for i, r in enumerate(ric.ranges):  # inside each prior's support
        if r.distribution == "uniform":
            assert np.all((ric.values[:, i] >= r.low) & (ric.values[:, i] <= r.high))
    d = ric.diagnostics
    assert d["evaluations"] == 30 + 15 * d["iterations"] and 0 < d["ess"] <= d["evaluations"]


def test_same_seed_same_posterior_whatever_the_threads(ric):
    again = calibrate_arm("ric", threads=2, **SIZES)
    assert np.array_equal(again.values, ric.values)
    assert again.susceptible == ric.susceptible and again.targets == ric.targets
