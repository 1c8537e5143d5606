"""Count what the kernel evaluates per patient: variates, cumulative hazards, inverses.

Runs the kernel as plain Python (``NUMBA_DISABLE_JIT=1``, set here) with its helpers
wrapped by counters, so the counts are those of the compiled kernel::

    python benchmarks/profile_counts.py [scenario] [n_patients] [tables]

With ``tables``, on the engine with hazard tables (:mod:`hsctsim.engine.tables`), also
how many of the evaluations and draws the tables left to the exact functions.

``process_inverse`` calls whose target lies beyond the cure bound return ``inf`` at once
(no inverse evaluated); they are counted apart as ``cured``.
"""

import os
import sys
from collections import Counter

os.environ["NUMBA_DISABLE_JIT"] = "1"

import numpy as np  # noqa: E402

import hsctsim.engine.kernel as kernel  # noqa: E402
from hsctsim.api import scenario_point  # noqa: E402
from hsctsim.engine.hazards import FAMILY_CODES  # noqa: E402
from hsctsim.engine.tables import table_neglog, table_value  # noqa: E402
from hsctsim.engine.tabulate import with_tables  # noqa: E402
from hsctsim.model.calibrate import calibrate  # noqa: E402
from hsctsim.model.hsct import engine_arrays, process_names  # noqa: E402

FAMILY = {code: name for name, code in FAMILY_CODES.items()}


def count(scenario="ric", n_patients=20_000, seed=1, tables=False):
    """Per-patient mean counts, ``Counter`` keyed by ``(what, process)``, and the events.

    ``(what, q)``: ``cumhaz``, ``inverse``, ``cured`` (an inverse beyond the cure
    bound), ``draws`` (``q`` -1); with ``tables``, ``exact cumhaz``, ``exact inverse``
    and ``exact draws`` count what the tables left to the exact functions.
    """
    point = scenario_point(scenario)
    eng = engine_arrays(point, calibrate(point))
    if tables:
        eng = with_tables(eng)
    counts = Counter()
    H, Hinv, draw = kernel.process_cumhaz, kernel.process_inverse, kernel._draw

    def counted_H(eng, q, s):
        counts["cumhaz", q] += 1
        counts["exact cumhaz", q] += tables and np.isnan(table_value(eng, q, 0, s))
        return H(eng, q, s)

    def counted_Hinv(eng, q, y):
        counts["cured" if y >= eng.max_cumhaz[q] else "inverse", q] += 1
        counts["exact inverse", q] += tables and np.isnan(table_value(eng, q, 1, y))
        return Hinv(eng, q, y)

    def counted_draw(eng, q, state):
        counts["draws", -1] += 1
        out = draw(eng, q, state)
        u = (float(kernel.mix64(state + kernel.GOLDEN) >> np.uint64(11)) + 0.5) * 2.0**-53
        counts["exact draws", -1] += tables and np.isnan(table_neglog(eng, u))
        return out

    kernel.process_cumhaz, kernel.process_inverse, kernel._draw = (
        counted_H, counted_Hinv, counted_draw)
    try:
        out = np.empty((n_patients, len(eng.family)))
        with np.errstate(over="ignore"):  # uint64 wrap-around, as in the compiled kernel
            kernel.simulate_into(eng, kernel.seed_key(seed), 0, point.horizon_days, out)
    finally:
        kernel.process_cumhaz, kernel.process_inverse, kernel._draw = H, Hinv, draw
    per_patient = Counter({k: v / n_patients for k, v in counts.items()})
    return eng, process_names(point), per_patient, np.isfinite(out).sum() / n_patients


def main(scenario="ric", n_patients="20000", tables=""):
    eng, names, c, events = count(scenario, int(n_patients), tables=tables == "tables")
    print(f"{scenario}, per patient: {c['draws', -1]:.4f} unit exponentials, {events:.4f} events")
    if tables:
        left = sum(v for (w, _), v in c.items() if w in ("exact cumhaz", "exact inverse"))
        print(f"left to the exact functions by the tables: {left:.4f} evaluations, "
              f"{c['exact draws', -1]:.4f} draws (fixed-day processes without a cure "
              "fraction draw no variate with tables)")
    print(f"{'process':22s}{'family':13s}{'pi':>6s}{'cumhaz':>9s}{'inverse':>9s}{'cured':>9s}")
    for q, name in enumerate(names):
        if c["cumhaz", q] or c["inverse", q] or c["cured", q]:
            print(f"{name:22s}{FAMILY[int(eng.family[q])]:13s}{eng.susceptible[q]:6.3f}"
                  f"{c['cumhaz', q]:9.4f}{c['inverse', q]:9.4f}{c['cured', q]:9.4f}")
    totals = {what: sum(v for (w, _), v in c.items() if w == what)
              for what in ("cumhaz", "inverse", "cured")}
    print(f"{'total':41s}{totals['cumhaz']:9.4f}{totals['inverse']:9.4f}{totals['cured']:9.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
