"""ebmt4 against its scalar floor (issue 27): the kernel per trajectory.

The floor (:func:`common.multistate_floor_into`) does nothing but draw what the
model draws: per competing transition one uniform, one log and one power
(SplitMix64, the Weibull inverse with ``1 / shape`` precomputed), the winner's
state kept, the row written.  It draws the kernel's variates in the kernel's
order, so its cohort is the kernel's bit for bit (checked before any timing).

Interleaved rounds in one process, 1 thread, CPU time; the figures are the
medians of the per-round ratios to the floor (goal for the engine: >= 0.85).
The batched path (``simulate(..., batched=True)``, vectorised log and exp) is timed
beside them, with its agreement with the exact cohort (untimed).  No timed
assertion.
"""

import numpy as np
import pytest
from common import (FIGURES, SEED, competing_weibull_tables, cpu_seconds,
                    multistate_floor_into, numba_threads)

import hsctsim
from hsctsim.engine.kernel import seed_key, simulate_into
from hsctsim.engine.batched import batch_plan, simulate_batched_into
from hsctsim.engine.plain import simulate_plain_into
from hsctsim.engine.processes import build
from hsctsim.model.multistate import processes

ROUNDS = 9
PATIENTS = 2 * 10**5


@pytest.fixture(scope="module")
def ebmt4():
    scenario = hsctsim.load_scenario("ebmt4")
    eng = build(processes(scenario))
    key, horizon = seed_key(SEED), float(scenario.horizon_days)
    tables = competing_weibull_tables(scenario)
    floor, kernel, plain = (np.empty((PATIENTS, len(eng.family))) for _ in range(3))
    multistate_floor_into(key, *tables, horizon, floor)  # also the compile
    simulate_into(eng, key, 0, horizon, kernel)
    simulate_plain_into(eng, key, 0, horizon, plain)
    if not np.array_equal(floor, kernel) or not np.array_equal(plain, kernel):
        raise RuntimeError("the floor does not draw the kernel's variates (a stale cache?)")
    FIGURES["ebmt4 events per patient"] = (np.isfinite(kernel).sum() / PATIENTS, "events")
    # batched draws (vectorised log and exp): the same courses, days a few ulps apart
    plan, patients = batch_plan(eng), np.arange(PATIENTS, dtype=np.int64)
    simulate_batched_into(key, patients, horizon, *plan, floor)
    fired = np.isfinite(kernel)
    FIGURES["batched: patients with the exact course"] = (
        np.mean((fired == np.isfinite(floor)).all(axis=1)), "share")
    FIGURES["batched: largest relative difference of a day"] = (
        np.max(np.abs(floor[fired] - kernel[fired]) / kernel[fired]), "")
    return scenario, eng, key, horizon, tables, plan, patients


def test_ebmt4_against_floor(benchmark, ebmt4):
    scenario, eng, key, horizon, tables, plan, patients = ebmt4
    buf = np.empty((PATIENTS, len(eng.family)))
    runs = {
        "floor": lambda: multistate_floor_into(key, *tables, horizon, buf),
        "kernel": lambda: simulate_into(eng, key, 0, horizon, buf),  # the general kernel
        "plain kernel": lambda: simulate_plain_into(eng, key, 0, horizon, buf),
        "batched kernel": lambda: simulate_batched_into(key, patients, horizon, *plan, buf),
        # what a user calls: engine build, the plain kernel, cohort
        "api": lambda: hsctsim.simulate(scenario, PATIENTS, seed=SEED),
        "api batched": lambda: hsctsim.simulate(scenario, PATIENTS, seed=SEED, batched=True),
    }
    seconds = {name: [] for name in runs}

    def one_round():
        for name, run in runs.items():
            seconds[name].append(cpu_seconds(run))

    with numba_threads(1):
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    floor = np.array(seconds["floor"])
    for name, values in seconds.items():
        values = np.array(values)
        FIGURES[f"ebmt4 {name} (1 thread, median)"] = (PATIENTS / np.median(values),
                                                       "trajectories/s")
        if name != "floor":
            ratios = floor / values
            FIGURES[f"paired: ebmt4 {name} / floor"] = (float(np.median(ratios)),
                                                        "median of rounds")
            benchmark.extra_info[f"{name}/floor"] = [round(r, 4) for r in ratios]
