"""The numba counts of a multi-state chunk equal the cohort's own numpy definitions
(state_at, transition_day, time_in_states) on paths with re-entered states and ties,
and do not depend on the thread count."""

import numpy as np
import pytest
import numba
from numba import get_num_threads, set_num_threads

from hsctsim import simulate
from hsctsim.analysis.occupation import chunk_counts
from hsctsim.model.mscohort import MultistateCohort
from hsctsim.model.scenario import load_scenario
from msm_data import relapse_cycle_model

CYCLE = relapse_cycle_model(
    "cycle", 1000, "reset", '{ family = "weibull", shape = 0.9, scale_day = 200.0 }',
    '{ family = "exponential", rate_per_day = 0.01 }',
    '{ family = "exponential", rate_per_day = 0.004 }',
    '{ family = "exponential", rate_per_day = 0.0005 }')


def _numpy_counts(cohort, days, horizon):
    state = cohort.state_at(days)
    occ = np.stack([(state == s).sum(axis=0) for s in range(len(cohort.states))], axis=1)
    moved = (cohort.transition_day()[:, None, :] <= days[None, :, None]).sum(axis=0)
    spent = cohort.time_in_states(horizon)
    return occ, moved, spent.sum(axis=0), (spent ** 2).sum(axis=0)


@pytest.mark.parametrize("horizon", [1000.0, 400.0])
def test_numba_counts_equal_the_cohort_definitions(tmp_path, horizon):
    path = tmp_path / "cycle.toml"
    path.write_text(CYCLE)
    cohort = simulate(load_scenario(str(path)), 20_000, seed=4)
    days = np.array([30.0, 365.0, 100.0, 1000.0, 0.0])          # any order
    want = _numpy_counts(cohort, days, horizon)
    got = chunk_counts(cohort, days, horizon)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-12)


def test_ties_and_a_hand_case(tmp_path):
    """Two transitions on the same day: the path (process order) decides, as the cohort."""
    path = tmp_path / "cycle.toml"
    path.write_text(CYCLE)
    scenario = load_scenario(str(path))
    names = MultistateCohort(np.zeros((1, 1)), scenario, 1, 1000.0, "t", {}).process_names
    days = np.full((2, len(names)), np.inf)
    days[0, names.index("remission->relapse")] = 10.0
    days[0, names.index("relapse->remission")] = 10.0    # the same day: back in remission
    days[1, names.index("remission->dead")] = 50.0
    cohort = MultistateCohort(days, scenario, 1, 1000.0, "t", {})
    at = np.array([5.0, 10.0, 60.0])
    occ, moved, tsum, tsq = chunk_counts(cohort, at, 1000.0)
    np.testing.assert_array_equal(occ, [[2, 0, 0], [2, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(occ, _numpy_counts(cohort, at, 1000.0)[0])
    # days in remission: 1000 (patient 0: 10 + 0 in relapse + 990) and 50; dead 950
    np.testing.assert_allclose(tsum, [1050.0, 0.0, 950.0])
    np.testing.assert_allclose(tsq, [1000.0 ** 2 + 50.0 ** 2, 0.0, 950.0 ** 2])
    assert moved[0].tolist() == [0, 0, 0, 0] and moved[1].tolist() == [1, 1, 0, 0]


def test_counts_do_not_depend_on_threads():
    cohort = simulate("ebmt4", 30_000, seed=2)
    days = np.array([30.0, 365.0, 3652.0])
    before = get_num_threads()
    try:
        set_num_threads(1)
        one = chunk_counts(cohort, days, 3652.0)
        set_num_threads(numba.config.NUMBA_NUM_THREADS)   # all there are
        many = chunk_counts(cohort, days, 3652.0)
    finally:
        set_num_threads(before)
    for a, b in zip(one, many):
        assert np.array_equal(a, b)
