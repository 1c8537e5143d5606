"""Set-up of the benchmarks (not part of the test suite; see README.md).

numba's on-disk cache is keyed on each function's own file, so a kernel compiled
before an edit of ``hazards.py`` would be reused as it was.  Unless
``NUMBA_CACHE_DIR`` is set, the benchmarks use a cache folder per digest of the
package sources: after any edit the first run compiles afresh.
"""

import hashlib
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace


def _source_digest():
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).resolve().parents[1] / "hsctsim").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(
    tempfile.gettempdir(), "hsctsim-bench-numba", _source_digest()))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from common import FIGURES, REFERENCE_PATIENTS, SEED, reference_cohort, size_label  # noqa: E402

from hsctsim.api import scenario_point  # noqa: E402
from hsctsim.model.calibrate import calibrate  # noqa: E402
from hsctsim.engine.kernel import seed_key, simulate_into  # noqa: E402
from hsctsim.model.hsct import engine_arrays  # noqa: E402

OPT_IN = {"slow": "10^7 patients, cold start, calibration of every arm, peak memory",
          "huge": "streaming 10^8 patients (many minutes)"}
# (what, numerator, denominator, goal): ratios of figures measured in the same run
RATIOS = (
    ("kernel / plain-Python reference, per patient", "kernel 1e6 threads=1",
     f"python reference {size_label(REFERENCE_PATIENTS)}", ">= 200"),
    ("kernel / vectorised NumPy, reduced 2-process model", "reduced kernel 1e6",
     "reduced numpy 1e6", None),
    ("full model / random-number floor, 1 thread", "kernel 1e6 threads=1", "floor 1e6 threads=1",
     ">= 0.5"),
    ("full model / random-number floor, 2 threads", "kernel 1e6 threads=2", "floor 1e6 threads=2",
     ">= 0.5"),
    ("kernel 2 threads / 1 thread", "kernel 1e6 threads=2", "kernel 1e6 threads=1", None),
)


def pytest_addoption(parser):
    for mark, what in OPT_IN.items():
        parser.addoption(f"--run-{mark}", action="store_true", help=f"also run: {what}")


def pytest_configure(config):
    for mark, what in OPT_IN.items():
        config.addinivalue_line("markers", f"{mark}: opt-in with --run-{mark} ({what})")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in OPT_IN:
            if mark in item.keywords and not config.getoption(f"--run-{mark}"):
                item.add_marker(pytest.mark.skip(reason=f"opt-in: --run-{mark}"))


@pytest.fixture(scope="session")
def ric():
    """The calibrated ``ric`` arm, checked: the kernel equals the plain-Python reference.

    Also measures ``draws_per_patient``, the unit exponentials the model draws per
    patient on average (counted in the reference over the same patients).
    """
    point = scenario_point("ric")
    eng = engine_arrays(point, calibrate(point))
    key, horizon = seed_key(SEED), float(point.horizon_days)
    expected, draws = reference_cohort(eng, key, REFERENCE_PATIENTS, horizon)
    out = np.empty_like(expected)
    simulate_into(eng, key, 0, horizon, out)  # also the compile, if the cache is cold
    if not np.allclose(out, expected, rtol=1e-9, atol=0.0):
        raise RuntimeError("the kernel and the plain-Python reference disagree "
                           "(a stale numba cache?)")
    FIGURES["draws per patient K"] = (draws / REFERENCE_PATIENTS, "unit exponentials")
    return SimpleNamespace(point=point, eng=eng, key=key, horizon=horizon,
                           draws_per_patient=draws / REFERENCE_PATIENTS)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("hsctsim figures (best round) and ratios")
    tr.write_line(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for label, (value, unit) in FIGURES.items():
        tr.write_line(f"{label:45s} {value:16,.6g} {unit}")
    for what, top, bottom, goal in RATIOS:
        if top in FIGURES and bottom in FIGURES:
            ratio = FIGURES[top][0] / FIGURES[bottom][0]
            tr.write_line(f"{what:55s} {ratio:10.3g}" + (f"   (goal {goal})" if goal else ""))
