"""GPU figures of the CUDA backend: the three goals of issue 13, and agreement with the CPU.

One prepared script for a machine with a CUDA GPU and numba-cuda (see README.md,
"GPU")::

    python benchmarks/gpu_bench.py --quick --json gpu.json  # 3-5 minutes, most of it compiling
    python benchmarks/gpu_bench.py --json gpu.json           # the goals at full size

Without a device it says so and exits 0.  The figures are written to ``--json``
after every section, so a run cut short keeps what it measured.  Measured, in one
process:

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
  patients per Newton step), cold and warm;
- ``psa_posterior``: what ``hsctsim sweep ric --psa N --draws posterior -n 100000
  --backend cuda`` does per draw (the shipped posterior's set with its stored
  calibration: nothing solved; simulation and counts on the device),
  ``--psa-draws`` draws or as many as fit in ``--psa-seconds``, extrapolated to
  1,000 when fewer ran;
- ``psa``: the same from the ranges (``--draws ranges``: every draw calibrated on
  the device from an empty cache) (``benchmarks/psa_bench.py``).

Models: the bundled ``ric`` arm (21 processes) and the bundled ``ebmt4``
multi-state model (12 Weibull transitions, clock reset: hesim's benchmark).

Goals (issues 13 and 27), printed at the end as met or not: ``ric`` kernel >= 2e8
patients/s; ``ebmt4`` kernel >= 1e9 trajectories/s; 1,000 PSA draws of 10^5
patients from the posterior in under 10 s; and from the ranges, calibration
included, in under 60 s.
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
    from hsctsim.sim import prepare as _prepare

    _, horizon, _, eng, key = _prepare("ric", 1, seed, None, None, True, None)
    yield "ric", eng, key, horizon
    yield "ebmt4", *ebmt4_engine(seed)


def ebmt4_engine(seed):
    """The bundled ebmt4 multi-state model (12 Weibull transitions, clock reset):
    ``(engine, key, horizon)``, as :func:`hsctsim.sim.multistate.simulate_multistate`
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


GOALS = {  # issue 13, on one H100-class GPU
    "ric_kernel_patients_per_s": (2e8, "at least"),
    "ebmt4_kernel_trajectories_per_s": (1e9, "at least"),
    "psa_posterior_1000_draws_of_1e5_s": (10.0, "at most"),  # issue 27
    "psa_1000_draws_of_1e5_s": (60.0, "at most"),
}
GOAL_PSA_PATIENTS = 100_000
QUICK = {"sizes": "1e6,1e7", "check": 10_000, "cpu": 1e5, "end_to_end": 1e6,
         "psa_draws": 100, "psa_seconds": 60.0}
FULL = {"sizes": "1e6,1e7,1e8", "check": 100_000, "cpu": 1e6, "end_to_end": 1e7,
        "psa_draws": 1000, "psa_seconds": 150.0}


def goals(figures):
    """Each goal's figure (best measured) and whether it is met."""
    models = figures["models"]
    measured = {
        "ric_kernel_patients_per_s": max(models.get("ric", {}).get(
            "kernel_patients_per_s", {}).values(), default=None),
        "ebmt4_kernel_trajectories_per_s": max(models.get("ebmt4", {}).get(
            "kernel_patients_per_s", {}).values(), default=None),
        "psa_posterior_1000_draws_of_1e5_s": (
            figures["psa_posterior"]["extrapolated_1000_draws_s"]
            if figures.get("psa_posterior", {}).get("patients") == GOAL_PSA_PATIENTS
            else None),
        "psa_1000_draws_of_1e5_s": (figures["psa"]["extrapolated_1000_draws_s"]
                                    if figures.get("psa", {}).get("patients")
                                    == GOAL_PSA_PATIENTS else None),
    }
    out = {}
    for name, (target, sense) in GOALS.items():
        value = measured[name]
        met = None if value is None else (value >= target if sense == "at least"
                                          else value <= target)
        out[name] = {"goal": f"{sense} {target:g}", "measured": value, "met": met}
    for section, goal in (("psa", "psa_1000_draws_of_1e5_s"),
                          ("psa_posterior", "psa_posterior_1000_draws_of_1e5_s")):
        if section in figures:
            out[goal]["extrapolated_from_draws"] = (
                figures[section]["draws"] if figures[section]["extrapolated"] else None)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and 100 PSA draws (extrapolated): minutes, "
                             "for a session's short device time")
    parser.add_argument("--sizes", help="patients per kernel timing, comma-separated "
                                        f"(default {FULL['sizes']}; quick {QUICK['sizes']})")
    parser.add_argument("--check", type=int, help="patients compared with the CPU kernel")
    parser.add_argument("--cpu", type=float, help="patients of the CPU timing")
    parser.add_argument("--end-to-end", type=float,
                        help="patients of the simulate(backend='cuda') timing")
    parser.add_argument("--calibration-patients", type=int, default=None,
                        help="patients per Newton step of the calibration timing "
                             "(default: calibrate's)")
    parser.add_argument("--psa-draws", type=int, help="PSA draws to time (the goal: 1000)")
    parser.add_argument("--psa-patients", type=float, default=1e5,
                        help="patients per PSA draw (the goal: 1e5)")
    parser.add_argument("--psa-calibration-patients", type=int, default=None,
                        help="patients per Newton step of a PSA draw (default: sweep's, 10^4)")
    parser.add_argument("--psa-seconds", type=float,
                        help="stop the PSA timing after this long and extrapolate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here (after every section)")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    from hsctsim.api import resolve_backend

    if resolve_backend("auto") != "cuda":
        print("skipped: numba's CUDA target finds no GPU (or numba-cuda is missing)")
        return 0
    import numba
    from numba import cuda

    if numba.config.ENABLE_CUDASIM:  # a dry run of this script: no figure means anything
        from hsctsim.engine import cuda_counts
        from hsctsim.engine import cuda_kernel

        # the simulator races between the threads of a block (see tests/cuda_checks.py)
        cuda_kernel.THREADS_PER_BLOCK = cuda_counts.THREADS_PER_BLOCK = 1
        print("DRY RUN in numba's CUDA simulator: the figures below are not timings")
    import hsctsim
    from hsctsim.api import scenario_point
    from hsctsim.engine.cuda_kernel import device_name
    from hsctsim.engine.kernel import simulate_into
    from hsctsim.model.calibrate import calibrate

    name = device_name()
    # the simulator has no device object: its compute capability is numba's stand-in
    capability = (cuda.get_current_device().compute_capability
                  if hasattr(cuda, "get_current_device") else None)
    try:
        import numba_cuda

        numba_cuda_version = getattr(numba_cuda, "__version__", "?")
    except ImportError:
        numba_cuda_version = None
    figures = {"device": name, "compute_capability": capability and list(capability),
               "hsctsim_version": hsctsim.__version__, "numba": numba.__version__,
               "numba_cuda": numba_cuda_version, "quick": bool(args.quick),
               "cpu_threads": numba.get_num_threads(), "models": {}}

    def save():
        figures["goals"] = goals(figures)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(figures, indent=2))

    print(f"device: {name}, compute capability {capability}, numba "
          f"{numba.__version__}, numba-cuda {numba_cuda_version}", flush=True)
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
            save()
        n = int(args.cpu)
        out = np.empty((n, eng.family.shape[0]))
        simulate_into(eng, key, 0, horizon, out[:100])
        cpu = n / _best_seconds(lambda: simulate_into(eng, key, 0, horizon, out), 3)
        fig[f"cpu_patients_per_s_{n:.0e}"] = cpu
        print(f"{label} cpu {n:.0e} ({numba.get_num_threads()} threads): {cpu:.3e} patients/s",
              flush=True)
        save()
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
    save()
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from psa_bench import describe, time_posterior_psa, time_psa

    figures["psa_posterior"] = time_posterior_psa(args.psa_draws, int(args.psa_patients),
                                                  "cuda", args.seed,
                                                  max_seconds=args.psa_seconds)
    print(describe(figures["psa_posterior"]), flush=True)
    save()
    point = scenario_point("ric")
    calibration = {"use_cache": False, "backend": "cuda"}
    if args.calibration_patients:
        calibration["n_patients"] = args.calibration_patients
    start = time.perf_counter()
    calibrate(point, **calibration)
    figures["ric_calibration_cuda_s"] = time.perf_counter() - start
    print(f"ric calibration on the GPU (incl. compiling): "
          f"{figures['ric_calibration_cuda_s']:.2f} s")
    start = time.perf_counter()
    calibrate(point, **calibration)
    figures["ric_calibration_cuda_warm_s"] = time.perf_counter() - start
    print(f"ric calibration on the GPU, warm: {figures['ric_calibration_cuda_warm_s']:.2f} s",
          flush=True)
    save()
    figures["psa"] = time_psa(args.psa_draws, int(args.psa_patients), "cuda", args.seed,
                              max_seconds=args.psa_seconds,
                              calibration_patients=args.psa_calibration_patients)
    print(describe(figures["psa"]), flush=True)
    save()
    for goal, g in figures["goals"].items():
        verdict = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        value = "-" if g["measured"] is None else f"{g['measured']:.3g}"
        print(f"goal {goal}: {g['goal']}, measured {value}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
