"""Late mortality (``[late_mortality]``): the hazard from the life table against hand
computation, the sampler against its survival curve, the wiring into the course and
the endpoints, and bad input."""

import dataclasses
import math

import numpy as np
import pytest
from conftest import assert_bad_section

import hsctsim
from hsctsim.analysis.endpoints import endpoint_day
from hsctsim.engine.kernel import seed_key, simulate_into
from hsctsim.engine.processes import Process, build
from hsctsim.model.economics import DAYS_PER_YEAR, read_life_table
from hsctsim.model.late_mortality import LateMortality, hazard_pieces, relative_mortality
from hsctsim.model.process_table import RELAPSES
from hsctsim.model.scenario import load_scenario

FROM_DAY = 730.0


def late(**changes):
    base = LateMortality(from_day=FROM_DAY, age_mean_years=53.0, age_sd_years=10.0,
                         age_low_years=53.0, age_high_years=53.0, male_fraction=1.0,
                         life_table="us_ssa_2021", relative_mortality_by_age=((26.0, 1.0),),
                         relative_mortality_cap=(15.0, 1.0), sources={})
    return dataclasses.replace(base, **changes)


def survival_at(starts, rates, day):
    """Survival to ``day`` of a piecewise-constant hazard (days)."""
    edges = np.append(starts, np.inf)
    exposure = np.clip(day - edges[:-1], 0.0, np.diff(edges))
    return math.exp(-float(np.dot(rates, exposure)))


def test_one_age_one_sex_is_the_life_table():
    """A man of 53 with relative mortality 1: survival over whole years after from_day
    is the product of the life table's (1 - q_x) at the ages he passes through."""
    starts, rates = map(np.array, hazard_pieces(late()))
    assert starts[0] == 0.0 and rates[0] == 0.0  # nothing before from_day
    assert starts[1] == pytest.approx(FROM_DAY)
    male_qx, _ = read_life_table("us_ssa_2021")
    first_year = FROM_DAY / DAYS_PER_YEAR
    for years in (1, 5, 20):
        ages = (53.0 + first_year + np.arange(years) + 0.5).astype(int)  # mid-year ages
        expected = float(np.prod(1.0 - male_qx[ages]))
        day = FROM_DAY + years * DAYS_PER_YEAR
        assert survival_at(starts, rates, day) == pytest.approx(expected, rel=1e-12)


def test_relative_mortality_multiplies_and_the_mix_is_the_average_survival():
    """Ages 40 and 70 in equal shares, ratio 3: the cohort's survival is the mean of
    the two strata's, each the life table's survival to the power 3."""
    one = late(age_low_years=40.0, age_high_years=70.0, age_mean_years=55.0,
               age_sd_years=1e6,  # flat weights over 40..70
               relative_mortality_by_age=((26.0, 3.0),), relative_mortality_cap=(99.0, 3.0))
    starts, rates = map(np.array, hazard_pieces(one))
    male_qx, _ = read_life_table("us_ssa_2021")
    first_year = FROM_DAY / DAYS_PER_YEAR
    years = 10
    strata = []
    for age in range(40, 71):
        ages = (age + first_year + np.arange(years) + 0.5).astype(int)
        strata.append(float(np.prod(1.0 - male_qx[ages])) ** 3)
    day = FROM_DAY + years * DAYS_PER_YEAR
    assert survival_at(starts, rates, day) == pytest.approx(np.mean(strata), rel=1e-9)


def test_relative_mortality_log_linear_in_age_and_capped():
    lm = late(relative_mortality_by_age=((26.0, 3.2), (67.0, 1.4)),
              relative_mortality_cap=(15.0, 2.2))
    assert relative_mortality(lm, 26.0, 5.0) == pytest.approx(3.2)
    assert relative_mortality(lm, 67.0, 5.0) == pytest.approx(1.4)
    assert relative_mortality(lm, 46.5, 5.0) == pytest.approx(math.sqrt(3.2 * 1.4))
    assert relative_mortality(lm, 80.0, 5.0) == pytest.approx(1.4)  # flat beyond
    assert relative_mortality(lm, 10.0, 5.0) == pytest.approx(3.2)  # and below
    assert relative_mortality(lm, 26.0, 15.0) == pytest.approx(2.2)  # the cap
    assert relative_mortality(lm, 67.0, 15.0) == pytest.approx(1.4)  # below the cap


def test_mac_anchors_give_larue_nrm_over_years_4_to_10():
    """The anchors of configs/mac.toml are those of tools/late_mortality_rm.py: the
    arm's late-death hazard over years 4-10 is Larue et al.'s non-relapse hazard of
    years 2-10 less the matched-donor years 2-4 (PMC13049581), 0.1170, to the rounding
    of the anchors to one decimal (hand computation below, as in the config's source)."""
    def cause_specific(event, other):
        return event / (event + other) * -math.log(1.0 - event - other)
    nrm = (1.0 - 0.762) * (1.0 - 0.449)
    target = (cause_specific(nrm, 1.0 - 0.723 - nrm)
              - cause_specific((175 * 0.04 + 208 * 0.03) / 383, (175 * 0.08 + 208 * 0.07) / 383))
    assert target == pytest.approx(0.1170, abs=1e-4)
    lm = load_scenario("mac").extensions["late_mortality"]
    assert lm.relative_mortality_by_age == ((26.0, 3.2), (67.0, 1.4))
    starts, rates = map(np.array, hazard_pieces(lm))
    s4 = survival_at(starts, rates, 4 * DAYS_PER_YEAR)
    s10 = survival_at(starts, rates, 10 * DAYS_PER_YEAR)
    assert -math.log(s10 / s4) == pytest.approx(target, rel=0.02)


def test_the_engine_draws_late_deaths_from_that_curve():
    """late_phase on from_day opens late_death; 200,000 patients' death days against
    the survival curve, within 4 binomial standard errors."""
    starts, rates = hazard_pieces(late(relative_mortality_by_age=((26.0, 4.0),)))
    eng = build([Process("late_phase", "fixed", (FROM_DAY,), 1.0, opens=("late_death",)),
                 Process("late_death", "piecewise", (starts, rates), 1.0, at_start=False,
                         terminal=True)])
    n = 200_000
    out = np.empty((n, 2))
    simulate_into(eng, seed_key(3), 0, 36_500.0, out)
    death = out[:, 1]
    assert np.all(death > FROM_DAY)
    for years in (1, 5, 10, 20):
        day = FROM_DAY + years * DAYS_PER_YEAR
        p = survival_at(np.array(starts), np.array(rates), day)
        assert abs(np.mean(death > day) - p) < 4 * math.sqrt(p * (1 - p) / n), years


@pytest.fixture(scope="module")
def mac():
    return hsctsim.simulate("mac", 50_000, seed=5, horizon_days=20 * DAYS_PER_YEAR)


def test_wiring_in_the_course(mac):
    # the patient's relapse, early or late ([late_relapse])
    relapse, trm = mac.first_day(RELAPSES), mac.day("trm")
    late_death, after = mac.day("late_death"), mac.day("late_death_after_relapse")
    from_day = load_scenario("mac").extensions["late_mortality"].from_day
    assert np.all(trm[np.isfinite(trm)] <= from_day)  # TRM closed on from_day
    assert np.all(late_death[np.isfinite(late_death)] > from_day)
    assert not np.any(np.isfinite(late_death) & (relapse < late_death))  # closed by relapse
    assert not np.any(np.isfinite(after) & ~np.isfinite(relapse))  # opened by relapse
    assert np.isfinite(late_death).mean() > 0.05 and np.isfinite(after).any()
    # non-relapse mortality counts any death without relapse; OS every death
    np.testing.assert_array_equal(endpoint_day(mac, "trm"), np.minimum(trm, late_death))
    np.testing.assert_array_equal(endpoint_day(mac, "os"), mac.death_day)
    assert np.all(np.isfinite(mac.death_day) == (np.isfinite(trm) | np.isfinite(late_death)
                                                | np.isfinite(mac.day("death_after_relapse"))
                                                | np.isfinite(after)))


@pytest.mark.parametrize("table, key, problem", [
    ("from_day = 365", "late_mortality.from_day", "landmark of the arm's TRM figure"),
    ("age_years = [53]", "late_mortality.age_years", "pair of numbers"),
    ("age_years = [90, 10]", "late_mortality.age_years", "must lie in age_range_years"),
    ("age_range_years = [65, 18]", "late_mortality.age_range_years", "is above the oldest"),
    ("relative_mortality_by_age = [[67, 3.2], [26, 7.3]]",
     "late_mortality.relative_mortality_by_age", "strictly increasing"),
    ("life_table = \"uk_2020\"", "late_mortality.life_table", "is not one of"),
])
def test_bad_late_mortality_is_one_line_naming_the_key(tmp_path, table, key, problem):
    assert_bad_section(tmp_path, "late_mortality", table, key, problem)


def test_cea_lifetime_follows_every_patient_to_death():
    from hsctsim.apps.cea import run_cea

    scenarios = {a: load_scenario(a) for a in ("mac", "ric")}
    doc = run_cea(scenarios, 2_000, 1, lifetime=True)
    assert doc["lifetime_method"] == "simulated" and doc["horizon_days"] == 36_500.0
    short = run_cea(scenarios, 2_000, 1)
    assert short["lifetime_method"] is None
    for arm in scenarios:  # life years over a lifetime exceed those of two years
        years = doc["arms"][arm]["life_years"]["mean"]
        assert years > 3 * short["arms"][arm]["life_years"]["mean"]
