"""Multi-state runs with --days, and mixed clocks per transition (simulated and fitted)."""

import math

import numpy as np
from conftest import assert_user_error, invoke
from msm_data import simulate_msprep

from hsctsim import simulate
from hsctsim.analysis.fit import fit_msm
from hsctsim.analysis.hazard_families import Family
from hsctsim.model.scenario import load_scenario

MIXED = """kind = "multistate"
name = "mixed"
horizon_days = 2000
clock = "forward"
[states]
names = ["well", "ill", "dead"]
absorbing = ["dead"]
[[transitions]]
from = "well"
to = "ill"
timing = { family = "exponential", rate_per_day = 0.004 }
source = "test"
[[transitions]]
from = "well"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.001 }
source = "test"
[[transitions]]
from = "ill"
to = "dead"
timing = { family = "weibull", shape = 2.0, scale_day = 300.0 }
clock = "reset"
source = "test: time since falling ill"
"""


def test_run_days_for_a_multistate_model():
    result = invoke("run", "ebmt4", "-n", "2000", "--days", "548,1461", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "ebmt4,occupation:death,occupation,548," in result.output
    assert "ebmt4,transition:transplant->recovery,incidence,1461," in result.output
    assert_user_error(invoke("run", "ebmt4", "-n", "100", "--days", "9999"), "--days",
                      "beyond the horizon")


def test_a_reset_transition_in_a_forward_model_simulates_its_own_clock(tmp_path):
    """ill -> dead runs on time since falling ill: P(dead by t) has a closed form."""
    path = tmp_path / "mixed.toml"
    path.write_text(MIXED)
    scenario = load_scenario(str(path))
    assert [t.clock for t in scenario.transitions] == ["", "", "reset"]
    n = 40_000
    cohort = simulate(scenario, n, seed=9)
    at = np.array([200.0, 600.0])
    dead = (cohort.state_at(at) == 2).mean(axis=0)
    # P(dead by t) = int_0^t f_well(s) [a/(a+b) ... ]: by quadrature of the two pieces
    a, b = 0.004, 0.001
    s = np.linspace(0.0, 600.0, 600_001)
    ds = s[1] - s[0]
    want = []
    for t in at:
        u = s[s <= t]
        dens_ill = a * np.exp(-(a + b) * u)                       # falls ill at u
        dies_after = 1 - np.exp(-((t - u) / 300.0) ** 2.0)         # clock reset at u
        want.append(b / (a + b) * (1 - math.exp(-(a + b) * t))
                    + np.sum(dens_ill * dies_after) * ds)
    want = np.array(want)
    se = np.sqrt(want * (1 - want) / n)
    assert np.all(np.abs(dead - want) < 4 * se + 2e-4), (dead, want)


def test_fit_with_mixed_clocks(tmp_path):
    model = [(1, 2, Family("exponential"), [math.log(0.004)], 0.0),
             (1, 3, Family("exponential"), [math.log(0.001)], 0.0),
             (2, 3, Family("weibull"), [math.log(2.0), math.log(300.0)], 0.0)]
    table = simulate_msprep(model, 1500, 5, clock="reset", censor_day=(1000.0, 2000.0))
    fit = fit_msm(table, clock={"3": "reset", "*": "forward"}, family="weibull",
                  states=["well", "ill", "dead"])
    assert [t.clock for t in fit.transitions] == ["forward", "forward", "reset"]
    shape = math.exp(fit.transitions[2].best.estimate[0])
    se = fit.transitions[2].best.se[0] * shape
    assert abs(shape - 2.0) < 4 * se
    text = fit.to_toml(name="mixed_fit")
    assert text.count('clock = "reset"') == 1 and 'clock = "forward"' in text
    out = tmp_path / "m.toml"
    result = invoke("fit", "tests/data/illness_death.csv", "--clock", "forward",
                    "--clock", "3=reset", "--family", "weibull", "--no-check", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "clock reset" in result.output
    assert load_scenario(str(out)).transitions[2].clock == "reset"
    assert_user_error(invoke("fit", "tests/data/illness_death.csv", "--clock", "3=sideways"),
                      "--clock", "sideways")
