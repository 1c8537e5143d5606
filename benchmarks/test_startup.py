"""Start-up: a small run in a fresh process, and calibration of each bundled arm.

The start-up runs inherit ``HSCTSIM_CACHE_DIR``; the ``ric`` fixture has calibrated
the arm into it first, so they time imports, the numba kernels (compiled with an
empty on-disk cache, loaded with a warm one) and the run, not the calibration.
"""

import itertools
import os
import shutil
import subprocess
import sys

import pytest
from common import FIGURES

from hsctsim.model.calibrate import calibrate
from hsctsim.model.scenario import bundled_names, load_scenario

START_PATIENTS = 1000


def _command():
    """``hsctsim run ric -n 1000``, or the same through the API while the CLI is missing."""
    exe = shutil.which("hsctsim")
    if exe and subprocess.run([exe, "--help"], capture_output=True).returncode == 0:
        return [exe, "run", "ric", "-n", str(START_PATIENTS)]
    return [sys.executable, "-c", f"import hsctsim; hsctsim.simulate('ric', {START_PATIENTS})"]


@pytest.mark.parametrize("numba_cache", ["warm", pytest.param("cold", marks=pytest.mark.slow)])
def test_start(benchmark, ric, tmp_path, numba_cache):
    command = _command()
    fresh = (tmp_path / f"numba{i}" for i in itertools.count())

    def start(cache_dir):
        subprocess.run(command, env=dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir)), check=True,
                       stdout=subprocess.DEVNULL)

    if numba_cache == "cold":
        benchmark.pedantic(start, setup=lambda: ((next(fresh),), {}), rounds=2)
    else:
        start(tmp_path / "warm")  # untimed: fills the cache
        benchmark.pedantic(start, args=(tmp_path / "warm",), rounds=5)
    benchmark.extra_info["command"] = " ".join(os.path.basename(c) for c in command)
    FIGURES[f"start, {numba_cache} numba cache: {benchmark.extra_info['command']}"] = (
        benchmark.stats.stats.min, "s")


@pytest.mark.slow
@pytest.mark.parametrize("arm", bundled_names())
def test_calibration(benchmark, arm):
    """``calibrate(point, use_cache=False)`` at the default number of patients."""
    point = load_scenario(arm).at_midpoints()
    calibrate(point, n_patients=1000, use_cache=False)  # warm-up: compiles the kernel
    benchmark.pedantic(calibrate, args=(point,), kwargs={"use_cache": False}, rounds=1)
    FIGURES[f"calibration {arm}"] = (benchmark.stats.stats.min, "s")
