"""Late relapse (``[late_relapse]``): the hazard against hand computation, the sampler
against its curve, a late relapse with every consequence of a relapse, bad input, and
the arms without the section unchanged."""

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import assert_bad_section

import hsctsim
from hsctsim.analysis.endpoints import endpoint_day
from hsctsim.analysis.estimators import kaplan_meier
from hsctsim.engine.kernel import seed_key, simulate_into
from hsctsim.engine.processes import Process, build
from hsctsim.model import extensions, late_relapse
from hsctsim.model.economics import (DAYS_PER_YEAR, Discount, cohort_values, economics_of,
                                     patient_values)
from hsctsim.model.hsct import engine_arrays, process_names, processes
from hsctsim.model.late_relapse import LateRelapse, hazard_pieces
from hsctsim.model.process_table import POST_RELAPSE_DEATHS, RELAPSES
from hsctsim.model.scenario import load_scenario
from hsctsim.sim.resume import predict

FROM_DAY = 730.0
PIECES = ((2.0, 0.0395), (4.0, 0.0153), (10.0, 0.0))


def late(**changes):
    return dataclasses.replace(LateRelapse(from_day=FROM_DAY, rate_per_year=PIECES, sources={}),
                               **changes)


def cumulative_hazard(day):
    """By hand: 0.0395 a year from day 730 to year 4, 0.0153 a year to year 10, 0 after."""
    year4, year10 = 4 * DAYS_PER_YEAR, 10 * DAYS_PER_YEAR
    return (0.0395 * max(0.0, min(day, year4) - FROM_DAY)
            + 0.0153 * max(0.0, min(day, year10) - year4)) / DAYS_PER_YEAR


def test_hazard_pieces_by_hand():
    starts, rates = hazard_pieces(late())
    assert starts == (0.0, 730.0, 1461.0, 3652.5)
    assert rates == pytest.approx((0.0, 0.0395 / 365.25, 0.0153 / 365.25, 0.0), rel=1e-15)
    # years 2-4 of mac: 0.0395 x 731 / 365.25 = 0.0790 (the 7.46% of PMC13049581 with NRM)
    assert cumulative_hazard(1461.0) == pytest.approx(0.0395 * 731 / 365.25)
    assert cumulative_hazard(1461.0) == pytest.approx(0.07905, abs=1e-4)


def _bare_engine(scenario_late):
    """The processes ``extend`` adds, on a course whose only other process is a relapse
    that never fires (every patient relapse-free at 2 years)."""
    scenario = SimpleNamespace(extensions={"late_relapse": scenario_late})
    base = [Process("relapse", "fixed", (1e9,), 0.0, closes=("trm",),
                    opens=("death_after_relapse",)),
            Process("trm", "fixed", (1e9,), 0.0, terminal=True),
            Process("death_after_relapse", "fixed", (1e9,), 0.0, at_start=False,
                    terminal=True)]
    procs = late_relapse.extend(scenario, {}, base)
    return [p.name for p in procs], build(procs)


def test_the_engine_draws_late_relapses_from_that_curve():
    """200,000 patients relapse-free at 2 years: incidence of late relapse by each day
    against 1 - exp(-sum of the pieces), within 4 binomial standard errors."""
    names, eng = _bare_engine(late())
    n = 200_000
    out = np.empty((n, len(names)))
    simulate_into(eng, seed_key(11), 0, 36_500.0, out)
    day = out[:, names.index("late_relapse")]
    assert np.all(out[:, names.index("late_relapse_phase")] == FROM_DAY)
    assert np.all(day[np.isfinite(day)] > FROM_DAY)
    for years in (1.0, 2.0, 5.0, 8.0, 15.0):
        t = FROM_DAY + years * DAYS_PER_YEAR
        p = -math.expm1(-cumulative_hazard(t))
        assert abs(np.mean(day <= t) - p) < 4 * math.sqrt(p * (1 - p) / n), years
    assert not np.any((day > 10 * DAYS_PER_YEAR) & np.isfinite(day))  # 0 from year 10


@pytest.fixture(scope="module")
def mac():
    return hsctsim.simulate("mac", 50_000, seed=5, horizon_days=12 * DAYS_PER_YEAR)


def test_late_relapse_is_the_patients_relapse(mac):
    relapse, late_day = mac.day("relapse"), mac.day("late_relapse")
    assert np.all(relapse[np.isfinite(relapse)] <= FROM_DAY)  # the lognormal closed then
    assert np.all(late_day[np.isfinite(late_day)] > FROM_DAY)
    assert not np.any(np.isfinite(relapse) & np.isfinite(late_day))  # one relapse at most
    among = ~(endpoint_day(mac, "rfs") <= FROM_DAY)
    late_share = np.isfinite(late_day[among]).mean()
    assert 0.05 < late_share < 0.20  # 7-8% in years 2-4 and 1.5% a year to year 10
    first = np.minimum(relapse, late_day)
    np.testing.assert_array_equal(endpoint_day(mac, "relapse"), first)
    np.testing.assert_array_equal(mac.first_day(RELAPSES), first)
    np.testing.assert_array_equal(endpoint_day(mac, "rfs"), np.minimum(first, mac.death_day))
    assert np.all(endpoint_day(mac, "grfs") <= first)
    # relapsed patients end in the relapsed final states
    late_only = np.isfinite(late_day)
    assert np.all(mac.final_state()[late_only] >= 1)
    assert np.all(mac.final_state()[late_only] != 2)


def test_a_late_relapse_closes_non_relapse_death_and_opens_death_after_relapse(mac):
    late_day = mac.day("late_relapse")
    for name in ("trm", "late_death"):  # closed by it
        day = mac.day(name)
        assert not np.any(np.isfinite(day) & (day > late_day))
    after = mac.first_day(POST_RELAPSE_DEATHS)
    relapsed = np.isfinite(mac.first_day(RELAPSES))
    assert not np.any(np.isfinite(after) & ~relapsed)  # opened by a relapse only
    assert np.isfinite(after[np.isfinite(late_day)]).mean() > 0.2
    assert np.isfinite(mac.day("late_death_after_relapse")[np.isfinite(late_day)]).any()
    np.testing.assert_array_equal(endpoint_day(mac, "trm"),
                                  mac.first_day(("trm", "late_death")))


@pytest.mark.parametrize("relapse_day, ratio", [(100.0, 1.0), (800.0, 0.4185),
                                                 (1200.0, 0.3006)])
def test_death_after_a_late_relapse_is_in_the_stratum_of_its_day(relapse_day, ratio):
    """``predict`` from a relapse on that day (after day 730 a late relapse): survival
    3 years after it, late death after relapse as independent censoring, is the
    reference stratum's 10.3% to the power of the day's ratio (the cure model)."""
    history = [("engraftment", 15.0), ("relapse", relapse_day)]
    n = 40_000
    c = predict("mac", relapse_day, history, n_patients=n, seed=3,
                horizon_days=relapse_day + 1200.0)
    assert np.isfinite(c.day("late_relapse" if relapse_day > FROM_DAY else "relapse")).all()
    dar, other = c.day("death_after_relapse"), c.day("late_death_after_relapse")
    end = np.minimum(np.minimum(dar, other), c.horizon_days) - relapse_day
    curve = kaplan_meier(end, dar <= np.minimum(other, c.horizon_days))
    expected = (1.0 - load_scenario("mac").processes["death_after_relapse"].incidence.mid) \
        ** ratio
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(float(curve.at(np.array([1095.0]))[0]) - expected) < 5 * se + 0.002


def test_relapse_costs_and_utilities_count_a_late_relapse(mac):
    scenario = load_scenario("mac")
    econ, discount = economics_of(scenario), Discount(0.03)
    values = cohort_values(mac, econ, discount)
    days = {n: mac.day(n) for n in mac.process_names}
    days["relapse"] = mac.first_day(RELAPSES)
    np.testing.assert_array_equal(
        values["costs"], patient_values(days, mac.horizon_days, econ, discount)["costs"])
    late_only = np.isfinite(mac.day("late_relapse"))
    without = dict(days, relapse=mac.day("relapse"))  # the late relapse left out
    other = patient_values(without, mac.horizon_days, econ, discount)
    assert np.all(values["costs"][late_only] > other["costs"][late_only])  # salvage
    assert np.all(values["qalys"][late_only] < other["qalys"][late_only])  # relapse utility


@pytest.mark.parametrize("table, key, problem", [
    ("from_day = 365\nrate_per_year = [[1, 0.05]]", "late_relapse.from_day",
     "landmark of the arm's relapse figure"),
    ("rate_per_year = [[4, 0.01], [2, 0.04]]", "late_relapse.rate_per_year",
     "strictly increasing"),
    ("rate_per_year = [[2, -0.01]]", "late_relapse.rate_per_year", "is not a [years"),
    ("rate_per_year = [[3, 0.04]]", "late_relapse.rate_per_year", "not on from_day"),
    ("rate_per_year = 0.04", "late_relapse.rate_per_year", "must be a list"),
])
def test_bad_late_relapse_is_one_line_naming_the_key(tmp_path, table, key, problem):
    assert "bad.toml" in assert_bad_section(tmp_path, "late_relapse", table, key, problem)


@pytest.mark.parametrize("arm", ["auto", "auto_myeloma", "rcc", "ebmt4"])
def test_arms_without_the_section_are_unchanged(arm, monkeypatch):
    """The section's code changes nothing where it is absent: the same engine, bit for
    bit, as with the section unregistered, and the same relapse as the process's own
    column (checked also against the cohorts of the commit before it, offline)."""
    scenario = load_scenario(arm)
    if getattr(scenario, "kind", None) == "multistate":
        assert "late_relapse" not in scenario.to_dict()
        return
    assert "late_relapse" not in scenario.extensions
    assert "late_relapse" not in process_names(scenario)
    ours = engine_arrays(scenario.at_midpoints(), {})
    monkeypatch.setattr(extensions, "REGISTRY",
                        tuple(r for r in extensions.REGISTRY if r[0] != "late_relapse"))
    before = engine_arrays(scenario.at_midpoints(), {})
    for a, b in zip(ours, before):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    c = hsctsim.simulate(arm, 2_000, seed=9, horizon_days=1461.0)
    np.testing.assert_array_equal(endpoint_day(c, "relapse"), c.day("relapse"))


def test_dli_on_relapse_follows_a_late_relapse_too(tmp_path):
    """A DLI triggered by relapse is given after a late relapse as after an early one."""
    path = tmp_path / "mac_dli.toml"
    path.write_text("base = 'mac'\nname = 'mac_dli'\n[dli]\ntrigger = 'relapse'\n"
                    "delay_days = 14\nrelapse_hr = 1.0\n"
                    "source = 'test: DLI two weeks after relapse'\n")
    scenario = load_scenario(str(path))
    procs = {p.name: p for p in processes(scenario.at_midpoints(), {})}
    assert "dli" in procs["relapse"].opens and "dli" in procs["late_relapse"].opens
    c = hsctsim.simulate(path, 20_000, seed=4, horizon_days=6 * DAYS_PER_YEAR,
                         calibration_patients=10_000)
    late_day, dli = c.day("late_relapse"), c.day("dli")
    late_only = np.isfinite(late_day) & (late_day + 14.0 < c.death_day) \
        & (late_day + 14.0 < c.horizon_days)
    assert late_only.sum() > 100
    np.testing.assert_allclose(dli[late_only] - late_day[late_only], 14.0)
