"""Files, processes and signals: what `hsctsim run --out` may touch, and when."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hsctsim.apps.cli import cli
from hsctsim.apps.runfolder import RunFolder
from conftest import ROOT, as_from_a_terminal, start, wait_for

SMALL = ["-n", "1000", "--seed", "5"]


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def tree(path):
    """Every path under ``path`` with its content (files) or None (folders)."""
    return {p.relative_to(path).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(Path(path).rglob("*"))}


def make_run(path):
    result = invoke("run", "mac", *SMALL, "--out", str(path))
    assert result.exit_code == 0, result.output
    return path


# ------------------------------------------------------------------ --overwrite
@pytest.mark.parametrize("target", ["cwd", "parent", "home", "not_a_run", "a_file"])
def test_overwrite_refuses_what_is_not_a_run_folder(tmp_path, monkeypatch, target):
    home = tmp_path / "home"
    (home / "work" / "deep").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    (home / "work" / "data.csv").write_text("1,2\n")
    (home / "work" / "deep" / "x").write_text("x")
    (home / "mine").mkdir()
    (home / "mine" / "thesis.tex").write_text("years of work")
    (home / "file.txt").write_text("a file")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "work" / "deep")
    out = {"cwd": ".", "parent": "..", "home": str(home), "not_a_run": str(home / "mine"),
           "a_file": str(home / "file.txt")}[target]
    before = tree(tmp_path)
    result = invoke("run", "mac", *SMALL, "--out", out, "--overwrite")
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert tree(tmp_path) == before  # nothing touched, not even a lock or temporary file


def test_overwrite_replaces_a_run_folder_and_keeps_the_old_one_if_the_swap_fails(
        tmp_path, monkeypatch):
    out = make_run(tmp_path / "run")
    old = tree(out)
    folder = RunFolder(out, overwrite=True)
    folder.write_text("summary.json", json.dumps({"hsctsim_version": "new"}))
    real_rename = os.rename

    def failing(src, dst, *args, **kwargs):
        if Path(src) == folder.tmp:
            raise OSError(5, "Input/output error")  # e.g. the disk went away
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", failing)
    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        folder.commit()
    folder.discard()
    monkeypatch.undo()
    assert tree(out) == old  # the old run is back, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # and without the failure, the new run replaces the old one
    folder = RunFolder(out, overwrite=True)
    folder.write_text("summary.json", json.dumps({"hsctsim_version": "new"}))
    folder.commit()
    assert tree(out) == {"summary.json": b'{"hsctsim_version": "new"}'}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_commit_refuses_a_target_that_became_someone_elses(tmp_path):
    folder = RunFolder(tmp_path / "run")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "theirs.txt").write_text("made while the run ran")
    with pytest.raises(FileExistsError):
        folder.commit()
    folder.discard()
    assert tree(tmp_path) == {"run": None, "run/theirs.txt": b"made while the run ran"}


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_run_folders_follow_the_umask(tmp_path, umask):
    before = os.umask(umask)
    try:
        out = make_run(tmp_path / "run")
    finally:
        os.umask(before)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask
    assert ((out / "scenarios").stat().st_mode & 0o777) == 0o777 & ~umask
    assert ((out / "summary.json").stat().st_mode & 0o777) == 0o666 & ~umask


# ------------------------------------------------------------------ processes
def test_second_run_to_the_same_folder_fails_and_sigterm_leaves_nothing(tmp_path):
    first = start("run", "ric", "-n", "20000000", "--out", str(tmp_path / "out"))
    try:
        progress = wait_for(first, "simulating")
        second = start("run", "mac", "-n", "100", "--out", str(tmp_path / "out"))
        out, err = second.communicate(timeout=300)
        assert second.returncode == 2, err
        assert f"{tmp_path / 'out'}: another hsctsim run is writing there" in err
        assert len(err.strip().splitlines()) == 1 and out == ""
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 143, progress + err
    assert out == ""  # progress goes to stderr only
    assert "hsctsim: preparing ric" in progress and "Traceback" not in progress + err
    assert list(tmp_path.iterdir()) == []  # no temporary folder, no lock file


def run_entry(code, folder):
    """Run ``code`` then the console script's main() in a fresh interpreter."""
    code += "from hsctsim.apps.entry import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=folder, timeout=120, preexec_fn=as_from_a_terminal,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_interrupt_during_import_is_quiet(tmp_path):
    # send Ctrl-C to ourselves just as numba starts to import, after the handlers
    code = ("import importlib.abc, os, signal, sys\n"
            "class Finder(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'numba':\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "sys.meta_path.insert(0, Finder())\n"
            "sys.argv = ['hsctsim', 'run', 'mac', '-n', '100']\n")
    result = run_entry(code, tmp_path)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "hsctsim: stopped by SIGINT\n" and result.stdout == ""


def test_a_signal_after_the_command_has_ended_is_ignored(tmp_path):
    # Ctrl-C while the interpreter shuts down (an atexit callback), results printed
    code = ("import atexit, os, signal, sys\n"
            "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
            "sys.argv = ['hsctsim', 'run', 'mac', '-n', '100', '--format', 'json']\n")
    result = run_entry(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and '"arms"' in result.stdout


# ------------------------------------------------------------------ sizes and seeds
@pytest.mark.parametrize("args, words", [
    (["-n", "20000000000"], "patient courses, more than"),
    (["ric", "-n", "1000000000", "--replicates", "9"], "patient courses, more than"),
    (["--replicates", "5000"], "--replicates"),
    (["--seed", str(2**64 + 5)], "--seed"),
    (["--seed", "-1"], "--seed"),
])
def test_runs_that_cannot_finish_or_alias_are_refused(args, words):
    result = invoke("run", "mac", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_multistate_runs_are_held_to_the_same_size_limit():
    result = invoke("run", "ebmt4", "-n", "20000000000")
    assert result.exit_code == 2, result.output
    assert "patient courses, more than" in result.output and "Traceback" not in result.output


def test_events_that_do_not_fit_on_disk_are_refused(tmp_path, monkeypatch):
    import shutil

    from hsctsim.apps import limits

    monkeypatch.setattr(limits.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10**6, 10**6))
    result = invoke("run", "mac", "-n", "100000", "--out", str(tmp_path / "r"), "--events")
    assert result.exit_code == 2, result.output
    assert "--events for 100,000 patients x 1 arm(s) needs about" in result.output
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ plot
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("plot") / "run")


@pytest.mark.parametrize("file, content", [
    ("summary.json", "{half"),
    ("summary.json", "[]"),
    ("summary.json", b"\xff\xfe binary"),
    ("summary.json", '{"arms": {"../../etc/passwd": {}}, "seed": 1, "patients": 10, '
                     '"horizon_days": 730}'),
    ("summary.json", '{"arms": {"mac": {}}, "seed": "5", "patients": 10, "horizon_days": 730}'),
    ("summary.json", '{"arms": {"mac": {}}, "seed": 5, "patients": 0, "horizon_days": 730}'),
    ("summary.json", '{"arms": {"mac": {}}, "seed": 5, "patients": 10, "horizon_days": -1}'),
    ("scenarios/mac.json", "{}"),
    ("scenarios/mac.json", '{"resolved_toml": [1, 2]}'),
    ("scenarios/mac.json", '{"resolved_toml": {"agvhd": 3}}'),
    ("scenarios/mac.json", None),
])
def test_plot_of_a_tampered_folder_is_one_line(tmp_path, run_folder, file, content):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    if content is None:
        (folder / file).unlink()
    elif isinstance(content, bytes):
        (folder / file).write_bytes(content)
    else:
        (folder / file).write_text(content)
    result = invoke("plot", str(folder), "-n", "100")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert file.split("/")[-1] in lines[0]


def test_plot_too_large_for_memory_is_refused(run_folder):
    result = invoke("plot", str(run_folder), "-n", str(10**12))
    assert result.exit_code == 2, result.output
    assert "of memory to draw" in result.output and "Traceback" not in result.output


def test_sweep_overwrite_refuses_what_is_not_a_sweep_folder(tmp_path, monkeypatch):
    from hsctsim.apps.runfolder import RunFolderError
    from hsctsim.apps.sweeps import SweepFolder

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    monkeypatch.chdir(tmp_path / "mine")
    before = tree(tmp_path)
    for out in (".", "..", str(tmp_path / "mine")):
        with pytest.raises(RunFolderError):
            SweepFolder(out, {"a": 1}, overwrite=True)
    assert tree(tmp_path) == before
    sweep = tmp_path / "sweep"
    SweepFolder(sweep, {"a": 1})
    with SweepFolder(sweep, {"a": 2}, overwrite=True):  # a sweep folder is replaced...
        assert json.loads((sweep / "sweep.json").read_text()) == {"a": 1}  # ...when whole
    assert json.loads((sweep / "sweep.json").read_text()) == {"a": 2}
