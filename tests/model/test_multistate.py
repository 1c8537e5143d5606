"""Plain multi-state scenarios: parsing, the engine they compile to, known answers, CLI."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate
from scipy.linalg import expm

import hsctsim
from conftest import assert_within_se
from hsctsim.analysis.occupation import occupation_curve, summarize_multistate
from hsctsim.apps.cli import cli
from hsctsim.engine.kernel import seed_key, simulate_into
from hsctsim.engine.processes import Process, build
from hsctsim.model.mscohort import MultistateCohort
from hsctsim.model.multistate import draw_covariates, layout, unroll
from hsctsim.sim.multistate import simulate_multistate
from msm_data import COVARIATE_MODEL
from hsctsim.model.scenario import ScenarioError, load_scenario

ILLNESS_DEATH = """
kind = "multistate"
name = "idm"
title = "illness-death"
population = "test"
horizon_days = {horizon}
clock = "{clock}"

[states]
names = ["healthy", "ill", "dead"]
absorbing = ["dead"]

[[transitions]]
from = "healthy"
to = "ill"
timing = {{ family = "exponential", rate_per_day = {a} }}
source = "test"

[[transitions]]
from = "healthy"
to = "dead"
timing = {{ family = "exponential", rate_per_day = {b} }}
source = "test"

[[transitions]]
from = "ill"
to = "dead"
timing = {death}
source = "test"
"""


def write(tmp_path, text, name="model.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def illness_death(tmp_path, a=0.01, b=0.004, c=0.02, clock="reset", horizon=400,
                  death=None):
    death = death or f'{{ family = "exponential", rate_per_day = {c} }}'
    return load_scenario(write(tmp_path, ILLNESS_DEATH.format(a=a, b=b, clock=clock,
                                                              horizon=horizon, death=death)))


def test_bundled_ebmt4_loads_with_sources():
    s = load_scenario("ebmt4")
    assert s.kind == "multistate" and s.clock == "reset"
    assert len(s.transitions) == 12 and len(s.states) == 6
    assert all(t.source and t.timing.family == "weibull" for t in s.transitions)
    assert "ebmt4" in hsctsim.bundled_names("multistate")
    assert "ebmt4" not in hsctsim.bundled_names()  # not one of the transplant arms


@pytest.mark.parametrize("edit, key, words", [
    (('clock = "reset"', 'clock = "sideways"'), "clock", "not one of"),
    (('absorbing = ["dead"]', 'absorbing = ["gone"]'), "states.absorbing", "not in states.names"),
    (('absorbing = ["dead"]', 'absorbing = []'), "states.absorbing", "no transition leaves 'dead'"),
    (('to = "ill"', 'to = "ilk"'), "transitions[0].to", "did you mean 'ill'"),
    (('to = "ill"', 'to = "healthy"'), "transitions[0].to", "must change the state"),
    (('rate_per_day = 0.01', 'rate_per_day = -0.01'), "transitions[0].timing", "positive"),
    (('from = "ill"', 'from = "dead"'), "transitions[2].from", "absorbing"),
    (('source = "test"', 'source = ""'), "transitions[0].source", "needs its source"),
    (('name = "idm"', 'name = "my model"'), "name", "cannot name an arm"),
    (('horizon_days = 400', 'horizon_days = 0'), "horizon_days", "outside"),
    (('title = ', 'colour = "red"\ntitle = '), "colour", "unknown key"),
])
def test_bad_input_names_file_and_key(tmp_path, edit, key, words):
    text = ILLNESS_DEATH.format(a=0.01, b=0.004, clock="reset", horizon=400,
                                death='{ family = "exponential", rate_per_day = 0.02 }')
    assert edit[0] in text
    path = write(tmp_path, text.replace(edit[0], edit[1], 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    assert f": {key}: " in message and words in message, message


def test_duplicate_transition_and_unknown_covariate(tmp_path):
    base = ILLNESS_DEATH.format(a=0.01, b=0.004, clock="reset", horizon=400,
                                death='{ family = "exponential", rate_per_day = 0.02 }')
    dup = base + '\n[[transitions]]\nfrom = "healthy"\nto = "ill"\n' \
                 'timing = { family = "exponential", rate_per_day = 0.1 }\nsource = "x"\n'
    with pytest.raises(ScenarioError, match=r"transitions\[3\]: healthy->ill is given twice"):
        load_scenario(write(tmp_path, dup))
    cov = base.replace('source = "test"\n', 'source = "test"\nlog_hr = { age = 0.3 }\n', 1)
    with pytest.raises(ScenarioError, match=r"transitions\[0\].log_hr.age: not a covariate"):
        load_scenario(write(tmp_path, cov, "cov.toml"))


def test_plain_path_equals_a_hand_written_engine(tmp_path):
    """The compiled engine is the one a user would write by hand, bit for bit."""
    s = illness_death(tmp_path, death='{ family = "weibull", shape = 1.4, scale_day = 90.0 }')
    by_hand = build([
        Process("healthy->ill", "exponential", (0.01,), closes=("healthy->dead",),
                opens=("ill->dead",), clock_reset=True),
        Process("healthy->dead", "exponential", (0.004,), closes=("healthy->ill",),
                terminal=True, clock_reset=True),
        Process("ill->dead", "weibull", (1.4, 90.0), at_start=False, clock_reset=True,
                terminal=True),
    ])
    out = np.empty((5000, 3))
    simulate_into(by_hand, seed_key(3), 0, 400.0, out)
    ours, _ = simulate_multistate(s, 5000, 3)
    np.testing.assert_array_equal(ours, out)


def _idm_truth(a, b, c, t):
    healthy = np.exp(-(a + b) * t)
    ill = a / (a + b - c) * (np.exp(-c * t) - np.exp(-(a + b) * t))
    return np.stack([healthy, ill, 1 - healthy - ill], axis=1)


def test_occupation_against_closed_form_illness_death(tmp_path):
    a, b, c, h, n = 0.01, 0.004, 0.02, 400.0, 100_000
    cohort = hsctsim.simulate(illness_death(tmp_path, a, b, c, horizon=h), n, seed=2)
    summary = summarize_multistate(cohort)
    days = np.array([30.0, 100.0, 180.0, 365.0])
    truth = _idm_truth(a, b, c, days)
    for s, name in enumerate(("healthy", "ill", "dead")):
        est = [summary[f"occupation:{name}"]["at"][f"d{d:g}"]["estimate"] for d in days]
        assert_within_se(est, truth[:, s], n)
    # restricted mean time in state: integrals of the closed form
    rm_healthy = (1 - math.exp(-(a + b) * h)) / (a + b)
    rm_ill = a / (a + b - c) * ((1 - math.exp(-c * h)) / c - (1 - math.exp(-(a + b) * h)) / (a + b))
    for name, truth_days in (("healthy", rm_healthy), ("ill", rm_ill),
                             ("dead", h - rm_healthy - rm_ill)):
        v = summary[f"time_in:{name}"]["at"]["d400"]
        half = (v["ci95"][1] - v["ci95"][0]) / 2
        assert abs(v["estimate"] - truth_days) < 2.5 * half, (name, v, truth_days)
    # the transition incidences: healthy -> dead happens with probability b/(a+b)(1-e^..)
    inc = summary["transition:healthy->dead"]["at"]["d365"]["estimate"]
    assert_within_se([inc], [b / (a + b) * (1 - math.exp(-(a + b) * 365))], n)
    # the counts equal the Aalen-Johansen estimator of estimators.py on the long table
    occ = occupation_curve(cohort, days)
    state = cohort.state_at(days)
    np.testing.assert_allclose(occ, np.stack([(state == s).mean(0) for s in range(3)], 1),
                               atol=1e-12)


@pytest.mark.parametrize("clock", ["reset", "forward"])
def test_clock_reset_and_forward(tmp_path, clock):
    """Weibull death after illness: its clock starts at illness (reset) or day 0 (forward)."""
    a, b, k, lam, n = 0.01, 0.004, 1.8, 120.0, 100_000
    s = illness_death(tmp_path, a, b, clock=clock, horizon=500,
                      death=f'{{ family = "weibull", shape = {k}, scale_day = {lam} }}')
    cohort = hsctsim.simulate(s, n, seed=4)

    def surv_ill(u, t):  # in the ill state from day u, still alive at day t
        if clock == "reset":
            return math.exp(-((t - u) / lam) ** k)
        return math.exp(-(t / lam) ** k + (u / lam) ** k)

    days = [50.0, 150.0, 300.0]
    truth = [integrate.quad(lambda u: a * math.exp(-(a + b) * u) * surv_ill(u, t), 0, t)[0]
             for t in days]
    ill = cohort.state_at(days) == 1
    assert_within_se(ill.mean(axis=0), truth, n)


def test_reentered_states_against_the_markov_solution(tmp_path):
    """remission <-> relapse, with death from both: unrolled visits vs expm of the generator."""
    text = """
kind = "multistate"
name = "relapsing"
horizon_days = 365
clock = "forward"
[states]
names = ["remission", "relapse", "dead"]
absorbing = ["dead"]
max_visits = 12
[[transitions]]
from = "remission"
to = "relapse"
timing = { family = "exponential", rate_per_day = 0.01 }
source = "test"
[[transitions]]
from = "relapse"
to = "remission"
timing = { family = "exponential", rate_per_day = 0.03 }
source = "test"
[[transitions]]
from = "relapse"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.005 }
source = "test"
[[transitions]]
from = "remission"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.001 }
source = "test"
"""
    s = load_scenario(write(tmp_path, text))
    u = unroll(s)
    assert max(v for visits in u.node_visits for v in visits) == 12
    names = layout(s).process_names
    assert "relapse#2->remission" in names and "remission#2->relapse" in names
    q = np.array([[-0.011, 0.01, 0.001], [0.03, -0.035, 0.005], [0, 0, 0]])
    n = 100_000
    cohort = hsctsim.simulate(s, n, seed=9)
    days = [60.0, 180.0, 365.0]
    state = cohort.state_at(days)
    for j, d in enumerate(days):
        truth = expm(q * d)[0]
        assert_within_se([(state[:, j] == k).mean() for k in range(3)], truth, n)


def test_covariates_mix_hazard_ratios_and_reproducibility(tmp_path):
    s = load_scenario(write(tmp_path, COVARIATE_MODEL))
    n = 100_000
    cohort = hsctsim.simulate(s, n, seed=11)
    x, age = cohort.covariates["high_risk"], cohort.covariates["age_decades"]
    assert_within_se([x.mean(), (age == 5).mean()], [0.3, 0.5], n)
    dead = cohort.state_at([150.0])[:, 0] == 1
    for hr_x in (0, 1):
        for a in (3, 5, 7):
            rows = (x == hr_x) & (age == a)
            rate = 0.002 * math.exp(0.7 * hr_x + 0.1 * a)
            assert_within_se([dead[rows].mean()], [1 - math.exp(-rate * 150)], rows.sum())
    # same patients whatever the chunking; covariates keyed by (seed, patient)
    chunked = hsctsim.simulate(s, n, seed=11, chunk_size=30_001)
    np.testing.assert_array_equal(chunked.event_day, cohort.event_day)
    np.testing.assert_array_equal(chunked.covariates["high_risk"], x)
    tail = draw_covariates(s, 11, np.arange(50_000, 50_010))
    np.testing.assert_array_equal(tail["age_decades"], age[50_000:50_010])


def test_mstate_layout_on_a_hand_computed_case(tmp_path):
    """Three illness-death patients: ill then dead; dead at once; ill and censored."""
    s = illness_death(tmp_path, horizon=100)
    inf = np.inf
    days = np.array([[10.0, inf, 25.0],   # healthy -> ill at 10, ill -> dead at 25
                     [inf, 40.0, inf],    # healthy -> dead at 40
                     [60.0, inf, inf]])   # healthy -> ill at 60, censored at 100
    cohort = MultistateCohort(days, s, 1, 100.0, "test", {}, first_patient=7)
    t = cohort.mstate_table()
    got = list(zip(*(t[c].tolist() for c in ("id", "from", "to", "trans", "Tstart", "Tstop",
                                              "status"))))
    assert got == [(7, 1, 2, 1, 0.0, 10.0, 1), (7, 1, 3, 2, 0.0, 10.0, 0),
                   (7, 2, 3, 3, 10.0, 25.0, 1),
                   (8, 1, 2, 1, 0.0, 40.0, 0), (8, 1, 3, 2, 0.0, 40.0, 1),
                   (9, 1, 2, 1, 0.0, 60.0, 1), (9, 1, 3, 2, 0.0, 60.0, 0),
                   (9, 2, 3, 3, 60.0, 100.0, 0)]
    _, matrix = cohort.transition_numbers()
    np.testing.assert_array_equal(matrix, [[0, 1, 2], [0, 0, 3], [0, 0, 0]])
    spent = cohort.time_in_states()
    np.testing.assert_array_equal(spent, [[10, 15, 75], [40, 0, 60], [60, 40, 0]])


def test_ebmt4_runs_from_the_cli(tmp_path):
    runner = CliRunner()
    table = runner.invoke(cli, ["run", "ebmt4", "-n", "3000", "--seed", "1"])
    assert table.exit_code == 0, table.output
    assert "state occupation probability" in table.stdout and "recovery_ae" in table.stdout
    out = tmp_path / "run"
    result = runner.invoke(cli, ["run", "ebmt4", "-n", "3000", "--seed", "1", "--format", "json",
                                 "--out", str(out), "--events", "--events-layout", "mstate",
                                 "--plot"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    arm = doc["arms"]["ebmt4"]
    occ = [arm["endpoints"][f"occupation:{s}"]["at"]["d365"]["estimate"] for s in arm["states"]]
    assert sum(occ) == pytest.approx(1.0, abs=1e-5)
    times = [arm["endpoints"][f"time_in:{s}"]["at"]["d3652"]["estimate"] for s in arm["states"]]
    assert sum(times) == pytest.approx(3652, abs=0.01)
    header = (out / "events" / "ebmt4.csv").read_text().splitlines()[0]
    assert header == "id,from,to,trans,Tstart,Tstop,time,status"
    assert (out / "events" / "ebmt4.tmat.csv").read_text().splitlines()[1] == \
        "transplant,NA,1,2,NA,3,4"
    assert (out / "summary.csv").read_text().count("ebmt4,occupation:death,") == 7
    assert (out / "figures" / "ebmt4_state_occupation.png").stat().st_size > 1000
    plain = tmp_path / "plain"
    assert runner.invoke(cli, ["run", "ebmt4", "-n", "200", "--out", str(plain),
                               "--events"]).exit_code == 0
    rows = (plain / "events" / "ebmt4.csv").read_text().splitlines()
    assert rows[0] == "patient,from,to,start_day,stop_day"
    assert all(r.split(",")[1] in load_scenario("ebmt4").states for r in rows[1:])
    assert any(r.split(",")[2] == "end_of_follow_up" for r in rows[1:])
    again = runner.invoke(cli, ["plot", str(out), "--format", "svg"])
    assert again.exit_code == 0 and (out / "figures" / "ebmt4_state_occupation.svg").exists()


@pytest.mark.parametrize("args, words", [
    (["run", "ebmt4", "mac", "-n", "100"], "cannot share a run"),
    (["run", "mac", "-n", "100", "--out", "x", "--events", "--events-layout", "mstate"],
     "only for multi-state"),
    (["run", "ebmt4", "-n", "100", "--compare", "ebmt4"], "given twice"),
])
def test_multistate_user_errors(args, words):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_replicates_draw_fitted_transitions(tmp_path):
    """--replicates: each replicate redraws the fitted transitions; ui95 from percentiles."""
    from hsctsim.apps.msrunner import replicate_scenario, run_multistate

    fit = ('fit = { params = ["log_rate_per_day"], estimate = [-4.6], '
           'covariance = [[0.04]], n_events = 25 }\n')
    text = ILLNESS_DEATH.format(a=0.01, b=0.004, clock="reset", horizon=400,
                                death='{ family = "exponential", rate_per_day = 0.02 }')
    s = load_scenario(write(tmp_path, text.replace('source = "test"\n',
                                                   'source = "test"\n' + fit, 1)))
    assert s.transitions[0].fit["n_events"] == 25 and s.transitions[1].fit is None

    def draw(table, rng):  # the fit's normal on the log rate (as hsctsim fit's draw does)
        mean, var = table["fit"]["estimate"][0], table["fit"]["covariance"][0][0]
        return dict(table, timing={"family": "exponential",
                                   "rate_per_day": math.exp(rng.normal(mean, math.sqrt(var)))})

    one = replicate_scenario(s, np.random.default_rng(1), draw)
    assert one.transitions[0].timing.params != s.transitions[0].timing.params
    assert one.transitions[1:] == s.transitions[1:]
    arms = run_multistate({"idm": s}, 2000, 3, 400.0, replicates=8, draw=draw)
    again = run_multistate({"idm": s}, 2000, 3, 400.0, replicates=8, draw=draw)
    assert arms == again
    at = arms["idm"]["endpoints"]["occupation:ill"]["at"]["d365"]
    low, high = at["ui95"]
    assert low < at["estimate"] < high and high - low > at["ci95"][1] - at["ci95"][0]
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "model.toml"), "-n", "100",
                                      "--replicates", "2"])
    assert "Traceback" not in result.output
