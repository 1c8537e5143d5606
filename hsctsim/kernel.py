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

from .hazards import cumhaz, cumhaz_dpi, inverse

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
def _H(eng, q, s):
    return cumhaz(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q],
                  eng.pw_start, eng.pw_rate, s)


@njit(cache=True)
def _Hinv(eng, q, y):
    if y >= eng.max_cumhaz[q]:
        return np.inf  # beyond the cure bound: never
    return inverse(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q],
                   eng.pw_start, eng.pw_rate, y)


@njit(cache=True)
def _dH(eng, q, s):
    return cumhaz_dpi(eng.family[q], eng.par[q, 0], eng.par[q, 1], eng.susceptible[q],
                      eng.pw_start, eng.pw_rate, s)


@njit(cache=True)
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
    best = -1
    for step in range(2 * n_proc + 1):
        # open what opens now: at day 0 those open from the start, later those
        # the last event opened
        for q in range(n_proc):
            if state[q] != NOT_OPEN or not eng.enabled[q]:
                continue
            if step == 0:
                if not eng.at_start[q]:
                    continue
            elif not eng.opens[best, q]:
                continue
            state[q] = OPEN
            origin[q] = t if eng.clock_reset[q] else 0.0
            m[q] *= _entry_factor(eng, q, t)
            if q == silent:
                t_acc = t
                continue
            if eng.susceptible[q] == 0.0:
                y[q] = np.inf  # cannot happen: spend no variate on it
                continue
            rng, e = _exponential(rng)
            h = _H(eng, q, t - origin[q])
            y[q] = h + e / m[q]
            tau[q] = origin[q] + _Hinv(eng, q, y[q])
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
        for q in range(n_proc):
            if q == best:
                continue
            f = eng.mult[best, q]
            # a closed process never fires, whether it was open yet or not
            close = eng.closes[best, q] and state[q] != DONE
            if state[q] == OPEN and (close or f != 1.0):
                if q == silent:
                    s0, s1 = t_acc - origin[q], t - origin[q]
                    acc += m[q] * (_H(eng, q, s1) - _H(eng, q, s0))
                    dacc += m[q] * (_dH(eng, q, s1) - _dH(eng, q, s0))
                    t_acc = t
                elif not close:
                    h = _H(eng, q, t - origin[q])
                    y[q] = h + (y[q] - h) / f
                    tau[q] = origin[q] + _Hinv(eng, q, y[q])
            if close:
                state[q] = DONE
                tau[q] = np.inf
            else:
                m[q] *= f
    if silent >= 0 and state[silent] == OPEN:
        t_end = t if ended else horizon
        s0, s1 = t_acc - origin[silent], t_end - origin[silent]
        acc += m[silent] * (_H(eng, silent, s1) - _H(eng, silent, s0))
        dacc += m[silent] * (_dH(eng, silent, s1) - _dH(eng, silent, s0))
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
