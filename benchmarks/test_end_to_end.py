"""``hsctsim run`` end to end against the kernel alone, in the same process.

The run's work (:func:`hsctsim.apps.runner.run_arms` on the ``ric`` arm: chunks
simulated, landmark counts of every endpoint, the summary) against
``simulate_into`` alone over the same patients in the same chunks, into one
reused buffer.  Interleaved rounds: each times the kernel, then the run, so that a
slow spell of the shared machine hits both sides; the figure is the median of the
per-round ratios (wall time, all threads).  Goal: the run at >= 0.8 of the kernel's
patients per second.
"""

import time

import numpy as np
from common import FIGURES, SEED

from hsctsim.analysis.endpoints import LANDMARK_DAYS, Tally
from hsctsim.api import simulate
from hsctsim.apps.runner import DEFAULT_CHUNK, run_arms
from hsctsim.engine.kernel import simulate_into

PATIENTS = 10**6
ROUNDS = 7
TALLY_PATIENTS = 5 * 10**5


def _timed(fn):
    """Wall and CPU (all threads) seconds of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def test_run_against_kernel(benchmark, ric):
    scenarios = {"ric": ric.point}
    buf = np.empty((DEFAULT_CHUNK, len(ric.eng.family)))

    def kernel():
        for start in range(0, PATIENTS, DEFAULT_CHUNK):
            simulate_into(ric.eng, ric.key, start, ric.horizon, buf[:PATIENTS - start])

    def run():
        run_arms(scenarios, PATIENTS, SEED, ric.horizon)

    times = {"kernel": [], "run": []}

    def one_round():
        times["kernel"].append(_timed(kernel))
        times["run"].append(_timed(run))

    run_arms(scenarios, 1000, SEED, ric.horizon)  # warm-up: compiles or loads the counts
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    (kernel_s, kernel_cpu), (run_s, run_cpu) = (np.array(times[k]).T for k in ("kernel", "run"))
    FIGURES["end to end: kernel 1e6"] = (PATIENTS / kernel_s.min(), "patients/s")
    FIGURES["end to end: run_arms 1e6"] = (PATIENTS / run_s.min(), "patients/s")
    FIGURES["end to end: run / kernel (goal >= 0.8)"] = (
        float(np.median(kernel_s / run_s)), "median of rounds")
    # CPU time: the work, less disturbed by other jobs than the wall clock
    FIGURES["end to end: run / kernel, CPU time"] = (
        float(np.median(kernel_cpu / run_cpu)), "median of rounds")
    benchmark.extra_info["ratios"] = [round(v, 4) for v in kernel_s / run_s]
    benchmark.extra_info["cpu_ratios"] = [round(v, 4) for v in kernel_cpu / run_cpu]


def test_tally(benchmark, ric):
    """The landmark counts alone (:meth:`Tally.add`), standard landmarks."""
    cohort = simulate(ric.point, TALLY_PATIENTS, SEED, horizon_days=ric.horizon)
    Tally(LANDMARK_DAYS).add(cohort)  # warm-up
    benchmark.pedantic(lambda: Tally(LANDMARK_DAYS).add(cohort), rounds=10, iterations=1)
    FIGURES["Tally.add 5e5"] = (TALLY_PATIENTS / benchmark.stats.stats.min, "patients/s")
