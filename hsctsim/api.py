"""The plain Python API: load a scenario, simulate a cohort."""

import contextlib
import numbers

import numba
import numpy as np

from . import __version__
from .model.calibrate import CALIBRATION_PATIENTS, calibrate
from .model.cohort import Cohort
from .analysis.landmark_counts import simulate_counted_into, tally_differences
from .engine.kernel import seed_key, simulate_into
from .model.hsct import engine_arrays, process_names
from .model.scenario import MAX_HORIZON_DAYS, Scenario, load_scenario, replicate_rng

DEFAULT_SEED = 20_251_121
# Seeds from 0 to 2^63 - 1 each give their own patient streams and replicate draws;
# beyond, a seed aliases a smaller one (streams are keyed by the seed modulo 2^64,
# replicate draws modulo 2^63).  The command line refuses them, so that summary.json
# never records a seed other than the one used; the Python API takes any integer
# (replicates pass derived stream seeds beyond 2^64 through it).
MAX_SEED = 2**63 - 1
BACKENDS = ("cpu", "cuda", "auto")


class BackendError(ValueError):
    """The backend asked for cannot run here (no numba-cuda, no device)."""


def resolve_backend(backend):
    """``"cpu"`` or ``"cuda"``: what ``backend`` (``cpu``, ``cuda`` or ``auto``) runs on.

    ``auto`` is ``cuda`` when numba's CUDA target finds a device, else ``cpu``.

    Raises
    ------
    BackendError
        ``cuda`` without numba-cuda or without a device; an unknown name.
    """
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cpu":
        return "cpu"
    import importlib.util

    missing = []
    # numba's own CUDA target cannot compile the kernels (they call @njit code): only
    # numba-cuda can; numba's simulator (NUMBA_ENABLE_CUDASIM=1, for tests) runs them
    if not numba.config.ENABLE_CUDASIM and importlib.util.find_spec("numba_cuda") is None:
        missing.append("numba-cuda is not installed (pip install 'hsctsim[cuda]')")
    try:  # numba.cuda is imported only here: it is optional and slow to import
        from .engine import cuda_kernel
    except ImportError as exc:
        missing.append(f"numba.cuda does not import ({exc})")
    else:
        if not cuda_kernel.device_available():
            missing.append("numba's CUDA target finds no GPU")
    if not missing:
        return "cuda"
    if backend == "auto":
        return "cpu"
    raise BackendError(" and ".join(missing) + " (use the cpu or auto backend)")


def backend_record(backend):
    """What a result records of where it ran: ``{"backend": "cpu"}``, or for the GPU
    ``{"backend": "cuda", "device": "NVIDIA H200"}`` (``auto`` resolved first)."""
    backend = resolve_backend(backend)
    if backend == "cpu":
        return {"backend": "cpu"}
    from .engine.cuda_kernel import device_name

    return {"backend": backend, "device": device_name()}


def check_fits_device(scenario):
    """Raise :class:`BackendError` when ``scenario`` has more processes than a GPU
    thread's scratch holds (``cuda_kernel.MAX_PROCESSES``; the solid-tumour and
    autologous arms do)."""
    from .engine.cuda_kernel import MAX_PROCESSES

    if _multistate(scenario):
        from .model.multistate import unroll

        n, what = len(unroll(scenario).edges), "transition processes (unrolled)"
    else:
        n, what = len(process_names(scenario_point(scenario))), "processes"
    if n > MAX_PROCESSES:
        raise BackendError(f"{scenario.name} has {n} {what}, the GPU kernel at most "
                           f"{MAX_PROCESSES} (use the cpu backend)")


def describe_backend(record):
    """One phrase for a printed header: ``backend cpu``, ``backend cuda (NVIDIA H200)``."""
    device = record.get("device")
    return f"backend {record.get('backend', 'cpu')}" + (f" ({device})" if device else "")


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
             calibration_patients, susceptible=None, backend="cpu"):
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    point = scenario_point(scenario, seed, replicate)
    horizon = float(point.horizon_days if horizon_days is None else horizon_days)
    _check(n_patients, horizon)
    if susceptible is None:
        start = None if replicate is None else calibrate(scenario_point(scenario),
                                                         backend=backend)
        susceptible = calibrate(point, calibration_patients or CALIBRATION_PATIENTS,
                                start=start, backend=backend)
    eng = engine_arrays(point, susceptible, interventions=interventions)
    return point, horizon, susceptible, eng, seed_key(_stream_seed(seed, replicate))


def simulate(scenario, n_patients, seed=DEFAULT_SEED, threads=None, horizon_days=None,
             replicate=None, interventions=True, chunk_size=None, calibration_patients=None,
             susceptible=None, backend="cpu", batched=False):
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
    backend : {"cpu", "cuda", "auto"}
        Where to simulate (and calibrate, when the point is not cached): numba on
        the CPU's cores, or a CUDA GPU (needs numba-cuda: ``pip install
        'hsctsim[cuda]'``); ``auto`` takes the GPU when numba finds one.  The GPU
        draws the same per-patient random streams; an event day can differ from
        the CPU's in the last bits where the device's math library rounds
        differently.  ``threads`` does not apply to the GPU.
    batched : bool
        Plain multi-state models only: draw a block of patients at a time with
        vectorised log and exp (:mod:`hsctsim.engine.batched`, about twice as fast).
        The same random draws; event days within a few units in the last place of
        the exact ones, not bit for bit.  Weibull and exponential transitions
        without cure fraction, clock reset; otherwise ``ValueError``.

    Returns
    -------
    Cohort
    """
    backend = resolve_backend(backend)
    if _multistate(scenario):
        return _simulate_multistate(scenario, n_patients, seed, threads, horizon_days,
                                    chunk_size, backend=backend, batched=batched)
    if batched:
        raise ValueError("batched draws are for plain multi-state models only")
    point, horizon, susceptible, eng, key = _prepare(
        scenario, n_patients, seed, horizon_days, replicate, interventions,
        calibration_patients, susceptible, backend)
    out = np.empty((int(n_patients), len(eng.family)))
    step = int(chunk_size or n_patients)
    with _threads(threads):
        for start in range(0, int(n_patients), step):
            _simulate_into(backend, eng, key, start, horizon, out[start:start + step])
    return Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                  process_names=process_names(point))


def iter_chunks(scenario, n_patients, chunk_size, seed=DEFAULT_SEED, threads=None,
                horizon_days=None, replicate=None, interventions=True,
                calibration_patients=None, susceptible=None, tally=None, reuse_buffer=False,
                backend="cpu"):
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
    backend = resolve_backend(backend)
    if _multistate(scenario):
        for start in range(0, int(n_patients), int(chunk_size)):
            yield _simulate_multistate(scenario, min(int(chunk_size), int(n_patients) - start),
                                       seed, threads, horizon_days, first_patient=start,
                                       backend=backend)
        return
    point, horizon, susceptible, eng, key = _prepare(
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
        if tally is not None:
            args = tally.counting_arrays(names, point.chimerism, len(out))
        with _threads(threads):
            if backend == "cuda":  # simulated on the device, counted here
                _simulate_into(backend, eng, key, start, horizon, out)
                if tally is not None:
                    tally_differences(out, *args)
            elif tally is None:
                simulate_into(eng, key, start, horizon, out)
            else:  # counted in the same pass
                simulate_counted_into(eng, key, start, horizon, out, *args)
        if tally is not None:
            tally.add_differences(args[-1], len(out))
        yield Cohort(out, point, int(seed), horizon, susceptible, __version__, replicate,
                     first_patient=start, process_names=names)


def count(scenario, n_patients, tally, seed=DEFAULT_SEED, threads=None, horizon_days=None,
          replicate=None, interventions=True, calibration_patients=None, susceptible=None,
          chunk_size=500_000, backend="cpu", on_chunk=None):
    """Count a cohort into a Tally without keeping its event days.

    Parameters are those of :func:`simulate`, and:

    tally : Tally
        :class:`~hsctsim.analysis.endpoints.Tally` that the cohort's landmark counts
        are added to.
    chunk_size : int
        Patients per chunk on the CPU (the GPU counts 2^24 at a time).
    on_chunk : callable, optional
        Called with the number of patients counted after each chunk (progress).

    On the GPU the patients are simulated and counted on the device and only the
    counts come back (:mod:`hsctsim.analysis.cuda_counts`), so 10^9 patients need
    no 10^9-row array anywhere; on the CPU, chunk by chunk as :func:`iter_chunks`.

    Returns
    -------
    dict of str to float
        The susceptible fractions the cohort was simulated with.
    """
    backend = resolve_backend(backend)
    if _multistate(scenario):  # their summaries are state occupations, not a Tally's
        raise ValueError("count: a multi-state scenario has no Tally; use iter_chunks")
    if backend == "cuda":
        from .analysis.cuda_counts import count_into

        point, horizon, susceptible, eng, key = _prepare(
            scenario, n_patients, seed, horizon_days, replicate, interventions,
            calibration_patients, susceptible, backend)
        count_into(tally, eng, key, n_patients, horizon, process_names(point), point.chimerism,
                   on_chunk=on_chunk)
        return susceptible
    for chunk in iter_chunks(scenario, n_patients, chunk_size, seed, threads, horizon_days,
                             replicate, interventions, calibration_patients, susceptible,
                             tally=tally, reuse_buffer=True, backend=backend):
        susceptible = chunk.susceptible
        if on_chunk is not None:
            on_chunk(chunk.n_patients)
    return susceptible


def _simulate_into(backend, eng, key, first_patient, horizon, out):
    if backend == "cuda":
        from .engine import cuda_kernel

        cuda_kernel.simulate_into(eng, key, first_patient, horizon, out)
    else:
        simulate_into(eng, key, first_patient, horizon, out)


def _multistate(scenario):
    """Whether ``scenario`` (loaded, a name or a path) is a plain multi-state model."""
    from .model.multistate import is_multistate

    return is_multistate(scenario if isinstance(scenario, Scenario) or hasattr(scenario, "kind")
                         else load_scenario(scenario))


def _simulate_multistate(scenario, n_patients, seed, threads, horizon_days, chunk_size=None,
                         first_patient=0, backend="cpu", batched=False):
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
                                            first_patient + start, backend=backend,
                                            batched=batched)
            out = days if out is None else np.concatenate([out, days])
            for k, v in cov.items():
                covariates[k] = np.concatenate([covariates[k], v]) if k in covariates else v
    return MultistateCohort(out, scenario, int(seed), horizon, __version__, covariates,
                            first_patient)
