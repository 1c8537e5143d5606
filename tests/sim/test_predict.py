"""Predictions from where a patient is now: day 0 is `run`; conditioning is filtering."""

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.apps.cli import cli
from hsctsim.engine.kernel import seed_key, simulate_from_into, simulate_into
from hsctsim.engine.processes import Process, build
from hsctsim.engine.resume import HistoryError, course_until
from hsctsim.sim import parse_history


def _se_close(estimate, truth, n_truth, n_est, z=4.0):
    """|a - b| within z standard errors of the difference of two proportions."""
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    var = truth * (1 - truth) / n_truth + estimate * (1 - estimate) / n_est
    worst = np.max(np.abs(estimate - truth) / np.sqrt(np.maximum(var, 1e-12)))
    assert worst < z, f"{worst:.2f} standard errors off: {estimate} vs {truth}"


def test_predict_at_day_0_equals_run():
    run = hsctsim.simulate("ric", 20_000, seed=3)
    pred = hsctsim.predict("ric", 0, [], 20_000, seed=3)
    np.testing.assert_array_equal(pred.event_day, run.event_day)


def test_resumed_kernel_path_is_the_fresh_course_just_after_day_0():
    """The resume path (budgets drawn on the start day) is the fresh course at day 0+.

    With an intervention scheduled after day 0 (NK cells moved to day 7): one that
    fires on day 0 is replayed instead of drawn, so the random streams differ.
    """
    import dataclasses

    bundled = hsctsim.api.scenario_point("haplo_nk")
    susceptible = hsctsim.model.calibrate.calibrate(bundled)  # interventions off
    point = dataclasses.replace(bundled, nk_cells=dataclasses.replace(bundled.nk_cells,
                                                                      day=7.0))
    eng = hsctsim.model.hsct.engine_arrays(point, susceptible)
    names = hsctsim.model.hsct.process_names(point)
    n, key = 5000, seed_key(8)
    fresh = np.empty((n, len(names)))
    simulate_into(eng, key, 0, 730.0, fresh)
    resumed = np.empty_like(fresh)
    simulate_from_into(eng, key, np.arange(n), 730.0, 1e-300,
                       *course_until(eng, names, [], 1e-300), resumed)
    np.testing.assert_array_equal(resumed, fresh)


def test_replay_to_just_after_day_0_fires_day_0_interventions():
    """haplo_nk's NK cells (day 0) are in the course predict resumes just after day 0."""
    point = hsctsim.api.scenario_point("haplo_nk")
    eng = hsctsim.model.hsct.engine_arrays(point, hsctsim.model.calibrate.calibrate(point))
    names = hsctsim.model.hsct.process_names(point)
    nk, relapse = names.index("nk_cells"), names.index("relapse")
    _, _, m, out = course_until(eng, names, [], 1e-300)
    assert out[nk] == 0.0 and m[relapse] == pytest.approx(point.nk_cells.relapse_hr.mid)
    # a prediction from day 0 that takes the resume path sees NK cells' effect
    pred = hsctsim.predict("haplo_nk", 0, [("cmv", 0.0)], 20_000, seed=3)
    assert np.all(pred.day("nk_cells") == 0.0)
    assert np.mean(pred.day("relapse") <= 365) < 0.1  # 3.8% in `run`; 35% without NK


ENGINE = [
    Process("ill", "weibull", (1.5, 100.0), opens=("recover",), multiplies={"death": 3.0}),
    Process("recover", "exponential", (0.02,), at_start=False, clock_reset=True,
            multiplies={"death": 0.5}),
    Process("death", "weibull", (1.2, 400.0), terminal=True),
    Process("scheduled", "fixed", (50.0,), multiplies={"death": 0.8}),
]


def test_conditioning_equals_the_filtered_cohort():
    """Ill on day 40, alive and not recovered on day 80: predicted vs filtered."""
    eng = build(ENGINE)
    names = [p.name for p in ENGINE]
    n_all, n_pred, horizon = 600_000, 100_000, 400.0
    everyone = np.empty((n_all, 4))
    simulate_into(eng, seed_key(1), 0, horizon, everyone)
    ill, recover, death = everyone[:, 0], everyone[:, 1], everyone[:, 2]
    like = (np.abs(ill - 40.0) <= 2.0) & (recover > 80.0) & (death > 80.0)
    course = course_until(eng, names, [(0, 40.0)], 80.0)
    assert course[3][3] == 50.0  # the scheduled event fired by itself in the replay
    pred = np.empty((n_pred, 4))
    simulate_from_into(eng, seed_key(2), np.arange(n_pred), horizon, 80.0, *course, pred)
    assert np.all(pred[:, 0] == 40.0) and np.all(pred[:, 1] > 80.0) and np.all(pred[:, 2] > 80.0)
    days = np.array([120.0, 200.0, 400.0])
    for col in (1, 2):
        filtered = (everyone[like, col][:, None] <= days).mean(axis=0)
        predicted = (pred[:, col][:, None] <= days).mean(axis=0)
        _se_close(predicted, filtered, like.sum(), n_pred)
    assert like.sum() > 3000


def test_hsct_conditioning_equals_the_filtered_cohort():
    """ric, engrafted on day 15, nothing else by day 100."""
    n_all, n_pred = 300_000, 100_000
    everyone = hsctsim.simulate("ric", n_all, seed=21)
    others = [n for n in everyone.process_names if n != "engraftment"]
    like = (np.abs(everyone.day("engraftment") - 15.0) <= 2.0) & np.all(
        np.stack([everyone.day(n) > 100.0 for n in others]), axis=0)
    pred = hsctsim.predict("ric", 100, [("engraftment", 15.0)], n_pred, seed=22)
    assert np.all(pred.death_day > 100.0) and np.all(pred.day("engraftment") == 15.0)
    days = np.array([180.0, 365.0, 730.0])
    for name in ("relapse", "trm", "agvhd", "cgvhd"):
        filtered = (everyone.day(name)[like][:, None] <= days).mean(axis=0)
        predicted = (pred.day(name)[:, None] <= days).mean(axis=0)
        _se_close(predicted, filtered, like.sum(), n_pred)
    assert like.sum() > 2000


def test_multistate_conditioning_equals_the_filtered_cohort():
    """ebmt4: recovered on day 20 and still in recovery on day 100."""
    n_all, n_pred = 300_000, 100_000
    everyone = hsctsim.simulate("ebmt4", n_all, seed=31)
    entered = everyone.day("transplant->recovery")
    like = (np.abs(entered - 20.0) <= 2.0) & (everyone.state_at([100.0])[:, 0] == 1)
    pred = hsctsim.predict("ebmt4", 100, [("recovery", 20.0)], n_pred, seed=32)
    assert np.all(pred.state_at([100.0]) == 1)
    days = [365.0, 1000.0, 3000.0]
    filtered, predicted = everyone.state_at(days)[like], pred.state_at(days)
    for s in (1, 3, 4, 5):
        _se_close((predicted == s).mean(axis=0), (filtered == s).mean(axis=0), like.sum(),
                  n_pred)
    assert like.sum() > 2000


def test_multistate_with_covariates_at_day_0_equals_run(tmp_path):
    from msm_data import COVARIATE_MODEL

    path = tmp_path / "cov.toml"
    path.write_text(COVARIATE_MODEL)
    run = hsctsim.simulate(path, 10_000, seed=4)
    pred = hsctsim.predict(path, 0, [], 10_000, seed=4)
    np.testing.assert_array_equal(pred.event_day, run.event_day)


@pytest.mark.parametrize("scenario, history, at, words", [
    ("ric", [("agvhd", 5.0)], 100, "nothing before it opens it"),
    ("ric", [("trm", 5.0)], 100, "ends the course"),
    ("ric", [("relapse", 150.0)], 100, "between 0 and the prediction day"),
    ("ric", [("relapsed", 50.0)], 100, "not an event of this model"),
    ("ric", [("engraftment", 10.0), ("graft_failure", 30.0)], 100, "closed by an earlier"),
    ("ebmt4", [("relapse", 10.0), ("recovery", 20.0)], 100, "no transition relapse->recovery"),
])
def test_impossible_histories(scenario, history, at, words):
    with pytest.raises(HistoryError, match=words):
        hsctsim.predict(scenario, at, history, 100, seed=1)


def test_predict_cli():
    runner = CliRunner()
    result = runner.invoke(cli, ["predict", "ric", "--at", "100", "--history",
                                 "engraftment=15,agvhd=30", "-n", "5000", "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(result.stdout)
    assert set(doc["endpoints"]) == {"relapse", "trm", "os"}
    assert list(doc["endpoints"]["os"]["at"]) == ["d180", "d365", "d730"]
    table = runner.invoke(cli, ["predict", "ebmt4", "--at", "100", "--history", "recovery=20",
                                "-n", "2000"])
    assert table.exit_code == 0 and "recovery (occupation)" in table.stdout
    bad = runner.invoke(cli, ["predict", "ric", "--at", "100", "--history", "engraftment:15"])
    assert bad.exit_code == 2 and "expected EVENT=DAY" in bad.output
    assert parse_history("a=1, b=2.5") == [("a", 1.0), ("b", 2.5)]
