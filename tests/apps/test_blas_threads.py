"""The command line runs OpenBLAS on one thread unless the user says otherwise (issue 27)."""

import os
import subprocess
import sys

import pytest

PROBE = ("import sys; import hsctsim.apps.entry; "
         "assert 'numpy' not in sys.modules, 'numpy loaded before the setting'; "
         "import os; print(os.environ['OPENBLAS_NUM_THREADS'])")


@pytest.mark.parametrize("given, expected", [(None, "1"), ("3", "3")])
def test_entry_sets_openblas_threads_before_numpy(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
