"""The calibration targets of ``hsctsim calibrate`` (hsctsim/model/calibration_targets.toml).

Known answers: every allogeneic arm has targets; each is a probability of one of the
endpoints a target can have, at a landmark, of a process its arm has (or a survival
endpoint), with its published uncertainty and its source; none is a figure that
validation.toml keeps as a prediction (a target would make it calibration); every arm
has a target the calibration does not hold (else there is nothing to condition on);
and in an arm with an intervention the calibration holds nothing.
"""

import pytest

from hsctsim.analysis.validation import FIGURES_FILE, load_figures
from hsctsim.model.posterior import TARGETS_FILE
from hsctsim.model.scenario import load_scenario
from hsctsim.sim.posterior import PROBABILITY_ENDPOINTS, arm_targets, is_held

TARGETS = load_figures(TARGETS_FILE)
ARMS = list(dict.fromkeys(f.arm for f in TARGETS))
SURVIVAL = ("os", "rfs", "pfs", "grfs")


def test_every_allogeneic_arm_has_targets():
    assert {"mac", "ric", "mst", "haplo_ptcy", "haplo_nk"} <= set(ARMS)


@pytest.mark.parametrize("arm", ARMS)
def test_targets_load_name_existing_processes_and_carry_their_uncertainty(arm):
    scenario = load_scenario(arm)
    figures = arm_targets(arm)  # refuses an endpoint or a figure without uncertainty
    assert figures
    for f in figures:
        assert f.use == "calibration" and f.among is None
        assert f.endpoint in PROBABILITY_ENDPOINTS
        assert f.endpoint in SURVIVAL or f.endpoint in scenario.processes, f
        assert 0.0 < f.estimate < 1.0 and f.landmark_day > 0
        assert (f.ci95 is not None) + (f.n is not None) + (f.se is not None) == 1, f
        if f.ci95 is not None:
            assert 0.0 < f.ci95[0] < f.estimate < f.ci95[1] < 1.0
        if f.n is not None:
            assert f.n >= 1
        assert f.citation and f.population and f.note


@pytest.mark.parametrize("arm", ARMS)
def test_every_arm_has_a_target_the_calibration_does_not_hold(arm):
    scenario = load_scenario(arm)
    assert not all(is_held(f, scenario) for f in arm_targets(arm))


def test_no_target_is_a_validation_figure():
    predictions = {(f.arm, f.endpoint, f.landmark_day, f.estimate)
                   for f in load_figures(FIGURES_FILE) if f.use == "validation"}
    for f in TARGETS:
        assert (f.arm, f.endpoint, f.landmark_day, f.estimate) not in predictions, f


def test_held_targets_are_configured_incidences_and_none_with_an_intervention():
    held = {(f.arm, f.endpoint, f.landmark_day) for f in TARGETS
            if is_held(f, load_scenario(f.arm))}
    assert ("haplo_ptcy", "trm", 365) in held and ("haplo_ptcy", "relapse", 365) in held
    assert ("mst", "trm", 730) in held and ("haplo_ptcy", "trm", 100) not in held
    assert not any(arm == "haplo_nk" for arm, _, _ in held)  # NK cells act after it
    for arm, endpoint, day in held:
        spec = load_scenario(arm).processes[endpoint]
        assert spec.incidence is not None and spec.landmark_day == day
