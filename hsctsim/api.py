"""The plain Python API: load a scenario, simulate a cohort."""

import contextlib
import numbers

import numba
import numpy as np

from . import __version__
from .model.calibrate import CALIBRATION_PATIENTS, calibrate
from .model.cohort import Cohort
from .analysis.landmark_counts import simulate_counted_into
from .engine.kernel import seed_key, simulate_into
from .model.hsct import engine_arrays, process_names
from .model.scenario import MAX_HORIZON_DAYS, Scenario, load_scenario, replicate_rng

DEFAULT_SEED = 20_251_121


@contextlib.contextmanager
def _threads(threads):
    if threads is None:
        yield
        return
    most = numba.config.NUMBA_NUM_THREADS
    if not isinstance(threads, numbers.Integral) or not 1 <= threads <= most:
        raise ValueError(f"threads must be between 1 and {most}")
    before = numba.get_num_threads()
    numba.set_num_threads(int(threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def scenario_point(scenario, seed=DEFAULT_SEED, replicate=None):
    """The scenario with its ranges collapsed: midpoints, or replicate ``r``'s draw."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if replicate is None:
        return scenario.at_midpoints()
    return scenario.draw(replicate_rng(seed, replicate))


def _stream_seed(seed, replicate):
    return seed if replicate is None else (int(seed) + (int(replicate) + 1) * 0x5851F42D4C957F2D)


def _check(n_patients, horizon_days):
    if not isinstance(n_patients, numbers.Integral) or n_patients < 1:
        raise ValueError(f"n_patients must be a positive integer, got {n_patients!r}")
    if not 0 < horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError(f"horizon_days must be in (0, {MAX_HORIZON_DAYS}]")


def _prepare(scenario, n_patients, seed, horizon_days, replicate, interventions,
             calibration_patients, susceptible=None):
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    point = scenario_point(scenario, seed, replicate)
    horizon = float(point.horizon_days if horizon_days is None else horizon_days)
    _check(n_patients, horizon)
    if susceptible is None:
        start = None if replicate is None else calibrate(scenario_point(scenario))
        susceptible = calibrate(point, calibration_patients or CALIBRATION_PATIENTS,
                                start=start)
    eng = engine_arrays(point, susceptible, interventions=interventions)
    return point, horizon, susceptible, eng, seed_key(_stream_seed(seed, replicate))


def simulate(scenario, n_patients, seed=DEFAULT_SEED, threads=None, horizon_days=None,
             replicate=None, interventions=True, chunk_size=None, calibration_patients=None,
             susceptible=None):
    """Simulate a cohort through the post-transplant course.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A loaded scenario, a bundled scenario name or a TOML path.
    n_patients : int
    seed : int
        The same seed gives the same cohort, bit for bit, whatever ``threads`` or
        ``chunk_size``.
    threads : int, optional
        Threads for this call (default: numba's setting).
    horizon_days : float, optional
        Follow-up in days (default: the scenario's).
    replicate : int, optional
        Draw every ranged figure from its reported range (replicate ``r`` of the
        literature's uncertainty); None uses the midpoints.
    interventions : bool
        False switches interventions off (NK cells, DLI): the comparator course.
    chunk_size : int, optional
        Simulate in chunks of this many patients (same result).
    calibration_patients : int, optional
        Patients per calibration step when the scenario point is not cached
        (default :data:`hsctsim.model.calibrate.CALIBRATION_PATIENTS`); fewer is faster
        and noisier.
    susceptible : dict of str to float, optional
        Susceptible fractions (``1 - cure``) to use instead of calibrating, e.g.
        another point's ``cohort.susceptible`` with one entry changed: a what-if
        that holds every other hazard fixed.  :func:`hsctsim.what_if` gives them
        for a scenario changed with ``set_value``.

    Returns
    -------
    Cohort
    """
    if _multistate(scenario):
        return _simulate_multistate(scenario, n_patients, seed, threads, horizon_days,
                                    chunk_size)
    point, horizon, susceptible, eng, key = _prepare(
        scenario, n_patients, seed, horizon_days, replicate, interventions,
        calibration_patients, susceptible)
    out = np.empty((int(n_patients), len(eng.family)))
    step = int(chunk_size or n_patients)
    with _threads(threads):
        for start in range(0, int(n_patients), step):
            simulate_into(eng, key, start, horizon, out[start:start + step])
    return Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                  process_names=process_names(point))


def iter_chunks(scenario, n_patients, chunk_size, seed=DEFAULT_SEED, threads=None,
                horizon_days=None, replicate=None, interventions=True,
                calibration_patients=None, susceptible=None, tally=None, reuse_buffer=False):
    """Simulate a large cohort chunk by chunk, keeping only one chunk in memory.

    Parameters are those of :func:`simulate`, and ``tally``: a
    :class:`~hsctsim.analysis.endpoints.Tally` that counts each chunk in as it is
    simulated, in the same pass (as ``tally.add(chunk)`` would, but faster); and
    ``reuse_buffer``: simulate every chunk into the same array, so that each
    chunk's event days are only valid until the next chunk is simulated (for a
    caller that keeps nothing: it saves fresh memory, and faulting it in, per chunk).
    Yields :class:`Cohort` objects whose ``first_patient`` gives their place; put
    together they are the cohort :func:`simulate` returns for the same arguments.
    """
    if _multistate(scenario):
        for start in range(0, int(n_patients), int(chunk_size)):
            yield _simulate_multistate(scenario, min(int(chunk_size), int(n_patients) - start),
                                       seed, threads, horizon_days, first_patient=start)
        return
    point, horizon, susceptible, eng, key = _prepare(
        scenario, n_patients, seed, horizon_days, replicate, interventions,
        calibration_patients, susceptible)
    buffer = None
    for start in range(0, int(n_patients), int(chunk_size)):
        shape = (min(int(chunk_size), int(n_patients) - start), len(eng.family))
        if not reuse_buffer:
            out = np.empty(shape)
        else:
            buffer = np.empty(shape) if buffer is None else buffer
            out = buffer[:shape[0]]
        with _threads(threads):
            if tally is None:
                simulate_into(eng, key, start, horizon, out)
            else:
                args = tally.counting_arrays(process_names(point), point.chimerism, len(out))
                simulate_counted_into(eng, key, start, horizon, out, *args)
                tally.add_differences(args[-1], len(out))
        yield Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                     first_patient=start, process_names=process_names(point))


def _multistate(scenario):
    """Whether ``scenario`` (loaded, a name or a path) is a plain multi-state model."""
    from .model.multistate import is_multistate

    return is_multistate(scenario if isinstance(scenario, Scenario) or hasattr(scenario, "kind")
                         else load_scenario(scenario))


def _simulate_multistate(scenario, n_patients, seed, threads, horizon_days, chunk_size=None,
                         first_patient=0):
    """A :class:`~hsctsim.model.mscohort.MultistateCohort` (see :func:`simulate`)."""
    from .model.mscohort import MultistateCohort
    from .model.multistate import simulate_multistate

    if not hasattr(scenario, "kind"):
        scenario = load_scenario(scenario)
    horizon = float(scenario.horizon_days if horizon_days is None else horizon_days)
    _check(n_patients, horizon)
    n = int(n_patients)
    step = int(chunk_size or n)
    covariates = {}
    out = None
    with _threads(threads):
        for start in range(0, n, step):
            days, cov = simulate_multistate(scenario, min(step, n - start), seed, horizon,
                                            first_patient + start)
            out = days if out is None else np.concatenate([out, days])
            for k, v in cov.items():
                covariates[k] = np.concatenate([covariates[k], v]) if k in covariates else v
    return MultistateCohort(out, scenario, int(seed), horizon, __version__, covariates,
                            first_patient)
