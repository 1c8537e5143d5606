"""Sweeps of costs, utilities and durations, several arms, and multi-state models:
ICERs and net benefit per point against hand-computed and closed-form answers."""

import csv
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from hsctsim.apps.cli import cli
from hsctsim.model.economics import DAYS_PER_YEAR, Discount, economics_of
from hsctsim.model.scenario import load_scenario
from msm_data import illness_death_model

A, T = 0.002, 1500.0  # healthy -> sick per day, horizon
SEED = 7

MODEL = illness_death_model(A, T) + f"""
[costs]
currency = "USD"
price_year = 2020
at_start = {{ value = 1000, source = "test" }}
on_entry = {{ "healthy->sick" = {{ value = 5000, source = "test" }} }}

[costs.per_day]
healthy = {{ value = 10, source = "test" }}
sick = {{ value = [80, 120], source = "test" }}

[utilities]
dead = ["dead"]

[utilities.states]
healthy = {{ value = 0.9, source = "test" }}
sick = {{ value = [0.4, 0.6], source = "test" }}
"""


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    """Two illness-death arms that differ only in how fast the sick die."""
    folder = tmp_path_factory.mktemp("ill")
    out = []
    for name, rate in (("slow", 0.003), ("fast", 0.005)):
        path = folder / f"{name}.toml"
        path.write_text(MODEL.replace("NAME", name).replace("RATE", str(rate)))
        out.append(str(path))
    return out


def sweep(out, *args):
    result = CliRunner().invoke(cli, ["sweep", *args, "--seed", str(SEED), "--local",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "sweep.csv", newline="") as fh:
        return list(csv.DictReader(fh)), result.output


def pick(rows, point, arm, endpoint, day=None):
    (row,) = [r for r in rows if r["point"] == str(point) and r["arm"] == arm
              and r["endpoint"] == endpoint and (day is None or r["landmark_day"] == str(day))]
    return row


def value(row):
    return float(row["estimate"])


def discounted(rate_per_day):
    """integral_0^T exp(-(rate + delta) t) dt at 3% a year, continuously."""
    x = rate_per_day + Discount().force_per_day
    return (1 - math.exp(-x * T)) / x


def test_a_swept_one_off_cost_moves_net_benefit_exactly_linearly(arms, tmp_path):
    rows, printed = sweep(tmp_path / "s", arms[1], arms[0], "--grid",
                          "slow:costs.on_entry.healthy->sick=0:10000:3", "-n", "20000")
    assert "slow: ICER vs fast" in printed and "slow: NMB at 50,000" in printed
    nmb = [value(pick(rows, p, "slow", "nmb_100000")) for p in (1, 2, 3)]
    inc = [value(pick(rows, p, "slow", "incremental_costs")) for p in (1, 2, 3)]
    dq = {value(pick(rows, p, "slow", "incremental_qalys")) for p in (1, 2, 3)}
    # the same patients at every point: only the price of their events moves
    assert len(dq) == 1
    assert nmb[0] - nmb[1] == pytest.approx(nmb[1] - nmb[2], rel=1e-9)
    assert inc[1] - inc[0] == pytest.approx(nmb[0] - nmb[1], rel=1e-9)
    # slope: -5000 x the discounted share who fall sick, A * integral exp(-(A + d) t);
    # its Monte Carlo error is a binomial share's (20,000 patients), 4.5 standard errors
    slope = (nmb[0] - nmb[1]) / 5000
    exact = A * discounted(A)
    assert abs(slope - exact) < 4.5 * math.sqrt(0.95 * 0.05 / 20000)
    # the reference arm's figure was not moved
    assert float(pick(rows, 3, "fast", "costs")["fast:costs.on_entry.healthy->sick"]) == 5000


def test_icer_of_the_toy_is_the_hand_computed_ratio(arms, tmp_path):
    """The arms differ only in time sick: per patient, extra cost 100 a day and extra
    QALYs 0.5 / 365.25 a day, so the ICER is 100 x 365.25 / 0.5 = 73,050 exactly."""
    rows, _ = sweep(tmp_path / "s", arms[1], arms[0], "--cea", "--grid",
                    "utilities.healthy=0.8:0.9:2", "-n", "5000")
    for p in (0, 1, 2):
        row = pick(rows, p, "slow", "icer")
        assert row["kind"] == "ratio"
        assert value(row) == pytest.approx(100 * DAYS_PER_YEAR / 0.5, rel=1e-9)
    # incremental QALYs: 0.5 x the difference in discounted days sick, closed form
    d = Discount().force_per_day

    def sick(b):
        return A / (b - A) * (discounted(A) - (1 - math.exp(-(b + d) * T)) / (b + d))

    exact = 0.5 * (sick(0.003) - sick(0.005)) / DAYS_PER_YEAR
    row = pick(rows, 0, "slow", "incremental_qalys")
    half = (float(row["ci95_high"]) - float(row["ci95_low"])) / 2
    assert abs(value(row) - exact) < 1.5 * half  # 95% CI widened to ~3 standard errors


def test_psa_draws_costs_gamma_and_utilities_beta_as_cea(arms, tmp_path):
    rows, printed = sweep(tmp_path / "p", arms[1], arms[0], "--psa", "4", "--cea",
                          "-n", "2000")
    assert "P(>0)" in printed and "from gamma and utilities from beta" in printed
    econ = economics_of(load_scenario(arms[0]))
    for r in range(4):
        drawn = econ.draw(SEED, r, "gamma-beta")
        row = pick(rows, r, "slow", "icer")
        c, u = drawn.cost("per_day.sick"), drawn.utility("sick")
        # the columns are cea's draws, shared by the arms (one stream per figure)
        assert float(row["slow:costs.per_day.sick"]) == c == float(row["fast:costs.per_day.sick"])
        assert float(row["slow:utilities.sick"]) == u
        # each draw's ICER is its own hand-computed ratio
        assert value(row) == pytest.approx(c * DAYS_PER_YEAR / u, rel=1e-9)
        dq = value(pick(rows, r, "slow", "incremental_qalys"))
        dc = value(pick(rows, r, "slow", "incremental_costs"))
        assert value(pick(rows, r, "slow", "nmb_50000")) == pytest.approx(50000 * dq - dc)
    with open(tmp_path / "p" / "psa_summary.csv", newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert {r["endpoint"] for r in summary} >= {"costs", "nmb_100000", "occupation:dead"}
    assert "icer" not in {r["endpoint"] for r in summary}


def test_multistate_occupation_against_the_closed_form_and_resume(arms, tmp_path):
    rows, _ = sweep(tmp_path / "m", arms[1], "--grid", "costs.at_start=0:2000:2",
                    "-n", "20000")
    b = 0.005
    for day in (365, 730):
        p = 1 - math.exp(-A * day) - A / (b - A) * (math.exp(-A * day) - math.exp(-b * day))
        got = value(pick(rows, 0, "fast", "occupation:dead", day))
        assert abs(got - p) < 4.5 * math.sqrt(p * (1 - p) / 20000)
    # at_start falls on every patient on day 0: costs move by exactly the change
    assert value(pick(rows, 2, "fast", "costs")) - value(pick(rows, 1, "fast", "costs")) \
        == pytest.approx(2000, rel=1e-9)
    again = CliRunner().invoke(cli, ["sweep", arms[1], "--grid", "costs.at_start=0:2000:2",
                                     "-n", "20000", "--seed", str(SEED), "--local", "--out",
                                     str(tmp_path / "m"), "--resume"])
    assert again.exit_code == 0 and "(3 resumed)" in again.output, again.output


def test_transplant_cost_of_one_arm_moves_its_nmb_by_the_change(tmp_path):
    """Transplant arms: the cost of the transplant falls on day 0 on every patient."""
    rows, _ = sweep(tmp_path / "t", "mac", "ric", "--grid",
                    "ric:costs.transplant=200000:300000:2", "-n", "1000",
                    "--calibration-patients", "2000")
    for w in ("50000", "150000"):
        low, high = (value(pick(rows, p, "ric", f"nmb_{w}")) for p in (1, 2))
        assert low - high == pytest.approx(100000, rel=1e-9)
    assert value(pick(rows, 2, "mac", "costs")) == value(pick(rows, 1, "mac", "costs"))
    assert pick(rows, 1, "ric", "os", 365)["estimate"] == pick(rows, 2, "ric", "os", 365)[
        "estimate"]


@pytest.mark.parametrize("args, says", [
    (["ARM0", "--grid", "costs.transplnt=1:2:2"], "'costs.transplnt' is not a cost"),
    (["ARM0", "ARM1", "--grid", "nope:costs.at_start=1:2:2"], "no arm 'nope'"),
    (["ARM0", "--grid", "relapse.incidence=0.1:0.2:2"], "a multi-state model has none"),
    (["ARM0", "--grid", "costs.at_start=-5:2:2"], "within"),
    (["ARM0", "ric", "--cea", "--psa", "2"], "cannot share a sweep"),
    (["ebmt4", "--cea", "--psa", "2"], "costs: missing"),
    (["ebmt4", "--psa", "2"], "nothing to draw"),
    (["ARM0", "--psa", "2", "--wtp", "lots"], "expected numbers"),
    (["ARM0", "--psa", "2", "--draws", "posterior"], "leave out --draws"),
    (["mac", "auto_lymphoma", "--psa", "2", "--draws", "posterior"],
     "which has no calibration targets"),
])
def test_careless_sweeps_get_one_line(arms, tmp_path, args, says):
    args = [arms[0] if a == "ARM0" else arms[1] if a == "ARM1" else a for a in args]
    out = CliRunner().invoke(cli, ["sweep", *args, "-n", "100", "--local", "--out",
                                   str(tmp_path / "x")])
    assert out.exit_code == 2, out.output
    assert says in out.output and "Traceback" not in out.output, out.output
    # one error line (click's own usage errors add their usage lines above it)
    assert len([line for line in out.output.splitlines() if "Error" in line]) == 1
    if "--wtp" not in args:
        assert len([line for line in out.output.splitlines() if line.strip()]) == 1, out.output
    assert not (tmp_path / "x").exists()


def test_plot_of_several_multistate_arms_draws_each_arm_and_the_decisions(arms, tmp_path):
    rows, printed = sweep(tmp_path / "o", arms[1], arms[0], "--grid",
                          "slow:costs.on_entry.healthy->sick=0:10000:2", "--grid",
                          "utilities.sick=0.4:0.6:2", "-n", "500", "--plot")
    figures = {p.name for p in (tmp_path / "o" / "figures").iterdir()}
    # costs and utilities move no state occupation: no clinical tornado, but the ICER and
    # the net benefit at each point and the tornado of slow's net benefit
    assert figures == {"icer_points.png", "nmb_points.png", "tornado_nmb_slow.png"}
    assert "figures/tornado_nmb_slow.png" in printed
    _, printed = sweep(tmp_path / "p", arms[1], arms[0], "--psa", "3", "--cea", "-n", "300",
                       "--plot")
    figures = {p.name for p in (tmp_path / "p" / "figures").iterdir()}
    assert "psa_plane.png" in figures
    assert {f"psa_occupation_{s}_{a}.png" for s in ("healthy", "sick", "dead")
            for a in ("fast", "slow")} <= figures


def test_a_single_arm_sweep_without_costs_is_as_before(tmp_path):
    rows, printed = sweep(tmp_path / "r", "ric", "--grid", "relapse.incidence=0.4:0.5:2",
                          "-n", "500", "--calibration-patients", "2000")
    assert "costs" not in {r["endpoint"] for r in rows} and "ICER" not in printed
    assert "relapse.incidence" in rows[0]  # columns without an arm's name


def test_multistate_psa_draw_is_the_run_replicate(tmp_path):
    """PSA draw r of a fitted model: the transitions `run --replicates` draws for
    replicate r, on replicate r's patients; the draws are the parameter columns."""
    from hsctsim.analysis.fit import draw_transition
    from hsctsim.analysis.occupation import MultistateTally
    from hsctsim.api import iter_chunks
    from hsctsim.apps.msrunner import replicate_scenario
    from hsctsim.model.scenario import replicate_rng
    from hsctsim.sim import stream_seed

    data = Path(__file__).resolve().parents[1] / "data" / "illness_death.csv"
    fitted = tmp_path / "fitted.toml"
    out = CliRunner().invoke(cli, ["fit", str(data), "--clock", "reset", "--family", "weibull",
                                   "--out", str(fitted)])
    assert out.exit_code == 0, out.output
    rows, printed = sweep(tmp_path / "f", str(fitted), "--psa", "2", "-n", "3000")
    assert "asymptotic normal" in printed
    s = load_scenario(str(fitted))
    for r in range(2):
        point = replicate_scenario(s, replicate_rng(SEED, r), draw_transition)
        tally = MultistateTally((30, 100, 180, 365, 730), s.horizon_days)
        for chunk in iter_chunks(point, 3000, 500_000, stream_seed(SEED, r)):
            tally.add(chunk)
        want = tally.summary()["occupation:relapse"]["at"]["d365"]["estimate"]
        got = pick(rows, r, "fitted", "occupation:relapse", 365)
        assert value(got) == want
        t = next(t for t in point.transitions if t.label == "transplant->relapse")
        assert float(got["transplant->relapse.timing.shape"]) == dict(t.timing.spec)["shape"]


def test_several_arms_on_dask_workers_give_the_local_table(arms, tmp_path):
    pytest.importorskip("dask.distributed")
    args = [arms[1], arms[0], "--grid", "costs.per_day.healthy=5:15:2", "-n", "2000",
            "--seed", str(SEED)]
    here = CliRunner().invoke(cli, ["sweep", *args, "--local", "--out", str(tmp_path / "a")])
    there = CliRunner().invoke(cli, ["sweep", *args, "--workers", "2", "--out",
                                     str(tmp_path / "b")])
    assert here.exit_code == 0 and there.exit_code == 0, there.output
    assert (tmp_path / "a" / "sweep.csv").read_text() == (tmp_path / "b" / "sweep.csv").read_text()


def test_lifetime_follows_every_patient_to_death(tmp_path):
    """--lifetime: the horizon is the arms' lifetime, so QALYs exceed the 2-year ones; an
    arm without late mortality is refused in one line."""
    def qalys(*extra):
        out = tmp_path / f"s{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(cli, ["sweep", "mac", "ric", "--grid",
                                          "costs.transplant=300000:360000:2", "-n", "1000",
                                          "--local", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader((out / "sweep.csv").open()))
        return [float(r["estimate"]) for r in rows
                if r["arm"] == "mac" and r["endpoint"] == "qalys"]

    short, life = qalys(), qalys("--lifetime")
    assert min(life) > 3 * max(short)
    result = CliRunner().invoke(cli, ["sweep", "auto", "mac", "--psa", "2", "--lifetime",
                                      "--local", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "no [late_mortality]" in result.output
    assert len(result.output.strip().splitlines()) == 1
