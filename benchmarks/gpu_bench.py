"""GPU figures of the CUDA backend: patients per second, and agreement with the CPU.

Run on a machine with a CUDA GPU and numba-cuda (see README.md, "GPU")::

    python benchmarks/gpu_bench.py                     # about 2-4 minutes, most of it compiling
    python benchmarks/gpu_bench.py --sizes 1e6,1e7 --json gpu.json

Without a device it says so and exits 0.  Measured, in one process:

- agreement: the first ``--check`` patients of each model on the GPU against the
  CPU kernel (same seed): the share of patients whose event days differ by more
  than 1e-12 relative or come in another order, and the largest relative
  difference (the device's libm rounds differently from the host's);
- ``kernel``: ``simulate_kernel`` launches into a device buffer reused across
  chunks of ``DEVICE_CHUNK`` patients, synchronised, no copy to the host
  (the rate the device simulates at);
- ``end to end``: ``hsctsim.simulate(..., backend="cuda")`` with its copies to the
  host (the ``ric`` arm only);
- ``counted on the device``: ``hsctsim.api.count(..., backend="cuda")`` at the
  largest size, only the counts coming back (what ``run --backend cuda`` does), and
  on ``--check`` patients how many of the landmark counts differ from the CPU's;
- ``cpu``: the CPU kernel on every core on 10^6 patients, for the ratio;
- ``calibration``: ``calibrate(ric, use_cache=False, backend="cuda")`` (10^5
  patients per Newton step), the cost of each draw of a PSA.

Models: the bundled ``ric`` arm (14 processes) and the bundled ``ebmt4``
multi-state model (12 Weibull transitions, clock reset: hesim's benchmark).
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np


REL = 1e-12


def _best_seconds(fn, rounds):
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _models(seed):
    from hsctsim.api import _prepare

    _, horizon, _, eng, key = _prepare("ric", 1, seed, None, None, True, None)
    yield "ric", eng, key, horizon
    yield "ebmt4", *ebmt4_engine(seed)


def ebmt4_engine(seed):
    """The bundled ebmt4 multi-state model (12 Weibull transitions, clock reset):
    ``(engine, key, horizon)``, as :func:`hsctsim.model.multistate.simulate_multistate`
    builds it (one covariate stratum)."""
    from hsctsim.engine.kernel import seed_key
    from hsctsim.engine.processes import build
    from hsctsim.model import multistate
    from hsctsim.model.scenario import load_scenario

    scenario = load_scenario("ebmt4")
    return build(multistate.processes(scenario)), seed_key(seed), float(scenario.horizon_days)


def _agreement(eng, key, horizon, n):
    from hsctsim.engine import cuda_kernel
    from hsctsim.engine.kernel import simulate_into

    cpu = np.empty((n, eng.family.shape[0]))
    gpu = np.empty_like(cpu)
    simulate_into(eng, key, 0, horizon, cpu)
    cuda_kernel.simulate_into(eng, key, 0, horizon, gpu)
    same_events = np.isinf(cpu) == np.isinf(gpu)
    finite = np.isfinite(cpu) & same_events
    rel = np.zeros_like(cpu)
    rel[finite] = np.abs(gpu[finite] - cpu[finite]) / np.maximum(np.abs(cpu[finite]), 1e-300)
    order = (np.argsort(cpu, axis=1, kind="stable")
             == np.argsort(gpu, axis=1, kind="stable")).all(axis=1)
    return {"patients": n,
            "share_other_events": float(1 - same_events.all(axis=1).mean()),
            "share_other_order": float(1 - order.mean()),
            "share_beyond_1e-12": float(((rel > REL).any(axis=1) | ~order
                                         | ~same_events.all(axis=1)).mean()),
            "share_bit_identical": float((cpu == gpu).all(axis=1).mean()),
            "max_relative_difference": float(rel.max())}


def _kernel_rate(eng, key, horizon, n, rounds):
    from numba import cuda

    from hsctsim.engine import cuda_kernel as ck

    d_eng = ck.to_device(eng)
    rows = min(n, ck.DEVICE_CHUNK)
    d_out = cuda.device_array((rows, eng.family.shape[0]))

    def run():
        for start in range(0, n, rows):
            m = min(rows, n - start)
            ck.simulate_kernel[ck._blocks(m), ck.THREADS_PER_BLOCK](
                d_eng, np.uint64(key), start, float(horizon), d_out[:m])
        cuda.synchronize()

    return n / _best_seconds(run, rounds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8",
                        help="patients per kernel timing, comma-separated")
    parser.add_argument("--check", type=int, default=100_000,
                        help="patients compared with the CPU kernel")
    parser.add_argument("--cpu", type=float, default=1e6, help="patients of the CPU timing")
    parser.add_argument("--end-to-end", type=float, default=1e7,
                        help="patients of the simulate(backend='cuda') timing")
    parser.add_argument("--calibration-patients", type=int, default=None,
                        help="patients per Newton step of the calibration timing "
                             "(default: calibrate's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    from hsctsim.api import resolve_backend

    if resolve_backend("auto") != "cuda":
        print("skipped: numba's CUDA target finds no GPU (or numba-cuda is missing)")
        return 0
    import numba
    from numba import cuda

    import hsctsim
    from hsctsim.api import scenario_point
    from hsctsim.engine.kernel import simulate_into
    from hsctsim.model.calibrate import calibrate

    dev = cuda.get_current_device()
    name = getattr(dev, "name", "numba's CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    figures = {"device": name, "compute_capability": list(dev.compute_capability),
               "hsctsim_version": hsctsim.__version__, "numba": numba.__version__,
               "cpu_threads": numba.get_num_threads(), "models": {}}
    print(f"device: {name}, compute capability {dev.compute_capability}", flush=True)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    for label, eng, key, horizon in _models(args.seed):
        fig = figures["models"][label] = {"processes": int(eng.family.shape[0])}
        start = time.perf_counter()
        fig["agreement"] = _agreement(eng, key, horizon, args.check)  # compiles the kernel
        fig["first_call_s"] = time.perf_counter() - start
        print(label, "agreement", fig["agreement"], flush=True)
        fig["kernel_patients_per_s"] = {}
        for n in sizes:
            rate = _kernel_rate(eng, key, horizon, n, rounds=3 if n <= 10**7 else 1)
            fig["kernel_patients_per_s"][f"{n:.0e}"] = rate
            print(f"{label} kernel {n:.0e}: {rate:.3e} patients/s", flush=True)
        n = int(args.cpu)
        out = np.empty((n, eng.family.shape[0]))
        simulate_into(eng, key, 0, horizon, out[:100])
        cpu = n / _best_seconds(lambda: simulate_into(eng, key, 0, horizon, out), 3)
        fig[f"cpu_patients_per_s_{n:.0e}"] = cpu
        print(f"{label} cpu {n:.0e} ({numba.get_num_threads()} threads): {cpu:.3e} patients/s",
              flush=True)
    n = int(args.end_to_end)
    hsctsim.simulate("ric", 100, seed=args.seed, backend="cuda")
    seconds = _best_seconds(lambda: hsctsim.simulate("ric", n, seed=args.seed,
                                                     backend="cuda"), 2)
    figures["models"]["ric"][f"end_to_end_patients_per_s_{n:.0e}"] = n / seconds
    print(f"ric simulate(backend='cuda') {n:.0e}: {n / seconds:.3e} patients/s", flush=True)
    # counted on the device, only the counts come back (what run --backend cuda does)
    from hsctsim.analysis.endpoints import Tally
    from hsctsim.api import count

    n = int(args.check)
    device, host = Tally(), Tally()
    count("ric", n, device, seed=args.seed, backend="cuda")
    count("ric", n, host, seed=args.seed)
    figures["models"]["ric"]["counts_differing"] = int(sum(
        (np.asarray(device.hits[k]) != np.asarray(host.hits[k])).sum()
        + (np.asarray(device.base[k]) != np.asarray(host.base[k])).sum() for k in host.hits))
    print(f"ric counts on the device vs the CPU ({n:.0e} patients): "
          f"{figures['models']['ric']['counts_differing']} of the counts differ", flush=True)
    n = max(sizes)
    seconds = _best_seconds(lambda: count("ric", n, Tally(), seed=args.seed, backend="cuda"), 1)
    figures["models"]["ric"][f"counted_on_device_patients_per_s_{n:.0e}"] = n / seconds
    print(f"ric count(backend='cuda') {n:.0e}: {n / seconds:.3e} patients/s", flush=True)
    point = scenario_point("ric")
    calibration = {"use_cache": False, "backend": "cuda"}
    if args.calibration_patients:
        calibration["n_patients"] = args.calibration_patients
    start = time.perf_counter()
    calibrate(point, **calibration)
    figures["ric_calibration_cuda_s"] = time.perf_counter() - start
    print(f"ric calibration on the GPU (incl. compiling): {figures['ric_calibration_cuda_s']:.2f} s")
    start = time.perf_counter()
    calibrate(point, **calibration)
    figures["ric_calibration_cuda_warm_s"] = time.perf_counter() - start
    print(f"ric calibration on the GPU, warm: {figures['ric_calibration_cuda_warm_s']:.2f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
