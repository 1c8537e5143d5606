"""The PSA goal of issue 13: 1,000 draws of 10^5 patients each, calibration included.

Times what ``hsctsim sweep ric --psa N -n 100000 --local --backend B`` does per draw
(:func:`hsctsim.apps.sweeps.run_point`: draw the figures, calibrate the draw with
10^4 patients per Newton step from the midpoints' solution, simulate and count
10^5 patients), in one process, with an empty calibration cache so that every draw
is solved afresh.  Fewer draws than 1,000 are extrapolated linearly (each draw
costs the same work on average) and labelled so::

    python benchmarks/psa_bench.py --draws 20                   # the CPU baseline
    python benchmarks/psa_bench.py --draws 1000 --backend cuda  # the goal itself, on a GPU

With ``--posterior``, the goal of issue 27 instead: 1,000 draws of 10^5 patients from
the arm's shipped posterior (``sweep --psa --draws posterior``: each draw's
calibration is stored with it, so nothing is solved) in under 10 s on one GPU.

A warm-up draw (outside the timed ones) compiles the kernels first.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

GOAL_DRAWS = 1000
GOAL_PATIENTS = 100_000
GOAL_SECONDS = 60.0
GOAL_POSTERIOR_SECONDS = 10.0  # issue 27: posterior draws, no solve


def _time_draws(run_draw, n_draws, max_seconds):
    """Run ``run_draw(r)`` for r = 0, 1, ... until ``n_draws`` or ``max_seconds`` passed.

    Returns ``(draws done, wall seconds, CPU seconds)``.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    done = 0
    while done < n_draws:
        run_draw(done)
        done += 1
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    return done, time.perf_counter() - start, time.process_time() - cpu_start


def _figures(arm, patients, backend, done, seconds, cpu_seconds, goal_seconds, **extra):
    """The dict :func:`time_psa` and :func:`time_posterior_psa` return."""
    per_draw = seconds / done
    return {"arm": arm, "draws": done, "patients": int(patients), "backend": backend,
            **extra, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "load_average_1min": os.getloadavg()[0], "per_draw_s": per_draw,
            "extrapolated": done < GOAL_DRAWS,
            "extrapolated_1000_draws_s": per_draw * GOAL_DRAWS,
            "ratio_to_goal": per_draw * GOAL_DRAWS / goal_seconds}


def time_psa(n_draws, patients=GOAL_PATIENTS, backend="cpu", seed=1, arm="ric",
             max_seconds=None, calibration_patients=None):
    """Seconds of ``n_draws`` PSA draws of ``arm`` as ``sweep --psa`` runs them.

    ``max_seconds`` stops after the draw that passes it (the figures are then
    extrapolated from the draws done); ``calibration_patients`` per Newton step
    (default: the sweep's, 10^4).

    Returns
    -------
    dict
        ``draws``, ``patients``, ``backend``, ``seconds`` (all draws, wall clock),
        ``cpu_seconds`` (this process's CPU time, every thread), ``load_average_1min``,
        ``calibration_seconds`` (the part spent calibrating), ``per_draw_s``,
        ``extrapolated_1000_draws_s`` and ``ratio_to_goal`` (that over 60 s;
        below 1 meets the goal), ``extrapolated`` (whether fewer than 1,000 ran).
    """
    os.environ["HSCTSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="hsctsim-psa-bench-")
    import hsctsim.sim.cohorts
    from hsctsim.apps import sweeps
    from hsctsim.apps.runner import landmark_days
    from hsctsim.model import calibrate
    from hsctsim.model.scenario import load_scenario

    calibrate._memory.clear()  # every draw solved afresh, none from an earlier run
    scenario = load_scenario(arm)
    config = sweeps.Settings(int(patients), seed, scenario.horizon_days,
                             landmark_days(scenario.horizon_days),
                            calibration_patients)
    spent = [0.0]
    real = hsctsim.sim.cohorts.calibrate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    hsctsim.sim.cohorts.calibrate = timed  # what count() -> prepare() calls for a draw
    try:
        warm = n_draws + 10_000  # a draw outside the timed ones: compiles, caches nothing used
        sweeps.run_point(scenario, sweeps.Point(warm, "psa", draw=warm), config, None, backend)
        spent[0] = 0.0
        done, seconds, cpu_seconds = _time_draws(
            lambda r: sweeps.run_point(scenario, sweeps.Point(r, "psa", draw=r), config, None,
                                       backend), n_draws, max_seconds)
    finally:
        hsctsim.sim.cohorts.calibrate = real
    return _figures(arm, patients, backend, done, seconds, cpu_seconds, GOAL_SECONDS,
                    calibration_seconds=spent[0])


def time_posterior_psa(n_draws, patients=GOAL_PATIENTS, backend="cpu", seed=1, arm="ric",
                       max_seconds=None):
    """Seconds of ``n_draws`` PSA draws from ``arm``'s shipped posterior.

    What ``hsctsim sweep ARM --psa N --draws posterior -n PATIENTS`` does per draw
    (:func:`hsctsim.apps.sweeps.run_point` on :func:`hsctsim.apps.sweeps.psa_points`
    of the posterior): the draw's figures and stored calibration, its patients
    simulated and counted.  The same dict as :func:`time_psa` (``calibration_seconds``
    0; ``ratio_to_goal`` against 10 s), plus ``posterior_sets``.
    """
    from hsctsim.apps import sweeps
    from hsctsim.apps.runner import landmark_days
    from hsctsim.model.scenario import load_scenario
    from hsctsim.sim.posterior import load_posterior

    scenario = load_scenario(arm)
    sample = load_posterior(scenario)
    config = sweeps.Settings(int(patients), seed, scenario.horizon_days,
                             landmark_days(scenario.horizon_days))
    points = sweeps.psa_points(n_draws + 1, sample)
    sweeps.run_point(scenario, points[-1], config, None, backend)  # warm-up: compiles
    done, seconds, cpu_seconds = _time_draws(
        lambda r: sweeps.run_point(scenario, points[r], config, None, backend), n_draws,
        max_seconds)
    return _figures(arm, patients, backend, done, seconds, cpu_seconds,
                    GOAL_POSTERIOR_SECONDS, posterior_sets=len(sample.values),
                    calibration_seconds=0.0)


def describe(fig):
    """One line per figure, saying what was measured and what extrapolated."""
    how = (f"extrapolated from {fig['draws']} draws" if fig["extrapolated"]
           else f"measured, {fig['draws']} draws")
    posterior = "posterior_sets" in fig
    goal = GOAL_POSTERIOR_SECONDS if posterior else GOAL_SECONDS
    what = (f"from a posterior of {fig['posterior_sets']} sets, no solve" if posterior else
            f"{fig['calibration_seconds'] / fig['seconds']:.0%} of it calibrating")
    return (f"PSA ({fig['backend']}): {fig['draws']} draws of {fig['patients']:,} {fig['arm']} "
            f"patients in {fig['seconds']:.1f} s ({fig['per_draw_s']:.3f} s a draw, {what}); "
            f"1,000 draws: {fig['extrapolated_1000_draws_s']:.1f} s ({how}) = "
            f"{fig['ratio_to_goal']:.2f}x the {goal:g} s goal; CPU time "
            f"{fig['cpu_seconds']:.1f} s, load average {fig['load_average_1min']:.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--patients", type=float, default=GOAL_PATIENTS)
    parser.add_argument("--backend", choices=("cpu", "cuda", "cpu-tables"), default="cpu",
                        help="cpu-tables: the CPU with hazard tables (engine/tables.py)")
    parser.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    parser.add_argument("--posterior", action="store_true",
                        help="draws from the arm's shipped posterior (no solve; goal 10 s)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    timer = time_posterior_psa if args.posterior else time_psa
    from hsctsim.engine.backend import Tabled  # hsctsim after the arguments, as above

    backend = Tabled() if args.backend == "cpu-tables" else args.backend
    fig = timer(args.draws, int(args.patients), backend)
    fig["backend"] = args.backend  # a name, for the JSON
    import numba

    fig["threads"] = numba.get_num_threads()
    print(describe(fig) + f" [{fig['threads']} numba threads]")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(fig, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
