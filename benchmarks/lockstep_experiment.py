"""An experiment for issue 27: would a lockstep engine make the full HSCT model faster?

The general kernel simulates one patient at a time, lazily: a process's cumulative
hazard and inverse are evaluated only when it could be the next event.  The route to
vectorised hazard math (what made the ``ebmt4`` batched path 3.6x its floor) is to
evaluate many patients' hazards of one process in one loop.  This engine does that:
every active patient of a block of ``B`` takes one event per round (the scalar part),
then every process evaluates, in one loop, the hazards its patients' events asked
for (an opening after day 0, a rescaling), eagerly.  With the kernel's draws in the
kernel's order and libm's scalar functions it gives the general kernel's cohort bit
for bit, which the script checks first; then it times both, one thread, and counts
the evaluations::

    python benchmarks/lockstep_experiment.py [arm] [patients]

What it showed (``ric``, 2·10^5 patients, 2026-12-07): the same cohort bit for bit;
873 ns a patient against the kernel's 656; 4.9 cumulative hazards and 9.7 inverses a
patient, twice the lazy kernel's.  Replaying each evaluation's recorded result
instead of computing it took 357 ns a patient (rounds and draws).  See
benchmarks/README.md for what that means for vectorising.
"""

import sys
import time

import numba
import numpy as np
from numba import njit, prange

from hsctsim.api import scenario_point
from hsctsim.engine.kernel import (entry_factor, exponential_draw, process_cumhaz,
                                   process_inverse, seed_key, simulate_into, stream_start)
from hsctsim.model.calibrate import calibrate
from hsctsim.model.hsct import engine_arrays

NOT_OPEN, OPEN, DONE = 0, 1, 2
B = 256  # patients a block


@njit(inline="always")
def _request(n_req, req_b, req_t, req_f, q, b, t, f):
    k = n_req[q]
    req_b[q, k] = b
    req_t[q, k] = t
    req_f[q, k] = f  # 0: an opening
    n_req[q] = k + 1


@njit(inline="always")
def _open(eng, q, b, t, state, m, origin, y, rng, n_req, req_b, req_t, req_f):
    state[b, q] = OPEN
    origin[b, q] = t if eng.clock_reset[q] else 0.0
    m[b, q] *= entry_factor(eng, q, t)
    rng[b], e = exponential_draw(rng[b])
    if e >= m[b, q] * eng.max_growth[q] * eng.max_cumhaz[q]:
        y[b, q] = np.inf  # beyond the cure bound under any multiplier: never fires
        return
    y[b, q] = e / m[b, q]
    _request(n_req, req_b, req_t, req_f, q, b, t, 0.0)


@njit(parallel=True)
def lockstep_into(eng, key_seed, first_patient, horizon, out, counts):
    """The cohort of ``simulate_into``; ``counts[block]``: cumulative hazards and inverses
    evaluated (an inverse beyond the cure bound is not one)."""
    n, n_proc = out.shape
    for blk in prange((n + B - 1) // B):
        start = blk * B
        nb = min(B, n - start)
        state = np.empty((B, n_proc), np.int8)
        y = np.empty((B, n_proc))
        m = np.empty((B, n_proc))
        origin = np.empty((B, n_proc))
        key = np.empty((B, n_proc))
        rng = np.empty(B, np.uint64)
        active = np.empty(B, np.int64)
        n_req = np.zeros(n_proc, np.int64)
        req_b = np.empty((n_proc, B), np.int64)
        req_t = np.empty((n_proc, B))
        req_f = np.empty((n_proc, B))
        for b in range(nb):
            rng[b] = stream_start(key_seed, first_patient + start + b)
            for q in range(n_proc):
                state[b, q] = NOT_OPEN
                m[b, q] = 1.0
                key[b, q] = np.inf
                out[start + b, q] = np.inf
            active[b] = b
            for j in range(eng.open_ptr[n_proc], eng.open_ptr[n_proc + 1]):
                _open(eng, eng.open_idx[j], b, 0.0, state, m, origin, y, rng, n_req, req_b,
                      req_t, req_f)
        n_active = nb
        while True:
            for q in range(n_proc):  # the evaluations, one loop a process
                for k in range(n_req[q]):
                    b, t, f = req_b[q, k], req_t[q, k], req_f[q, k]
                    o = origin[b, q]
                    yq = y[b, q]
                    if f == 0.0:
                        if t > o:
                            counts[blk, 0] += 1
                            yq = process_cumhaz(eng, q, t - o) + yq
                    else:
                        counts[blk, 0] += 1
                        h = process_cumhaz(eng, q, t - o)
                        yq = h + (yq - h) / f
                    y[b, q] = yq
                    counts[blk, 1] += yq < eng.max_cumhaz[q]  # else inf at once
                    key[b, q] = o + process_inverse(eng, q, yq)
                n_req[q] = 0
            if n_active == 0:
                break
            kept = 0
            for i in range(n_active):  # one event a patient
                b = active[i]
                best = n_proc
                t = np.inf
                for q in range(n_proc):  # ties to the lowest index, as the kernel
                    best = q if key[b, q] < t else best
                    t = min(t, key[b, q])
                if best == n_proc or t > horizon:
                    continue
                out[start + b, best] = t
                state[b, best] = DONE
                key[b, best] = np.inf
                if eng.terminal[best]:
                    continue
                active[kept] = b
                kept += 1
                for j in range(eng.touch_ptr[best], eng.touch_ptr[best + 1]):
                    q = eng.touch_idx[j]
                    f = eng.mult[best, q]
                    close = eng.closes[best, q] and state[b, q] != DONE
                    if state[b, q] == OPEN and not close and y[b, q] < np.inf and f != 1.0:
                        _request(n_req, req_b, req_t, req_f, q, b, t, f)
                    if close:
                        state[b, q] = DONE
                        key[b, q] = np.inf
                    else:
                        m[b, q] *= f
                for j in range(eng.open_ptr[best], eng.open_ptr[best + 1]):
                    q = eng.open_idx[j]
                    if state[b, q] == NOT_OPEN:
                        _open(eng, q, b, t, state, m, origin, y, rng, n_req, req_b, req_t,
                              req_f)
            n_active = kept


def main(arm="ric", n_patients="200000"):
    numba.set_num_threads(1)
    point = scenario_point(arm)
    eng = engine_arrays(point, calibrate(point))
    n, key, horizon = int(n_patients), seed_key(1), point.horizon_days
    exact, lock = np.empty((n, len(eng.family))), np.empty((n, len(eng.family)))
    counts = np.zeros(((n + B - 1) // B, 2))
    simulate_into(eng, key, 0, horizon, exact)
    lockstep_into(eng, key, 0, horizon, lock, counts)
    same = np.array_equal(exact, lock)
    print(f"{arm}: the same cohort bit for bit: {same}")
    per = counts.sum(axis=0) / n
    print(f"per patient: {per[0]:.2f} cumulative hazards, {per[1]:.2f} inverses (eager)")
    runs = {"kernel": lambda: simulate_into(eng, key, 0, horizon, exact),
            "lockstep": lambda: lockstep_into(eng, key, 0, horizon, lock, counts)}
    times = {name: [] for name in runs}
    for _ in range(5):
        for name, run in runs.items():
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    for name, t in times.items():
        print(f"{name}: {min(t) / n * 1e9:.0f} ns a patient (best of 5, 1 thread)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
