"""The CUDA backend: the CPU kernel's patients, one GPU thread each.

Each thread runs :func:`hsctsim.engine.kernel.run_patient`, the CPU kernel's own
per-patient function compiled for the device by numba-cuda (which compiles
``@njit`` functions called from a kernel as device functions), with its scratch in
``cuda.local.array``.  So the GPU draws the same per-patient SplitMix64 streams,
keyed by ``(seed, patient index)``, and does the same next-reaction arithmetic
with the same hazard functions (:mod:`hsctsim.engine.hazards`); an event day can
differ from the CPU's only where the device's ``log``/``erfc``/``expm1`` round
differently from the host's libm (a few ulps).

numba-cuda is an optional dependency: this module imports ``numba.cuda`` at import
time, so import it only when the CUDA backend is asked for
(:func:`hsctsim.api.simulate` does).
"""

import numpy as np
from numba import boolean, cuda, float64, int8, int64, uint64

from .kernel import run_patient
from .processes import queue_length

MAX_PROCESSES = 32  # compile-time size of each thread's scratch (21 to 26 in the bundled arms)
# rescalings one process can have queued: its opening and one per event that multiplies
# it (each fires once); at most 9 in the bundled arms, and a local array needs a constant
MAX_QUEUE = 16
THREADS_PER_BLOCK = 128
DEVICE_CHUNK = 1 << 21  # patients per launch: 2M x 21 processes (ric) x 8 bytes = 352 MB


def check_processes(n_proc, queue=1):
    """Raise ValueError when an engine does not fit the device scratch.

    ``n_proc`` processes and ``queue`` (:func:`queue_length`) queued rescalings at most.
    """
    if n_proc > MAX_PROCESSES:
        raise ValueError(f"the CUDA backend takes at most {MAX_PROCESSES} processes, the "
                         f"engine has {n_proc} (raise MAX_PROCESSES in "
                         "hsctsim/engine/cuda_kernel.py)")
    if queue > MAX_QUEUE:
        raise ValueError(f"the CUDA backend takes at most {MAX_QUEUE - 1} events that "
                         f"multiply one process's hazard, the engine has {queue - 1} (raise "
                         "MAX_QUEUE in hsctsim/engine/cuda_kernel.py)")


@cuda.jit(device=True, inline=True)
def patient_on_device(eng, seed_key, patient, horizon, silent, out):
    """:func:`run_patient` with its scratch in thread-local memory."""
    state = cuda.local.array(MAX_PROCESSES, int8)
    y = cuda.local.array(MAX_PROCESSES, float64)
    key = cuda.local.array(MAX_PROCESSES, float64)
    m = cuda.local.array(MAX_PROCESSES, float64)
    origin = cuda.local.array(MAX_PROCESSES, float64)
    ylow = cuda.local.array(MAX_PROCESSES, float64)
    hlow = cuda.local.array(MAX_PROCESSES, float64)
    exact = cuda.local.array(MAX_PROCESSES, boolean)
    n_queued = cuda.local.array(MAX_PROCESSES, int64)
    q_day = cuda.local.array((MAX_PROCESSES, MAX_QUEUE), float64)
    q_factor = cuda.local.array((MAX_PROCESSES, MAX_QUEUE), float64)
    live = cuda.local.array(MAX_PROCESSES, uint64)
    # start_day 0: a fresh course (the start_* arrays are then not read)
    return run_patient(eng, seed_key, patient, horizon, silent, out, state, y, key, m, origin,
                       ylow, hlow, exact, n_queued, q_day, q_factor, live, 0.0, state, origin,
                       m, y)


@cuda.jit
def simulate_kernel(eng, seed_key, first_patient, horizon, out):
    """Device twin of :func:`hsctsim.engine.kernel.simulate_into`: thread ``i`` fills
    ``out[i]`` with patient ``first_patient + i``'s event days."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        patient_on_device(eng, seed_key, first_patient + i, horizon, -1, out[i])


@cuda.jit
def simulate_patients_kernel(eng, seed_key, patients, horizon, out):
    """Device twin of :func:`hsctsim.engine.kernel.simulate_patients_into`: thread ``i``
    fills ``out[i]`` with patient ``patients[i]``'s event days."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        patient_on_device(eng, seed_key, patients[i], horizon, -1, out[i])


@cuda.jit
def accrued_hazard_kernel(eng, seed_key, targets, landmarks, acc, dacc):
    """Device twin of :func:`hsctsim.engine.kernel.accrued_hazard_into`."""
    i = cuda.grid(1)
    if i < acc.shape[0]:
        out = cuda.local.array(MAX_PROCESSES, float64)
        for k in range(acc.shape[1]):
            a, d = patient_on_device(eng, seed_key, i, landmarks[k], targets[k], out)
            acc[i, k] = a
            dacc[i, k] = d


def to_device(eng):
    """The engine's arrays on the device (an EngineArrays of device arrays)."""
    check_processes(eng.family.shape[0], queue_length(eng))
    return type(eng)(*(cuda.to_device(np.ascontiguousarray(a)) for a in eng))


def _blocks(n):
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def simulate_chunks(eng, seed_key, first_patient, n_patients, horizon, chunk=DEVICE_CHUNK):
    """Simulate patients on the device, yielding ``(first, event_days)`` host chunks.

    One device buffer of ``chunk`` rows is reused; only one chunk is on the host
    at a time, so any number of patients fits.
    """
    d_eng = to_device(eng)
    n_proc = eng.family.shape[0]
    rows = min(int(chunk), int(n_patients))
    d_out = cuda.device_array((rows, n_proc), np.float64)
    end = int(first_patient) + int(n_patients)
    for start in range(int(first_patient), end, rows):
        n = min(rows, end - start)
        view = d_out[:n]
        simulate_kernel[_blocks(n), THREADS_PER_BLOCK](d_eng, np.uint64(seed_key), start,
                                                       float(horizon), view)
        yield start, view.copy_to_host()


def simulate_into(eng, seed_key, first_patient, horizon, out, chunk=DEVICE_CHUNK):
    """Like :func:`hsctsim.engine.kernel.simulate_into`, on the device."""
    for start, days in simulate_chunks(eng, seed_key, first_patient, out.shape[0], horizon,
                                       chunk):
        out[start - first_patient:start - first_patient + days.shape[0]] = days


def simulate_patients_into(eng, seed_key, patients, horizon, out, chunk=DEVICE_CHUNK):
    """Like :func:`hsctsim.engine.kernel.simulate_patients_into`, on the device."""
    d_eng = to_device(eng)
    patients = np.ascontiguousarray(patients, np.int64)
    rows = max(1, min(int(chunk), out.shape[0]))
    d_out = cuda.device_array((rows, eng.family.shape[0]), np.float64)
    for start in range(0, out.shape[0], rows):
        n = min(rows, out.shape[0] - start)
        view = d_out[:n]
        simulate_patients_kernel[_blocks(n), THREADS_PER_BLOCK](
            d_eng, np.uint64(seed_key), cuda.to_device(patients[start:start + n]),
            float(horizon), view)
        out[start:start + n] = view.copy_to_host()


def accrued_hazard_into(eng, seed_key, targets, landmarks, acc, dacc):
    """Like :func:`hsctsim.engine.kernel.accrued_hazard_into`, on the device."""
    d_eng = to_device(eng)
    d_acc = cuda.device_array(acc.shape, np.float64)
    d_dacc = cuda.device_array(dacc.shape, np.float64)
    accrued_hazard_kernel[_blocks(acc.shape[0]), THREADS_PER_BLOCK](
        d_eng, np.uint64(seed_key), cuda.to_device(np.asarray(targets, np.int64)),
        cuda.to_device(np.asarray(landmarks, np.float64)), d_acc, d_dacc)
    d_acc.copy_to_host(acc)
    d_dacc.copy_to_host(dacc)


def device_name():
    """The current device's name, e.g. ``NVIDIA H200`` (the simulator says so)."""
    from numba import config  # numba: slow to import, only when needed

    if config.ENABLE_CUDASIM:
        return "numba CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def device_available():
    """Whether numba's CUDA target finds a device (or is the simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install reads as no device
        return False


__all__ = ["MAX_PROCESSES", "MAX_QUEUE", "accrued_hazard_into", "accrued_hazard_kernel",
           "check_processes", "device_available", "device_name",
           "simulate_chunks", "simulate_into", "simulate_kernel", "simulate_patients_into",
           "simulate_patients_kernel"]
