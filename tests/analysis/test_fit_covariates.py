"""Covariates as users have them (text factors, the data's joint mix, predict profiles)
and event tables that round-trip (hsctsim's mstate export read back by `hsctsim fit`)."""

import csv

import numpy as np
import pytest
from conftest import assert_user_error, invoke
from msm_data import simulate_msprep

from hsctsim import simulate
from hsctsim.analysis.fit import fit_msm
from hsctsim.analysis.hazard_families import Family
from hsctsim.analysis.msdata import DataError, read_msdata
from hsctsim.model.msexport import on_grid
from hsctsim.model.profiles import ProfileError, with_profile
from hsctsim.model.scenario import load_scenario

YEARS = ("1985-1989", "1990-1994", "1995-1998")
AGES = ("<=20", "20-40", ">40")


def _factor_table(n=1200, seed=11):
    """Illness-death data with two text factors that go together (age follows period)."""
    model = [(1, 2, Family("weibull"), [np.log(0.9), np.log(400.0)], 0.0),
             (1, 3, Family("exponential"), [np.log(1 / 900)], 0.0),
             (2, 3, Family("exponential"), [np.log(1 / 300)], 0.0)]
    table = simulate_msprep(model, n, seed, clock="forward", censor_day=(300.0, 1500.0))
    rng = np.random.default_rng(seed)
    year = rng.integers(0, 3, n + 1)
    age = np.where(rng.random(n + 1) < 0.7, year, rng.integers(0, 3, n + 1))  # correlated
    ids = table["id"]
    out = {k: v for k, v in table.items() if k != "x"}
    out["year"] = [YEARS[year[i]] for i in ids]
    out["agecl"] = [AGES[age[i]] for i in ids]
    return out, year, age


def test_text_factors_become_r_named_dummies_with_a_reference():
    table, year, _ = _factor_table()
    data = read_msdata(table, covariates=["year", "agecl"])
    names = [c for c, _ in data.covariates]
    # sorted levels, the first the reference, named column + level as R's model.matrix
    assert names == ["year1990-1994", "year1995-1998", "agecl<=20", "agecl>40"]
    assert data.factors[0] == ("year", YEARS, ("year1990-1994", "year1995-1998"))
    values = dict(data.covariates)
    want = np.array([year[i] == 2 for i in table["id"]], float)
    np.testing.assert_array_equal(values["year1995-1998"], want)
    other = read_msdata(table, covariates=["agecl"], references={"agecl": "<=20"})
    assert [c for c, _ in other.covariates] == ["agecl20-40", "agecl>40"]
    with pytest.raises(DataError, match="reference level 'x' of 'agecl'"):
        read_msdata(table, covariates=["agecl"], references={"agecl": "x"})
    one = dict(table, agecl=["20-40"] * len(table["id"]))
    with pytest.raises(DataError, match="one level only"):
        read_msdata(one, covariates=["agecl"])


def test_factor_fit_equals_the_fit_on_hand_made_dummies():
    table, _, _ = _factor_table()
    by_factor = fit_msm(table, family="weibull", covariates=["year"], clock="forward")
    hand = dict(table)
    hand["y2"] = [float(v == YEARS[1]) for v in table["year"]]
    hand["y3"] = [float(v == YEARS[2]) for v in table["year"]]
    by_hand = fit_msm(hand, family="weibull", covariates=["y2", "y3"], clock="forward")
    for a, b in zip(by_factor.transitions, by_hand.transitions):
        np.testing.assert_allclose(a.best.estimate, b.best.estimate, rtol=1e-8, atol=1e-10)
    assert "year1995-1998" in by_factor.report()


def test_simulated_cohort_keeps_the_joint_mix_of_the_data(tmp_path):
    table, year, age = _factor_table()
    fit = fit_msm(table, family="exponential", covariates=["year", "agecl"])
    path = tmp_path / "fit.toml"
    path.write_text(fit.to_toml(name="fit"))
    scenario = load_scenario(str(path))
    n = 40_000
    cohort = simulate(scenario, n, seed=3)
    x = np.column_stack([cohort.covariates[c] for c in scenario.patients[0]])
    # every simulated patient is one of the data's rows: never two periods at once
    assert np.all(x[:, 0] + x[:, 1] <= 1) and np.all(x[:, 2] + x[:, 3] <= 1)
    # and the joint shares are the data's (patients of the data: ids 1..n in the table)
    ids = np.unique(table["id"])
    for y in range(3):
        for a in range(3):
            want = np.mean((year[ids] == y) & (age[ids] == a))
            got = np.mean(((x[:, 0] == (y == 1)) & (x[:, 1] == (y == 2))
                           & (x[:, 2] == (a == 0)) & (x[:, 3] == (a == 2))))
            se = np.sqrt(want * (1 - want) / n)
            assert abs(got - want) < 4 * se + 1e-12, (y, a, got, want)


def test_predict_takes_a_covariate_profile(tmp_path):
    table, _, _ = _factor_table()
    fit = fit_msm(table, family="exponential", covariates=["year", "agecl"])
    path = tmp_path / "fit.toml"
    path.write_text(fit.to_toml(name="fit"))
    scenario = load_scenario(str(path))
    only = with_profile(scenario, "year=1995-1998,agecl=20-40")
    names, rows, weights = only.patients
    assert rows.shape[0] == 1 and weights.tolist() == [1.0]
    assert dict(zip(names, rows[0])) == {"year1990-1994": 0, "year1995-1998": 1,
                                         "agecl<=20": 0, "agecl>40": 0}
    some = with_profile(scenario, "year=1985-1989")      # age keeps its mix in that period
    assert some.patients[1].shape[0] == 3
    assert np.all(some.patients[1][:, :2] == 0)
    with pytest.raises(ProfileError, match="not a level of year"):
        with_profile(scenario, "year=2001")
    with pytest.raises(ProfileError, match="'sex' is not a covariate"):
        with_profile(scenario, "sex=m")
    result = invoke("predict", str(path), "--at", "0", "--covariates",
                    "year=1995-1998,agecl=20-40", "-n", "2000", "--format", "json")
    assert result.exit_code == 0, result.output
    assert_user_error(invoke("predict", str(path), "--at", "0", "--covariates", "year=x",
                             "-n", "100"), "--covariates", "not a level of year")
    assert_user_error(invoke("predict", "ric", "--at", "0", "--covariates", "year=x",
                             "-n", "100"), "--covariates", "multi-state")


def test_on_grid_by_hand():
    # patient 0: two transitions a hundred-thousandth of a day apart, then censored;
    # patient 1: an event on day 5.0004 (rounds to 5.000), censored 0.0001 later
    patient = np.array([0, 0, 0, 1, 1])
    start = np.array([0.0, 1e-5, 2e-5, 0.0, 5.0004])
    stop = np.array([1e-5, 2e-5, 100.0, 5.0004, 5.0005])
    event = np.array([True, True, False, True, False])
    s, e, keep = on_grid(patient, start, stop, event)
    np.testing.assert_allclose(s, [0.0, 0.001, 0.002, 0.0, 5.0])
    np.testing.assert_allclose(e, [0.001, 0.002, 100.0, 5.0, 5.0])
    assert keep.tolist() == [True, True, True, True, False]


def test_mstate_export_round_trips_through_fit(tmp_path):
    """A model whose second transition follows the first within seconds: the export has
    no stay shorter than 0.001 day, the time column, and `hsctsim fit` reads it."""
    toml = tmp_path / "fast.toml"
    toml.write_text("""kind = "multistate"
name = "fast"
horizon_days = 400
clock = "reset"
[states]
names = ["well", "sick", "worse", "dead"]
absorbing = ["dead"]
[[transitions]]
from = "well"
to = "sick"
timing = { family = "exponential", rate_per_day = 0.01 }
source = "test"
[[transitions]]
from = "sick"
to = "worse"
timing = { family = "exponential", rate_per_day = 5000.0 }
source = "test: a stay of about 20 seconds"
[[transitions]]
from = "worse"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.005 }
source = "test"
""")
    out = tmp_path / "run"
    result = invoke("run", str(toml), "-n", "1500", "--out", str(out), "--events",
                    "--events-layout", "mstate")
    assert result.exit_code == 0, result.output
    path = out / "events" / "fast.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "from", "to", "trans", "Tstart", "Tstop", "time", "status"]
    length = np.array([float(r["Tstop"]) - float(r["Tstart"]) for r in rows])
    assert length.min() >= 0.001 - 1e-9
    np.testing.assert_allclose([float(r["time"]) for r in rows], length, atol=1e-9)
    fitted = invoke("fit", str(path), "--states", "well,sick,worse,dead", "--clock", "reset",
                    "--family", "exponential", "--check-patients", "5000")
    assert fitted.exit_code == 0, fitted.output
    # well -> sick at 0.01 per day read back (about 1000 events: 4 standard errors)
    line = next(ln for ln in fitted.output.splitlines() if "rate_per_day=" in ln)
    rate = float(line.split("rate_per_day=")[1].split(",")[0])
    assert abs(rate - 0.01) < 4 * 0.01 / np.sqrt(1000)


def test_cli_reference_patient_table_and_independent_mix(tmp_path):
    table, _, _ = _factor_table(n=600)
    data = tmp_path / "data.csv"
    columns = list(table)
    with open(data, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(zip(*(table[c] for c in columns)))
    out = tmp_path / "fit.toml"
    result = invoke("fit", str(data), "--covariates", "year,agecl", "--reference",
                    "agecl=<=20", "--family", "exponential", "--no-check", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "agecl20-40" in result.output and "agecl<=20" not in result.output
    # a patient table of the user: two patients, one combination each
    people = tmp_path / "people.csv"
    people.write_text("year,agecl\n1995-1998,>40\n1985-1989,<=20\n1995-1998,>40\n")
    mine = tmp_path / "mine.toml"
    result = invoke("fit", str(data), "--covariates", "year,agecl", "--family", "exponential",
                    "--no-check", "--patients", str(people), "--out", str(mine))
    assert result.exit_code == 0, result.output
    names, rows, weights = load_scenario(str(mine)).patients
    assert rows.shape == (2, 4) and sorted(weights.tolist()) == pytest.approx([1 / 3, 2 / 3])
    indep = tmp_path / "indep.toml"
    result = invoke("fit", str(data), "--covariates", "year,agecl", "--family", "exponential",
                    "--no-check", "--covariate-mix", "independent", "--out", str(indep))
    assert result.exit_code == 0, result.output
    assert load_scenario(str(indep)).patients == ()
    bad = tmp_path / "bad.csv"
    bad.write_text("year,agecl\n2001,>40\n")
    assert_user_error(invoke("fit", str(data), "--covariates", "year,agecl", "--no-check",
                             "--family", "exponential", "--patients", str(bad)),
                      "bad.csv", "line 2", "'2001' is not a level of year")
    assert_user_error(invoke("fit", str(data), "--covariates", "year", "--no-check",
                             "--reference", "agecl=<=20"), "reference level for 'agecl'")
