"""Autologous HSCT: no donor effects at all; graft failure, recovery and MSC rescue."""

import numpy as np
import pytest

import hsctsim
from hsctsim.model.cohort import CHIMERISM_STATES
from hsctsim.model.scenario import ScenarioError, load_scenario

N = 100_000
DONOR_ONLY = ("agvhd", "agvhd_3_4", "cgvhd", "mixed_chimerism", "rejection", "nk_cells", "dli")


@pytest.fixture(scope="module")
def arms():
    auto = hsctsim.simulate("auto", N, seed=13)
    # the same calibrated hazards: the arms differ only by the intervention
    return {name: hsctsim.simulate(name, N, seed=13, susceptible=auto.susceptible)
            for name in ("auto", "auto_msc", "auto_msc_cb")}


def test_autologous_arm_has_no_gvhd_or_donor_events(arms):
    for cohort in arms.values():
        for name in DONOR_ONLY:
            assert not np.isfinite(cohort.day(name)).any(), name
        state = cohort.chimerism((30, 100, 180))
        assert not np.isin(state, [CHIMERISM_STATES.index(s) for s in ("full", "mixed",
                                                                        "micro")]).any()
        assert (state == CHIMERISM_STATES.index("autologous")).mean() > 0.8


def test_graft_failure_in_the_reported_band_with_its_course(arms):
    auto = arms["auto"]
    failed = np.isfinite(auto.day("graft_failure"))
    assert 0.02 <= failed.mean() <= 0.095  # seed 004: 2-9.5%
    assert np.all(auto.day("graft_failure")[failed] == 28.0)
    assert not np.any(failed & np.isfinite(auto.day("engraftment")))
    # infection, bleeding and recovery only after graft failure; none after recovery
    for name in ("infection", "bleeding", "count_recovery"):
        day = auto.day(name)
        assert np.all(~np.isfinite(day[~failed]))
        assert np.all(day[failed & np.isfinite(day)] >= 28.0)
    rec = auto.day("count_recovery")
    for name in ("infection", "bleeding"):
        day = auto.day(name)
        assert not np.any(np.isfinite(day) & (day > rec))
    # aplasia kills: death within 100 days far more common after graft failure
    dead = auto.death_day <= 100
    assert dead[failed].mean() > 3 * dead[~failed].mean()


def test_msc_rescue_speeds_recovery_and_lowers_death(arms):
    auto, msc, cb = arms["auto"], arms["auto_msc"], arms["auto_msc_cb"]
    failed = np.isfinite(auto.day("graft_failure"))
    np.testing.assert_array_equal(failed, np.isfinite(msc.day("graft_failure")))
    assert np.all(msc.day("msc")[np.isfinite(msc.day("msc"))] == 35.0)  # d28 + 7 days

    def recovered(c):
        return (c.day("count_recovery")[failed] <= 100).mean()

    def died(c):
        return (c.death_day[failed] <= 180).mean()

    assert recovered(auto) < recovered(msc) < recovered(cb)
    assert died(msc) < died(auto)
    # patients without graft failure are untouched by the intervention
    np.testing.assert_array_equal(auto.event_day[~failed][:, :14], msc.event_day[~failed][:, :14])


def test_donor_effects_are_refused_in_an_autologous_scenario(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('base = "auto"\n[agvhd]\nincidence = 0.3\n')
    with pytest.raises(ScenarioError, match=r"a.toml: agvhd.incidence: an autologous graft"):
        load_scenario(path)
    path.write_text('base = "auto"\n[effects]\ngraft_loss_on_relapse = { hr = 1.5, '
                    'source = "x" }\n')
    with pytest.raises(ScenarioError, match=r"effects.graft_loss_on_relapse.hr"):
        load_scenario(path)
    path.write_text('base = "auto"\n[nk_cells]\nday = 7\nrelapse_hr = 0.5\nagvhd_hr = 1\n'
                    'duration_days = 100\nsource = "x"\n')
    with pytest.raises(ScenarioError, match=r"nk_cells: needs donor cells"):
        load_scenario(path)


def test_disease_arms_keep_autos_graft_failure_and_their_own_relapse():
    # auto_myeloma and auto_lymphoma inherit auto's graft failure and recovery and set
    # their own relapse; 100,000 patients: a proportion's standard error is below 0.0016
    n = 100_000
    myeloma = hsctsim.simulate("auto_myeloma", n, seed=29)
    lymphoma = hsctsim.simulate("auto_lymphoma", n, seed=29)
    for cohort in (myeloma, lymphoma):
        for name in DONOR_ONLY:
            assert not np.isfinite(cohort.day(name)).any(), name
        failed = np.isfinite(cohort.day("graft_failure"))
        assert 0.02 <= failed.mean() <= 0.095
    # lymphoma: 41.2% relapsed by 2 years (Tun et al.), most of them early
    relapse = lymphoma.day("relapse")
    assert (relapse <= 730).mean() == pytest.approx(0.412, abs=0.01)
    assert np.median(relapse[relapse <= 730]) < 200
    # myeloma: no plateau of progression (one ASCT does not cure), TRM 1.5% by day 100
    assert myeloma.susceptible["relapse"] > 0.9
    assert (myeloma.day("trm") <= 100).mean() == pytest.approx(0.015, abs=0.003)
    # death after relapse: months in DLBCL, years in myeloma (alive a year after a
    # relapse in the first 2 years, so followed for the year: exponential, median 1386
    # days in myeloma gives 83%; in DLBCL, median 10 months overall, about 41%)
    for cohort, low, high in ((lymphoma, 0.33, 0.50), (myeloma, 0.80, 0.86)):
        relapse = cohort.day("relapse")
        early = relapse <= 730
        alive = cohort.death_day[early] > relapse[early] + 365
        assert low < alive.mean() < high
