"""Shared test set-up: a private calibration cache, small helpers."""

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args):
    """Run the CLI in-process; an unexpected exception fails the test with its traceback."""
    from click.testing import CliRunner

    from hsctsim.apps.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_user_error(result, *words):
    """A user error: exit status 2, no traceback, and every one of ``words`` said."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


def assert_bad_section(tmp_path, section, table, key, problem):
    """``table`` under ``[section]`` of a scenario on mac: a ScenarioError naming ``key``
    and ``problem``, and ``hsctsim check`` says it in one line, exit 2.  Returns the
    error's text."""
    from hsctsim.model.scenario import ScenarioError, load_scenario  # after the cache set-up

    path = tmp_path / "bad.toml"
    path.write_text(f'base = "mac"\nname = "bad"\n[{section}]\n{table}\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert key in str(err.value) and problem in str(err.value)
    result = invoke("check", str(path))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    return str(err.value)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep calibrations made by tests out of the user's cache folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HSCTSIM_CACHE_DIR", str(tmp_path_factory.mktemp("hsctsim-cache")))
    yield
    mp.undo()


def assert_within_se(estimate, truth, n, z=4.0):
    """|estimate - truth| < z binomial standard errors of a proportion from n draws."""
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    se = np.sqrt(np.maximum(truth * (1 - truth), 1e-12) / n)
    worst = np.max(np.abs(estimate - truth) / se)
    assert worst < z, f"{worst:.2f} standard errors off: {estimate} vs {truth}"


def as_from_a_terminal():
    """``preexec_fn``: the stopping signals at their defaults, as a terminal starts a command.

    hsctsim leaves a signal ignored when whoever started it ignored it (``nohup``, a
    shell script's background jobs); a test suite itself run that way would otherwise
    hand the ignored SIGINT on to the runs it interrupts.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(*args, cwd=None):
    """``python -m hsctsim ARGS`` in a real process, progress lines every 0.2 s on stderr."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", HSCTSIM_PROGRESS_SECONDS="0.2",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "hsctsim", *args], cwd=cwd, env=env,
                            preexec_fn=as_from_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc, words, timeout=300):
    """Read ``proc``'s stderr until a line holds ``words``; return what was read.

    Waiting on what the process says rather than on time keeps tests that send
    signals independent of the machine's speed and load.
    """
    seen = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while words not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            if sel.select(timeout=1.0):
                seen += proc.stderr.readline()
    return seen
