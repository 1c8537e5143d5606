"""The numba core: simulate patients through an engine's event processes.

Exact event-time sampling by the next-reaction method.  Each process that opens
draws one unit exponential ``E`` and turns it into a target cumulative hazard
``y = H(t_open) + E / m``; its event time is ``H^-1(y)``.  When an event changes
the multiplier ``m`` of a process at time ``t``, the unspent budget is rescaled,
``y <- H(t) + (y - H(t)) * m_old / m_new``, which keeps sampling exact for
piecewise-constant multipliers with no thinning and no re-draws.

Randomness: one SplitMix64 stream per patient, started from ``(seed, patient
index)``, so a cohort is the same bit for bit whatever the thread count or chunk
size.  Arrays in, arrays out; no Python objects, no I/O.
"""

import math

import numpy as np
from numba import njit, prange

from .hazards import (PIECEWISE, base_cumhaz, cumhaz, cumhaz_dpi, cure_cumhaz, cure_target,
                      inverse, piece_cumhaz)

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 2.0 ** -53
BLOCK = 256  # patients per scratch allocation; results do not depend on it

NOT_OPEN, OPEN, DONE = 0, 1, 2


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
def _exponential(state):
    """Advance a stream; return (new state, unit exponential variate)."""
    state = state + GOLDEN
    u = (float(mix64(state) >> _S11) + 0.5) * _TWO_M53
    return state, -math.log(u)


@njit(cache=True)
def _entry_factor(eng, q, day):
    factor = 1.0
    for j in range(eng.entry_day.shape[1]):
        if eng.entry_day[q, j] <= day:
            factor = eng.entry_mult[q, j]
    return factor


@njit(cache=True)
def process_cumhaz(eng, q, s):
    """Cumulative hazard of process ``q`` at ``s`` days on its clock."""
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


# inlined into the drivers: a call per patient would hand over the engine's two dozen
# arrays, each reference-counted, which cost a fifth of the time
@njit(cache=True, inline="always")
def run_patient(eng, seed_key, patient, horizon, silent, out, state, y, tau, m, origin):
    """Simulate one patient; event days go to ``out`` (inf where none).

    With ``silent >= 0`` that process never fires; instead its cumulative hazard
    accrued along the course up to ``horizon`` is returned with its derivative
    with respect to the process's susceptible fraction (for calibration: the
    probability that it would have fired by ``horizon`` is ``1 - exp(-acc)``).
    Otherwise returns ``(0.0, 0.0)``.  ``state, y, tau, m, origin`` are scratch.
    """
    n_proc = eng.family.shape[0]
    rng = stream_start(seed_key, patient)
    for q in range(n_proc):
        state[q] = NOT_OPEN
        m[q] = 1.0
        tau[q] = np.inf
        out[q] = np.inf
    acc = 0.0
    dacc = 0.0
    t_acc = 0.0
    t = 0.0
    ended = False
    row = n_proc  # the adjacency row of "day 0": processes open from the start
    for _ in range(2 * n_proc + 1):
        for j in range(eng.open_ptr[row], eng.open_ptr[row + 1]):
            q = eng.open_idx[j]
            if state[q] != NOT_OPEN:
                continue
            state[q] = OPEN
            origin[q] = t if eng.clock_reset[q] else 0.0
            m[q] *= _entry_factor(eng, q, t)
            if q == silent:
                t_acc = t
                continue
            rng, e = _exponential(rng)
            if e >= m[q] * eng.max_growth[q] * eng.max_cumhaz[q]:
                # beyond the cure bound even under every multiplier still to come:
                # it never fires, and no hazard of it need ever be evaluated
                y[q] = np.inf
                continue
            h = process_cumhaz(eng, q, t - origin[q])
            y[q] = h + e / m[q]
            tau[q] = origin[q] + process_inverse(eng, q, y[q])
        best = -1
        t_next = np.inf
        for q in range(n_proc):
            if state[q] == OPEN and tau[q] < t_next:
                best = q
                t_next = tau[q]
        if best < 0 or t_next > horizon:
            break
        t = t_next
        out[best] = t
        state[best] = DONE
        if eng.terminal[best]:
            ended = True
            break
        for j in range(eng.touch_ptr[best], eng.touch_ptr[best + 1]):
            q = eng.touch_idx[j]
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
                    h = process_cumhaz(eng, q, t - origin[q])
                    y[q] = h + (y[q] - h) / f
                    tau[q] = origin[q] + process_inverse(eng, q, y[q])
            if close:
                state[q] = DONE
                tau[q] = np.inf
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
def _scratch(n_proc):
    """Per-block working arrays of :func:`run_patient`."""
    return (np.empty(n_proc, np.int8), np.empty(n_proc), np.empty(n_proc), np.empty(n_proc),
            np.empty(n_proc))


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
        state, y, tau, m, origin = _scratch(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            run_patient(eng, seed_key, first_patient + i, horizon, -1, out[i],
                        state, y, tau, m, origin)


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
        state, y, tau, m, origin = _scratch(n_proc)
        out = np.empty(n_proc)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for k in range(n_targets):
                a, d = run_patient(eng, seed_key, i, landmarks[k], targets[k], out,
                                   state, y, tau, m, origin)
                acc[i, k] = a
                dacc[i, k] = d


def seed_key(seed):
    """The uint64 key of a user's integer seed (any size, negative allowed)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + 0x6A09E667F3BCC909) % 2**64
    return np.uint64(mix64(np.uint64(z)))
