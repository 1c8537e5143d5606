"""A kernel for plain competing-risks engines: one group of processes open at a time.

Plain multi-state models (:mod:`hsctsim.model.multistate`) compile to engines
whose processes come in groups, the transitions out of one visit of a state:
a group opens together (at day 0, or when the event that enters the state
fires), the first of them to fire closes the rest, and nothing multiplies any
hazard.  :func:`is_plain` checks this on an engine's arrays.

For such an engine the general kernel (:func:`hsctsim.engine.kernel.run_patient`)
keeps state it never needs (queued rescalings, process states, a sorted list of
live processes, scratch arrays).  Here a patient's course is a loop over groups:
each process of the group draws its unit exponential in the general kernel's
order; its event day is evaluated only when the lower bound on it from the
engine's table (:func:`hsctsim.engine.day_bounds`) does not already put it after
the earliest day found so far in the group or after the horizon.  The arithmetic
of every evaluated day is the general kernel's, and the draws are the same, so
the cohort is the same bit for bit (``tests/test_plain_kernel.py``).
"""

import numpy as np
from numba import njit, prange

from .hazards import WEIBULL
from .jitcache import key_on_engine
from .kernel import (
    BLOCK,
    ONE_U64,
    entry_factor,
    exponential_draw,
    lower_day,
    process_cumhaz,
    process_inverse,
    stream_start,
)

__all__ = ["is_plain", "simulate_plain_into", "simulate_plain_patients_into"]


def is_plain(eng):
    """Whether :func:`simulate_plain_into` gives ``eng``'s cohort (see the module docstring).

    The groups are what opens at day 0 and what each event opens (the same visit
    of a state may be entered from several others: then its group is opened by
    several events).  Plain means: two groups are the same or share no process;
    no course opens a group twice (the graph of groups has no cycle); no event
    multiplies any hazard; and each event closes exactly the other processes of
    its own group (and possibly processes that never open).
    """
    n = len(eng.family)
    rows = [tuple(int(q) for q in eng.open_idx[eng.open_ptr[r]:eng.open_ptr[r + 1]])
            for r in range(n + 1)]
    group = {}  # process -> its group (a sorted tuple of processes)
    for members in rows:
        for q in members:
            if group.setdefault(q, members) != members:
                return False  # overlapping groups
    off = ~np.eye(n, dtype=bool)
    if np.any((eng.mult != 1.0) & off):
        return False
    opening = np.zeros(n, bool)
    opening[list(group)] = True
    for e, members in group.items():
        siblings = np.zeros(n, bool)
        siblings[list(members)] = True
        siblings[e] = False
        closes = eng.closes[e] & off[e]
        if np.any(siblings != (closes & opening)):
            return False
    # no cycle: from a group, an event of it leads to the group it opens
    nxt = {g: {rows[e] for e in g if rows[e]} for g in set(group.values())}
    done, active = set(), set()

    def cyclic(g):
        if g in done:
            return False
        if g in active:
            return True
        active.add(g)
        if any(cyclic(h) for h in nxt[g]):
            return True
        active.discard(g)
        done.add(g)
        return False

    return not any(cyclic(g) for g in nxt)


@njit(cache=True)
def _weibull_inv_shape(eng):
    """``1 / shape`` of each Weibull process without cure fraction, 0 for the others.

    Their inverse is ``scale * y ** (1 / shape)``, as :func:`hsctsim.engine.hazards.inverse`
    computes it (the same division, done once): evaluated in place, it skips the
    general inverse's checks and branches, which cost more than the power itself.
    """
    out = np.zeros(eng.family.shape[0])
    for q in range(out.size):
        if eng.family[q] == WEIBULL and eng.susceptible[q] == 1.0:
            out[q] = 1.0 / eng.par[q, 0]
    return out


@njit(cache=True, inline="always")
def _plain_patient(eng, inv_shape, seed_key, patient, horizon, out):
    """One patient of a plain engine; event days go to ``out`` (inf where none)."""
    n_proc = eng.family.shape[0]
    none = np.uint64(n_proc)
    rng = stream_start(seed_key, patient)
    for q in range(n_proc):
        out[q] = np.inf
    t = 0.0
    row = none  # day 0
    for _ in range(n_proc + 1):
        best = none
        t_best = np.inf
        for j in range(eng.open_ptr[row], eng.open_ptr[row + ONE_U64]):
            q = np.uint64(eng.open_idx[j])
            origin = t if eng.clock_reset[q] else 0.0
            m = entry_factor(eng, q, t)
            rng, e = exponential_draw(rng)
            if e >= m * eng.max_growth[q] * eng.max_cumhaz[q]:
                continue  # beyond the cure bound: never
            y = e / m
            # the day cannot come first: no need to evaluate it (a tie is evaluated,
            # so the lowest index still wins it)
            if origin + lower_day(eng, q, y) > min(t_best, horizon):
                continue
            if t > origin:  # a clock running from day 0: the target starts at H(t)
                y = process_cumhaz(eng, q, t - origin) + y
            if inv_shape[q] > 0.0:  # y > 0: e > 0, and H(t) >= 0
                d = origin + eng.par[q, 1] * y ** inv_shape[q]
            else:
                d = origin + process_inverse(eng, q, y)
            if d < t_best:
                t_best = d
                best = q
        if best == none or t_best > horizon:
            break
        t = t_best
        out[best] = t
        if eng.terminal[best]:
            break
        row = best


@njit(parallel=True, cache=True)
def simulate_plain_into(eng, seed_key, first_patient, horizon, out):
    """:func:`hsctsim.engine.kernel.simulate_into` for a plain engine (:func:`is_plain`)."""
    n = out.shape[0]
    inv_shape = _weibull_inv_shape(eng)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            _plain_patient(eng, inv_shape, seed_key, first_patient + i, horizon, out[i])


@njit(parallel=True, cache=True)
def simulate_plain_patients_into(eng, seed_key, patients, horizon, out):
    """:func:`hsctsim.engine.kernel.simulate_patients_into` for a plain engine."""
    n = out.shape[0]
    inv_shape = _weibull_inv_shape(eng)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            _plain_patient(eng, inv_shape, seed_key, patients[i], horizon, out[i])


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
