"""Helpers of the benchmarks: timing and figures, and the baselines the kernel is measured against.

Baselines, each a reference run in the same session so that its ratio to the kernel
holds on a noisy machine:

- the plain-Python reference of the model (:mod:`hsctsim.engine.reference`);
- :func:`floor_into`, a kernel that only draws the random variates the model draws;
- :func:`numpy_two_process`, a vectorised NumPy version of a reduced model
  (relapse against TRM, nothing else), compared with the kernel on the same reduced
  engine (:func:`two_process_engine`).
"""

import contextlib
import time

import numba
import numpy as np
from numba import njit, prange
from scipy.special import ndtri

from hsctsim.engine import reference
from hsctsim.engine.processes import Process, build
from hsctsim.engine.hazards import FAMILY_CODES, LOGNORMAL, WEIBULL
from hsctsim.engine.kernel import BLOCK, GOLDEN, exponential_draw, stream_start
from hsctsim.model.hsct import INDEX

SEED = 1
REFERENCE_PATIENTS = 2000  # plain-Python patients: the check of the kernel, and a benchmark
FIGURES = {}  # label -> (value, unit): every figure of the run, printed at its end


def size_label(n):
    """``10**6 -> '1e6'``, ``2000 -> '2e3'``."""
    return f"{n:.0e}".replace("+0", "").replace("+", "")


@contextlib.contextmanager
def numba_threads(threads):
    """Run the block with ``threads`` numba threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def measure(benchmark, label, fn, n_patients, rounds=None, out=None):
    """Time ``fn()`` (warmed up by the caller) and record patients per second.

    The figure is the best round (least disturbed by other work on the machine);
    ``extra_info`` also gets the CPU time per patient (all threads) and, given
    the ``out`` array ``fn`` fills, patient-events per second (finite entries).
    """
    rounds = rounds or int(np.clip(5e6 / n_patients, 1, 20))
    cpu = []

    def timed():
        cpu.append(cpu_seconds(fn))

    benchmark.pedantic(timed, rounds=rounds, iterations=1)
    best = benchmark.stats.stats.min
    info = benchmark.extra_info
    info["patients_per_s"] = round(n_patients / best)
    info["cpu_ns_per_patient"] = round(1e9 * min(cpu) / n_patients)
    FIGURES[label] = (n_patients / best, "patients/s")
    if out is not None:
        events = int(np.isfinite(out).sum())
        info["events_per_patient"] = round(events / n_patients, 4)
        info["patient_events_per_s"] = round(events / best)
        FIGURES[label + " events"] = (events / best, "patient-events/s")


def cpu_seconds(fn):
    """CPU time of ``fn()`` in this process (all threads), in seconds."""
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def reference_cohort(eng, key, n_patients, horizon):
    """Plain-Python cohort, shape (n_patients, n_processes), and the unit exponentials it drew."""
    count = 0
    stream = reference._Stream

    class Counting(stream):
        def exponential(self):
            nonlocal count
            count += 1
            return super().exponential()

    reference._Stream = Counting
    try:
        rows = reference.simulate(eng, key, n_patients, horizon)
    finally:
        reference._Stream = stream
    return np.array(rows), count


@njit(parallel=True, cache=True)
def floor_into(seed_key, draws_per_patient, out):
    """The random-number floor of the kernel: streams and variates, no model.

    Patient ``i`` starts its stream as the kernel does and draws
    ``floor((i+1) K) - floor(i K)`` unit exponentials (``K = draws_per_patient`` on
    average); its row of ``out`` is written as the kernel writes one (inf, with
    the sum of the draws in column 0 so that none is optimised away).
    """
    n, n_proc = out.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            rng = stream_start(seed_key, i)
            total = 0.0
            for _ in range(int((i + 1) * draws_per_patient) - int(i * draws_per_patient)):
                rng, e = exponential_draw(rng)
                total += e
            for q in range(n_proc):
                out[i, q] = np.inf
            out[i, 0] = total


_FAMILY_NAMES = {code: name for name, code in FAMILY_CODES.items()}
REDUCED = ("relapse", "trm")


def two_process_engine(eng):
    """Relapse against TRM with their fits from ``eng``, both terminal, nothing else."""
    return build([Process(name, _FAMILY_NAMES[int(eng.family[q])], tuple(eng.par[q]),
                          float(eng.susceptible[q]), terminal=True)
                  for name, q in ((n, INDEX[n]) for n in REDUCED)])


def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _inverse(eng, q, y):
    """Vectorised mixture-cure inverse cumulative hazard (lognormal or Weibull)."""
    p0, p1 = eng.par[q]
    with np.errstate(divide="ignore", invalid="ignore"):
        f0 = -np.expm1(-y) / eng.susceptible[q]
        if eng.family[q] == LOGNORMAL:
            s = np.exp(p0 + p1 * ndtri(f0))
        elif eng.family[q] == WEIBULL:
            s = p1 * (-np.log1p(-f0)) ** (1.0 / p0)
        else:
            raise NotImplementedError(_FAMILY_NAMES[int(eng.family[q])])
    return np.where(f0 < 1.0, s, np.inf)


def numpy_two_process(eng, key, n_patients, horizon):
    """The kernel's cohort on a :func:`two_process_engine`, vectorised over patients.

    The same SplitMix64 streams and order of draws, so it equals the kernel's
    output to rounding; returns float64 (n_patients, 2).
    """
    state = _mix64(np.uint64(key) + np.arange(n_patients, dtype=np.uint64) * GOLDEN)
    tau = np.empty((2, n_patients))
    for q in range(2):
        state += GOLDEN
        u = ((_mix64(state) >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
        tau[q] = _inverse(eng, q, -np.log(u))
    first = np.argmin(tau, axis=0)
    t = tau[first, np.arange(n_patients)]
    out = np.full((n_patients, 2), np.inf)
    hit = t <= horizon
    out[hit, first[hit]] = t[hit]
    return out


# -- the scalar floor of a plain multi-state model (issue 27) ---------------------------------


def competing_weibull_tables(scenario):
    """A plain multi-state scenario as the arrays :func:`multistate_floor_into` reads.

    Only for scenarios whose every transition is Weibull without cure fraction or
    covariates, and without re-entered states (``ebmt4``): one engine column per
    transition, in the scenario's order.  Returns ``(first, target, column,
    inv_shape, scale, initial)``: the transitions out of state ``s`` are
    ``first[s]:first[s + 1]``, each with its to-state, output column, ``1 / shape``
    and scale.
    """
    from hsctsim.model.multistate import unroll

    if scenario.clock != "reset":
        raise ValueError("the floor runs a clock-reset (semi-Markov) model")
    unrolled = unroll(scenario)
    if len(unrolled.edges) != len(scenario.transitions):
        raise ValueError("re-entered states: not a floor model")
    states = scenario.states
    per_state = [[] for _ in states]
    for k, (_, _, t) in enumerate(unrolled.edges):
        tr = scenario.transitions[t]
        if tr.timing.family != "weibull" or tr.cure_fraction or tr.log_hr:
            raise ValueError(f"{tr.label}: the floor takes Weibull transitions only")
        shape, scale = tr.timing.params
        per_state[states.index(tr.from_state)].append(
            (states.index(tr.to_state), k, 1.0 / shape, scale))
    rows = [row for s in per_state for row in s]
    first = np.cumsum([0] + [len(s) for s in per_state]).astype(np.int64)
    return (first, np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows],
            np.int64), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
            states.index(scenario.initial))


@njit(parallel=True, cache=True)
def multistate_floor_into(seed_key, first, target, column, inv_shape, scale, initial, horizon,
                          out):
    """The scalar floor of a clock-reset competing-risks Weibull multi-state model.

    Per patient: the kernel's SplitMix64 stream; in each state, for each transition
    out of it, one uniform, one log (a unit exponential) and one power (the Weibull
    inverse ``scale * E ** (1 / shape)``, ``1 / shape`` precomputed); the earliest
    transition (the lowest index on a tie) moves the patient, until an absorbing
    state or the horizon.  Its row of ``out`` is written as the kernel writes one:
    inf, and the day of each transition taken.  Nothing else: no hazard library, no
    cure fractions, no multipliers, no bounds that skip a power.  The draws are the
    kernel's in the kernel's order, so on such a model the cohort is the kernel's.
    """
    n, n_proc = out.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            rng = stream_start(seed_key, i)
            row = out[i]
            for q in range(n_proc):
                row[q] = np.inf
            state = initial
            t = 0.0
            while first[state] < first[state + 1]:  # an absorbing state has no way out
                best = -1
                t_best = np.inf
                for j in range(first[state], first[state + 1]):
                    rng, e = exponential_draw(rng)
                    d = t + scale[j] * e ** inv_shape[j]
                    if d < t_best:
                        t_best = d
                        best = j
                if t_best > horizon:
                    break
                t = t_best
                row[column[best]] = t
                state = target[best]
