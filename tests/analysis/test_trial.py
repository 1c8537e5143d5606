"""Trial mode: spreads of small-trial counts against exact binomial answers."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.analysis.trials import TrialDesign, km_median, tail, trial_statistics
from hsctsim.apps.cli import cli
from stats_checks import assert_binomial

SIZE, TRIALS = 10, 20_000


@pytest.fixture(scope="module")
def haplo():
    return hsctsim.simulate("haplo_nk", SIZE * TRIALS, seed=31)


def test_counts_without_censoring_are_binomial(haplo):
    counts = trial_statistics(haplo, TrialDesign(SIZE, TRIALS), ["relapse_d100", "engraftment"])
    # patients are independent: with full follow-up a count is Binomial(N, p), p from
    # an independent large cohort
    ref = hsctsim.simulate("haplo_nk", 400_000, seed=32)
    p_relapse = (ref.day("relapse") <= 100).mean()
    p_engraft = np.isfinite(ref.day("engraftment")).mean()
    assert_binomial(counts["relapse_d100"], SIZE, p_relapse)
    assert_binomial(counts["engraftment"], SIZE, p_engraft)


def test_counts_with_accrual_and_censoring_are_binomial(haplo):
    accrual, analysis = 365.0, 400.0
    design = TrialDesign(SIZE, TRIALS, accrual, analysis)
    short = hsctsim.simulate("haplo_nk", SIZE * TRIALS, seed=31, horizon_days=analysis)
    counts = trial_statistics(short, design, ["relapse"], seed=5)["relapse"]
    # each patient is followed analysis - U days, U ~ Uniform(0, accrual):
    # p = mean over u of F(analysis - u), F from an independent large cohort
    ref = np.sort(hsctsim.simulate("haplo_nk", 400_000, seed=32).day("relapse"))
    u = (np.arange(4000) + 0.5) / 4000 * accrual
    p = (np.searchsorted(ref, analysis - u, side="right") / ref.size).mean()
    assert_binomial(counts, SIZE, p)
    # the same trials with full follow-up see more relapses
    full = trial_statistics(haplo, TrialDesign(SIZE, TRIALS), ["relapse"])["relapse"]
    assert full.mean() > counts.mean() + 0.1


def test_trial_is_reproducible_and_entry_days_do_not_touch_patients(haplo):
    design = TrialDesign(SIZE, 100, 200.0, 500.0)
    a = trial_statistics(haplo, design, ["deaths", "median_os_days"], seed=1)
    b = trial_statistics(haplo, design, ["deaths", "median_os_days"], seed=1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_km_median_matches_lifelines():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(0)
    time = rng.exponential(100, size=(50, 12))
    censor = rng.uniform(0, 250, size=(50, 12))
    event = time <= censor
    follow = np.minimum(time, censor)
    ours = km_median(follow, event)
    for row in range(50):
        kmf = KaplanMeierFitter().fit(follow[row], event[row])
        theirs = kmf.median_survival_time_
        if np.isinf(theirs):
            assert np.isinf(ours[row])
            continue
        # where the estimate is 1/2 exactly, lifelines' rounding may step past it
        at_ours = float(kmf.survival_function_at_times(ours[row]).iloc[0])
        assert ours[row] == pytest.approx(theirs) or abs(at_ours - 0.5) < 1e-9


def test_tail_probabilities():
    values = np.array([0, 1, 1, 2, 2, 2, 3, 4])
    assert tail(values, 2) == {"p_at_most": 0.75, "p_at_least": 0.625, "p_two_sided": 1.0}
    assert tail(values, 4)["p_at_least"] == 0.125


def test_cli_trial_nk_pilot_and_figure(tmp_path):
    out = tmp_path / "pilot"
    result = CliRunner().invoke(cli, ["trial", "haplo_nk", "--size", "5", "--trials", "2000",
                                      "--observed", "relapse_d100=2", "--out", str(out),
                                      "--plot", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    row = doc["statistics"]["relapse_d100"]
    assert row["observed"] == 2 and 0 < row["p_at_least"] < 0.2
    assert (out / "trial.json").is_file()
    assert (out / "figures" / "trial_relapse_d100.png").is_file()
    table = CliRunner().invoke(cli, ["trial", "rcc", "--size", "50", "--trials", "300",
                                     "--accrual-days", "730", "--analysis-day", "1095",
                                     "--observed", "responses=22"])
    assert table.exit_code == 0, table.output
    assert "responses" in table.stdout and "P(X>=obs)" in table.stdout


@pytest.mark.parametrize("args, words", [
    (["--observed", "responses"], "expected NAME=NUMBER"),
    (["--observed", "relapses=2"], "unknown statistic 'relapses'"),
    (["--accrual-days", "400", "--analysis-day", "300"], "must come after the end of accrual"),
    (["--observed", "responses=2"], "no chemo_response or gvt_response process"),
])
def test_cli_trial_errors_are_one_line(args, words):
    result = CliRunner().invoke(cli, ["trial", "haplo_nk", "--size", "5", "--trials", "10",
                                      *args])
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_a_tail_no_trial_reached_is_shown_below_one_in_trials():
    # 20 relapses among 20 patients: possible, but not in 500 simulated trials
    result = CliRunner().invoke(cli, ["trial", "mac", "--size", "20", "--trials", "500",
                                      "--observed", "relapse=20", "--observed", "trm=2"])
    assert result.exit_code == 0, result.output
    (row,) = [line.split() for line in result.stdout.splitlines()
              if line.startswith("relapse ")]
    assert row[-2:] == ["1.000", "<0.002"]  # P(X>=obs) = 0 of 500: below 1/500
    assert "relapse: no simulated trial was as extreme as 20" in result.stdout
    assert "trm: no simulated trial" not in result.stdout
