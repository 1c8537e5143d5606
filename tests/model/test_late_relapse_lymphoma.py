"""Death after relapse by the day of relapse in ``auto_lymphoma``: each stratum (relapse
within 6 months, at 6-12 months, later) gets its configured hazard ratio.

``death_after_relapse.by_relapse_day`` multiplies the hazard of the whole course after
relapse, cure included, so a patient relapsing in a stratum with ratio ``m`` survives
``s`` days after relapse with probability ``S(s) ** m``, where
``S(s) = c + (1 - c) exp(-rate s)`` is the reference stratum's (relapse within 6
months). Deaths from other causes after relapse (late mortality) compete, so each
stratum's survival from death after relapse is a Kaplan-Meier estimate with the other
deaths censored (the engine draws the processes independently)."""

import math

import numpy as np
import pytest

import hsctsim
from hsctsim.model.scenario import load_scenario

ARM = "auto_lymphoma"
DAYS_AFTER = 365.0  # survival a year after relapse: about 27% (reference), 55% (late)
HORIZON = 3500.0


def kaplan_meier(times, events, at):
    """Kaplan-Meier survival at ``at`` and its Greenwood standard error."""
    order = np.argsort(times, kind="stable")
    times, events = times[order], events[order]
    n_at_risk = times.size - np.arange(times.size)
    keep = events & (times <= at)
    factors = 1.0 - 1.0 / n_at_risk[keep]
    survival = float(np.prod(factors))
    greenwood = float(np.sum(1.0 / (n_at_risk[keep] * (n_at_risk[keep] - 1.0))))
    return survival, survival * math.sqrt(greenwood)


@pytest.fixture(scope="module")
def strata():
    scenario = load_scenario(ARM)
    cohort = hsctsim.simulate(ARM, 200_000, seed=23, horizon_days=HORIZON)
    relapse = cohort.day("relapse")
    dar = cohort.day("death_after_relapse")
    # death after relapse is the event; any other death (or the horizon) censors it
    end = np.minimum(cohort.death_day, HORIZON)
    event = np.isfinite(dar)
    starts = [day for day, _ in scenario.by_relapse_day] + [HORIZON - DAYS_AFTER]
    out = []
    for (day, ratio), stop in zip(scenario.by_relapse_day, starts[1:]):
        # relapses with a full year of follow-up after them, before the next stratum
        window = (relapse >= day) & (relapse < min(stop, HORIZON - DAYS_AFTER))
        time = np.where(event, dar, end)[window] - relapse[window]
        out.append((day, ratio, *kaplan_meier(time, event[window], DAYS_AFTER),
                    int(window.sum())))
    return scenario, out


def test_the_strata_are_the_configured_ones():
    """CORAL's stratum medians: 5.7 / 12.6 = 0.452 from day 365, the geometric midpoint
    0.672 at 6-12 months (configs/auto_lymphoma.toml)."""
    assert load_scenario(ARM).by_relapse_day == ((0.0, 1.0), (183.0, 0.672), (365.0, 0.452))


def test_each_stratum_survives_as_its_ratio_says(strata):
    """Survival a year after relapse in each stratum against S(365) ** ratio by hand,
    within 4 Monte Carlo standard errors (Greenwood)."""
    scenario, rows = strata
    spec = scenario.processes["death_after_relapse"]
    assert spec.timing.family == "exponential"
    rate, cure = spec.timing.params[0], spec.cure_fraction
    reference = cure + (1.0 - cure) * math.exp(-rate * DAYS_AFTER)
    for day, ratio, survival, se, n in rows:
        assert n > 5_000, (day, n)
        expected = reference ** ratio
        assert abs(survival - expected) <= 4 * se, (day, ratio, survival, expected, se)


def test_late_relapse_hazard_ratio_against_the_reference(strata):
    """The simulated ratio of cumulative hazards (late against within 6 months), the
    quantity the configured ratio is, matches it within its Monte Carlo error (delta
    method)."""
    _, rows = strata
    _, _, s_ref, se_ref, _ = rows[0]
    _, late_ratio, s_late, se_late, _ = rows[-1]
    h_ref, h_late = -math.log(s_ref), -math.log(s_late)
    simulated = h_late / h_ref
    se = simulated * math.hypot(se_late / (s_late * h_late), se_ref / (s_ref * h_ref))
    assert abs(simulated - late_ratio) <= 4 * se, (simulated, late_ratio, se)
