"""PSA cost with posterior draws (issue 23): a draw should cost what its patients cost.

In one process, for the same number of draws and patients per draw, times:

* ``plain``: simulating and counting the patients at the arm's shipped calibration;
* ``posterior``: ``sweep --psa --draws posterior`` points (a posterior set with its
  stored calibration: no solve);
* ``ranges``: ``sweep --psa`` points as before (every figure drawn from its range,
  the draw calibrated afresh).

and prints the ratios to ``plain`` (the goal: posterior at most 2)::

    python benchmarks/posterior_psa_bench.py --draws 5 -n 20000

The posterior used is made first, untimed, by a small ``calibrate_arm`` (as many
sets as draws, from prior draws only: the cost of a draw does not depend on how
well the posterior was sampled).
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HSCTSIM_CACHE_DIR", tempfile.mkdtemp(prefix="hsctsim-bench-"))

from hsctsim.analysis.endpoints import Tally  # noqa: E402  (after the cache is set)
from hsctsim.apps import sweeps  # noqa: E402
from hsctsim.apps.runner import landmark_days  # noqa: E402
from hsctsim.model.calibrate import calibrate  # noqa: E402
from hsctsim.model.scenario import load_scenario  # noqa: E402
from hsctsim.sim.cohorts import count  # noqa: E402
from hsctsim.sim.posterior import PosteriorSample, calibrate_arm  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("-n", "--patients", type=int, default=20_000)
    parser.add_argument("--arm", default="ric")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.arm)
    post = calibrate_arm(scenario, n_sets=args.draws, n_patients=1000,
                         calibration_patients=10_000, n0=args.draws, max_iterations=0)
    sample = PosteriorSample(post.arm, post.keys, post.values, post.susceptible,
                             post.settings["fingerprint"], "")
    horizon = scenario.horizon_days
    settings = sweeps.Settings(args.patients, 1, horizon, landmark_days(horizon))
    mid = calibrate(scenario.at_midpoints())
    # warm-up: compile outside the timings
    sweeps.run_point(scenario, sweeps.psa_points(1, sample)[0], settings)

    def timed(fn):
        start = time.perf_counter()
        for r in range(args.draws):
            fn(r)
        return time.perf_counter() - start

    plain = timed(lambda r: count(scenario, args.patients, Tally(settings.days), 1,
                                  horizon_days=horizon, susceptible=mid))
    posterior_points = sweeps.psa_points(args.draws, sample)
    posterior = timed(lambda r: sweeps.run_point(scenario, posterior_points[r], settings))
    ranges_points = sweeps.psa_points(args.draws)
    ranges = timed(lambda r: sweeps.run_point(scenario, ranges_points[r], settings))
    print(json.dumps({"arm": args.arm, "draws": args.draws, "patients": args.patients,
                      "seconds": {"plain": plain, "posterior": posterior, "ranges": ranges},
                      "posterior_over_plain": posterior / plain,
                      "ranges_over_plain": ranges / plain}, indent=1))


if __name__ == "__main__":
    main()
