"""Cost of one cumulative-hazard or inverse evaluation, per family, as the kernel calls them.

The family is a run-time argument (as in the kernel, where it comes from the
engine arrays), so nothing is folded away; the parameters are those of a ``ric``
process of that family.  Arguments: days uniform over the horizon for ``cumhaz``,
targets uniform below the cure bound (below 3 without one) for ``inverse``, the
range where the kernel calls it.  See ``profile_counts.py`` for how many calls a
patient makes.
"""

import numpy as np
import pytest
from common import FIGURES
from numba import njit

from hsctsim.engine.kernel import process_cumhaz, process_inverse
from hsctsim.model.hsct import INDEX

CALLS = 10**6
PROCESS_OF_FAMILY = {"lognormal": "relapse", "weibull": "trm",
                     "exponential": "death_after_relapse", "fixed": "graft_failure"}


@njit(cache=True)
def _sweep(invert, eng, q, x):
    total = 0.0
    for v in x:
        if invert:
            total += process_inverse(eng, q, v)
        else:
            total += process_cumhaz(eng, q, v)
    return total


@pytest.mark.parametrize("family", PROCESS_OF_FAMILY)
@pytest.mark.parametrize("function", ["cumhaz", "inverse"])
def test_hazard_call(benchmark, ric, function, family):
    eng, q = ric.eng, INDEX[PROCESS_OF_FAMILY[family]]
    rng = np.random.default_rng(1)
    if function == "cumhaz":
        x = rng.uniform(0.0, ric.horizon, CALLS)
    else:
        x = rng.uniform(0.0, min(eng.max_cumhaz[q], 3.0), CALLS)
    args = (function == "inverse", eng, q, x)
    _sweep(*args)  # warm-up
    benchmark.pedantic(_sweep, args=args, rounds=10, iterations=1)
    ns = 1e9 * benchmark.stats.stats.min / CALLS
    benchmark.extra_info["ns_per_call"] = round(ns, 1)
    FIGURES[f"{function} {family} (pi={eng.susceptible[q]:.2f})"] = (ns, "ns/call")
