"""The Cohort: provenance, states, chimerism, the long event table."""

import numpy as np
import pytest

import hsctsim
from hsctsim.model.cohort import CHIMERISM_STATES, FINAL_STATES
from hsctsim.model.process_table import MARKERS


@pytest.fixture(scope="module")
def cohort():
    return hsctsim.simulate("ric", 20_000, seed=4)


def test_provenance(cohort):
    meta = cohort.metadata()
    assert meta["hsctsim_version"] == hsctsim.__version__
    assert meta["scenario"] == "ric" and meta["seed"] == 4 and meta["patients"] == 20_000
    assert cohort.horizon_days == 730


def test_event_days_are_consistent(cohort):
    day = cohort.day
    assert np.all(cohort.event_day[np.isfinite(cohort.event_day)] <= 730)
    # no GVHD without engraftment, nothing after death, no TRM after relapse
    assert not np.any(np.isfinite(day("agvhd")) & ~(day("engraftment") <= day("agvhd")))
    assert not np.any(np.isfinite(day("cgvhd")) & (day("cgvhd") > cohort.death_day))
    assert not np.any(np.isfinite(day("trm")) & np.isfinite(day("relapse")))
    assert not np.any(np.isfinite(day("graft_failure")) & np.isfinite(day("engraftment")))
    both = np.isfinite(day("agvhd_3_4"))
    np.testing.assert_array_equal(day("agvhd_3_4")[both], day("agvhd")[both])


def test_final_states(cohort):
    state = cohort.final_state()
    assert set(np.unique(state)) <= set(range(len(FINAL_STATES)))
    np.testing.assert_array_equal(state == 2, np.isfinite(cohort.day("trm")))
    np.testing.assert_array_equal(state >= 2, np.isfinite(cohort.death_day))


def test_chimerism_checks(cohort):
    states = cohort.chimerism((30, 100, 180))
    assert states.shape == (cohort.n_patients, 3)
    dead = cohort.death_day[:, None] <= np.array([30, 100, 180])
    np.testing.assert_array_equal(states == CHIMERISM_STATES.index("dead"), dead)
    mixed = states[:, 1] == CHIMERISM_STATES.index("mixed")
    assert 0.05 < mixed.mean() < 0.5  # RIC: often mixed
    micro = hsctsim.simulate("mst", 2000, seed=1).chimerism((100,))
    assert set(np.unique(micro)) <= {CHIMERISM_STATES.index(s)
                                     for s in ("micro", "dead", "not_engrafted", "lost")}


def test_event_table_is_the_course(cohort):
    table = cohort.event_table()
    # markers (the day late mortality or late relapse takes over) are not events
    events = [n not in MARKERS for n in cohort.process_names]
    n_events = np.isfinite(cohort.event_day[:, events]).sum()
    alive = int(np.isfinite(cohort.death_day).__invert__().sum())
    assert len(table["patient"]) == n_events + alive
    assert np.all(table["start_day"] <= table["stop_day"])
    # rows of a patient chain: each starts where the last stopped, in the state it entered
    same = table["patient"][1:] == table["patient"][:-1]
    np.testing.assert_array_equal(table["start_day"][1:][same], table["stop_day"][:-1][same])
    np.testing.assert_array_equal(table["from_state"][1:][same], table["to_state"][:-1][same])
    first = np.r_[True, ~same]
    assert np.all(table["from_state"][first] == cohort.states.index("transplant"))
    assert np.all(table["start_day"][first] == 0)
    end = table["to_state"] == cohort.states.index("end_of_follow_up")
    assert end.sum() == alive and np.all(table["stop_day"][end] == 730)


def test_replicates_draw_from_the_ranges():
    a = hsctsim.simulate("mac", 1000, seed=1, replicate=0, calibration_patients=5000)
    b = hsctsim.simulate("mac", 1000, seed=1, replicate=1, calibration_patients=5000)
    ia = a.scenario.processes["agvhd"].incidence
    ib = b.scenario.processes["agvhd"].incidence
    assert ia.low == ia.high and 0.3 <= ia.low <= 0.6 and ia != ib
    assert a.replicate == 0 and a.metadata()["replicate"] == 0


def test_dli_on_mixed_chimerism(tmp_path):
    path = tmp_path / "ric_dli.toml"
    path.write_text("base = 'ric'\nname = 'ric_dli'\n[dli]\ntrigger = 'mixed_chimerism'\n"
                    "delay_days = 14\nagvhd_hr = 3.0\nrelapse_hr = 0.5\n"
                    "source = 'test: pre-emptive DLI two weeks after mixed chimerism'\n")
    on = hsctsim.simulate(path, 20_000, seed=2, calibration_patients=10_000)
    off = hsctsim.simulate(path, 20_000, seed=2, interventions=False,
                           calibration_patients=10_000)
    mixed, dli = on.day("mixed_chimerism"), on.day("dli")
    given = np.isfinite(dli)
    assert given.sum() > 1000 and not np.isfinite(off.day("dli")).any()
    np.testing.assert_allclose(dli[given] - mixed[given], 14.0)
    # after the DLI, chimerism is full again
    at_180 = on.chimerism((180,))[:, 0]
    assert np.all(at_180[given & (dli <= 180) & (on.death_day > 180)
                         & ~(on.day("rejection") <= 180)] == CHIMERISM_STATES.index("full"))
    # more acute GVHD among those who had a DLI, than without the intervention
    assert np.isfinite(on.day("agvhd")[given]).mean() > np.isfinite(off.day("agvhd")[given]).mean()


def test_given_susceptible_fractions_skip_calibration(cohort):
    same = hsctsim.simulate("ric", 20_000, seed=4, susceptible=cohort.susceptible)
    np.testing.assert_array_equal(same.event_day, cohort.event_day)
    fewer = dict(cohort.susceptible, relapse=cohort.susceptible["relapse"] / 2)
    held = hsctsim.simulate("ric", 20_000, seed=4, susceptible=fewer)
    assert np.isfinite(held.day("relapse")).mean() < np.isfinite(cohort.day("relapse")).mean()
    assert held.susceptible == fewer
