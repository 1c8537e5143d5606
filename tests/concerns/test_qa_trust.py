"""A demanding user of every command: seeds, sizes, --out, what a result says it is.

Each test names what went wrong before its fix."""

import json
from pathlib import Path

import numba
import pytest

from conftest import assert_user_error, invoke

DATA = str(Path(__file__).resolve().parents[1] / "data" / "illness_death.csv")


QUICK = {
    "cea": ["cea", "mac", "ric", "-n", "100"],
    "trial": ["trial", "ric", "--size", "5", "--trials", "10"],
    "predict": ["predict", "ric", "--at", "100", "--history", "engraftment=15", "-n", "100"],
}


@pytest.mark.parametrize("command", sorted(QUICK))
@pytest.mark.parametrize("seed", ["-1", str(2**63), "99999999999999999999"])
def test_seeds_outside_0_to_2_63_are_refused(command, seed):
    # run refused them, cea, trial and predict took them: -1 gave the patients of
    # 2^64-1 and 99999999999999999999 those of 7766279631452241919, while the output
    # recorded the seed as given
    assert_user_error(invoke(*QUICK[command], "--seed", seed), "--seed")


@pytest.mark.parametrize("command", ["run", "cea", "trial", "fit"])
def test_an_empty_out_is_refused(command, tmp_path, monkeypatch):
    # `--out ""` (an unset shell variable) printed the results, wrote nothing and exited 0
    monkeypatch.chdir(tmp_path)
    args = {"run": ["run", "ric", "-n", "100"], "fit": ["fit", DATA]}.get(command,
                                                                        QUICK.get(command))
    assert_user_error(invoke(*args, "--out", ""), "--out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["cea", "predict"])
def test_too_many_threads_name_the_option(command):
    # cea ended in a ValueError traceback (exit 1); predict did not say which option
    too_many = str(numba.config.NUMBA_NUM_THREADS + 1)
    assert_user_error(invoke(*QUICK[command], "--threads", too_many), "--threads")


@pytest.mark.parametrize("args, says", [
    (["-n", str(10**10)], "patient courses"),
    (["-n", "100", "--replicates", "100000000"], "--replicates"),
])
def test_cea_that_cannot_finish_is_refused(args, says):
    # both started and ran for hours (run refuses them at once)
    assert_user_error(invoke("cea", "mac", "ric", *args), says)


@pytest.mark.parametrize("scenario", ["ric", "ebmt4"])
def test_predict_too_large_for_memory_is_refused(scenario):
    # a MemoryError traceback after allocating what it could
    assert_user_error(invoke("predict", scenario, "--at", "100", "-n", str(10**12)),
                      "-n", "memory")


def test_trial_says_and_records_a_what_if(tmp_path):
    # the table and trial.json of a --set arm looked like the configured arm's
    result = invoke("trial", "ric", "--size", "5", "--trials", "20",
                    "--set", "agvhd.incidence=0.6", "--out", str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    assert "what-if: --set agvhd.incidence=0.6" in result.output
    document = json.loads((tmp_path / "t" / "trial.json").read_text())
    assert document["what_if"]["settings"] == ["agvhd.incidence=0.6"]
    plain = json.loads(invoke(*QUICK["trial"], "--format", "json").output)
    assert "what_if" not in plain


def test_predict_names_the_events_the_model_added():
    # with no engraftment in --history, primary graft failure was declared on day 28 (and
    # the NK cells of haplo_nk given on day 0), while the header said "after no events"
    result = invoke("predict", "ric", "--at", "100", "-n", "200")
    assert result.exit_code == 0, result.output
    assert "graft_failure day 28" in result.output and "no events" not in result.output
    document = json.loads(invoke("predict", "ric", "--at", "100", "-n", "200",
                                 "--format", "json").output)
    assert document["history"] == []
    assert document["scheduled"] == [["graft_failure", 28.0]]
    nk = invoke("predict", "haplo_nk", "--at", "100", "--history", "engraftment=15", "-n", "200")
    assert "nk_cells day 0 (scheduled by the model)" in nk.output
    early = json.loads(invoke("predict", "ric", "--at", "20", "-n", "200",
                              "--format", "json").output)
    assert early["scheduled"] == []


@pytest.mark.parametrize("breaks", ["0,30,nan", "0,30,inf"])
def test_fit_refuses_non_finite_breaks(breaks):
    # nan reached the fit: "no fit converged (... no events after day nan ...)"
    assert_user_error(invoke("fit", DATA, "--family", "piecewise", "--breaks", breaks),
                      "--breaks")


def test_fit_does_not_write_into_the_bundled_scenarios(tmp_path):
    # --out configs/ric.toml --overwrite replaced the bundled ric arm with the fitted
    # multi-state model (and --out configs/new.toml added a bundled scenario)
    from hsctsim.model.scenario import bundled_dir

    for name in ("ric.toml", "qa_fit_probe.toml"):
        target = bundled_dir() / name
        before = target.read_bytes() if target.exists() else None
        assert_user_error(invoke("fit", DATA, "--out", str(target), "--overwrite"),
                          "bundled")
        assert (target.read_bytes() if target.exists() else None) == before


@pytest.mark.parametrize("command", [["run", "ric", "-n", "100"],
                                     ["cea", "mac", "ric", "-n", "100"],
                                     ["trial", "ric", "--size", "5", "--trials", "10"]])
def test_a_full_disk_names_the_out_folder_and_leaves_nothing(command, tmp_path, monkeypatch):
    # "Error: : No space left on device": a failed write names no file
    import errno

    from hsctsim.apps.runfolder import RunFolder

    def full(self, name, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunFolder, "write_text", full)
    out = tmp_path / "out"
    assert_user_error(invoke(*command, "--out", str(out)),
                      f"{out}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_fit_of_a_device_or_pipe_says_not_a_file(tmp_path):
    # `fit /dev/zero` said "no such file"
    import os

    os.mkfifo(tmp_path / "pipe")
    assert_user_error(invoke("fit", str(tmp_path / "pipe")), "pipe: not a file")
    assert_user_error(invoke("fit", str(tmp_path / "none.csv")), "no such file")


@pytest.mark.parametrize("command", [["cea", "mac", "ric", "-n", "20000"],
                                     ["trial", "ric", "--size", "10", "--trials", "2000"]])
def test_cea_and_trial_say_what_they_do_in_a_log(command, monkeypatch):
    # a progress bar drawn on a terminal only: a long cea or trial in a log (a cluster
    # job) said nothing until it ended
    monkeypatch.setenv("HSCTSIM_PROGRESS_SECONDS", "0.01")
    result = invoke(*command)
    assert result.exit_code == 0, result.output
    assert "hsctsim: simulating" in result.stderr
    assert "hsctsim:" not in result.stdout


def test_run_folder_scenarios_hold_the_horizon_run_and_say_how_to_repeat_it(tmp_path):
    # scenarios/<arm>.toml kept the scenario's horizon_days (730) after --horizon 1000, or
    # after a longer arm set the run's horizon: run again "with the same seed and
    # patients" it gave another summary; its header said "hsctsim run ... ..."
    out = tmp_path / "r"
    first = invoke("run", "ric", "-n", "500", "--seed", "4", "--horizon", "1000",
                   "--days", "500", "--out", str(out), "--format", "json")
    assert first.exit_code == 0, first.output
    stored = out / "scenarios" / "ric.toml"
    text = stored.read_text()
    assert "horizon_days = 1000" in text
    assert "hsctsim run scenarios/ric.toml -n 500 --seed 4 --days 500" in text
    again = invoke("run", str(stored), "-n", "500", "--seed", "4", "--days", "500",
                   "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["arms"] == json.loads(first.stdout)["arms"]


@pytest.mark.parametrize("setting, says", [
    ("costs.transplant.value=1e308", "outside [0, 1e+10]"),
    ("costs.cgvhd_per_day.value=1e305", "outside [0, 1e+10]"),
    ("lifetime.excess_mortality={ value = [[0, nan]], source = 'x' }",
     "relative mortality in (0, 1000]"),
    ("lifetime.excess_mortality={ value = [[nan, 2]], source = 'x' }", "years must be in"),
])
def test_cea_refuses_figures_that_overflow_or_are_nan(setting, says):
    # the costs printed as "inf (nan-nan)", cea.json held Infinity and NaN, exit 0
    assert_user_error(invoke("cea", "mac", "ric", "-n", "100", "--lifetime", "--set", setting),
                      "--set", says)


def test_a_multistate_covariate_level_that_overflows_is_one_line(tmp_path):
    # levels = [0, 1e308] with log_hr 0.5: OverflowError traceback, exit 1
    path = tmp_path / "ms.toml"
    path.write_text('kind = "multistate"\nname = "ms"\n[states]\nnames = ["a", "b"]\n'
                    'absorbing = ["b"]\n[covariates.x]\nlevels = [0, 1e308]\n'
                    'shares = [0.5, 0.5]\nsource = "assumption"\n[[transitions]]\nfrom = "a"\n'
                    'to = "b"\ntiming = { family = "exponential", rate_per_day = 0.01 }\n'
                    'log_hr = { x = 0.5 }\nsource = "assumption"\n')
    assert_user_error(invoke("run", str(path), "-n", "100"), "ms.toml", "transitions[0].log_hr")
    path.write_text(path.read_text().replace("1e308", "1"))
    assert invoke("run", str(path), "-n", "100").exit_code == 0


def test_fit_reads_a_csv_saved_by_excel(tmp_path):
    # Excel's "CSV UTF-8" starts with a byte-order mark: "column 'id' is missing"
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + Path(DATA).read_bytes().replace(b"\n", b"\r\n"))
    plain = invoke("fit", DATA)
    result = invoke("fit", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.replace(str(path), DATA) == plain.output


def test_replicates_of_an_undefined_estimate_give_null_not_nan(tmp_path):
    # summary.json held "ui95": [NaN, NaN] (not JSON; a RuntimeWarning on stderr) where no
    # replicate had an estimate
    out = tmp_path / "r"
    result = invoke("run", "ric", "-n", "1", "--seed", "1", "--replicates", "2",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "RuntimeWarning" not in result.output
    text = (out / "summary.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in summary.json"))
    assert "[null, null]" in " ".join(text.split()).replace("[ ", "[").replace(" ]", "]")


def test_cea_needs_two_patients_for_its_intervals():
    # -n 1 printed "354,100 (nan-nan)" and wrote NaN into cea.json
    assert_user_error(invoke("cea", "mac", "ric", "-n", "1"), "-n")


def test_predict_says_covariates_left_out_of_the_history_are_taken_as_absent():
    # predict rcc predicted for patients with every favourable covariate (ECOG 0-1, under
    # 65, small and slow tumour, no CNS metastases), the best case, not the cohort's mix
    # (relapse by day 730 63% against 97% with the adverse levels), and said nothing
    args = ["predict", "rcc", "--at", "100", "-n", "200"]
    result = invoke(*args, "--history", "engraftment=15,ecog_2_4=0")
    assert result.exit_code == 0, result.output
    assert "patients without age_65_plus, large_tumour_volume" in result.output
    assert "without ecog_2_4" not in result.output
    document = json.loads(invoke(*args, "--history", "engraftment=15", "--format",
                                 "json").output)
    assert document["covariates_absent"][0] == "ecog_2_4"
    plain = json.loads(invoke("predict", "ric", "--at", "100", "-n", "200", "--history",
                              "engraftment=15", "--format", "json").output)
    assert "covariates_absent" not in plain


@pytest.mark.parametrize("scenario, history, says", [
    ("ric", "graft_failure=35", "graft_failure=35 is not possible: in this model it happens "
                                "on day 28"),
    ("rcc", "engraftment=15,ecog_2_4=50", "ecog_2_4=50 is not possible"),
    ("haplo_nk", "engraftment=15,nk_cells=50", "nk_cells=50 is not possible"),
])
def test_predict_refuses_a_scheduled_event_on_another_day(scenario, history, says):
    # graft failure (declared on day 28), a day-0 covariate or a day-0 infusion were
    # taken on any day given: a course the model cannot produce, predicted from silently
    assert_user_error(invoke("predict", scenario, "--at", "100", "--history", history,
                             "-n", "100"), "--history", says)
    assert invoke("predict", "ric", "--at", "100", "--history", "graft_failure=28",
                  "-n", "100").exit_code == 0


def test_fit_does_not_replace_a_link_without_overwrite(tmp_path):
    # a dangling symbolic link at --out was silently replaced by the scenario file
    link = tmp_path / "m.toml"
    link.symlink_to(tmp_path / "elsewhere.toml")
    assert_user_error(invoke("fit", DATA, "--out", str(link)), "exists", "--overwrite")
    assert link.is_symlink()


@pytest.mark.parametrize("args", [["sweep", "ric", "--psa", "2", "--local", "--out", "s"],
                                  ["validate", "mac", "-n", "100"]])
@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_sweep_and_validate_refuse_seeds_outside_0_to_2_63(args, seed, tmp_path, monkeypatch):
    # both took them: -1 gave the patients of 2^64-1, recorded as -1
    monkeypatch.chdir(tmp_path)
    assert_user_error(invoke(*args, "--seed", seed), "--seed")
    assert list(tmp_path.iterdir()) == []


def test_sweep_refuses_an_empty_out(tmp_path, monkeypatch):
    # `--out ''` was read as the working folder: ". exists and is not empty"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep").write_text("x")
    assert_user_error(invoke("sweep", "ric", "--psa", "2", "--local", "--out", ""),
                      "--out", "empty")
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]


def test_validate_of_a_binary_figures_file_is_one_line(tmp_path):
    # a UnicodeDecodeError traceback
    path = tmp_path / "b.toml"
    path.write_bytes(bytes(range(128, 256)) * 2)
    assert_user_error(invoke("validate", "--figures", str(path), "-n", "100"),
                      "b.toml", "UTF-8")


def test_a_scenario_with_a_byte_order_mark_is_read(tmp_path):
    # "not valid TOML (Invalid statement (at line 1, column 1))"
    from hsctsim.model.scenario import bundled_dir, load_scenario

    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (bundled_dir() / "ebmt4.toml").read_bytes())
    assert load_scenario(path).raw == load_scenario("ebmt4").raw


def test_set_of_a_multistate_transition_suggests_nothing_misleading():
    # "transitions.1.log_hr: unknown key (did you mean 'durations'?)"; durations is a key
    # of the hsct scenarios, not of a multi-state one
    result = invoke("run", "ebmt4", "-n", "100", "--set", "transitions.1.log_hr=1")
    assert_user_error(result, "--set", "transitions is a list of tables")
    assert "durations" not in result.output
    assert_user_error(invoke("run", "ebmt4", "-n", "100", "--set", "transitons.x=1"),
                      "did you mean 'transitions'?")


def test_sweep_point_files_follow_the_umask(tmp_path):
    # points/*.json, sweep.json and sweep.csv were 0600 whatever the umask
    import os

    from hsctsim.apps.sweeps import SweepFolder

    old = os.umask(0o022)
    try:
        folder = SweepFolder(tmp_path / "s", {"mode": "psa"})
        folder.save_point({"index": 3})
        folder.write_text("sweep.csv", "a\n")
    finally:
        os.umask(old)
    for name in ("sweep.json", "points/000003.json", "sweep.csv"):
        assert (tmp_path / "s" / name).stat().st_mode & 0o777 == 0o644, name


def test_multistate_replicates_of_an_undefined_estimate_give_null(monkeypatch):
    # msrunner wrote "ui95": [NaN, NaN] (not JSON) where no replicate had an estimate
    from hsctsim.apps import msrunner, runner
    from hsctsim.model.scenario import load_scenario

    class Undefined(msrunner.MultistateTally):
        def summary(self, *args, **kwargs):
            out = super().summary(*args, **kwargs)
            for ep in out.values():
                for value in ep["at"].values():
                    value["estimate"] = None
            return out

    scenario = load_scenario("ebmt4")
    endpoints = msrunner.run_multistate({"ebmt4": scenario}, 20, 1, 400.0)["ebmt4"]["endpoints"]
    monkeypatch.setattr(msrunner, "MultistateTally", Undefined)
    msrunner._add_uncertainty(endpoints, scenario, 20, 1, 400.0, None, 500_000, 2,
                              lambda table, rng: table, None)
    text = json.dumps(endpoints, allow_nan=False)
    assert '"ui95": [null, null]' in text
    cells = next(iter(endpoints.values()))["at"]
    assert not any("[" in runner.cell(v) or "nan" in runner.cell(v) for v in cells.values())


def test_a_multistate_run_says_what_it_does_in_a_log(tmp_path, monkeypatch):
    # a long multi-state run printed only "results written" on stderr when not a tty
    monkeypatch.setenv("HSCTSIM_PROGRESS_SECONDS", "0.01")
    result = invoke("run", "ebmt4", "-n", "50000", "--out", str(tmp_path / "x"), "--events")
    assert result.exit_code == 0, result.output
    assert "hsctsim: simulating" in result.stderr
    assert "hsctsim:" not in result.stdout


def test_mstate_events_have_tstart_before_tstop(tmp_path):
    # times written with %.6f: ~30 rows with Tstart == Tstop for very short stays, which
    # survival::coxph and mstate refuse
    import pandas as pd

    out = tmp_path / "m"
    result = invoke("run", "ebmt4", "-n", "3000", "--seed", "2", "--out", str(out),
                    "--events", "--events-layout", "mstate")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "events" / "ebmt4.csv")
    assert len(table) > 20000
    assert (table["Tstart"] < table["Tstop"]).all()
    # the very short stays are there, at least 0.001 day long (the export's grid: R's
    # survival took stays of 1e-6 day as of effective length 0)
    short = table["Tstop"].sub(table["Tstart"])
    assert short.min() >= 0.001 - 1e-9 and (short < 0.0015).any()
    assert (table["time"] - short).abs().max() < 1e-9


def test_multistate_figures_have_the_caption_and_are_written_whole(tmp_path, monkeypatch):
    # saved straight into figures/ (a reader could see half a file) with no caption line
    from hsctsim.analysis import plotting
    from hsctsim.api import simulate
    from hsctsim.apps.msrunner import write_figures
    from hsctsim.model.scenario import load_scenario

    captions = []
    save = plotting.save_figure

    def spy(ax, out_dir, stem, formats):
        captions.extend(t.get_text() for t in ax.figure.texts)
        return save(ax, out_dir, stem, formats)

    monkeypatch.setattr(plotting, "save_figure", spy)
    cohort = simulate(load_scenario("ebmt4"), 200, 3, horizon_days=400.0)
    written = write_figures({"ebmt4": cohort}, tmp_path / "figures", formats=("png", "svg"))
    assert [p.name for p in written] == ["ebmt4_state_occupation.png",
                                         "ebmt4_state_occupation.svg"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [p.name for p in written]
    assert captions == [f"hsctsim {cohort.hsctsim_version}; n = 200; seed 3; horizon 400 days"]
