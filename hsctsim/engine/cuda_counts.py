"""Landmark counts on the GPU: patients simulated and counted on the device.

Each thread simulates its patients (a grid-stride loop) with the CPU kernel's
``run_patient`` into a thread-local row and counts each with the CPU counting
function (:func:`hsctsim.engine.counts.count_patient`) into a
thread-local difference array; a block adds its threads' arrays in shared memory
and then into one global array with atomic additions.  Only the counts leave the
device, so 10^9 patients need no 10^9-row array anywhere.  Integer counts: the
same whatever the launch shape, and the same as the CPU's wherever the event days
fall in the same landmark bins.

Imports numba.cuda: import it only for the CUDA backend.
"""

import numpy as np
from numba import cuda, float64, int64

from .counts import count_patient
from .cuda_kernel import MAX_PROCESSES, check_processes, patient_on_device, to_device
from .processes import queue_length

__all__ = ["count_into", "LAUNCH_PATIENTS", "MAX_BINS", "MAX_ROWS", "PATIENTS_PER_THREAD",
           "simulate_counted_kernel", "THREADS_PER_BLOCK"]

MAX_ROWS = 24  # endpoints counted + 3 (chimerism rows); compile-time size of the scratch
MAX_BINS = 16  # distinct landmark days + 1
THREADS_PER_BLOCK = 128
PATIENTS_PER_THREAD = 16  # per launch, before a block's counts go to global memory
LAUNCH_PATIENTS = 1 << 24  # patients per launch (progress reports between launches)


@cuda.jit
def simulate_counted_kernel(eng, seed_key, first_patient, n, horizon, members, chimerism_cols,
                            graft, grid, diff):
    """Simulate patients ``first_patient .. + n - 1`` and add their differences to ``diff``.

    ``diff`` is int64 (rows, G + 1), the sum over patients of what
    :func:`~hsctsim.engine.counts.tally_differences` puts in its blocks.
    """
    rows, bins_used = diff.shape
    local = cuda.local.array((MAX_ROWS, MAX_BINS), int64)
    block = cuda.shared.array((MAX_ROWS, MAX_BINS), int64)
    row = cuda.local.array((1, MAX_PROCESSES), float64)
    bins = cuda.local.array(MAX_PROCESSES, int64)
    for r in range(rows):
        for c in range(bins_used):
            local[r, c] = 0
    for q in range(MAX_PROCESSES):
        row[0, q] = np.inf  # columns past the engine's: never an event
    tid = cuda.threadIdx.x
    for k in range(tid, rows * bins_used, cuda.blockDim.x):
        block[k // bins_used, k % bins_used] = 0
    cuda.syncthreads()
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        patient_on_device(eng, seed_key, first_patient + i, horizon, -1, row[0])
        count_patient(row, 0, members, chimerism_cols, graft, grid, bins, local)
    for r in range(rows):
        for c in range(bins_used):
            if local[r, c] != 0:
                cuda.atomic.add(block, (r, c), local[r, c])
    cuda.syncthreads()
    for k in range(tid, rows * bins_used, cuda.blockDim.x):
        r, c = k // bins_used, k % bins_used
        if block[r, c] != 0:
            cuda.atomic.add(diff, (r, c), block[r, c])


def count_into(tally, eng, seed_key, n_patients, horizon, process_names, chimerism,
               first_patient=0, on_chunk=None):
    """Simulate ``n_patients`` on the device and add their counts to ``tally``.

    Parameters
    ----------
    tally : Tally
    eng : EngineArrays
    seed_key : uint64
    n_patients : int
    horizon : float
    process_names : tuple of str
        The engine's process columns.
    chimerism : str
        The scenario's kind of chimerism (``donor``, ``micro``, ...).
    first_patient : int
    on_chunk : callable, optional
        Called with the number of patients counted after each launch.
    """
    check_processes(eng.family.shape[0], queue_length(eng))
    members, cols, graft, grid, _ = tally.counting_arrays(process_names, chimerism, 1)
    rows, n_bins = members.shape[0] + 3, grid.size + 1
    if rows > MAX_ROWS or n_bins > MAX_BINS:
        raise ValueError(f"the CUDA counts take at most {MAX_BINS - 1} landmark days and "
                         f"{MAX_ROWS - 3} endpoints")
    d_eng = to_device(eng)
    d_members, d_cols, d_grid = (cuda.to_device(np.ascontiguousarray(a))
                                 for a in (members, cols.astype(np.int64), grid))
    end = int(first_patient) + int(n_patients)
    for start in range(int(first_patient), end, LAUNCH_PATIENTS):
        n = min(LAUNCH_PATIENTS, end - start)
        d_diff = cuda.to_device(np.zeros((rows, n_bins), np.int64))
        blocks = max(1, -(-n // (THREADS_PER_BLOCK * PATIENTS_PER_THREAD)))
        simulate_counted_kernel[blocks, THREADS_PER_BLOCK](
            d_eng, np.uint64(seed_key), start, n, float(horizon), d_members, d_cols,
            int(graft), d_grid, d_diff)
        tally.add_differences(d_diff.copy_to_host()[None], n)
        if on_chunk is not None:
            on_chunk(n)
    return tally
