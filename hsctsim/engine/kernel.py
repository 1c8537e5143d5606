"""The numba core: simulate patients through an engine's event processes.

Exact event-time sampling by the next-reaction method.  Each process that opens
draws one unit exponential ``E`` and turns it into a target cumulative hazard
``y = H(t_open) + E / m``; its event time is ``H^-1(y)``.  When an event changes
the multiplier ``m`` of a process at time ``t``, the unspent budget is rescaled,
``y <- H(t) + (y - H(t)) * m_old / m_new``, which keeps sampling exact for
piecewise-constant multipliers with no thinning and no re-draws.

Lazily: ``H(t_open)``, the rescalings and ``H^-1`` are evaluated only for a
process that could be the next event, judged by a lower bound on its event day
(a table per process, :func:`hsctsim.engine.day_bounds`).  The arithmetic and its
order are those of evaluating everything at once, so the cohort is the same bit
for bit; most processes that are rescaled, closed, outrun or cured are never
inverted.

With hazard tables (an engine from :func:`hsctsim.engine.tabulate.with_tables`),
``H``, ``H^-1`` and the draws' ``-log`` come from them where they have a cell
(:mod:`hsctsim.engine.tables`); an engine without them compiles to kernels with no
table code.

Randomness: one SplitMix64 stream per patient, started from ``(seed, patient
index)``, so a cohort is the same bit for bit whatever the thread count or chunk
size.  Arrays in, arrays out; no Python objects, no I/O.
"""

import math

import numpy as np
from numba import njit, prange

from .hazards import (
    FIXED,
    PIECEWISE,
    base_cumhaz,
    cumhaz,
    cumhaz_dpi,
    cure_cumhaz,
    cure_target,
    inverse,
    piece_cumhaz,
)
from .jitcache import key_on_engine
from .processes import BOUND_MARGIN, BOUND_STEPS
from .tables import has_tables, table_neglog, table_value

__all__ = ["accrued_hazard_into", "BLOCK", "GOLDEN", "mix64", "process_cumhaz", "process_inverse",
           "run_patient", "scratch", "seed_key", "simulate_from_into", "simulate_into",
           "simulate_patients_into", "stream_start"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 2.0 ** -53
BLOCK = 256  # patients per scratch allocation; results do not depend on it

NOT_OPEN, OPEN, DONE = 0, 1, 2
# Process indices are uint64 in the kernel: numba adds negative-index wrap-around code
# to every access with a signed index, and that cost about a tenth of the time.
ONE_U64 = np.uint64(1)


@njit(cache=True)
def mix64(z):
    """SplitMix64 output function (a bijection of uint64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def stream_start(seed_key, patient):
    """State of patient ``patient``'s SplitMix64 stream."""
    # cast: a key below 2**63 arrives from Python as int64, and int64 + uint64
    # would silently become float64
    return mix64(np.uint64(seed_key) + np.uint64(patient) * GOLDEN)


@njit(cache=True)
def exponential_draw(state):
    """Advance a stream; return (new state, unit exponential variate)."""
    state = state + GOLDEN
    u = (float(mix64(state) >> _S11) + 0.5) * _TWO_M53
    return state, -math.log(u)


@njit(cache=True, inline="always")
def _draw(eng, q, state):
    """:func:`exponential_draw` for process ``q``, from the engine's tables where it has them.

    With tables, ``-log(u)`` comes from one; and a fixed-day process without a cure
    fraction only advances the stream: its day does not depend on the variate.
    """
    state = state + GOLDEN
    if has_tables(eng.tab_draw) and eng.family[q] == FIXED and eng.max_cumhaz[q] == np.inf:
        return state, 1.0
    u = (float(mix64(state) >> _S11) + 0.5) * _TWO_M53
    e = table_neglog(eng, u)
    return state, e if e == e else -math.log(u)


@njit(cache=True, inline="always")
def entry_factor(eng, q, day):
    # inline='always': left to LLVM, a version with an early exit was not inlined, and
    # a call that hands over the engine's arrays made the whole kernel 3x slower
    # the common case: at most the first piece applies (engine.ENTRY_SLOTS >= 2)
    if eng.entry_day[q, 1] > day:
        return eng.entry_mult[q, 0] if eng.entry_day[q, 0] <= day else 1.0
    factor = 1.0
    for j in range(eng.entry_day.shape[1]):
        if eng.entry_day[q, j] <= day:
            factor = eng.entry_mult[q, j]
    return factor


@njit(cache=True)
def process_cumhaz(eng, q, s):
    """Cumulative hazard of process ``q`` at ``s`` days on its clock."""
    h = table_value(eng, q, 0, s)
    if h == h:  # tabled (hsctsim.engine.tables); NaN: evaluate exactly
        return h
    if eng.family[q] != PIECEWISE:
        return cumhaz(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q], s)
    # pieces read in place: handing the arrays to a function would cost reference
    # counting on every call of this hot function, piecewise or not
    first, end = int(eng.par[q, 0]), int(eng.par[q, 0] + eng.par[q, 1])
    h0 = 0.0
    for j in range(first, end):
        if s <= eng.pw_start[j]:
            break
        hi = eng.pw_start[j + 1] if j + 1 < end else np.inf
        h0 += eng.pw_rate[j] * (min(s, hi) - eng.pw_start[j])
    return cure_cumhaz(h0, eng.susceptible[q])


@njit(cache=True)
def process_inverse(eng, q, y):
    """Day on its clock at which process ``q``'s cumulative hazard reaches ``y``."""
    s = table_value(eng, q, 1, y)  # a tabled cell lies below the cure bound
    if s == s:
        return s
    if y >= eng.max_cumhaz[q]:
        return np.inf  # beyond the cure bound: never
    if eng.family[q] != PIECEWISE:
        return inverse(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q], y)
    h0, _ = cure_target(y, eng.susceptible[q])
    first, end = int(eng.par[q, 0]), int(eng.par[q, 0] + eng.par[q, 1])
    total = 0.0
    for j in range(first, end):
        hi = eng.pw_start[j + 1] if j + 1 < end else np.inf
        gain = eng.pw_rate[j] * (hi - eng.pw_start[j])
        if eng.pw_rate[j] > 0.0 and total + gain >= h0:
            return eng.pw_start[j] + (h0 - total) / eng.pw_rate[j]
        total += gain
    return np.inf


@njit(parallel=True, cache=True)
def process_values_into(eng, q, which, v, out):
    """``out[i]``: :func:`process_cumhaz` (``which`` 0) or :func:`process_inverse` (1) of
    ``v[i]`` (for building hazard tables, :mod:`hsctsim.engine.tabulate`)."""
    for i in prange(v.size):
        out[i] = process_cumhaz(eng, q, v[i]) if which == 0 else process_inverse(eng, q, v[i])


@njit(cache=True)
def _accrue(eng, q, mult, s0, s1):
    """Hazard process ``q`` accrues from ``s0`` to ``s1``, and its ``pi``-derivative."""
    pi = eng.susceptible[q]
    if eng.family[q] == PIECEWISE:
        first, count = int(eng.par[q, 0]), int(eng.par[q, 1])
        b0 = piece_cumhaz(eng.pw_start, eng.pw_rate, first, count, s0)
        b1 = piece_cumhaz(eng.pw_start, eng.pw_rate, first, count, s1)
    else:
        b0 = base_cumhaz(eng.family[q], eng.par[q, 0], eng.par[q, 1], s0)
        b1 = base_cumhaz(eng.family[q], eng.par[q, 0], eng.par[q, 1], s1)
    return (mult * (cure_cumhaz(b1, pi) - cure_cumhaz(b0, pi)),
            mult * (cumhaz_dpi(b1, pi) - cumhaz_dpi(b0, pi)))


@njit(cache=True, inline="always")
def lower_day(eng, q, y):
    """A day on ``q``'s clock no later than its event day for any target ``>= y``."""
    if y >= eng.max_cumhaz[q] * (1.0 + BOUND_MARGIN):  # room for the rounding of y
        return np.inf  # beyond the cure bound under the present multipliers
    cell = y * eng.bound_scale[q]
    return eng.bound_day[q, BOUND_STEPS if cell >= BOUND_STEPS else int(cell)]


@njit(cache=True, inline="always")
def _insert(items, n, q):
    """Append ``q`` to ``items[:n]``; return the new length."""
    items[n] = q
    return n + 1


@njit(cache=True, inline="always")
def _remove(items, n, q):
    """Remove ``q`` from ``items[:n]`` (the last item takes its place); return the new length."""
    i = 0
    while items[i] != q:
        i += 1
    items[i] = items[n - 1]
    return n - 1


@njit(cache=True, inline="always")
def _arm(eng, q, t, rng, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor, live,
         n_live):
    """Draw open process ``q``'s budget on day ``t`` and rank it; returns (rng, n_live)."""
    rng, e = _draw(eng, q, rng)
    if e >= m[q] * eng.max_growth[q] * eng.max_cumhaz[q]:
        # beyond the cure bound even under every multiplier still to come:
        # it never fires, and no hazard of it need ever be evaluated
        y[q] = np.inf
        return rng, n_live
    y[q] = e / m[q]  # plus H at opening, queued unless it is H(0) = 0
    n_queued[q] = 0
    if t > origin[q]:
        q_day[q, 0] = t
        q_factor[q, 0] = 0.0  # marks the opening
        n_queued[q] = 1
    ylow[q] = y[q]
    hlow[q] = 0.0
    exact[q] = False
    key[q] = origin[q] + lower_day(eng, q, ylow[q])
    return rng, _insert(live, n_live, q)


# inlined into the drivers: a call per patient would hand over the engine's two dozen
# arrays, each reference-counted, which cost a fifth of the time
@njit(cache=True, inline="always")
def run_patient(eng, seed_key, patient, horizon, silent, out, state, y, key, m, origin, ylow,
                hlow, exact, n_queued, q_day, q_factor, live, start_day, start_state,
                start_origin, start_m, start_out):
    """Simulate one patient; event days go to ``out`` (inf where none).

    With ``start_day > 0`` the patient is resumed on that day from the course so far
    (``start_state``, ``start_origin``, ``start_m``, ``start_out``: each process's
    state, clock origin, hazard multiplier and event day, from
    :func:`hsctsim.engine.resume.course_until`): every open process draws its
    budget then, so its event day comes from its law given that it has not fired
    by ``start_day`` (next-reaction sampling, the target starting at ``H(start)``).

    With ``silent >= 0`` that process never fires; instead its cumulative hazard
    accrued along the course up to ``horizon`` is returned with its derivative
    with respect to the process's susceptible fraction (for calibration: the
    probability that it would have fired by ``horizon`` is ``1 - exp(-acc)``).
    Otherwise returns ``(0.0, 0.0)``.  The arrays after ``out`` are scratch, from
    :func:`scratch`.  A fresh course passes ``start_day = 0`` (the ``start_*``
    arrays are then not read: any arrays of the right types do).

    Lazy evaluation, with the same arithmetic in the same order as evaluating
    everything at once: an opening after day 0 on its clock and each rescaling are
    queued per process (day, factor) and applied only when the process could be
    the next event.  Until then the process is ranked by a lower bound on its
    event day, from a lower bound ``ylow`` on its target (see
    :func:`hsctsim.engine.day_bounds`).
    """
    n_proc = eng.family.shape[0]
    none = np.uint64(n_proc)  # also 'no process' (uint64 indices, see ONE_U64)
    rng = stream_start(seed_key, patient)
    n_live = 0  # live[:n_live], in no order: open processes that may still fire
    t = 0.0
    if start_day > 0.0:  # resumed (predict): the course so far is start_*, see resume.py
        t = start_day
        for q in range(n_proc):
            state[q] = start_state[q]
            m[q] = start_m[q]
            out[q] = start_out[q]
            origin[q] = start_origin[q]
        for q in range(n_proc):  # the rest of each open process's life, from start_day
            if state[q] == OPEN:
                rng, n_live = _arm(eng, np.uint64(q), t, rng, y, key, m, origin, ylow, hlow,
                                   exact, n_queued, q_day, q_factor, live, n_live)
    else:
        for q in range(n_proc):
            state[q] = NOT_OPEN
            m[q] = 1.0
            out[q] = np.inf
    acc = 0.0
    dacc = 0.0
    t_acc = 0.0
    ended = False
    row = none  # the adjacency row of "day 0": processes open from the start
    for _ in range(2 * n_proc + 1):
        for j in range(eng.open_ptr[row], eng.open_ptr[row + ONE_U64]):
            q = np.uint64(eng.open_idx[j])
            if state[q] != NOT_OPEN:
                continue
            state[q] = OPEN
            origin[q] = t if eng.clock_reset[q] else 0.0
            m[q] *= entry_factor(eng, q, t)
            if q == silent:
                t_acc = t
                continue
            rng, n_live = _arm(eng, q, t, rng, y, key, m, origin, ylow, hlow, exact, n_queued,
                               q_day, q_factor, live, n_live)
        while True:  # the next event: invert only processes that could be it
            best = none
            t_next = np.inf
            t_second = np.inf
            # live is unordered (ordered, inserting and removing cost a tenth of the
            # time); ties go to the lowest index, as they did in ascending order
            for i in range(n_live):  # branch-free: which key is least is a coin toss
                q = live[i]
                k = key[q]
                t_second = min(t_second, max(k, t_next))
                best = q if k < t_next or (k == t_next and q < best) else best
                t_next = min(t_next, k)
            if t_next == np.inf:  # an infinite key is never the next event
                best = none
            if best == none or t_next > horizon or exact[best]:
                break
            yq = y[best]
            for i in range(n_queued[best]):
                h = process_cumhaz(eng, best, q_day[best, i] - origin[best])
                f = q_factor[best, i]
                yq = h + yq if f == 0.0 else h + (yq - h) / f
                hlow[best] = h
            y[best] = yq
            ylow[best] = yq
            n_queued[best] = 0
            exact[best] = True
            key[best] = origin[best] + process_inverse(eng, best, yq)
            if key[best] < t_second:  # still first: no need to look again
                t_next = key[best]
                break
        if best == none or t_next > horizon:
            break
        t = t_next
        out[best] = t
        state[best] = DONE
        n_live = _remove(live, n_live, best)
        if eng.terminal[best]:
            ended = True
            break
        for j in range(eng.touch_ptr[best], eng.touch_ptr[best + ONE_U64]):
            q = np.uint64(eng.touch_idx[j])
            f = eng.mult[best, q]
            # a closed process never fires, whether it was open yet or not
            close = eng.closes[best, q] and state[q] != DONE
            if state[q] == OPEN:
                if q == silent:
                    a, d = _accrue(eng, q, m[q], t_acc - origin[q], t - origin[q])
                    acc += a
                    dacc += d
                    t_acc = t
                elif not close and y[q] < np.inf and f != 1.0:
                    q_day[q, n_queued[q]] = t
                    q_factor[q, n_queued[q]] = f
                    n_queued[q] += 1
                    exact[q] = False
                    if f > 1.0:  # the new target rises with H(t) >= hlow
                        ylow[q] = hlow[q] + (ylow[q] - hlow[q]) / f
                    # (f < 1: the new target is no lower than the old one)
                    key[q] = origin[q] + lower_day(eng, q, ylow[q])
            if close:
                if state[q] == OPEN and q != silent and y[q] < np.inf:
                    n_live = _remove(live, n_live, q)
                state[q] = DONE
            else:
                m[q] *= f
        row = best
    if silent >= 0 and state[silent] == OPEN:
        a, d = _accrue(eng, silent, m[silent], t_acc - origin[silent],
                       (t if ended else horizon) - origin[silent])
        acc += a
        dacc += d
    return acc, dacc


@njit(cache=True)
def scratch(n_proc):
    """Per-block working arrays of :func:`run_patient`."""
    return (np.empty(n_proc, np.int8), np.empty(n_proc), np.empty(n_proc), np.empty(n_proc),
            np.empty(n_proc), np.empty(n_proc), np.empty(n_proc), np.empty(n_proc, np.bool_),
            np.empty(n_proc, np.int64), np.empty((n_proc, n_proc + 1)),
            np.empty((n_proc, n_proc + 1)), np.empty(n_proc, np.uint64))


@njit(parallel=True, cache=True)
def simulate_into(eng, seed_key, first_patient, horizon, out):
    """Simulate ``out.shape[0]`` patients numbered from ``first_patient``.

    Parameters
    ----------
    eng : EngineArrays
    seed_key : uint64
        Key derived from the user's seed (see :func:`hsctsim.kernel.seed_key`).
    first_patient : int
        Global index of the first patient (chunks keep the global numbering).
    horizon : float
        Last day followed.
    out : float64 array (n_patients, n_processes)
        Filled with each process's event day, ``inf`` where it did not happen.
    """
    n, n_proc = out.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        (state, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor,
         live) = scratch(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            run_patient(eng, seed_key, first_patient + i, horizon, -1, out[i], state, y, key, m,
                        origin, ylow, hlow, exact, n_queued, q_day, q_factor, live, 0.0, state,
                        origin, m, y)


@njit(parallel=True, cache=True)
def simulate_patients_into(eng, seed_key, patients, horizon, out):
    """Simulate the patients numbered ``patients`` (row ``i`` is patient ``patients[i]``).

    As :func:`simulate_into` for any set of patient indices: a patient's course
    depends only on the seed and the index, so a cohort split into covariate
    strata, each simulated with its own engine, keeps every patient's stream.
    """
    n, n_proc = out.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        (state, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor,
         live) = scratch(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            run_patient(eng, seed_key, patients[i], horizon, -1, out[i], state, y, key, m,
                        origin, ylow, hlow, exact, n_queued, q_day, q_factor, live, 0.0, state,
                        origin, m, y)


@njit(parallel=True, cache=True)
def simulate_from_into(eng, seed_key, patients, horizon, start_day, start_state, start_origin,
                       start_m, start_out, out):
    """Simulate ``patients`` onwards from ``start_day`` after a given course so far.

    Parameters
    ----------
    eng : EngineArrays
    seed_key : uint64
    patients : int64 array (n,)
        Patient indices (their random streams).
    horizon : float
    start_day : float
        Day the patients are known to be alive with the course ``start_*``; 0 runs
        the course from the start, as :func:`simulate_into`.
    start_state, start_origin, start_m, start_out : arrays (P,)
        The course until ``start_day`` (see :func:`hsctsim.engine.resume.course_until`).
    out : float64 array (n, P)
    """
    n, n_proc = out.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        (state, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor,
         live) = scratch(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            run_patient(eng, seed_key, patients[i], horizon, -1, out[i], state, y, key, m,
                        origin, ylow, hlow, exact, n_queued, q_day, q_factor, live, start_day,
                        start_state, start_origin, start_m, start_out)


@njit(parallel=True, cache=True)
def accrued_hazard_into(eng, seed_key, targets, landmarks, acc, dacc):
    """Per patient and target process, the hazard it accrues by its landmark.

    Each target ``k`` is simulated silent (see :func:`run_patient`) up to
    ``landmarks[k]``; ``acc[i, k]`` and ``dacc[i, k]`` get the accrued cumulative
    hazard and its derivative with respect to the target's susceptible fraction.
    """
    n, n_targets = acc.shape
    n_proc = eng.family.shape[0]
    for b in prange((n + BLOCK - 1) // BLOCK):
        (state, y, key, m, origin, ylow, hlow, exact, n_queued, q_day, q_factor,
         live) = scratch(n_proc)
        out = np.empty(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for k in range(n_targets):
                a, d = run_patient(eng, seed_key, i, landmarks[k], targets[k], out, state, y,
                                   key, m, origin, ylow, hlow, exact, n_queued, q_day,
                                   q_factor, live, 0.0, state, origin, m, y)
                acc[i, k] = a
                dacc[i, k] = d


def seed_key(seed):
    """The uint64 key of a user's integer seed (any size, negative allowed)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + 0x6A09E667F3BCC909) % 2**64
    return np.uint64(mix64(np.uint64(z)))


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
