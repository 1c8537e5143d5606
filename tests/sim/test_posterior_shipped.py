"""Posteriors shipped with the package: current, found without a calibration of one's
own, and the default of what replicates draw (``--draws auto``)."""

import json

from click.testing import CliRunner

from hsctsim.apps.cli import cli
from hsctsim.model.posterior import BUNDLED_POSTERIORS
from hsctsim.model.scenario import load_scenario
from hsctsim.sim.posterior import load_posterior

SHIPPED = sorted(p.name for p in BUNDLED_POSTERIORS.iterdir() if p.is_dir())


def test_shipped_posteriors_are_current_and_found_without_a_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path))  # no posterior of one's own
    assert {"mac", "ric"} <= set(SHIPPED)
    for arm in SHIPPED:
        # refused if the arm's figures changed since it was made (load_posterior checks)
        sample = load_posterior(load_scenario(arm))
        assert sample.path == str(BUNDLED_POSTERIORS / arm / "posterior.json")
        assert len(sample.values) == len(sample.susceptible) == 1000


def test_a_posterior_of_ones_own_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path))
    own = tmp_path / "posterior" / "ric"
    own.mkdir(parents=True)
    (own / "posterior.json").write_text(
        (BUNDLED_POSTERIORS / "ric" / "posterior.json").read_text())
    assert load_posterior(load_scenario("ric")).path == str(own / "posterior.json")


def test_replicates_draw_the_posterior_by_default_and_ranges_when_it_does_not_apply(
        tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path))

    def draws(*args):
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(cli, ["run", *args, "-n", "2000", "--replicates", "2",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        return json.loads((out / "summary.json").read_text())["draws"]

    assert draws("ric")["from"] == "posterior"
    assert draws("ric", "--draws", "ranges")["from"] == "ranges"
    assert draws("mac", "auto")["from"] == "ranges"  # auto has none: all arms alike
    changed = draws("ric", "--set", "agvhd.incidence=0.5", "--recalibrate")
    assert changed["from"] == "ranges"  # the posterior was made for the figures as shipped


def test_ship_posteriors_writes_a_current_posterior_the_same_on_every_machine(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tiny = ["haplo_ptcy", "--sets", "10", "-n", "200", "--calibration-patients", "1000"]
    for dest in ("a", "b"):
        done = subprocess.run([sys.executable, "tools/ship_posteriors.py", *tiny, "--dest",
                               str(tmp_path / dest)], cwd=root, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "haplo_ptcy: 10 sets" in done.stdout
    written = (tmp_path / "a" / "haplo_ptcy" / "posterior.json").read_bytes()
    assert written == (tmp_path / "b" / "haplo_ptcy" / "posterior.json").read_bytes()
    data = json.loads(written)
    assert data["settings"]["targets_file"] == "hsctsim/model/calibration_targets.toml"
    assert data["settings"]["seed"] == 20251121
    sample = load_posterior(load_scenario("haplo_ptcy"), tmp_path / "a" / "haplo_ptcy")
    assert len(sample.values) == 10
    done = subprocess.run([sys.executable, "tools/ship_posteriors.py", "auto"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "auto: no calibration targets" in done.stderr
