"""A careless user of the new commands (fit, predict, cea, sweep, multi-state runs):
one line naming the option and the problem, exit status 2, no traceback, and no option
accepted only to be ignored."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hsctsim.apps.cli import cli
from conftest import assert_user_error, invoke


@pytest.mark.parametrize("args, option", [
    (["cea", "mac", "ric", "--discount", "nan"], "--discount"),
    (["cea", "mac", "ric", "--horizon", "nan"], "--horizon"),
    (["cea", "mac", "ric", "--wtp", "nan"], "--wtp"),
    (["cea", "mac", "ric", "--wtp", "50000,inf"], "--wtp"),
    (["predict", "ric", "--at", "nan"], "--at"),
    (["predict", "ric", "--at", "100", "--horizon", "nan"], "--horizon"),
    (["predict", "ric", "--at", "100", "--horizons", "365,nan"], "--horizons"),
    (["sweep", "ric", "--grid", "relapse.incidence=0.3:0.5:2", "--local", "--horizon", "nan",
      "--out", "OUT"], "--horizon"),
])
def test_nan_options_are_refused_by_name(args, option, tmp_path):
    # NaN passes every range comparison: it reached a ValueError traceback (cea
    # --discount, --horizon; sweep --horizon, after creating the --out folder) or a
    # table of nan (cea --wtp)
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert_user_error(invoke(*args, "-n", "100"), option)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", [["--events-format", "parquet"],
                                     ["--events-layout", "mstate"]])
def test_events_options_without_events_are_refused(option, tmp_path):
    # they were accepted and wrote no event table
    result = invoke("run", "ebmt4", "-n", "100", "--out", str(tmp_path / "r"), *option)
    assert_user_error(result, option[0], "--events")
    assert not (tmp_path / "r").exists()


def test_multistate_what_if_says_nothing_is_calibrated_and_is_recorded(tmp_path):
    # a --set on a multi-state arm was labelled "recalibrated" though nothing is
    # calibrated, and neither the table nor summary.json said a what-if ran
    result = invoke("run", "ebmt4", "-n", "200", "--set", "horizon_days=1000",
                    "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "what-if:" in result.output and "nothing is calibrated" in result.output
    assert "recalibrated" not in result.output
    what = json.loads((tmp_path / "r" / "summary.json").read_text())["arms"]["ebmt4"]["what_if"]
    assert what["calibration"] == "uncalibrated"
    assert what["settings"] == ["horizon_days=1000"]


def test_recalibrate_on_a_multistate_arm_is_refused():
    # it was accepted and did nothing
    assert_user_error(invoke("run", "ebmt4", "-n", "100", "--recalibrate"), "--recalibrate")


@pytest.mark.parametrize("setting, says", [
    ("costs.transplant.value=nan", "--set costs.transplant.value=nan: costs.transplant.value"),
    ("ric:utilities.early.value=2", "--set ric:utilities.early.value=2: utilities.early.value"),
])
def test_cea_blames_the_set_not_the_bundled_file(setting, says):
    # the error named configs/mac.toml, which the user never touched
    result = invoke("cea", "mac", "ric", "-n", "100", "--set", setting)
    assert_user_error(result, says)
    assert ".toml" not in result.output


@pytest.mark.parametrize("grid, says", [
    ("relapse.incidence=0.3", "--grid 'relapse.incidence=0.3': expected KEY=LOW:HIGH:STEPS"),
    ("relapse.incidence=0.3:1.5:3", "--grid relapse.incidence=0.3:1.5:3: relapse.incidence"),
    ("relapse.incidence=0.3:0.5:1000000000", "at most 100,000 STEPS"),
])
def test_sweep_blames_the_grid_and_refuses_what_cannot_finish(grid, says, tmp_path):
    # the errors named configs/ric.toml (or --set); a billion steps filled memory
    result = invoke("sweep", "ric", "--grid", grid, "--local", "-n", "100",
                    "--out", str(tmp_path / "s"))
    assert_user_error(result, says)
    assert "ric.toml" not in result.output
    assert not (tmp_path / "s").exists()


def test_sweep_refuses_a_psa_too_large_to_finish(tmp_path):
    result = invoke("sweep", "ric", "--psa", "1000000000", "--local", "-n", "100",
                    "--out", str(tmp_path / "s"))
    assert_user_error(result, "--psa", "at most")


DATA = str(Path(__file__).resolve().parents[1] / "data" / "illness_death.csv")


def test_fit_refuses_an_existing_out_before_fitting(tmp_path):
    # it fitted (seconds to minutes on real data), printed the report, then refused
    out = tmp_path / "model.toml"
    out.write_text("mine")
    result = invoke("fit", DATA, "--out", str(out))
    assert_user_error(result, "exists", "--overwrite")
    assert "transition 1" not in result.output
    assert out.read_text() == "mine"
    result = invoke("fit", DATA, "--out", str(tmp_path / "nowhere" / "m.toml"))
    assert_user_error(result, "does not exist")
    assert "transition 1" not in result.output


def test_predict_says_a_what_if_ran():
    # the prediction of a --set arm looked like the configured arm's
    result = invoke("predict", "ric", "--at", "100", "--history", "engraftment=15",
                    "-n", "200", "--set", "effects.cgvhd_on_relapse.hr=0.1")
    assert result.exit_code == 0, result.output
    assert "what-if: --set effects.cgvhd_on_relapse.hr=0.1" in result.output
    result = invoke("predict", "ric", "--at", "100", "--history", "engraftment=15",
                    "-n", "200", "--set", "effects.cgvhd_on_relapse.hr=0.1", "--format", "json")
    assert json.loads(result.output)["what_if"]["calibration"] == "held"
    plain = invoke("predict", "ric", "--at", "100", "-n", "200", "--format", "json")
    assert "what_if" not in json.loads(plain.output)


def test_a_cycle_without_max_visits_is_refused(tmp_path):
    # with the default of one visit, b -> a was never taken: the run printed a model
    # in which everyone ends in b, with no word about the dropped transition
    path = tmp_path / "cycle.toml"
    path.write_text('kind = "multistate"\nname = "cycle"\n[states]\nnames = ["a", "b"]\n'
                    'absorbing = []\n' + "".join(
                        f'[[transitions]]\nfrom = "{f}"\nto = "{t}"\ntiming = {{ family = '
                        f'"exponential", rate_per_day = 0.01 }}\nsource = "assumption"\n'
                        for f, t in (("a", "b"), ("b", "a"))))
    assert_user_error(invoke("check", str(path)), "cycle.toml", "states.max_visits",
                      "re-enter")
    path.write_text(path.read_text().replace("absorbing = []", "absorbing = []\nmax_visits = 3"))
    result = invoke("run", str(path), "-n", "2000", "--format", "json")
    assert result.exit_code == 0, result.output
    b_to_a = json.loads(result.output)["arms"]["cycle"]["endpoints"]["transition:b->a"]
    assert b_to_a["at"]["d730"]["estimate"] > 0.2


@pytest.mark.parametrize("command", ["run", "fit", "predict", "cea", "sweep"])
def test_every_new_command_help_ends_with_examples(command):
    assert "Examples:" in invoke(command, "--help").output


def test_fit_help_examples_run(tmp_path, monkeypatch):
    import shlex

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    text = invoke("fit", "--help").output.split("Examples:")[1]
    lines = [shlex.split(line.split("#")[0]) for line in text.strip().splitlines()]
    fits = [args for args in lines if args[:2] == ["hsctsim", "fit"]]
    assert len(fits) >= 3
    for args in fits:
        args = [str(tmp_path / a) if a.endswith(".toml") else a for a in args[1:]]
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize("args, says", [
    (["--observed", "relapse=nan"], "whole number from 0 to --size 10"),
    (["--observed", "relapse=50"], "whole number from 0 to --size 10"),
    (["--observed", "relapse=-1"], "whole number from 0 to --size 10"),
    (["--observed", "relapse_d9999=2"], "after the follow-up"),
    (["--analysis-day", "nan"], "--analysis-day"),
    (["--accrual-days", "nan"], "--accrual-days"),
])
def test_trial_refuses_what_no_trial_can_observe(args, says):
    # accepted with tail probabilities of 0 or 1 (or a count at the horizon for a
    # day past it); --analysis-day nan was a traceback
    assert_user_error(invoke("trial", "ric", "--size", "10", "--trials", "20", *args), says)


def test_fit_out_gets_the_mode_of_a_plain_file(tmp_path):
    # the scenario was written 0600 (mkstemp's mode) whatever the umask
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "m.toml"
        assert invoke("fit", DATA, "--out", str(out)).exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_cea_says_a_what_if_ran(tmp_path):
    # the tables and cea.json of a --set arm looked like the configured arm's
    result = invoke("cea", "mac", "ric", "-n", "200", "--set", "ric:agvhd.incidence=0.5",
                    "--out", str(tmp_path / "c"))
    assert result.exit_code == 0, result.output
    assert "what-if:\n  ric: --set agvhd.incidence=0.5" in result.output
    arms = json.loads((tmp_path / "c" / "cea.json").read_text())["arms"]
    assert arms["ric"]["what_if"]["calibration"] == "held" and "what_if" not in arms["mac"]


def test_predict_says_which_asked_days_it_left_out():
    # --horizons 365,1000 with a 730-day horizon silently showed d365 only
    result = CliRunner().invoke(cli, ["predict", "ric", "--at", "100", "--horizons",
                                      "50,365,1000", "-n", "200"])
    assert result.exit_code == 0, result.output
    assert "note: --horizons 50,1000 left out" in result.output
    assert "d365" in result.output and "d1000" not in result.output
    quiet = invoke("predict", "ric", "--at", "400", "-n", "200")  # the default days
    assert "note:" not in quiet.output


def test_sweep_overwrite_replaces_only_a_sweep_folder(tmp_path, monkeypatch):
    # `sweep --out .. --overwrite` deleted the parent folder and everything in it
    (tmp_path / "precious.txt").write_text("mine")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("mine too")
    monkeypatch.chdir(tmp_path / "sub")
    args = ["sweep", "ric", "--grid", "relapse.incidence=0.4:0.5:2", "-n", "100",
            "--calibration-patients", "1000", "--local", "--overwrite", "--out"]
    assert_user_error(invoke(*args, ".."), "is the current folder or one above it")
    assert_user_error(invoke(*args, "."), "is the current folder or one above it")
    monkeypatch.chdir(tmp_path)
    assert_user_error(invoke(*args, "sub"), "not an hsctsim sweep folder")
    assert (tmp_path / "precious.txt").read_text() == "mine"
    assert (tmp_path / "sub" / "notes.txt").read_text() == "mine too"


@pytest.mark.parametrize("command", [["run", "ric", "-n", "100"],
                                     ["cea", "mac", "ric", "-n", "100"],
                                     ["trial", "ric", "--size", "5", "--trials", "10"]])
def test_overwrite_replaces_only_a_result_folder(command, tmp_path, monkeypatch):
    # `--out .. --overwrite` deleted the parent folder, `--out . ` the working one; then
    # (main's run-folder safety) cea and trial could not --overwrite their own folders
    (tmp_path / "precious.txt").write_text("mine")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("mine too")
    monkeypatch.chdir(tmp_path / "sub")
    for out in ("..", "."):
        assert_user_error(invoke(*command, "--out", out, "--overwrite"),
                          "is the current folder or one above it")
    monkeypatch.chdir(tmp_path)
    assert_user_error(invoke(*command, "--out", "sub", "--overwrite"),
                      "not an hsctsim run folder")
    assert (tmp_path / "precious.txt").read_text() == "mine"
    assert (tmp_path / "sub" / "notes.txt").read_text() == "mine too"
    assert invoke(*command, "--out", "r").exit_code == 0
    assert invoke(*command, "--out", "r", "--overwrite").exit_code == 0  # its own: replaced


def test_fit_refuses_breaks_no_family_uses():
    # --family weibull --breaks 0,10 fitted Weibulls and ignored the breaks
    assert_user_error(invoke("fit", DATA, "--family", "weibull", "--breaks", "0,10"),
                      "--breaks 0,10: only the piecewise family uses it")
    used = invoke("fit", DATA, "--family", "weibull", "--family", "2=piecewise",
                  "--breaks", "0,100")
    assert used.exit_code == 0 and "piecewise" in used.output


def test_show_of_a_multistate_what_if():
    # show said nothing of the --set and accepted --recalibrate
    result = invoke("show", "ebmt4", "--set", "horizon_days=1000")
    assert result.exit_code == 0 and "what-if: --set horizon_days=1000" in result.output
    assert_user_error(invoke("show", "ebmt4", "--recalibrate"), "--recalibrate")


@pytest.mark.parametrize("command", [
    ["predict", "ric", "--at", "100", "--history", "engraftment=15", "-n", "300", "--seed", "3",
     "--format", "json"],
    ["predict", "ebmt4", "--at", "50", "--history", "recovery=20", "-n", "300", "--seed", "3",
     "--format", "json"],
    ["cea", "mac", "ric", "-n", "300", "--seed", "3", "--format", "csv"],
    ["fit", DATA, "--clock", "reset", "--covariates", "x"],
])
def test_same_seed_same_output(command):
    first, again = invoke(*command), invoke(*command)
    assert first.exit_code == 0, first.output
    assert first.output == again.output
