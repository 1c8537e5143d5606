"""Late mortality in the autologous arms (``auto_lymphoma``, ``auto_myeloma``): the
wiring into the autologous process set (recovery after graft failure, no donor
processes), the hazard against a hand computation from the life table, and the arms
left without it."""

import math

import numpy as np
import pytest

import hsctsim
from hsctsim.analysis.endpoints import endpoint_day
from hsctsim.model.economics import DAYS_PER_YEAR, read_life_table
from hsctsim.model.hsct import process_names
from hsctsim.model.late_mortality import hazard_pieces, lifetime_horizon, relative_mortality
from hsctsim.model.scenario import load_scenario

ARMS = ("auto_lymphoma", "auto_myeloma")


@pytest.fixture(scope="module", params=ARMS)
def course(request):
    arm = request.param
    cohort = hsctsim.simulate(arm, 40_000, seed=11, horizon_days=20 * DAYS_PER_YEAR)
    return arm, load_scenario(arm), cohort


def test_the_autologous_processes_get_late_death(course):
    arm, scenario, _ = course
    names = process_names(scenario)
    for name in ("late_phase", "late_death", "late_death_after_relapse", "count_recovery"):
        assert name in names, (arm, name)


def test_wiring_in_the_autologous_course(course):
    """TRM closes on from_day and late death opens then; relapse closes late death and
    opens death from other causes after relapse; every death is one of the four."""
    arm, scenario, c = course
    from_day = scenario.extensions["late_mortality"].from_day
    relapse, trm = c.day("relapse"), c.day("trm")
    late, after = c.day("late_death"), c.day("late_death_after_relapse")
    assert np.all(trm[np.isfinite(trm)] <= from_day)
    assert np.all(late[np.isfinite(late)] > from_day)
    assert not np.any(np.isfinite(late) & (relapse < late))
    assert not np.any(np.isfinite(after) & ~np.isfinite(relapse))
    assert np.isfinite(late).mean() > 0.01 and np.isfinite(after).any()
    np.testing.assert_array_equal(endpoint_day(c, "trm"), np.minimum(trm, late))
    assert np.all(np.isfinite(c.death_day) == (np.isfinite(trm) | np.isfinite(late)
                                               | np.isfinite(c.day("death_after_relapse"))
                                               | np.isfinite(after)))


def test_late_death_rate_of_relapse_free_survivors_by_hand(course):
    """Among patients alive and relapse-free on from_day, the share dying without
    relapse in the next year: the hazard of the first piece against the life table by
    hand (a normal age mix cut at the range, both sexes, relative mortality at mid-year),
    and the simulated share against 1 - exp(-hazard) less the competing relapses."""
    arm, scenario, c = course
    lm = scenario.extensions["late_mortality"]
    male_qx, female_qx = read_life_table(lm.life_table)
    ages = np.arange(math.floor(lm.age_low_years), math.ceil(lm.age_high_years) + 1.0)
    w = np.exp(-0.5 * ((ages - lm.age_mean_years) / lm.age_sd_years) ** 2)
    w /= w.sum()
    mid = lm.from_day / DAYS_PER_YEAR + 0.5
    rm = relative_mortality(lm, ages, mid)
    surv = 0.0
    for share, qx in ((lm.male_fraction, male_qx), (1 - lm.male_fraction, female_qx)):
        mu = -np.log1p(-qx[(ages + mid).astype(int)])
        surv += share * float(np.dot(w, np.exp(-mu * rm)))
    starts, rates = hazard_pieces(lm)
    assert starts[1] == pytest.approx(lm.from_day)
    assert rates[1] * DAYS_PER_YEAR == pytest.approx(-math.log(surv), rel=1e-9)
    # simulated: relapse-free survivors on from_day, late deaths in the following year
    relapse, late = c.day("relapse"), c.day("late_death")
    at_risk = (c.death_day > lm.from_day) & ~(relapse <= lm.from_day)
    end = lm.from_day + DAYS_PER_YEAR
    died = np.isfinite(late) & (late <= end)
    p = died[at_risk].mean()
    # no relapse competes: an upper bound; relapsing in the year takes at most its share
    relapsed = (relapse[at_risk] <= end).mean()
    q = 1.0 - surv
    se = math.sqrt(q * (1 - q) / at_risk.sum())
    assert q * (1.0 - relapsed) - 4 * se <= p <= q + 4 * se, (arm, p, q, relapsed)


def test_arms_without_late_mortality_are_named_by_the_lifetime_horizon():
    """auto, auto_msc and auto_msc_cb (the graft-failure trial's two-year course) have
    no [late_mortality]: a lifetime horizon refuses them by name."""
    scenarios = {a: load_scenario(a) for a in ("auto", "auto_msc", "auto_msc_cb",
                                               "auto_lymphoma")}
    days, missing = lifetime_horizon(scenarios)
    assert days is None and missing == ["auto", "auto_msc", "auto_msc_cb"]
    days, missing = lifetime_horizon({a: load_scenario(a) for a in ARMS})
    assert missing == [] and days > 50 * DAYS_PER_YEAR
