"""The O(n) landmark counts equal the obvious ones (sort and compare), bit for bit."""

from dataclasses import replace

import numpy as np
import pytest

import hsctsim
from hsctsim.analysis.endpoints import ENDPOINTS, PairedTally, Tally, endpoint_day
from hsctsim.model.cohort import CHIMERISM_STATES
from hsctsim.model.hsct import PROCESS_NAMES

DAYS = (30, 100, 180, 365, 730)


def naive_counts(cohort, days):
    """``{endpoint: (hits, base)}`` as the first Tally counted them: sorts and comparisons."""
    d = np.asarray(days, float)
    out = {}
    for name, (kind, _) in ENDPOINTS.items():
        if kind == "prevalence":
            state = cohort.chimerism(d)
            target = CHIMERISM_STATES.index("full" if name == "full_chimerism" else "micro")
            alive = cohort.death_day[:, None] > d[None, :]
            engrafted = cohort.day("engraftment")[:, None] <= d[None, :]
            out[name] = (state == target).sum(axis=0), (alive & engrafted).sum(axis=0)
        else:
            hit = np.searchsorted(np.sort(endpoint_day(cohort, name)), d, side="right")
            out[name] = hit, np.full(len(d), cohort.n_patients)
    return out


def assert_tally_is_naive(cohort, days):
    tally = Tally(tuple(days)).add(cohort)
    for name, (hit, base) in naive_counts(cohort, days).items():
        np.testing.assert_array_equal(tally.hits[name], hit, err_msg=name)
        np.testing.assert_array_equal(tally.base[name], base, err_msg=name)


@pytest.fixture(scope="module", params=["ric", "mst", "haplo_nk"])
def cohort(request):
    return hsctsim.simulate(request.param, 20_000, seed=5)


def test_standard_landmarks(cohort):
    assert_tally_is_naive(cohort, DAYS)


def test_landmarks_on_event_days_unsorted_and_repeated(cohort):
    """Landmarks equal to event days (``<=`` must count them), in any order, repeated."""
    rng = np.random.default_rng(1)
    finite = cohort.event_day[np.isfinite(cohort.event_day)]
    days = np.concatenate([rng.choice(finite, 40), rng.uniform(0, 800, 20), [100, 100, 0.0]])
    assert_tally_is_naive(cohort, rng.permutation(days))


def test_every_day_of_two_years(cohort):
    assert_tally_is_naive(cohort, np.arange(0, 731))


def test_hand_built_course_on_whole_days():
    """Integer event days that fall on the landmarks, every chimerism change."""
    base = hsctsim.simulate("ric", 6, seed=1)
    inf = np.inf
    rows = np.full((6, len(base.process_names)), inf)
    col = {name: base.process_names.index(name) for name in base.process_names}
    plan = [  # patient: {process: day}
        {"engraftment": 30, "mixed_chimerism": 100, "dli": 180},      # mixed on [100, 180)
        {"engraftment": 20, "mixed_chimerism": 30, "relapse": 100,
         "death_after_relapse": 365},                                 # mixed until death
        {"engraftment": 30, "rejection": 100, "trm": 180},            # lost on day 100
        {"graft_failure": 30, "trm": 100},                            # never engrafted
        {"engraftment": 100, "dli": 30, "mixed_chimerism": 180},      # DLI before mixing
        {"engraftment": 10, "agvhd": 30, "agvhd_3_4": 30, "cgvhd": 180},
    ]
    for i, events in enumerate(plan):
        for name, day in events.items():
            rows[i, col[name]] = day
    cohort = replace(base, event_day=rows)
    assert_tally_is_naive(cohort, DAYS)
    tally = Tally(DAYS).add(cohort)
    # living engrafted on day 100: patients 0, 1, 2 (lost but alive), 4, 5
    assert tally.base["full_chimerism"].tolist() == [4, 5, 4, 3, 3]
    # full on day 100: patient 4 (engrafted that day), 5; patient 0 is mixed
    assert tally.hits["full_chimerism"][1] == 2
    micro = replace(cohort, scenario=hsctsim.api.scenario_point("mst"))
    assert_tally_is_naive(micro, DAYS)
    # a graft of another kind (e.g. the patient's own cells): neither full nor micro
    other = Tally(DAYS).add(replace(cohort, scenario=replace(cohort.scenario,
                                                             chimerism="autologous")))
    assert other.hits["full_chimerism"].sum() == other.hits["microchimerism"].sum() == 0
    assert other.base["full_chimerism"].tolist() == [4, 5, 4, 3, 3]


def test_paired_counts(cohort):
    other = hsctsim.simulate("mac", cohort.n_patients, seed=5)
    days = (0, 30, 30, 100, 365, 1000)
    paired = PairedTally(days).add(cohort, other)
    d = np.asarray(days, float)[None, :]
    for name, (kind, _) in ENDPOINTS.items():
        if kind == "prevalence":
            continue
        hit_a = endpoint_day(cohort, name)[:, None] <= d
        hit_r = endpoint_day(other, name)[:, None] <= d
        for which, count in (("a", hit_a), ("r", hit_r), ("ar", hit_a & hit_r)):
            np.testing.assert_array_equal(paired.sums[name, which], count.sum(axis=0))


def test_chunks_add_up(cohort):
    """Counts are integers: chunks of any size add up to the whole, exactly."""
    whole = Tally(DAYS).add(cohort)
    parts = Tally(DAYS)
    for start in range(0, cohort.n_patients, 3_001):
        parts.add(replace(cohort, event_day=cohort.event_day[start:start + 3_001]))
    for name in ENDPOINTS:
        np.testing.assert_array_equal(parts.hits[name], whole.hits[name])
        np.testing.assert_array_equal(parts.base[name], whole.base[name])


@pytest.mark.parametrize("name", ["ric", "mst"])
def test_counted_while_simulated(name):
    """iter_chunks(tally=...): the same cohort bit for bit, the same counts as Tally.add."""
    n, chunk = 9_000, 4_000
    days = (0, 30, 100, 365, 365.5, 730)
    fused, separate = Tally(days), Tally(days)
    chunks = list(hsctsim.iter_chunks(name, n, chunk, seed=11, tally=fused))
    for c in chunks:
        separate.add(c)
    whole = hsctsim.simulate(name, n, seed=11)
    np.testing.assert_array_equal(np.concatenate([c.event_day for c in chunks]), whole.event_day)
    assert fused.n == separate.n == n
    for endpoint in ENDPOINTS:
        np.testing.assert_array_equal(fused.hits[endpoint], separate.hits[endpoint])
        np.testing.assert_array_equal(fused.base[endpoint], separate.base[endpoint])


def test_chunks_in_one_reused_array():
    """reuse_buffer: each chunk, while it is current, holds the same days as a fresh one."""
    fresh = [c.event_day.copy() for c in hsctsim.iter_chunks("ric", 5_000, 2_000, seed=2)]
    reused = [c.event_day.copy()
              for c in hsctsim.iter_chunks("ric", 5_000, 2_000, seed=2, reuse_buffer=True)]
    p = len(hsctsim.model.hsct.process_names(hsctsim.api.scenario_point("ric")))
    assert [a.shape for a in reused] == [(2000, p), (2000, p), (1000, p)]
    for a, b in zip(fresh, reused):
        np.testing.assert_array_equal(a, b)
