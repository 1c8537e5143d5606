"""``hsctsim calibrate``: its files, its report and its one-line errors."""

import json

import pytest
from click.testing import CliRunner

import hsctsim.sim.posterior as posterior
from hsctsim.apps.common import posteriors_if_all, replicate_posteriors
from hsctsim.apps.cli import cli
from hsctsim.model.calibrate import calibrate, fingerprint
from hsctsim.model.scenario import load_scenario

TINY = ["--sets", "12", "-n", "500", "--calibration-patients", "1000", "--seed", "5"]


def test_calibrate_writes_the_posterior_and_its_summary(tmp_path):
    out = tmp_path / "post"
    result = CliRunner().invoke(cli, ["calibrate", "ric", *TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "held by calibration" in result.output and "trm d548" in result.output
    post = json.loads((out / "posterior.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    keys = [k for k, r in load_scenario("ric").ranges() if r.low != r.high]
    assert [p["key"] for p in post["parameters"]] == keys
    assert len(post["sets"]) == 12 and len(post["susceptible"]) == 12
    assert all(len(s) == len(keys) for s in post["sets"])
    assert summary["hsctsim_version"] and summary["diagnostics"]["resampled"] == 12
    assert (out / "prior_posterior.png").stat().st_size > 0
    # a second run into the same folder needs --overwrite
    again = CliRunner().invoke(cli, ["calibrate", "ric", *TINY, "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_calibrate_errors_are_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["calibrate", "nosuch", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "nosuch" in result.output
    result = runner.invoke(cli, ["calibrate", "auto", *TINY, "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "calibration_targets.toml" in result.output and "no calibration targets" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "b").exists()


def test_run_replicates_draw_posterior_sets_without_solving(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    assert runner.invoke(cli, ["calibrate", "ric", *TINY]).exit_code == 0
    import hsctsim.sim.cohorts as cohorts

    solved = []
    real = cohorts.calibrate

    def counting(point, *args, **kwargs):
        solved.append(point)
        return real(point, *args, **kwargs)

    monkeypatch.setattr(cohorts, "calibrate", counting)
    args = ["run", "ric", "-n", "500", "--replicates", "2", "--format", "json"]
    result = runner.invoke(cli, [*args, "--draws", "posterior"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output[result.output.index("{"):])
    assert document["draws"]["from"] == "posterior" and document["draws"]["sets"] == {"ric": 12}
    assert document["arms"]["ric"]["endpoints"]["os"]["at"]["d365"]["ui95"][0] is not None
    assert len(solved) == 1  # the midpoint cohort only: each posterior set brings its own
    solved.clear()
    result = runner.invoke(cli, [*args, "--draws", "ranges"])
    assert json.loads(result.output[result.output.index("{"):])["draws"]["from"] == "ranges"
    assert len(solved) == 5  # the midpoints, then each draw: its start and its solve
    # a --set changes the arm: its posterior does not apply
    result = runner.invoke(cli, [*args, "--draws", "posterior", "--recalibrate",
                                 "--set", "agvhd.incidence=0.4"])
    assert result.exit_code == 2 and "--set agvhd.incidence=0.4 changes it" in result.output


def test_draws_posterior_needs_a_posterior_and_replicates(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "empty"))
    runner = CliRunner()
    # auto (no targets) has no posterior shipped, and none can be made: draw its ranges
    result = runner.invoke(cli, ["run", "auto", "-n", "500", "--replicates", "2",
                                 "--draws", "posterior"])
    assert result.exit_code == 2 and "no calibration targets" in result.output
    assert "--draws ranges" in result.output
    result = runner.invoke(cli, ["run", "ric", "-n", "500", "--draws", "posterior"])
    assert result.exit_code == 2 and "--replicates" in result.output


def test_sweep_psa_takes_posterior_sets_without_solving(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    assert runner.invoke(cli, ["calibrate", "ric", *TINY]).exit_code == 0
    post = json.loads((tmp_path / "cache" / "posterior" / "ric" / "posterior.json").read_text())
    import hsctsim.apps.sweeps as sweeps
    import hsctsim.sim.cohorts as cohorts

    def refuse(*args, **kwargs):
        raise AssertionError("a posterior draw was solved again")

    monkeypatch.setattr(sweeps, "calibrate", refuse)
    monkeypatch.setattr(cohorts, "calibrate", refuse)
    out = tmp_path / "psa"
    result = runner.invoke(cli, ["sweep", "ric", "--psa", "3", "-n", "500", "--local",
                                 "--draws", "posterior", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "jointly from the posterior" in result.output
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["draws"]["from"] == "posterior" and manifest["draws"]["sets"] == 12
    for r in range(3):
        point = json.loads((out / "points" / f"{r:06d}.json").read_text())
        assert point["susceptible"] == post["susceptible"][r]
        keys = [p["key"] for p in post["parameters"]]
        assert [point["parameters"][k] for k in keys] == post["sets"][r]


def test_sweep_psa_of_several_arms_takes_each_arms_posterior_sets(tmp_path, monkeypatch):
    """mac and ric ship posteriors: draw r takes each arm's own set r with its stored
    calibration (no solve), its costs drawn as cea's replicate r; the same seed gives
    the same table, and --draws auto takes the posteriors too."""
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "empty"))  # the shipped ones
    import hsctsim.apps.sweeps as sweeps
    import hsctsim.sim.cohorts as cohorts
    from hsctsim.api import DEFAULT_SEED
    from hsctsim.model.economics import economics_of
    from hsctsim.sim.posterior import load_posterior

    def refuse(*args, **kwargs):
        raise AssertionError("a posterior draw was solved again")

    monkeypatch.setattr(sweeps, "calibrate", refuse)
    monkeypatch.setattr(cohorts, "calibrate", refuse)
    runner = CliRunner()
    tables = []
    for draws in ("posterior", "auto"):
        out = tmp_path / draws
        result = runner.invoke(cli, ["sweep", "mac", "ric", "--psa", "3", "-n", "300",
                                     "--cea", "--local", "--draws", draws, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "each arm's set r" in result.output
        manifest = json.loads((out / "sweep.json").read_text())
        assert manifest["draws"]["from"] == "posterior"
        assert manifest["draws"]["sets"] == {"mac": 1000, "ric": 1000}
        tables.append((out / "sweep.csv").read_text())
    assert tables[0] == tables[1]
    posts = {arm: load_posterior(load_scenario(arm)) for arm in ("mac", "ric")}
    econ = {arm: economics_of(load_scenario(arm)) for arm in ("mac", "ric")}
    drawn = set()
    for r in range(3):
        point = json.loads((tmp_path / "posterior" / "points" / f"{r:06d}.json").read_text())
        for arm, post in posts.items():
            assert point["susceptible"][arm] == post.susceptible[r]
            got = [point["parameters"][f"{arm}:{k}"] for k in post.keys]
            assert got == post.values[r].tolist()
            cost = econ[arm].draw(DEFAULT_SEED, r).cost("agvhd_onset")  # ranged
            assert point["parameters"][f"{arm}:costs.agvhd_onset"] == cost
            drawn.add(cost)
    assert len(drawn) == 3  # a cost drawn per draw (arms sharing it draw it alike)
    # the arms' sets differ: each arm draws its own posterior
    assert posts["mac"].values[0].tolist() != posts["ric"].values[0].tolist()


def test_validate_shows_posterior_predictive_intervals_and_coverage(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    monkeypatch.setattr(posterior, "BUNDLED_POSTERIORS", tmp_path / "none_shipped")
    result = runner.invoke(cli, ["validate", "mst", "-n", "500", "--posterior"])
    assert result.exit_code == 2 and "hsctsim calibrate mst" in result.output
    assert runner.invoke(cli, ["calibrate", "ric", *TINY]).exit_code == 0
    result = runner.invoke(cli, ["validate", "ric", "-n", "500", "--posterior",
                                 "--posterior-sets", "3", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    document = json.loads(result.output)
    pp = document["posterior_predictive"]
    assert pp["arms"] == ["ric"]
    for row in pp["figures"]:
        if "HR" in row["figure"]:
            assert row["interval90"] is None and row["inside"] is None
        else:
            # (a small subgroup at -n 500, e.g. an age band, may give one value: low == high)
            low, high = row["interval90"]
            assert 0 <= low <= high <= 1 and row["inside"] == (low <= row["published"] <= high)
    scored = [r for r in pp["figures"] if r["counted"] and r["inside"] is not None]
    assert pp["coverage"] == {"inside": sum(r["inside"] for r in scored), "of": len(scored)}


def test_cea_replicates_draw_posterior_sets(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    for arm in ("mac", "ric"):
        assert runner.invoke(cli, ["calibrate", arm, *TINY]).exit_code == 0
    import hsctsim.sim.cohorts as cohorts

    solved = []
    real = cohorts.calibrate
    monkeypatch.setattr(cohorts, "calibrate",
                        lambda point, *a, **k: solved.append(point) or real(point, *a, **k))
    result = runner.invoke(cli, ["cea", "mac", "ric", "-n", "300", "--replicates", "2",
                                 "--draws", "posterior", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{"):])
    assert doc["draws"]["from"] == "posterior" and doc["draws"]["sets"] == {"mac": 12, "ric": 12}
    assert len(doc["replicate_means"]["ric"]["costs"]) == 2
    assert len(solved) == 2  # the two midpoint cohorts only


def test_calibrate_help_has_examples():
    result = CliRunner().invoke(cli, ["calibrate", "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output and "--sets" in result.output


NEW_ARMS = ("mst", "haplo_ptcy", "haplo_nk")  # targets added; posteriors shipped later


def _tiny_posterior(arm, folder, sets=3):
    """A posterior.json as `hsctsim calibrate` writes it: ``sets`` copies of the
    midpoints with their (shipped) calibration, made for the arm as configured."""
    scenario = load_scenario(arm)
    ranged = [(k, r) for k, r in scenario.ranges() if r.low != r.high]
    point = scenario.at_midpoints()
    data = {"arm": arm, "parameters": [{"key": k, "low": r.low, "high": r.high,
                                        "distribution": r.distribution} for k, r in ranged],
            "sets": [[r.mid for _, r in ranged]] * sets,
            "susceptible": [calibrate(point)] * sets,
            "settings": {"fingerprint": fingerprint(point)}}
    (folder / arm).mkdir(parents=True)
    (folder / arm / "posterior.json").write_text(json.dumps(data))


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The package's posteriors as they will be once every arm with targets ships one."""
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path / "cache"))  # none of one's own
    folder = tmp_path / "shipped"
    folder.mkdir()
    for arm in ("mac", "ric"):
        (folder / arm).mkdir()
        (folder / arm / "posterior.json").write_text(
            (posterior.BUNDLED_POSTERIORS / arm / "posterior.json").read_text())
    for arm in NEW_ARMS:
        _tiny_posterior(arm, folder)
    monkeypatch.setattr(posterior, "BUNDLED_POSTERIORS", folder)
    return folder


def test_draws_auto_takes_the_shipped_posteriors_of_every_arm_with_targets(shipped):
    loaded = {arm: load_scenario(arm) for arm in ("mac", *NEW_ARMS)}
    samples = posteriors_if_all(loaded)
    assert samples is not None and set(samples) == set(loaded)
    for arm in NEW_ARMS:
        assert samples[arm].path == str(shipped / arm / "posterior.json")
        assert len(samples[arm].values) == 3
    assert set(replicate_posteriors(loaded, 2, "auto")) == set(loaded)
    assert replicate_posteriors(loaded, 0, "auto") is None  # no replicates: no draws
    assert replicate_posteriors(loaded, 2, "ranges") is None
    # one arm without a posterior (auto has no targets): every arm draws the ranges
    assert posteriors_if_all({**loaded, "auto": load_scenario("auto")}) is None
    with pytest.raises(posterior.ScenarioError, match="auto', which has no calibration targ"):
        replicate_posteriors({"auto": load_scenario("auto")}, 2, "posterior")


def test_run_replicates_draws_auto_from_new_arms_posteriors(shipped, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "haplo_ptcy", "haplo_nk", "-n", "300",
                                      "--replicates", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    draws = json.loads((out / "summary.json").read_text())["draws"]
    assert draws["from"] == "posterior"
    assert draws["sets"] == {"haplo_ptcy": 3, "haplo_nk": 3}
