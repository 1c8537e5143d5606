"""Where a cohort is simulated: the one seam between the model and the kernels.

A backend object is resolved once, at the edge (the command line or
:mod:`hsctsim.api`), from a user's ``cpu``, ``cuda`` or ``auto``, and passed down
to whatever simulates, calibrates or counts.  :class:`Cpu` drives the numba
kernels of :mod:`hsctsim.engine.kernel` and :mod:`hsctsim.engine.counts`;
:class:`Cuda` their device twins.  Nothing above the engine picks a kernel.

Both draw the same per-patient streams (see :mod:`hsctsim.engine.kernel`), so the
backend changes where a cohort is computed, never which cohort it is (an event day
can differ in the last bits where the device's math library rounds differently).
"""

import contextlib
import importlib.util
import numbers

import numba
import numpy as np

from .batched import batch_plan, simulate_batched_into
from .counts import simulate_counted_into, tally_differences
from .kernel import accrued_hazard_into, simulate_from_into, simulate_into, simulate_patients_into
from .plain import is_plain, simulate_plain_into, simulate_plain_patients_into
from .tabulate import with_tables

__all__ = ["BACKENDS", "BackendError", "Batched", "Cpu", "Cuda", "describe_record",
           "resolve_backend", "Tabled"]

BACKENDS = ("cpu", "cuda", "auto")


class BackendError(ValueError):
    """The backend asked for cannot run here (no numba-cuda, no device)."""


class Cpu:
    """numba on the CPU's cores: every driver of the engine, threads as numba's."""

    name = "cpu"
    max_processes = None  # no compile-time limit on the engine's size
    max_queue = None
    counts_on_device = False  # counts come from simulated chunks (simulate_counted)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __str__(self):  # as the user wrote it: ``--backend cpu``
        return self.name

    def __eq__(self, other):  # a backend equals its name: ``backend == "cuda"``
        if isinstance(other, str):
            return other == self.name
        return isinstance(other, Cpu) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def record(self):
        """What a result records of where it ran: ``{"backend": "cpu"}``."""
        return {"backend": self.name}

    @contextlib.contextmanager
    def threads(self, threads):
        """Run the block with ``threads`` numba threads (None: numba's setting)."""
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

    def check_fits(self, n_processes, what, name, queue=1):
        """Raise :class:`BackendError` where the engine is too large for this backend.

        ``queue``: the most rescalings one process can have queued (its opening and
        one per event that multiplies it; :func:`hsctsim.engine.processes.queue_length`).
        """
        if self.max_processes is not None and n_processes > self.max_processes:
            raise BackendError(f"{name} has {n_processes} {what}, the GPU kernel at most "
                               f"{self.max_processes} (use the cpu backend)")
        if self.max_queue is not None and queue > self.max_queue:
            raise BackendError(f"{name} has a process whose hazard {queue - 1} events "
                               f"multiply, the GPU kernel at most {self.max_queue - 1} (use "
                               "the cpu backend)")

    def simulate(self, eng, key, first_patient, horizon, out):
        """Fill ``out`` with patients ``first_patient, ...`` (see ``kernel.simulate_into``).

        A plain competing-risks engine (a plain multi-state model) runs the leaner
        kernel of :mod:`hsctsim.engine.plain`: the same cohort, bit for bit.
        """
        if is_plain(eng):
            simulate_plain_into(eng, key, first_patient, horizon, out)
        else:
            simulate_into(eng, key, first_patient, horizon, out)

    def simulate_patients(self, eng, key, patients, horizon, out):
        """Fill row ``i`` of ``out`` with patient ``patients[i]``."""
        if is_plain(eng):
            simulate_plain_patients_into(eng, key, patients, horizon, out)
        else:
            simulate_patients_into(eng, key, patients, horizon, out)

    def simulate_from(self, eng, key, patients, horizon, start_day, start_state, start_origin,
                      start_m, start_out, out):
        """Simulate onwards from a known course (see ``kernel.simulate_from_into``)."""
        simulate_from_into(eng, key, patients, horizon, start_day, start_state, start_origin,
                           start_m, start_out, out)

    def accrue(self, eng, key, targets, landmarks, acc, dacc):
        """Accrued hazards of calibration targets (see ``kernel.accrued_hazard_into``)."""
        accrued_hazard_into(eng, key, targets, landmarks, acc, dacc)

    def simulate_counted(self, eng, key, first_patient, horizon, out, members, chimerism_cols,
                         graft, grid, diff):
        """Simulate into ``out`` and add its landmark counts to ``diff``, one pass."""
        simulate_counted_into(eng, key, first_patient, horizon, out, members, chimerism_cols,
                              graft, grid, diff)


class Cuda(Cpu):
    """numba-cuda on a GPU: one thread per patient, the CPU kernel's own code."""

    name = "cuda"
    counts_on_device = True  # count(): only the counts leave the device

    @property
    def max_processes(self):
        from .cuda_kernel import MAX_PROCESSES  # numba.cuda is slow to import: on use only

        return MAX_PROCESSES

    @property
    def max_queue(self):
        from .cuda_kernel import MAX_QUEUE  # numba.cuda: on use only, as above

        return MAX_QUEUE

    def record(self):
        """``{"backend": "cuda", "device": "NVIDIA H200"}``."""
        from .cuda_kernel import device_name  # numba.cuda: optional, imported on use

        return {"backend": self.name, "device": device_name()}

    @contextlib.contextmanager
    def threads(self, threads):
        """Host threads do not apply to the device."""
        yield

    def simulate(self, eng, key, first_patient, horizon, out):
        from . import cuda_kernel  # numba.cuda: optional, imported on use

        cuda_kernel.simulate_into(eng, key, first_patient, horizon, out)

    def simulate_patients(self, eng, key, patients, horizon, out):
        from . import cuda_kernel  # numba.cuda: optional, imported on use

        cuda_kernel.simulate_patients_into(eng, key, patients, horizon, out)

    def simulate_from(self, *args):
        raise BackendError("resuming a course (predict) runs on the cpu backend only")

    def accrue(self, eng, key, targets, landmarks, acc, dacc):
        from . import cuda_kernel  # numba.cuda: optional, imported on use

        cuda_kernel.accrued_hazard_into(eng, key, targets, landmarks, acc, dacc)

    def simulate_counted(self, eng, key, first_patient, horizon, out, members, chimerism_cols,
                         graft, grid, diff):
        """Simulated on the device, counted on the host."""
        self.simulate(eng, key, first_patient, horizon, out)
        tally_differences(out, members, chimerism_cols, graft, grid, diff)

    def count(self, tally, eng, key, n_patients, horizon, process_names, chimerism,
              on_chunk=None):
        """Simulate ``n_patients`` on the device and count them into ``tally``: only the
        counts come back, so 10^9 patients need no 10^9-row array anywhere."""
        from .cuda_counts import count_into  # numba.cuda: optional, imported on use

        return count_into(tally, eng, key, n_patients, horizon, process_names, chimerism,
                          on_chunk=on_chunk)


class Batched(Cpu):
    """The CPU drawing blocks of patients with vectorised log and exp
    (:mod:`hsctsim.engine.batched`): plain multi-state models with Weibull or
    exponential transitions, no cure fraction, clock reset.  The same random draws
    as :class:`Cpu`; event days within a few units in the last place, not bit for bit.
    """

    draws = "batched"

    def record(self):
        return {"backend": self.name, "draws": self.draws}

    def _plan(self, eng):
        return batch_plan(eng)  # NotBatchable (a ValueError) says what it cannot run

    def simulate(self, eng, key, first_patient, horizon, out):
        patients = np.arange(first_patient, first_patient + out.shape[0], dtype=np.int64)
        simulate_batched_into(key, patients, horizon, *self._plan(eng), out)

    def simulate_patients(self, eng, key, patients, horizon, out):
        simulate_batched_into(key, np.ascontiguousarray(patients, np.int64), horizon,
                              *self._plan(eng), out)

    def accrue(self, *args):
        raise ValueError("batched draws simulate plain multi-state models, which need no "
                         "calibration")

    simulate_from = accrue


class Tabled(Cpu):
    """The CPU kernels with each parametric hazard evaluated from a table of polynomials
    (:mod:`hsctsim.engine.tables`): about 1.8x as fast on the full HSCT model.  The
    same random draws as :class:`Cpu`; event days within about 1e-13 of the exact
    ones (at most about 1e-9), relative, not bit for bit.  Calibration (``accrue``)
    stays exact, so a point's calibration is the one the exact path uses.  The
    tables of an engine are built once (``with_tables`` keeps them).
    """

    hazards = "tables"

    def record(self):
        return {"backend": self.name, "hazards": self.hazards}

    def simulate(self, eng, key, first_patient, horizon, out):
        super().simulate(with_tables(eng), key, first_patient, horizon, out)

    def simulate_patients(self, eng, key, patients, horizon, out):
        super().simulate_patients(with_tables(eng), key, patients, horizon, out)

    def simulate_from(self, eng, *args):
        super().simulate_from(with_tables(eng), *args)

    def simulate_counted(self, eng, *args):
        super().simulate_counted(with_tables(eng), *args)


def describe_record(record):
    """One phrase for a printed header: ``backend cpu``, ``backend cuda (NVIDIA H200)``."""
    device = record.get("device")
    text = f"backend {record.get('backend', 'cpu')}" + (f" ({device})" if device else "")
    return text + (", hazard tables" if record.get("hazards") == "tables" else "")


def resolve_backend(backend):
    """The backend object that ``backend`` (``cpu``, ``cuda``, ``auto`` or a backend) names.

    ``auto`` is the GPU when numba's CUDA target finds a device, else the CPU.

    Raises
    ------
    BackendError
        ``cuda`` without numba-cuda or without a device; an unknown name.
    """
    if isinstance(backend, Cpu):
        return backend
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cpu":
        return Cpu()

    missing = []
    # numba's own CUDA target cannot compile the kernels (they call @njit code): only
    # numba-cuda can; numba's simulator (NUMBA_ENABLE_CUDASIM=1, for tests) runs them
    if not numba.config.ENABLE_CUDASIM and importlib.util.find_spec("numba_cuda") is None:
        missing.append("numba-cuda is not installed (pip install 'hsctsim[cuda]')")
    try:  # numba.cuda is imported only here: it is optional and slow to import
        from . import cuda_kernel  # noqa: F401 (see above)
    except ImportError as exc:
        missing.append(f"numba.cuda does not import ({exc})")
    else:
        if not cuda_kernel.device_available():
            missing.append("numba's CUDA target finds no GPU")
    if not missing:
        return Cuda()
    if backend == "auto":
        return Cpu()
    raise BackendError(" and ".join(missing) + " (use the cpu or auto backend)")
