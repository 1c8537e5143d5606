"""Derive the level of death after relapse of an arm from one published survival figure.

The time from relapse to death is exponential (``[death_after_relapse] timing``); its
median sets the level, any ``by_relapse_day`` ratios the spread between relapse days.
This script finds the median for which the calibrated model gives a published figure,
by bisection on the median:

``--measure os``
    overall survival at ``--day`` days from transplant (``auto_myeloma``: 80.7% at 5
    years in the transplantation arm of DETERMINATION, N Engl J Med 2022;387:132);
``--measure post_relapse``
    survival ``--day`` days after relapse, among patients whose relapse leaves that
    much follow-up (``auto_lymphoma``: the median 10.0 months after relapse of CORAL,
    Bone Marrow Transplant 2017;52:216, so 50% at 304 days).

The result goes into ``[death_after_relapse] timing`` of the arm's config, with this
script named as its derivation.

    python tools/post_relapse_level.py auto_myeloma 0.807 --measure os --day 1826
    python tools/post_relapse_level.py auto_lymphoma 0.5 --measure post_relapse --day 304
"""

import argparse

import numpy as np

from hsctsim.api import simulate
from hsctsim.model.scenario import load_scenario, set_value


def survival(arm, median_day, measure, day, n_patients, seed, horizon_days):
    """The figure's simulated value with death after relapse exponential(median_day)."""
    timing = f'{{ family = "exponential", median_day = {median_day:.6g} }}'
    scenario = set_value(load_scenario(arm), "death_after_relapse.timing", timing)
    cohort = simulate(scenario, n_patients, seed, horizon_days=horizon_days,
                      interventions=False)
    if measure == "os":
        return (cohort.death_day > day).mean()
    relapse = cohort.day("relapse")
    followed = relapse <= horizon_days - day
    return (cohort.death_day[followed] > relapse[followed] + day).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arm")
    parser.add_argument("target", type=float, help="the published survival")
    parser.add_argument("--measure", choices=("os", "post_relapse"), default="os")
    parser.add_argument("--day", type=float, required=True)
    parser.add_argument("--horizon", type=float, default=1826.0)
    parser.add_argument("--low", type=float, default=30.0)
    parser.add_argument("--high", type=float, default=10000.0)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20251121)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    low, high = args.low, args.high
    # survival rises as the median after relapse moves later
    for _ in range(args.steps):
        mid = float(np.sqrt(low * high))
        s = survival(args.arm, mid, args.measure, args.day, args.patients, args.seed,
                     max(args.horizon, args.day))
        print(f"median_day {mid:8.1f}: {args.measure} at day {args.day:g} = {s:.4f}",
              flush=True)
        if s < args.target:
            low = mid
        else:
            high = mid
    print(f"median_day = {np.sqrt(low * high):.0f}")


if __name__ == "__main__":
    main()
