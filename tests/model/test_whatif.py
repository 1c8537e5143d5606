"""What-ifs (issue 9): what a --set holds fixed, per-arm settings, the shared loader."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.apps.cli import cli
from hsctsim.model.whatif import HELD, RECALIBRATED, excluded_by_design

from conftest import assert_within_se, invoke

SMALL = ["-n", "3000", "--seed", "5"]
N = 40_000


def by_day(cohort, name, day):
    return (cohort.day(name) <= day).mean()


def test_effect_what_if_holds_the_calibration_and_changes_relapse():
    ric = hsctsim.load_scenario("ric")
    changed = hsctsim.set_value(ric, "effects.cgvhd_on_relapse.hr", "0.1")
    held = hsctsim.what_if(ric, changed)
    assert held.mode == HELD and held.resolved == ()
    assert held.susceptible == hsctsim.model.calibrate.calibrate(ric.at_midpoints())
    base = hsctsim.simulate(ric, N, seed=3)
    what = hsctsim.simulate(held.scenario, N, seed=3, susceptible=held.susceptible)
    # chronic GVHD (about half the patients by day 548) now all but stops relapse
    assert by_day(what, "relapse", 548) < by_day(base, "relapse", 548) - 0.05
    # --recalibrate solves relapse again to its published 48.3% by day 548
    again = hsctsim.what_if(ric, changed, recalibrate=True)
    assert again.mode == RECALIBRATED and again.susceptible is None
    recal = hsctsim.simulate(again.scenario, N, seed=3)
    assert_within_se(by_day(recal, "relapse", 548), 0.483, N)


def test_incidence_what_if_solves_that_incidence_and_holds_the_rest():
    mac = hsctsim.load_scenario("mac")
    held = hsctsim.what_if(mac, hsctsim.set_value(mac, "agvhd.incidence", "0.6"))
    assert held.resolved == ("agvhd",) and "relapse" in held.held
    reference = hsctsim.model.calibrate.calibrate(mac.at_midpoints())
    assert all(held.susceptible[n] == reference[n] for n in held.held)
    what = hsctsim.simulate(held.scenario, N, seed=4, susceptible=held.susceptible,
                            interventions=False)
    assert_within_se(by_day(what, "agvhd", 100), 0.6, N)
    base = hsctsim.simulate(mac, N, seed=4)
    # more GVHD, less relapse (relapse's baseline is held, not solved back up)
    assert by_day(what, "relapse", 548) < by_day(base, "relapse", 548) - 0.005


def test_cli_says_which_calibration_ran(tmp_path):
    plain = json.loads(invoke("run", "ric", *SMALL, "--format", "json").stdout)
    assert plain["arms"]["ric"]["what_if"]["calibration"] == "calibrated"
    held = invoke("run", "ric", *SMALL, "--set", "effects.cgvhd_on_relapse.hr=0.1")
    assert held.exit_code == 0, held.output
    assert "what-if:" in held.stdout and "baseline hazards held" in held.stdout
    doc = json.loads(invoke("run", "ric", *SMALL, "--set", "effects.cgvhd_on_relapse.hr=0.1",
                            "--format", "json").stdout)
    entry = doc["arms"]["ric"]["what_if"]
    assert entry["calibration"] == "held" and entry["settings"] == [
        "effects.cgvhd_on_relapse.hr=0.1"]
    d365 = [d["arms"]["ric"]["endpoints"]["relapse"]["at"]["d365"]["estimate"]
            for d in (plain, doc)]
    assert d365[1] < d365[0] - 0.02
    recal = json.loads(invoke("run", "ric", *SMALL, "--set", "effects.cgvhd_on_relapse.hr=0.1",
                              "--recalibrate", "--format", "json").stdout)
    assert recal["arms"]["ric"]["what_if"]["calibration"] == "recalibrated"
    shown = invoke("show", "ric", "--set", "agvhd.incidence=0.6")
    assert "what-if: --set agvhd.incidence=0.6" in shown.stdout
    assert "solved again for a changed incidence: agvhd" in shown.stdout
    # replicates re-solve their draws: refused with a held what-if
    refused = CliRunner().invoke(cli, ["run", "ric", *SMALL, "--replicates", "2", "--set",
                                       "agvhd.incidence=0.6"])
    assert refused.exit_code == 2 and "--recalibrate" in refused.output


def test_arm_specific_set_and_warning_for_excluded_processes():
    alone = json.loads(invoke("run", "mac", *SMALL, "--format", "json").stdout)
    both = CliRunner().invoke(cli, ["run", "mac", "mst", *SMALL, "--format", "json",
                                    "--set", "mst:relapse.incidence=0.45"])
    assert both.exit_code == 0, both.output
    doc = json.loads(both.stdout)
    assert doc["arms"]["mac"]["endpoints"] == alone["arms"]["mac"]["endpoints"]
    assert doc["arms"]["mac"]["what_if"]["settings"] == []
    assert doc["arms"]["mst"]["what_if"]["settings"] == ["relapse.incidence=0.45"]
    assert "warning" not in both.stderr
    plain = CliRunner().invoke(cli, ["run", "mac", "mst", *SMALL, "--set",
                                     "agvhd.incidence=0.5"])
    assert plain.exit_code == 0
    assert ("warning: --set agvhd.incidence=0.5 changes mst, which has no agvhd by design"
            in plain.stderr) and "changes mac" not in plain.stderr
    wrong = CliRunner().invoke(cli, ["run", "mac", "mst", "--set", "msd:agvhd.incidence=0.5"])
    assert wrong.exit_code == 2 and "no arm 'msd' here" in wrong.output
    assert "did you mean 'mst'" in wrong.output
    nk = CliRunner().invoke(cli, ["run", "mac", "haplo_nk", "--set", "nk_cells.day=3"])
    assert nk.exit_code == 2 and "changes mac, which has no NK cells" in nk.stderr
    assert "--set nk_cells.day=3 (arm mac)" in nk.output


def test_excluded_by_design():
    mst, mac = hsctsim.load_scenario("mst"), hsctsim.load_scenario("mac")
    assert excluded_by_design(mst, "agvhd.incidence")
    assert excluded_by_design(mst, "effects.gvhd_on_cmv.hr")
    assert excluded_by_design(mst, "effects.cmv_on_trm.hr") is None
    assert excluded_by_design(mac, "agvhd.incidence") is None
    assert excluded_by_design(mac, "dli.delay_days") == "has no DLI"


@pytest.mark.parametrize("args, words", [
    (["run", "mac", "--set", "base=ric"], "--set base=ric: base: cannot be changed"),
    (["run", "mac", "--set", "agvhd.incidence=2"],
     "--set agvhd.incidence=2: agvhd.incidence: 2 is outside [0, 1]"),
    (["run", "mac", "--horizon", "nan"], "--horizon nan: not a number of days"),
    (["run", "mac", "--horizon", "20"], "shorter than the first landmark day (30)"),
    (["run", "mac", "--set", ":agvhd.incidence=0.2"], "expected KEY=VALUE or ARM:KEY=VALUE"),
])
def test_what_if_errors(args, words):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_check_show_and_run_refuse_the_same_files(tmp_path):
    nan = tmp_path / "nan.toml"
    nan.write_text("base = 'mac'\n[cmv]\ntiming = { family = 'piecewise', breaks_day = [0, 10],"
                   " rates_per_day = [0.01, nan] }\n")
    short = tmp_path / "short.toml"
    short.write_text("base = 'mac'\nhorizon_days = 10\n")
    for path, words in ((nan, "'rates_per_day'[1]"), (short, "horizon_days: 10 is shorter")):
        for args in (["check", str(path)], ["show", str(path)], ["run", str(path), "-n", "10"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 2, (args, result.output)
            assert words in result.output and "ok:" not in result.output, args


def test_bundled_name_wins_over_a_run_folder_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ric").mkdir()
    (tmp_path / "ric" / "summary.json").write_text("{}")
    result = CliRunner().invoke(cli, ["run", "ric", *SMALL])
    assert result.exit_code == 0, result.output
    assert "ric: using the bundled scenario" in result.stderr


def test_plot_redraws_a_held_what_if_with_its_fractions(tmp_path):
    from hsctsim.apps.plot import held_susceptible as _held_susceptible

    out = tmp_path / "w"
    assert invoke("run", "ric", *SMALL, "--out", str(out), "--set",
                  "effects.cgvhd_on_relapse.hr=0.1").exit_code == 0
    doc = json.loads((out / "summary.json").read_text())
    path = out / "scenarios" / "ric.json"
    assert _held_susceptible(doc["arms"]["ric"], path) == doc["arms"]["ric"]["calibration"]
    assert _held_susceptible({"what_if": {"calibration": "calibrated"}}, path) is None
    stored = json.loads(path.read_text())
    stored["calibrated_susceptible"]["relapse"] = 7.0
    path.write_text(json.dumps(stored))
    bad = CliRunner().invoke(cli, ["plot", str(out)])
    assert bad.exit_code == 2 and "calibrated_susceptible" in bad.output
    assert np.isfinite(doc["arms"]["ric"]["endpoints"]["relapse"]["at"]["d365"]["estimate"])


def test_a_held_timing_that_loses_the_events_is_named():
    # acute GVHD opens at engraftment (about day 15-20): timed at a median of day 2, a
    # held what-if keeps its fraction but loses nearly every event, so it warns
    mac = hsctsim.load_scenario("mac")
    early = hsctsim.set_value(hsctsim.set_value(mac, "agvhd.timing.median_day", "2"),
                              "agvhd.timing.p90_day", "4")
    lost = hsctsim.what_if(mac, early)
    (line,) = lost.warnings
    assert line.startswith("agvhd: ") and "37.5%" in line and lost.to_dict()["warnings"]
    what = hsctsim.simulate(lost.scenario, N, seed=6, susceptible=lost.susceptible)
    assert by_day(what, "agvhd", 100) < 0.045  # the warning's tenth of 45%
    # a later onset changes the incidence without losing it: no warning
    later = hsctsim.set_value(hsctsim.set_value(mac, "agvhd.timing.median_day", "30"),
                              "agvhd.timing.p90_day", "80")
    assert hsctsim.what_if(mac, later).warnings == ()
    result = invoke("run", "mac", *SMALL, "--set", "agvhd.timing.median_day=2",
                    "--set", "agvhd.timing.p90_day=4", "--format", "json")
    assert result.exit_code == 0 and "warning: mac: agvhd: " in result.stderr
    doc = json.loads(result.stdout)
    assert doc["arms"]["mac"]["what_if"]["warnings"] == [line]
