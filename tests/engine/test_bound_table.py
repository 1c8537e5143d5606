"""The table of lower bounds on event days, filled in one compiled call per process (issue 27).

It must hold the same numbers as evaluating each cell's inverse from Python, the
way it was filled before, for every family, with and without a cure fraction (a
fixed process's cell 0 holds its day: no target is zero).
"""

import numpy as np

from hsctsim.engine.hazards import FIXED, PIECEWISE, cure_target, inverse, piece_inverse
from hsctsim.engine.processes import BOUND_CAP, BOUND_MARGIN, BOUND_STEPS, Process, build


def _cell_by_cell(eng):
    day = np.full((len(eng.family), BOUND_STEPS + 1), np.inf)
    for q, family in enumerate(eng.family):
        pi = float(eng.susceptible[q])
        if pi <= 0.0:
            continue
        top = -np.log1p(-pi) if pi < 1.0 else BOUND_CAP
        for k in range(BOUND_STEPS + 1):
            y = k * top / BOUND_STEPS
            if family == PIECEWISE:
                h0, _ = cure_target(y, pi)
                day[q, k] = piece_inverse(eng.pw_start, eng.pw_rate, int(eng.par[q, 0]),
                                          int(eng.par[q, 1]), h0)
            else:
                day[q, k] = inverse(family, eng.par[q, 0], eng.par[q, 1], pi, y)
        if pi < 1.0:
            day[q, BOUND_STEPS] = day[q, BOUND_STEPS - 1]
        if family == FIXED:  # targets are positive: the day itself bounds cell 0
            day[q, 0] = day[q, 1]
    return day * (1.0 - BOUND_MARGIN)


def test_bound_table_equals_the_inverse_cell_by_cell():
    processes = []
    for pi in (1.0, 0.35):
        processes += [
            Process(f"exp{pi}", "exponential", (0.01,), pi),
            Process(f"wei{pi}", "weibull", (0.45, 500.0), pi),
            Process(f"logn{pi}", "lognormal", (4.1, 1.2), pi),
            Process(f"gomp{pi}", "gompertz", (0.002, 0.001), pi),
            Process(f"gompneg{pi}", "gompertz", (-0.01, 0.003), pi),
            Process(f"llog{pi}", "loglogistic", (1.5, 200.0), pi),
            Process(f"pw{pi}", "piecewise", ((0.0, 30.0, 365.0), (0.004, 0.0, 0.0001)), pi),
            Process(f"fixed{pi}", "fixed", (7.0,), pi),
        ]
    processes.append(Process("never", "exponential", (0.01,), 0.0))
    eng = build(processes)
    np.testing.assert_array_equal(eng.bound_day, _cell_by_cell(eng))
    assert np.isfinite(eng.bound_day[:-1, :BOUND_STEPS]).mean() > 0.5
