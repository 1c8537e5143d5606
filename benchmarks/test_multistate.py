"""The plain multi-state path (``ebmt4``) against the HSCT model, per event.

A ratio from interleaved rounds in one process (1 thread, CPU time), no timed
assertion: events per second of the whole plain path (:func:`hsctsim.simulate` on
the bundled ``ebmt4`` scenario: engine build, kernel, cohort) over events per
second of the kernel on the ``ric`` arm.  Goal: >= 1 (no slower per event).
"""

import numpy as np
from common import FIGURES, cpu_seconds, numba_threads

import hsctsim
from hsctsim.engine.kernel import simulate_into

ROUNDS = 7
PATIENTS = 2 * 10**5


def test_plain_multistate_per_event(benchmark, ric):
    scenario = hsctsim.load_scenario("ebmt4")
    buf = np.empty((PATIENTS, len(ric.eng.family)))
    ratios, rates = [], {"ebmt4": [], "ric": []}

    def one_round():
        cohort = None

        def plain():
            nonlocal cohort
            cohort = hsctsim.simulate(scenario, PATIENTS, seed=1)

        t_plain = cpu_seconds(plain)
        t_hsct = cpu_seconds(lambda: simulate_into(ric.eng, ric.key, 0, ric.horizon, buf))
        plain_rate = np.isfinite(cohort.event_day).sum() / t_plain
        hsct_rate = np.isfinite(buf).sum() / t_hsct
        rates["ebmt4"].append(plain_rate)
        rates["ric"].append(hsct_rate)
        ratios.append(plain_rate / hsct_rate)

    with numba_threads(1):
        hsctsim.simulate(scenario, 1000, seed=1)  # warm-up (compile, load)
        simulate_into(ric.eng, ric.key, 0, ric.horizon, buf[:100])
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    FIGURES["plain ebmt4 events/s (simulate, 1 thread)"] = (max(rates["ebmt4"]),
                                                             "patient-events/s")
    FIGURES["ric kernel events/s (1 thread)"] = (max(rates["ric"]), "patient-events/s")
    FIGURES["paired: plain ebmt4 / HSCT ric, per event (goal >= 1)"] = (
        float(np.median(ratios)), "median of rounds")
    benchmark.extra_info["ratios"] = [round(r, 4) for r in ratios]
