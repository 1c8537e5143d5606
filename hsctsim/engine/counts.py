"""Landmark counts in one pass over a cohort's event days (numba, O(n)).

Every count a :class:`hsctsim.analysis.endpoints.Tally` needs is the number of
patients whose state at landmark ``d`` satisfies ``a <= d < b`` for a pair of
days ``(a, b)`` of the patient: ``(event day, inf)`` for "the endpoint has
happened by ``d``", ``(engraftment, death)`` for "alive and engrafted at ``d``".
Such an indicator over sorted landmarks ``g_0 < g_1 < ...`` is 1 on landmark
indices ``bin(a) <= j < bin(b)``, with ``bin(x)`` the number of landmarks below
``x``; so each patient adds +1 at ``bin(a)`` and -1 at ``bin(b)`` of a difference
array, and a cumulative sum over landmarks gives the counts.  Per patient this
costs a binary search over the landmarks per day involved, whatever their
number; no sort.  The counts are integers, so they are the same whatever the
blocking or thread count.
"""

import numpy as np
from numba import njit, prange

from .jitcache import key_on_engine
from .kernel import run_patient, scratch

__all__ = ["count_patient", "counts_at", "LINEAR_LANDMARKS", "n_blocks", "paired_differences",
           "PATIENTS_PER_BLOCK", "simulate_counted_into", "tally_differences"]

PATIENTS_PER_BLOCK = 4_096  # each block has its own difference arrays; results do not depend on it
DONOR, MICRO, OTHER_GRAFT = 0, 1, 2  # codes of a scenario's chimerism
LINEAR_LANDMARKS = 16  # up to this many, count the landmarks below a day by comparing with each


@njit(cache=True, inline="always")
def _bin(grid, x):
    """Number of landmarks in the sorted ``grid`` strictly below ``x`` (``inf``: all)."""
    g = grid.shape[0]
    if g == 0 or x > grid[g - 1]:
        return g  # most days: no event (inf) or after the last landmark
    if g <= LINEAR_LANDMARKS:
        # comparisons without branches: a binary search mispredicts about every step
        count = 0
        for j in range(g):
            count += grid[j] < x
        return count
    lo, hi = 0, g
    while lo < hi:
        mid = (lo + hi) >> 1
        if grid[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _row_bins(grid, event_day, i, bins):
    """``bins[q] = bin(event_day[i, q])`` for every process of patient ``i``."""
    for q in range(event_day.shape[1]):
        bins[q] = _bin(grid, event_day[i, q])


@njit(cache=True, inline="always")
def _first_bin(bins, members, e):
    """Bin of endpoint ``e``'s day, the earliest of its member processes' days.

    ``bin`` is non-decreasing, so the bin of the earliest day is the least bin.
    """
    first = bins[members[e, 0]]  # every endpoint has a first member
    for k in range(1, members.shape[1]):
        q = members[e, k]
        if q < 0:
            break  # padding from here on
        first = min(first, bins[q])
    return first


@njit(cache=True, inline="always")
def _interval(block, r, lo, hi):
    """Count the patient in row ``r`` on landmarks ``lo <= j < hi`` (bins of the ends)."""
    if lo < hi:
        block[r, lo] += 1
        block[r, hi] -= 1


@njit(parallel=True, cache=True)
def tally_differences(event_day, members, chimerism_cols, graft, grid, diff):
    """Difference arrays of the landmark counts of one cohort (or chunk).

    Parameters
    ----------
    event_day : float64 array (n_patients, n_processes)
        Event days, ``inf`` where none (a :class:`~hsctsim.model.cohort.Cohort`'s).
    members : int64 array (n_endpoints, k)
        Process columns whose earliest day is each incidence or survival
        endpoint's day, padded with -1.
    chimerism_cols : int64 array (6 or more,)
        Columns of engraftment, graft failure, rejection, mixed chimerism, DLI,
        then every death column the cohort has (TRM, late death, death after relapse).
    graft : int
        What engraftment brings: :data:`DONOR` (full donor chimerism unless
        mixed), :data:`MICRO` (a microtransplant: donor cells < 1%), or another
        code (neither is counted).
    grid : float64 array (G,)
        Sorted distinct landmark days.
    diff : int64 array (n_blocks, n_endpoints + 3, G + 1), zeroed
        Per block of :data:`PATIENTS_PER_BLOCK` patients: rows of difference
        arrays, one per endpoint (hit by ``d``), then full donor chimerism,
        microchimerism and living engrafted at ``d``.

    Notes
    -----
    Works on bins, not days: ``bin`` is non-decreasing, so the bin of the
    earlier (later) of two days is the lesser (greater) of their bins, and
    ``a <= d < b`` holds for some landmark exactly when ``bin(a) < bin(b)``.
    """
    n, n_proc = event_day.shape
    for b in prange(diff.shape[0]):
        bins = np.empty(n_proc, np.int64)
        block = diff[b]  # once per block: a view per patient costs its reference counts
        for i in range(b * PATIENTS_PER_BLOCK, min(n, (b + 1) * PATIENTS_PER_BLOCK)):
            count_patient(event_day, i, members, chimerism_cols, graft, grid, bins, block)


@njit(parallel=True, cache=True)
def simulate_counted_into(eng, seed_key, first_patient, horizon, out, members, chimerism_cols,
                          graft, grid, diff):
    """:func:`~hsctsim.engine.kernel.simulate_into` and :func:`tally_differences` in one pass.

    Each patient is counted as soon as it is simulated, while its row is in the
    cache, in the same parallel loop: ``out`` is the cohort ``simulate_into``
    gives, bit for bit, and ``diff`` the differences ``tally_differences`` gives.
    """
    n, n_proc = out.shape
    for b in prange(diff.shape[0]):
        (state, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor,
         live) = scratch(n_proc)
        bins = np.empty(n_proc, np.int64)
        block = diff[b]
        for i in range(b * PATIENTS_PER_BLOCK, min(n, (b + 1) * PATIENTS_PER_BLOCK)):
            # as simulate_into calls it: a fresh course (no resumed start)
            run_patient(eng, seed_key, first_patient + i, horizon, -1, out[i], state, y, key, m,
                        origin, ylow, hlow, exact, n_queued, q_day, q_factor, live, 0.0, state,
                        origin, m, y)
            count_patient(out, i, members, chimerism_cols, graft, grid, bins, block)


@njit(cache=True, inline="always")
def count_patient(event_day, i, members, chimerism_cols, graft, grid, bins, block):
    """Add patient ``i``'s event days to a block's difference arrays."""
    n_end = members.shape[0]
    _row_bins(grid, event_day, i, bins)
    g = grid.shape[0]
    for e in range(n_end):
        first = _first_bin(bins, members, e)
        if first < g:  # the last column is never read: no hit by any landmark
            block[e, first] += 1
    # chimerism as Cohort.chimerism assigns it: engrafted from engraftment until the
    # graft is lost or the patient dies; mixed (not full) from mixed chimerism until a DLI
    engrafted = bins[chimerism_cols[0]]
    death = bins[chimerism_cols[5]]
    for k in range(6, chimerism_cols.shape[0]):  # the deaths, however many the arm has
        death = min(death, bins[chimerism_cols[k]])
    end = min(min(bins[chimerism_cols[1]], bins[chimerism_cols[2]]), death)
    _interval(block, n_end + 2, engrafted, death)
    if graft == MICRO:
        _interval(block, n_end + 1, engrafted, end)
    elif graft == DONOR:
        _interval(block, n_end, engrafted, end)
        lo, hi = max(engrafted, bins[chimerism_cols[3]]), min(end, bins[chimerism_cols[4]])
        if lo < hi:  # mixed on these landmarks: not full then
            block[n_end, lo] -= 1
            block[n_end, hi] += 1


@njit(parallel=True, cache=True)
def paired_differences(event_day_a, event_day_r, members, grid, diff):
    """Difference arrays of paired hits: arm ``a``, reference ``r`` and both.

    ``diff`` is int64 (n_blocks, 3 * n_endpoints, G + 1), zeroed; rows
    ``3e, 3e + 1, 3e + 2`` count endpoint ``e`` hit by ``d`` in the arm, in the
    reference and in both (the later of the two days).  Other parameters as for
    :func:`tally_differences`.
    """
    n, n_proc = event_day_a.shape
    for b in prange(diff.shape[0]):
        block = diff[b]
        bins_a = np.empty(n_proc, np.int64)
        bins_r = np.empty(n_proc, np.int64)
        for i in range(b * PATIENTS_PER_BLOCK, min(n, (b + 1) * PATIENTS_PER_BLOCK)):
            _row_bins(grid, event_day_a, i, bins_a)
            _row_bins(grid, event_day_r, i, bins_r)
            for e in range(members.shape[0]):
                ba = _first_bin(bins_a, members, e)
                br = _first_bin(bins_r, members, e)
                block[3 * e, ba] += 1
                block[3 * e + 1, br] += 1
                block[3 * e + 2, max(ba, br)] += 1


def n_blocks(n_patients):
    """Blocks of :data:`PATIENTS_PER_BLOCK` patients (at least one)."""
    return max(1, -(-int(n_patients) // PATIENTS_PER_BLOCK))


def counts_at(diff, grid, days):
    """Counts per row at ``days`` (any order, repeats allowed) from summed differences.

    Parameters
    ----------
    diff : int64 array (n_blocks, rows, G + 1)
    grid : float64 array (G,)
        The sorted distinct landmarks the differences were taken on.
    days : float64 array (L,)

    Returns
    -------
    int64 array (rows, L)
    """
    cumulative = np.cumsum(diff.sum(axis=0), axis=1)
    return cumulative[:, np.searchsorted(grid, days)]


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
