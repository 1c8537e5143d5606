"""The plain Python API: load a scenario, simulate a cohort.

The public face of :mod:`hsctsim.sim`: it takes backend names (``cpu``, ``cuda``,
``auto``), resolves them once and passes the backend object down.
"""

import platform

import llvmlite
import llvmlite.binding
import numba
import numpy

from .engine.backend import (BACKENDS, BackendError, Batched, Cuda, Tabled, describe_record,
                             resolve_backend)
from .model.scenario import load_scenario
from .sim import cohorts
from .sim.cohorts import DEFAULT_SEED, MAX_SEED, scenario_point
from .sim.posterior import calibrate_arm, load_posterior

__all__ = ["BACKENDS", "BackendError", "DEFAULT_SEED", "MAX_SEED", "backend_record",
           "calibrate_arm", "check_fits_device", "count", "describe_backend", "iter_chunks",
           "load_posterior", "load_scenario", "platform_record", "resolve_backend",
           "scenario_point", "simulate", "Tabled"]


def backend_record(backend):
    """What a result records of where it ran: ``{"backend": "cpu"}``, or for the GPU
    ``{"backend": "cuda", "device": "NVIDIA H200"}`` (``auto`` resolved first)."""
    return resolve_backend(backend).record()


def platform_record():
    """What a result records of the software and machine it ran on.

    Event days come from the platform's ``log``, ``exp``, ``erfc`` ... (libm, and the
    code numba generates for this CPU): a cohort is the same bit for bit on one
    platform, and another may differ in the last bits of a day.  ``{"system",
    "machine", "cpu", "libc", "python", "numpy", "numba", "llvmlite"}``.
    """
    libc = " ".join(platform.libc_ver()).strip()
    return {"system": platform.system(), "machine": platform.machine(),
            "cpu": llvmlite.binding.get_host_cpu_name(), "libc": libc or None,
            "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "llvmlite": llvmlite.__version__}


def describe_backend(record):
    """One phrase for a printed header: ``backend cpu``, ``backend cuda (NVIDIA H200)``."""
    return describe_record(record)


def check_fits_device(scenario, backend="cuda"):
    """Raise :class:`BackendError` when ``scenario`` is larger than a GPU thread's
    scratch holds (``cuda_kernel.MAX_PROCESSES`` processes, ``MAX_QUEUE`` rescalings
    queued for one process; every bundled arm fits)."""
    # the kernel's size limit, asked without a device: resolving "cuda" would need one
    backend = Cuda() if backend == "cuda" else resolve_backend(backend)
    cohorts.check_fits_device(scenario, backend)


def simulate(scenario, n_patients, seed=DEFAULT_SEED, threads=None, horizon_days=None,
             replicate=None, interventions=True, chunk_size=None, calibration_patients=None,
             susceptible=None, backend="cpu", batched=False, tables=False):
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
    backend : {"cpu", "cuda", "auto"} or a backend object
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
    tables : bool
        CPU only: evaluate each parametric hazard and its inverse from a table of
        polynomials (:mod:`hsctsim.engine.tables`; about 1.8x as fast on the full
        HSCT model).  The same random draws and, in practice, every patient's
        course; event days within about 1e-13 of the exact ones (at most about
        1e-9), relative, not bit for bit; bit for bit with themselves, whatever the
        threads or chunks.  Plain multi-state models of Weibull and exponential
        transitions gain nothing (their kernel computes days directly: see
        ``batched``).

    Returns
    -------
    Cohort
    """
    backend = resolve_backend(backend)
    if batched:
        if backend != "cpu":
            raise ValueError("batched draws run on the CPU backend only")
        if not cohorts.is_multistate_arm(scenario):
            raise ValueError("batched draws are for plain multi-state models only")
        backend = Batched()
    backend = _with_tables(backend, tables)
    return cohorts.simulate(scenario, n_patients, seed, threads, horizon_days, replicate,
                            interventions, chunk_size, calibration_patients, susceptible,
                            backend)


def iter_chunks(scenario, n_patients, chunk_size, seed=DEFAULT_SEED, threads=None,
                horizon_days=None, replicate=None, interventions=True,
                calibration_patients=None, susceptible=None, tally=None, reuse_buffer=False,
                backend="cpu", tables=False):
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
    return cohorts.iter_chunks(scenario, n_patients, chunk_size, seed, threads, horizon_days,
                               replicate, interventions, calibration_patients, susceptible,
                               tally, reuse_buffer,
                               _with_tables(resolve_backend(backend), tables))


def count(scenario, n_patients, tally, seed=DEFAULT_SEED, threads=None, horizon_days=None,
          replicate=None, interventions=True, calibration_patients=None, susceptible=None,
          chunk_size=500_000, backend="cpu", on_chunk=None, tables=False):
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
    counts come back (:mod:`hsctsim.engine.cuda_counts`), so 10^9 patients need
    no 10^9-row array anywhere; on the CPU, chunk by chunk as :func:`iter_chunks`.

    Returns
    -------
    dict of str to float
        The susceptible fractions the cohort was simulated with.
    """
    return cohorts.count(scenario, n_patients, tally, seed, threads, horizon_days, replicate,
                         interventions, calibration_patients, susceptible, chunk_size,
                         _with_tables(resolve_backend(backend), tables), on_chunk)


def _with_tables(backend, tables):
    """``backend``, or with ``tables`` the CPU kernels with hazard tables."""
    if not tables:
        return backend
    if backend != "cpu" or isinstance(backend, Batched):
        raise ValueError("hazard tables run on the CPU backend only (not with batched draws)")
    return backend if isinstance(backend, Tabled) else Tabled()
