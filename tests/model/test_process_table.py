"""The process table: one declaration adds a clinical process everywhere.

The recipe of the contributor guide, followed for a toy process (EBV reactivation
with a tie to non-relapse death): one ``ClinicalProcess`` and one ``Tie`` in the
table, its ``[ebv]`` table and effect in a scenario, and its calibration.  Run in
a child process, with the table extended before hsctsim reads it, as a new
process added to ``PROCESS_TABLE`` would be.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np

from hsctsim.analysis.endpoints import ENDPOINTS
from hsctsim.model import process_table
from hsctsim.model.hsct import PROCESS_NAMES
from hsctsim.model.schema import EFFECTS, PROCESSES

TOY = """
base = "ric"
name = "ric_ebv"
population = "RIC arm of BMT CTN 0901 with a toy EBV process (test only)"

[ebv]
incidence = 0.25
landmark_day = 180
source = "toy figure for a test: not a published incidence"
timing = { family = "lognormal", median_day = 60, p90_day = 120 }
timing_source = "toy timing for a test"

[effects.ebv_on_trm]
hr = 3.0
source = "toy hazard ratio for a test"
"""

CHILD = """
import json, sys
from hsctsim.model import process_table as pt

pt.PROCESS_TABLE = pt.PROCESS_TABLE + (pt.ClinicalProcess(
    "ebv", "EBV reactivation", calibrated=True, endpoint="incidence",
    endpoint_label="EBV reactivation (competing: death)",
    multiplies=(("trm", "ebv_on_trm"),), colour="#a6cee3", marker="v"),)
pt.TIES = pt.TIES + (pt.Tie("ebv_on_trm", ("ebv",), "EBV reactivation multiplies "
                                                     "non-relapse death"),)

import numpy as np
import hsctsim
from hsctsim.analysis.endpoints import ENDPOINTS, summarize

toml = sys.argv[1]
cohort = hsctsim.simulate(toml, 20_000, seed=3, calibration_patients=20_000)
ebv = cohort.day("ebv")
trm = cohort.day("trm")
summary = summarize(cohort)
out = {
    "names": list(cohort.process_names),
    "endpoint": "ebv" in ENDPOINTS,
    "ebv_180": summary["ebv"]["at"]["d180"]["estimate"],
    "trm_with": float(np.isfinite(trm[np.isfinite(ebv)]).mean()),
    "trm_without": float(np.isfinite(trm[~np.isfinite(ebv)]).mean()),
    "show": hsctsim.load_scenario(toml).processes["ebv"].source,
}
print(json.dumps(out))
"""


def test_the_built_in_table_is_what_the_model_reads():
    assert PROCESS_NAMES == process_table.names()
    assert PROCESSES == process_table.configured()
    assert set(EFFECTS) == {t.name for t in process_table.TIES}
    labels = process_table.incidence_endpoints()
    assert {k: v for k, v in ENDPOINTS.items() if v[0] == "incidence"} == {
        k: ("incidence", v) for k, v in labels.items()}
    for decl in process_table.PROCESS_TABLE:  # every tie named is declared
        for target, tie in decl.multiplies:
            assert target in PROCESS_NAMES and tie in EFFECTS


def test_a_toy_process_is_one_declaration(tmp_path):
    toml = tmp_path / "ric_ebv.toml"
    toml.write_text(TOY)
    env_cache = {"HSCTSIM_CACHE_DIR": str(tmp_path / "cache")}
    import os

    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(toml)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, **env_cache})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # appended to the table: after its processes, before the optional sections' ones
    n = len(PROCESS_NAMES)
    assert out["names"][n] == "ebv" and out["names"][:n] == list(PROCESS_NAMES)
    assert out["endpoint"]  # reported as an endpoint, from its declaration alone
    # calibrated to 25% at day 180 (competing deaths included) on 20,000 patients with
    # common random numbers; this cohort is another 20,000: both Monte Carlo errors
    se = np.sqrt(2 * 0.25 * 0.75 / 20_000)
    assert abs(out["ebv_180"] - 0.25) < 5 * se, out
    assert out["trm_with"] > out["trm_without"]  # the tie acts (HR 3 on TRM)
    assert out["show"].startswith("toy figure")
