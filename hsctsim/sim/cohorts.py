"""Fresh cohorts: calibrate (or reuse) a scenario point, build its engine, simulate it.

Functions here take a resolved backend object (:func:`hsctsim.engine.backend.resolve_backend`);
:mod:`hsctsim.api` is the public face that accepts names.
"""

import numbers

import numpy as np

from .._version import __version__
from ..engine.backend import Cpu
from ..engine.kernel import seed_key
from ..engine.processes import queue_length
from ..model.calibrate import CALIBRATION_PATIENTS, calibrate
from ..model.cohort import Cohort
from ..model.hsct import engine_arrays, process_names
from ..model.mscohort import MultistateCohort
from ..model.multistate import is_multistate, unroll
from ..model.scenario import Scenario, load_scenario, replicate_rng
from ..model.schema import MAX_HORIZON_DAYS
from .multistate import simulate_multistate

__all__ = ["DEFAULT_SEED", "MAX_SEED", "check_fits_device", "check_size", "count", "is_multistate_arm",
           "iter_chunks", "prepare", "scenario_point", "simulate", "stream_seed"]

DEFAULT_SEED = 20_251_121
# Seeds from 0 to 2^63 - 1 each give their own patient streams and replicate draws;
# beyond, a seed aliases a smaller one (streams are keyed by the seed modulo 2^64,
# replicate draws modulo 2^63).  The command line refuses them, so that summary.json
# never records a seed other than the one used; the Python API takes any integer
# (replicates pass derived stream seeds beyond 2^64 through it).
MAX_SEED = 2**63 - 1
CPU = Cpu()


def scenario_point(scenario, seed=DEFAULT_SEED, replicate=None):
    """The scenario with its ranges collapsed: midpoints, or replicate ``r``'s draw."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if replicate is None:
        return scenario.at_midpoints()
    return scenario.draw(replicate_rng(seed, replicate))


def stream_seed(seed, replicate):
    """The seed of replicate ``replicate``'s patient streams (``seed`` itself for None)."""
    return seed if replicate is None else (int(seed) + (int(replicate) + 1) * 0x5851F42D4C957F2D)


def check_size(n_patients, horizon_days):
    """Raise ValueError for a cohort size or horizon the simulator does not take."""
    if not isinstance(n_patients, numbers.Integral) or n_patients < 1:
        raise ValueError(f"n_patients must be a positive integer, got {n_patients!r}")
    if not 0 < horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError(f"horizon_days must be in (0, {MAX_HORIZON_DAYS}]")


def is_multistate_arm(scenario):
    """Whether ``scenario`` (loaded, a name or a path) is a plain multi-state model."""
    return is_multistate(scenario if isinstance(scenario, Scenario) or hasattr(scenario, "kind")
                         else load_scenario(scenario))


def check_fits_device(scenario, backend):
    """Raise :class:`BackendError` when ``scenario`` is larger than ``backend`` holds (a
    GPU thread's scratch: processes, and rescalings queued for one process)."""
    if backend.max_processes is None:
        return
    if is_multistate_arm(scenario):
        n, what = len(unroll(scenario).edges), "transition processes (unrolled)"
        queue = 1  # checked again, on the engine, where it goes to the device
    else:
        what = "processes"
        # which events multiply which process does not depend on the calibration
        eng = engine_arrays(scenario_point(scenario), {})
        n, queue = len(eng.family), queue_length(eng)
    backend.check_fits(n, what, scenario.name, queue)


def prepare(scenario, n_patients, seed, horizon_days, replicate, interventions,
            calibration_patients, susceptible=None, backend=CPU):
    """``(point, horizon, susceptible, engine arrays, stream key)`` of a run."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    point = scenario_point(scenario, seed, replicate)
    horizon = float(point.horizon_days if horizon_days is None else horizon_days)
    check_size(n_patients, horizon)
    if susceptible is None:
        start = None if replicate is None else calibrate(scenario_point(scenario),
                                                         backend=backend)
        susceptible = calibrate(point, calibration_patients or CALIBRATION_PATIENTS,
                                start=start, backend=backend)
    eng = engine_arrays(point, susceptible, interventions=interventions)
    return point, horizon, susceptible, eng, seed_key(stream_seed(seed, replicate))


def simulate(scenario, n_patients, seed=DEFAULT_SEED, threads=None, horizon_days=None,
             replicate=None, interventions=True, chunk_size=None, calibration_patients=None,
             susceptible=None, backend=CPU):
    """A :class:`Cohort` (or :class:`MultistateCohort`); see :func:`hsctsim.api.simulate`."""
    if is_multistate_arm(scenario):
        return multistate_cohort(scenario, n_patients, seed, threads, horizon_days,
                                 chunk_size, backend=backend)
    point, horizon, susceptible, eng, key = prepare(
        scenario, n_patients, seed, horizon_days, replicate, interventions,
        calibration_patients, susceptible, backend)
    out = np.empty((int(n_patients), len(eng.family)))
    step = int(chunk_size or n_patients)
    with backend.threads(threads):
        for start in range(0, int(n_patients), step):
            backend.simulate(eng, key, start, horizon, out[start:start + step])
    return Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                  process_names=process_names(point))


def iter_chunks(scenario, n_patients, chunk_size, seed=DEFAULT_SEED, threads=None,
                horizon_days=None, replicate=None, interventions=True,
                calibration_patients=None, susceptible=None, tally=None, reuse_buffer=False,
                backend=CPU):
    """Chunks of a cohort, one in memory at a time; see :func:`hsctsim.api.iter_chunks`."""
    if is_multistate_arm(scenario):
        for start in range(0, int(n_patients), int(chunk_size)):
            yield multistate_cohort(scenario, min(int(chunk_size), int(n_patients) - start),
                                    seed, threads, horizon_days, first_patient=start,
                                    backend=backend)
        return
    point, horizon, susceptible, eng, key = prepare(
        scenario, n_patients, seed, horizon_days, replicate, interventions,
        calibration_patients, susceptible, backend)
    names = process_names(point)
    buffer = None
    for start in range(0, int(n_patients), int(chunk_size)):
        shape = (min(int(chunk_size), int(n_patients) - start), len(eng.family))
        if not reuse_buffer:
            out = np.empty(shape)
        else:
            buffer = np.empty(shape) if buffer is None else buffer
            out = buffer[:shape[0]]
        with backend.threads(threads):
            if tally is None:
                backend.simulate(eng, key, start, horizon, out)
            else:  # counted in the same pass (on the CPU)
                args = tally.counting_arrays(names, point.chimerism, len(out))
                backend.simulate_counted(eng, key, start, horizon, out, *args)
                tally.add_differences(args[-1], len(out))
        yield Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                     first_patient=start, process_names=names)


def count(scenario, n_patients, tally, seed=DEFAULT_SEED, threads=None, horizon_days=None,
          replicate=None, interventions=True, calibration_patients=None, susceptible=None,
          chunk_size=500_000, backend=CPU, on_chunk=None):
    """Count a cohort into a Tally; see :func:`hsctsim.api.count`."""
    if is_multistate_arm(scenario):  # their summaries are state occupations, not a Tally's
        raise ValueError("count: a multi-state scenario has no Tally; use iter_chunks")
    if backend.counts_on_device:
        point, horizon, susceptible, eng, key = prepare(
            scenario, n_patients, seed, horizon_days, replicate, interventions,
            calibration_patients, susceptible, backend)
        backend.count(tally, eng, key, n_patients, horizon, process_names(point),
                      point.chimerism, on_chunk=on_chunk)
        return susceptible
    for chunk in iter_chunks(scenario, n_patients, chunk_size, seed, threads, horizon_days,
                             replicate, interventions, calibration_patients, susceptible,
                             tally=tally, reuse_buffer=True, backend=backend):
        susceptible = chunk.susceptible
        if on_chunk is not None:
            on_chunk(chunk.n_patients)
    return susceptible


def multistate_cohort(scenario, n_patients, seed, threads, horizon_days, chunk_size=None,
                      first_patient=0, backend=CPU):
    """A :class:`~hsctsim.model.mscohort.MultistateCohort` (see :func:`simulate`)."""
    if not hasattr(scenario, "kind"):
        scenario = load_scenario(scenario)
    horizon = float(scenario.horizon_days if horizon_days is None else horizon_days)
    check_size(n_patients, horizon)
    n = int(n_patients)
    step = int(chunk_size or n)
    covariates = {}
    out = None
    with backend.threads(threads):
        for start in range(0, n, step):
            days, cov = simulate_multistate(scenario, min(step, n - start), seed, horizon,
                                            first_patient + start, backend=backend)
            out = days if out is None else np.concatenate([out, days])
            for k, v in cov.items():
                covariates[k] = np.concatenate([covariates[k], v]) if k in covariates else v
    return MultistateCohort(out, scenario, int(seed), horizon, __version__, covariates,
                            first_patient)
