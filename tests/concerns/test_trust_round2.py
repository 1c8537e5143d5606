"""Trust, round 2 (issue 21): sweeps that never lose results, resume and fit that never
accept nonsense, and the clearer messages.  Each test failed before its fix."""

import json
from pathlib import Path

import pytest

from conftest import assert_user_error, invoke

from hsctsim.apps import sweeps

SWEEP = ["sweep", "ric", "--psa", "2", "-n", "100", "--calibration-patients", "1000"]


def old_sweep(folder):
    """A finished sweep folder, as the last sweep left it (only its files matter here)."""
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps({"hsctsim_version": "0.1.0"}))
    (folder / "sweep.csv").write_text("the old results\n")
    return folder


def leftovers(where, name):
    return sorted(p.name for p in where.iterdir() if p.name.startswith(f".{name}"))


# -- data loss: --overwrite keeps the old sweep until the new one is whole ------------------

@pytest.mark.parametrize("address", ["notanaddress", "tcp://[::1"])
def test_overwrite_with_a_bad_scheduler_keeps_the_old_sweep(address, tmp_path):
    pytest.importorskip("dask.distributed")
    out = old_sweep(tmp_path / "s")
    result = invoke(*SWEEP, "--out", str(out), "--overwrite", "--scheduler", address)
    assert_user_error(result, f"--scheduler {address}: cannot connect")
    assert len(result.output.strip().splitlines()) == 1
    assert (out / "sweep.csv").read_text() == "the old results\n"
    assert leftovers(tmp_path, "s") == []


def test_bad_scheduler_leaves_no_folder(tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "fresh"
    assert_user_error(invoke(*SWEEP, "--out", str(out), "--scheduler", "notanaddress"),
                      "--scheduler notanaddress")
    assert not out.exists()


def test_unreachable_scheduler_leaves_nothing_behind(tmp_path, monkeypatch):
    # sweep.json was written before connecting: the next (correct) command was refused
    # as "exists and is not empty"
    pytest.importorskip("dask.distributed")
    from hsctsim.apps.common import UserError
    from hsctsim.apps import sweep as sweep_app

    def unreachable(workers, scheduler):
        raise UserError(f"--scheduler {scheduler}: cannot connect (timed out)")

    monkeypatch.setattr(sweep_app, "_client", unreachable)
    out = tmp_path / "s"
    assert_user_error(invoke(*SWEEP, "--out", str(out), "--scheduler", "tcp://10.9.9.9:8786"),
                      "cannot connect")
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(invoke(*SWEEP, "--out", str(empty), "--scheduler", "tcp://10.9.9.9:1"),
                      "cannot connect")
    assert list(empty.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_sweep(tmp_path, monkeypatch):
    out = old_sweep(tmp_path / "s")
    real = sweeps.run_point

    def interrupt_at_1(scenario, point, config, threads=None, backend="cpu"):
        if point.index == 1:
            raise KeyboardInterrupt
        return real(scenario, point, config, threads, backend)

    monkeypatch.setattr(sweeps, "run_point", interrupt_at_1)
    result = invoke(*SWEEP, "--local", "--out", str(out), "--overwrite")
    assert result.exit_code == 130
    assert "the new sweep was discarded" in result.output
    assert (out / "sweep.csv").read_text() == "the old results\n"
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.json"]
    assert leftovers(tmp_path, "s") == []


def test_overwrite_replaces_the_old_sweep_once_the_new_one_is_whole(tmp_path):
    out = old_sweep(tmp_path / "s")
    result = invoke(*SWEEP, "--local", "--out", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / "sweep.csv").read_text() != "the old results\n"
    assert sorted(p.name for p in (out / "points").iterdir()) == ["000000.json",
                                                                   "000001.json"]
    assert json.loads((out / "sweep.json").read_text())["mode"] == "psa"
    assert leftovers(tmp_path, "s") == []


def test_a_failed_fresh_sweep_leaves_no_folder(tmp_path, monkeypatch):
    def fails(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweeps, "run_point", fails)
    out = tmp_path / "s"
    assert_user_error(invoke(*SWEEP, "--local", "--out", str(out)), "No space left")
    assert not out.exists()


def test_out_under_a_file_says_it_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    for command in (["run", "ric", "-n", "10"], SWEEP + ["--local"]):
        result = invoke(*command, "--out", str(tmp_path / "afile" / "sub"))
        assert_user_error(result, "afile", "not a folder")
        assert "does not exist" not in result.output
    result = invoke("fit", "tests/data/illness_death.csv", "--out",
                    str(tmp_path / "afile" / "x.toml"))
    assert_user_error(result, "afile", "not a folder")


# -- silent wrong results: a resumed sweep checks each point file ---------------------------

@pytest.fixture(scope="module")
def psa_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("psa") / "s"
    result = invoke(*SWEEP, "--local", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def resumable(psa_sweep, tmp_path):
    """A copy of the finished sweep without its table, as if interrupted at the end."""
    import shutil

    out = tmp_path / "s"
    shutil.copytree(psa_sweep, out)
    for name in ("sweep.csv", "sweep.parquet", "psa_summary.csv"):
        (out / name).unlink(missing_ok=True)
    return out


def resume(out):
    return invoke(*SWEEP, "--local", "--out", str(out), "--resume")


def test_resume_ignores_a_stray_point_file(psa_sweep, tmp_path):
    out = resumable(psa_sweep, tmp_path)
    stray = json.loads((out / "points" / "000001.json").read_text())
    stray["index"] = 17
    (out / "points" / "000017.json").write_text(json.dumps(stray))
    result = resume(out)
    assert result.exit_code == 0, result.output
    assert "000017.json: point 17 is not a point of this sweep (it has 2); ignored" in \
        result.output
    assert (out / "sweep.csv").read_text() == (psa_sweep / "sweep.csv").read_text()
    assert "2 points (2 resumed)" in result.output


def test_resume_redoes_a_relabelled_point_file(psa_sweep, tmp_path):
    # point 0's results renamed and relabelled as point 1: draw 0 counted twice
    out = resumable(psa_sweep, tmp_path)
    relabelled = json.loads((out / "points" / "000000.json").read_text())
    relabelled["index"] = 1
    (out / "points" / "000001.json").write_text(json.dumps(relabelled))
    result = resume(out)
    assert result.exit_code == 0, result.output
    assert "000001.json: its parameters are not this point's; its point is redone" in \
        result.output
    assert "(1 resumed)" in result.output
    assert (out / "sweep.csv").read_text() == (psa_sweep / "sweep.csv").read_text()


@pytest.mark.parametrize("change, says", [
    (lambda r: r.update(seed=r["seed"] + 1), "another seed"),
    (lambda r: r.update(scenario_sha256="0" * 64), "another scenario"),
    (lambda r: r.update(design="one-way"), "not the design"),
    (lambda r: r.update(rows=r["rows"][:-1]), "rows are not"),
    (lambda r: r.pop("index"), "no whole-number index"),
])
def test_resume_redoes_a_point_file_that_does_not_match(change, says, psa_sweep, tmp_path):
    out = resumable(psa_sweep, tmp_path)
    point = json.loads((out / "points" / "000001.json").read_text())
    change(point)
    (out / "points" / "000001.json").write_text(json.dumps(point))
    result = resume(out)
    assert result.exit_code == 0, result.output
    assert says in result.output and "Traceback" not in result.output
    assert (out / "sweep.csv").read_text() == (psa_sweep / "sweep.csv").read_text()


@pytest.mark.parametrize("text", ["[1, 2]", "17", '"x"', "{"])
def test_resume_of_a_point_file_that_is_not_a_result(text, psa_sweep, tmp_path):
    out = resumable(psa_sweep, tmp_path)
    (out / "points" / "000001.json").write_text(text)
    result = resume(out)
    assert result.exit_code == 0, result.output
    assert "000001.json" in result.output and "redone" in result.output
    assert (out / "sweep.csv").read_text() == (psa_sweep / "sweep.csv").read_text()


@pytest.mark.parametrize("text", ["[1, 2]", "null", "3"])
def test_resume_of_a_manifest_that_is_not_one(text, psa_sweep, tmp_path):
    out = resumable(psa_sweep, tmp_path)
    (out / "sweep.json").write_text(text)
    assert_user_error(resume(out), "sweep.json", "not an hsctsim sweep manifest")


# -- fit: paths that connect, times in days, never a scenario that `check` refuses ---------

ILLNESS_DEATH = Path(__file__).resolve().parents[1] / "data" / "illness_death.csv"


def fit_data(tmp_path, edit):
    lines = ILLNESS_DEATH.read_text().splitlines()
    path = tmp_path / "data.csv"
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def test_fit_refuses_a_path_that_does_not_connect(tmp_path):
    # id 2 relapses at day 11.3322; its stay in relapse is made to start at day 50
    def gap(lines):
        return [line.replace("2,relapse,death,3,11.3322,", "2,relapse,death,3,50,")
                for line in lines]

    assert any(line.startswith("2,relapse,death,3,11.3322,")
               for line in ILLNESS_DEATH.read_text().splitlines())
    result = invoke("fit", str(fit_data(tmp_path, gap)))
    assert_user_error(result, "data.csv", "column 'Tstart'", "id 2", "starts at 50",
                      "11.3322", "does not connect")


def test_fit_refuses_times_that_are_not_days(tmp_path):
    def huge(lines):
        out = [lines[0]]
        for line in lines[1:]:
            cells = line.split(",")
            cells[4], cells[5] = (f"{float(c) * 1e297:g}" for c in cells[4:6])
            out.append(",".join(cells))
        return out

    out = tmp_path / "huge.toml"
    result = invoke("fit", str(fit_data(tmp_path, huge)), "--out", str(out))
    assert_user_error(result, "data.csv", "column 'Tstop'", "beyond 36500 days")
    assert not out.exists()


def test_fit_never_writes_a_scenario_that_check_refuses(tmp_path, monkeypatch):
    from hsctsim.analysis import fit as fit_module

    real = fit_module.MsmFit.to_toml

    def broken(self, **kwargs):  # a fitted model that is no scenario (horizon of 0 days)
        return real(self, **kwargs).replace("horizon_days = ", "horizon_days = 0 # ", 1)

    monkeypatch.setattr(fit_module.MsmFit, "to_toml", broken)
    out = tmp_path / "fitted.toml"
    result = invoke("fit", str(ILLNESS_DEATH), "--out", str(out))
    assert_user_error(result, f"{out}: not written", "horizon_days")
    assert str(out) in result.output and ".toml" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- utilities in range; repeated options refused -------------------------------------------

@pytest.mark.parametrize("command", [["run", "mac", "-n", "10"], ["cea", "mac", "ric", "-n", "10"],
                                     ["check", "mac"]])
def test_a_decrement_may_not_take_a_utility_below_minus_1(command, tmp_path):
    if command[0] == "check":  # the same figure written in a file
        text = (Path(__file__).resolve().parents[2] / "configs" / "mac.toml").read_text()
        assert "agvhd_decrement = { value = 0.19," in text
        path = tmp_path / "mac2.toml"
        path.write_text(text.replace("agvhd_decrement = { value = 0.19,",
                                     "agvhd_decrement = { value = 2,").replace(
                                         'name = "mac"', 'name = "mac2"'))
        command = ["check", str(path)]
        result = invoke(*command)
    else:
        result = invoke(*command, "--set", "utilities.agvhd_decrement.value=2")
    assert_user_error(result, "utilities.agvhd_decrement", "acute GVHD", "below -1")


def test_decrements_within_range_are_accepted():
    from hsctsim.model.economics import parse_economics
    from hsctsim.model.scenario import load_scenario

    data = load_scenario("mac").to_dict()
    data["utilities"]["agvhd_decrement"]["value"] = 0.355 + 1.0 - 0.19  # relapse: exactly -1
    econ = parse_economics(data, "mac")
    assert econ.utility("agvhd_decrement") == pytest.approx(1.165)
    data["utilities"]["agvhd_decrement"]["value"] = 1.17
    with pytest.raises(Exception, match="both|chronic GVHD"):
        parse_economics(data, "mac")


@pytest.mark.parametrize("command, says", [
    (["trial", "ric", "--size", "5", "--trials", "10", "--observed", "responses=2",
      "--observed", "responses=3"], "--observed 'responses=3': responses is given twice"),
    (["run", "ric", "-n", "10", "--set", "agvhd.incidence=0.4", "--set",
      "agvhd.incidence=0.5"], "agvhd.incidence is already set by --set 'agvhd.incidence=0.4'"),
    (["sweep", "ric", "--psa", "1", "--local", "--out", "never", "--set",
      "agvhd.incidence=0.4", "--set", " agvhd.incidence = 0.5"], "already set"),
    (["fit", str(ILLNESS_DEATH), "--family", "weibull", "--family", "gompertz"],
     "--family 'gompertz': a family for every transition is already given (weibull)"),
    (["fit", str(ILLNESS_DEATH), "--family", "1=weibull", "--family", "1=gompertz"],
     "--family '1=gompertz': transition 1 already has a family (weibull)"),
])
def test_a_repeated_option_is_refused(command, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(invoke(*command), says)
    assert not (tmp_path / "never").exists()


# -- clearer messages ---------------------------------------------------------------------

def test_predict_checks_the_horizons_before_simulating(monkeypatch):
    from hsctsim.apps import predict as predict_app

    def never(*args, **kwargs):
        raise AssertionError("simulated before checking --horizons")

    monkeypatch.setattr(predict_app, "run_prediction", never)
    result = invoke("predict", "ric", "--horizons", "50", "--at", "100", "-n", "100")
    assert_user_error(result, "--horizons 50: no day after --at 100 within the horizon 730")
    assert len(result.output.strip().splitlines()) == 1


def test_fit_with_too_few_states_blames_the_option():
    result = invoke("fit", str(ILLNESS_DEATH), "--states", "a,b")
    assert_user_error(result, "--states a,b:")
    assert result.output.startswith("Error: --states a,b:")


def test_an_error_deep_in_a_base_chain_names_the_file_given_too(tmp_path):
    for i in range(1, 6):
        (tmp_path / f"b{i}.toml").write_text(f'base = "b{i + 1}.toml"\n')
    (tmp_path / "b6.toml").write_text('base = "missing.toml"\n')
    result = invoke("check", str(tmp_path / "b1.toml"))
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"error: {tmp_path / 'b1.toml'}: base: in its chain of base "
                           "scenarios")
    assert "b6.toml" in line and "missing.toml" in line and len(line.splitlines()) == 1


def test_an_incidence_that_nothing_can_reach_says_why():
    # without engraftment there are no donor T cells: GVHD cannot happen at all
    result = invoke("run", "ric", "-n", "100", "--set", "engraftment.incidence=0",
                    "--recalibrate")
    assert_user_error(result, "--set engraftment.incidence=0", "cannot be reached",
                      "whatever its hazard", "engraftment")
    assert "did not converge" not in result.output


def test_an_arm_name_outside_ascii_says_ascii(tmp_path):
    path = tmp_path / "arm.toml"
    path.write_text('base = "ric"\nname = "rüc"\n')
    assert_user_error(invoke("run", str(path), "-n", "10"), "'rüc' cannot name an arm",
                      "ASCII letters")


def test_ctrl_c_during_an_overwrite_keeps_the_old_sweep(tmp_path):
    # a real SIGINT to a real process, as a user's Ctrl-C
    import signal

    from conftest import start, wait_for

    out = old_sweep(tmp_path / "s")
    proc = start(*SWEEP[:3], "3", *SWEEP[4:], "--local", "--out", str(out), "--overwrite",
                 cwd=tmp_path)
    try:
        wait_for(proc, "point 0 done")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "the new sweep was discarded" in err
    assert (out / "sweep.csv").read_text() == "the old results\n"
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.json"]
    assert leftovers(tmp_path, "s") == []
