"""``hsctsim run`` on a multi-state model against its simulation alone, in one process.

The run's work (:func:`hsctsim.apps.msrunner.run_multistate` on the bundled ``ebmt4``:
chunks simulated, then occupation, transitions and time in state counted in one numba
pass per chunk, :mod:`hsctsim.analysis.ms_counts`, and the summary) against the
simulation alone (:func:`hsctsim.api.iter_chunks` over the same patients in the same
chunks). Interleaved rounds, each timing the simulation then the run; the figure is
the median of the per-round ratios of patients per second (wall and CPU time, one
numba thread: on a shared machine two threads' wall time measures the neighbours).
Goal: the run at >= 0.8 of the simulation's patients per second (before the numba
counts, the numpy summary took about 10 times the simulation).
"""

import time

import numpy as np
from common import FIGURES, SEED, numba_threads

import hsctsim
from hsctsim.api import iter_chunks
from hsctsim.apps.msrunner import run_multistate

PATIENTS = 10**6
CHUNK = 500_000
ROUNDS = 3


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def test_multistate_run_against_simulation(benchmark):
    scenario = hsctsim.load_scenario("ebmt4")
    horizon = scenario.horizon_days

    def simulation():
        for _ in iter_chunks(scenario, PATIENTS, CHUNK, SEED, None, horizon):
            pass

    def run():
        run_multistate({"ebmt4": scenario}, PATIENTS, SEED, horizon, chunk_size=CHUNK)

    times = {"sim": [], "run": []}

    def one_round():
        times["sim"].append(_timed(simulation))
        times["run"].append(_timed(run))

    with numba_threads(1):
        run_multistate({"ebmt4": scenario}, 1000, SEED, horizon)   # warm-up: compile, load
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    (sim_s, sim_cpu), (run_s, run_cpu) = (np.array(times[k]).T for k in ("sim", "run"))
    FIGURES["multi-state: simulation ebmt4 1e6 (1 thread)"] = (PATIENTS / sim_s.min(), "patients/s")
    FIGURES["multi-state: run ebmt4 1e6 (1 thread)"] = (PATIENTS / run_s.min(), "patients/s")
    FIGURES["multi-state: run / simulation (goal >= 0.8)"] = (
        float(np.median(sim_s / run_s)), "median of rounds")
    FIGURES["multi-state: run / simulation, CPU time"] = (
        float(np.median(sim_cpu / run_cpu)), "median of rounds")
    benchmark.extra_info["ratios"] = [round(v, 4) for v in sim_s / run_s]
