"""Checks of the CUDA backend run in a child process (see tests/engine/test_cuda.py).

``python tests/cuda_checks.py sim OUT.npz``: the CUDA kernels in numba's CUDA
simulator (the parent sets ``NUMBA_ENABLE_CUDASIM=1`` and ``NUMBA_DISABLE_JIT=1``
before numba is imported: the simulator runs kernels as Python, and the CPU
kernel's functions they call must then be Python too), results to ``OUT.npz``.

``python tests/cuda_checks.py ptx OUT_DIR``: compile the kernels to PTX for
compute capability 9.0 (H100/H200) with the real NVVM, no GPU needed.

Exit status 3 with a line ``SKIP: why`` when the tools are missing.
"""

import json
import sys

SIM_ARMS = ("ric", "haplo_nk")
SIM_PATIENTS = 300
SIM_FIRST = 1_000  # a chunk that does not start at patient 0
SIM_SEED = 11
COUNT_ARMS = ("ric", "mst", "haplo_nk")  # donor, micro and donor + NK-cell chimerism
# one PSA draw of ric calibrated on the device: 6 Newton steps of 1,000 patients (the
# fewest a sweep takes), about 25 s of the simulator's time
PSA_ARGS = ("-n", str(SIM_PATIENTS), "--seed", str(SIM_SEED), "--calibration-patients", "1000")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(3)


def sim(out_path):
    import numba
    import numpy as np

    if not numba.config.ENABLE_CUDASIM or not numba.config.DISABLE_JIT:
        raise SystemExit("set NUMBA_ENABLE_CUDASIM=1 and NUMBA_DISABLE_JIT=1")
    try:
        from hsctsim.engine import cuda_counts
        from hsctsim.engine import cuda_kernel
    except ImportError as exc:
        skip(f"numba.cuda unavailable: {exc}")
    # The simulator runs a block's threads as Python threads and, around every device
    # function call, swaps the ``cuda`` module in that function's globals and back: two
    # threads of one block race on it ("numba.cuda has no attribute 'local'", now and
    # then).  One thread per block runs the patients one at a time; blocks run in turn.
    cuda_kernel.THREADS_PER_BLOCK = cuda_counts.THREADS_PER_BLOCK = 1
    import hsctsim
    from hsctsim.sim import prepare as _prepare
    from hsctsim.model import calibrate

    results = {}
    for arm in SIM_ARMS:
        point, horizon, sus, eng, key = _prepare(arm, SIM_PATIENTS, SIM_SEED, None, None, True,
                                                 None)
        out = np.empty((SIM_PATIENTS, eng.family.shape[0]))
        # chunks of 128 rows: three launches, the last one short
        cuda_kernel.simulate_into(eng, key, SIM_FIRST, horizon, out, chunk=128)
        results[f"{arm}_days"] = out
        names, _, landmarks = calibrate.calibration_targets(point)
        results[f"{arm}_incidence"] = np.array(calibrate.incidences(
            point, sus, names, landmarks, SIM_PATIENTS, SIM_SEED, backend="cuda"))
    # patients by index (covariate strata of multi-state models), in a shuffled order
    point, horizon, sus, eng, key = _prepare("ric", 1, SIM_SEED, None, None, True, None)
    patients = np.random.default_rng(0).permutation(SIM_PATIENTS) * 7 + 3
    out = np.empty((SIM_PATIENTS, eng.family.shape[0]))
    cuda_kernel.simulate_patients_into(eng, key, patients, horizon, out, chunk=128)
    results["patients"], results["patients_days"] = patients, out
    results["ebmt4_days"] = hsctsim.simulate("ebmt4", SIM_PATIENTS, seed=SIM_SEED,
                                             backend="cuda").event_day
    launches = []
    device_simulate = cuda_kernel.simulate_into

    def counted(*args, **kwargs):  # proof that the API went to the device
        launches.append(1)
        return device_simulate(*args, **kwargs)

    cuda_kernel.simulate_into = counted
    cohort = hsctsim.simulate("ric", SIM_PATIENTS, seed=SIM_SEED, backend="cuda", chunk_size=100)
    results["api_ric"] = cohort.event_day
    results["api_launches"] = np.array(len(launches))
    # landmark counts made on the device (only the counts come back), and a whole run
    from click.testing import CliRunner

    from hsctsim.analysis.endpoints import Tally
    from hsctsim.api import count
    from hsctsim.apps.cli import cli

    for arm in COUNT_ARMS:
        tally = Tally()
        count(arm, SIM_PATIENTS, tally, seed=SIM_SEED, backend="cuda")
        for name in tally.hits:
            results[f"count_{arm}_{name}"] = np.stack([tally.hits[name], tally.base[name]])
    run = CliRunner().invoke(cli, ["run", "ric", "mst", "-n", str(SIM_PATIENTS), "--seed",
                                   str(SIM_SEED), "--format", "json", "--backend", "cuda"])
    results["run_json"] = np.array(run.stdout)  # progress lines of a slow run go to stderr
    ms = CliRunner().invoke(cli, ["run", "ebmt4", "-n", str(SIM_PATIENTS), "--seed",
                                  str(SIM_SEED), "--format", "json", "--backend", "cuda"])
    results["run_ebmt4_json"] = np.array(ms.stdout)
    results.update(psa_on_device(CliRunner, cli, out_path))
    try:
        cuda_kernel.check_processes(cuda_kernel.MAX_PROCESSES + 1)
    except ValueError as exc:
        results["too_many"] = np.array(str(exc))
    np.savez(out_path, **results)


def psa_on_device(runner, cli, out_path):
    """A one-draw PSA sweep on the device, calibration included (``sweep --backend cuda``),
    and the draw's patients simulated on the device with the calibration it found."""
    import pathlib

    import numpy as np

    import hsctsim
    from hsctsim.engine import cuda_counts
    from hsctsim.engine import cuda_kernel

    launches = {"accrued_hazard": [], "counted": []}
    accrue, counted = cuda_kernel.accrued_hazard_into, cuda_counts.count_into

    def spy_accrue(*args):  # the Newton steps of the draw's calibration
        launches["accrued_hazard"].append(args[4].shape[0])
        return accrue(*args)

    def spy_counted(*args, **kwargs):
        launches["counted"].append(args[3])
        return counted(*args, **kwargs)

    cuda_kernel.accrued_hazard_into, cuda_counts.count_into = spy_accrue, spy_counted
    folder = pathlib.Path(out_path).with_name("psa-cuda")
    # --draws ranges: a draw solved on the device (the shipped posterior needs no solve)
    done = runner().invoke(cli, ["sweep", "ric", "--psa", "1", "--draws", "ranges", "--local",
                                 *PSA_ARGS,
                                 "--backend", "cuda", "--out", str(folder)])
    point = json.loads((folder / "points" / "000000.json").read_text())
    days = hsctsim.simulate("ric", SIM_PATIENTS, seed=SIM_SEED, replicate=0,
                            susceptible=point["susceptible"], backend="cuda").event_day
    return {"psa_stdout": np.array(done.stdout), "psa_exit": np.array(done.exit_code),
            "psa_csv": np.array((folder / "sweep.csv").read_text()),
            "psa_manifest": np.array((folder / "sweep.json").read_text()),
            "psa_point": np.array(json.dumps(point)), "psa_days": days,
            "psa_calibration_launches": np.array(launches["accrued_hazard"]),
            "psa_counted_launches": np.array(launches["counted"])}


def ptx(out_dir):
    import pathlib
    import types

    import importlib.util

    # numba's own, deprecated CUDA target cannot call the @njit kernel code: only
    # numba-cuda compiles it
    if importlib.util.find_spec("numba_cuda") is None:
        skip("numba-cuda is not installed (pip install '.[cuda]')")
    try:
        from numba import cuda, typeof
        from numba import types as nt
        from numba.cuda import dispatcher
        from numba.cuda.cudadrv import nvvm
    except ImportError as exc:
        skip(f"numba-cuda unavailable: {exc}")
    try:
        nvvm.NVVM()
    except Exception as exc:  # no libNVVM, or no NVRTC to locate it
        skip(f"libNVVM unavailable: {str(exc).splitlines()[0]}")
    # Device functions are compiled for the current device's compute capability;
    # without a GPU there is none, so name the target here (what compile_ptx's cc
    # does for the kernel itself).
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
    from hsctsim.engine import cuda_counts
    from hsctsim.sim import prepare as _prepare
    from hsctsim.engine import cuda_kernel

    eng = _prepare("ric", 1, 1, None, None, True, None)[3]
    e = typeof(eng)
    # simulate_patients_kernel is simulate_kernel reading its patient from an array:
    # left out to keep the suite short (each kernel takes 20-60 s to compile)
    kernels = {
        "simulate": (cuda_kernel.simulate_kernel,
                     (e, nt.uint64, nt.int64, nt.float64, nt.float64[:, ::1])),
        "accrued_hazard": (cuda_kernel.accrued_hazard_kernel,
                           (e, nt.uint64, nt.int64[::1], nt.float64[::1], nt.float64[:, ::1],
                            nt.float64[:, ::1])),
        "simulate_counted": (cuda_counts.simulate_counted_kernel,
                             (e, nt.uint64, nt.int64, nt.int64, nt.float64, nt.int64[:, ::1],
                              nt.int64[::1], nt.int64, nt.float64[::1], nt.int64[:, ::1])),
    }
    for name, (kernel, sig) in kernels.items():
        text, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
        pathlib.Path(out_dir, f"{name}.ptx").write_text(text)
        print(f"{name}: {len(text)} characters of PTX")


if __name__ == "__main__":
    {"sim": sim, "ptx": ptx}[sys.argv[1]](sys.argv[2])
