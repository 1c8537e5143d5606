"""Counts of a multi-state chunk in one numba pass: occupation, transitions, time in state.

What :class:`hsctsim.analysis.occupation.MultistateTally` adds up, straight from the
engine's event days (one column per transition process, ``inf`` where none), without
the cohort's sorted copies: each patient's fired processes are put in day order (ties
in process order, as the cohort's stable sort), then walked once. Patients are cut into
fixed blocks of :data:`BLOCK`, counted in parallel (a thread per block) and the blocks
summed in order, so the result is the same whatever the thread count.

The definitions are the cohort's: the state on day ``d`` is the one entered by the
last transition on or before ``d``; a transition is made by ``d`` when any of its
processes fired on or before ``d``; the time in each state runs up to the horizon.
"""

import numpy as np
from numba import njit, prange

from .jitcache import key_on_engine

__all__ = ["BLOCK", "count_paths"]

BLOCK = 4096


@njit(parallel=True, cache=True)
def count_paths(event_day, proc_to_state, proc_transition, initial, n_states, n_trans, days,
                horizon):
    """``(occupied (G, S), moved (G, T), time_sum (S,), time_sq (S,))`` of a chunk.

    Parameters
    ----------
    event_day : float64 (n, P)
    proc_to_state, proc_transition : int64 (P,)
        State entered by each process, and its transition of the scenario.
    initial : int
    n_states, n_trans : int
    days : float64 (G,)
        Landmark days.
    horizon : float
        Where the time in each state stops.
    """
    n, p = event_day.shape
    g = days.size
    nb = (n + BLOCK - 1) // BLOCK
    occ = np.zeros((nb, g, n_states), np.int64)
    mov = np.zeros((nb, g, n_trans), np.int64)
    tsum = np.zeros((nb, n_states))
    tsq = np.zeros((nb, n_states))
    for b in prange(nb):
        idx = np.empty(p, np.int64)
        dd = np.empty(p)
        spent = np.empty(n_states)
        first = np.empty(n_trans)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            m = 0
            for q in range(p):
                x = event_day[i, q]
                if x < np.inf:
                    j = m
                    while j > 0 and dd[j - 1] > x:   # strictly later: ties keep order
                        dd[j] = dd[j - 1]
                        idx[j] = idx[j - 1]
                        j -= 1
                    dd[j] = x
                    idx[j] = q
                    m += 1
            # changes only: a patient adds +1/-1 where its state (or a transition's
            # first day) passes a landmark; the sums over landmarks come at the end
            occ[b, 0, initial] += 1
            c = 0
            s = initial
            for k in range(m):
                while c < g and days[c] < dd[k]:
                    c += 1
                if c == g:
                    break
                nxt = proc_to_state[idx[k]]
                occ[b, c, s] -= 1
                occ[b, c, nxt] += 1
                s = nxt
            for t in range(n_trans):
                first[t] = np.inf
            for k in range(m):
                t = proc_transition[idx[k]]
                if dd[k] < first[t]:
                    first[t] = dd[k]
                    c = 0
                    while c < g and days[c] < dd[k]:
                        c += 1
                    if c < g:
                        mov[b, c, t] += 1
            for s in range(n_states):
                spent[s] = 0.0
            prev = 0.0
            s = initial
            for k2 in range(m):
                cur = min(dd[k2], horizon)
                spent[s] += cur - prev
                prev = cur
                s = proc_to_state[idx[k2]]
            spent[s] += horizon - prev
            for s in range(n_states):
                tsum[b, s] += spent[s]
                tsq[b, s] += spent[s] * spent[s]
    occupied = np.zeros((g, n_states), np.int64)
    moved = np.zeros((g, n_trans), np.int64)
    time_sum = np.zeros(n_states)
    time_sq = np.zeros(n_states)
    for b in range(nb):                              # in block order: thread-independent
        occupied += occ[b]
        moved += mov[b]
        time_sum += tsum[b]
        time_sq += tsq[b]
    for c in range(1, g):                            # the changes summed over landmarks
        occupied[c] += occupied[c - 1]
        moved[c] += moved[c - 1]
    return occupied, moved, time_sum, time_sq


key_on_engine(globals())
