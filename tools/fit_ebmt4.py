"""Fit the Weibull transition hazards of hesim's ebmt4 benchmark model (for configs/ebmt4.toml).

hesim's semi-Markov benchmark (vignettes/benchmarks.R of hesim) fits, for each of the
12 transitions of the EBMT ebmt4 data (mstate), a Weibull model of the time since
entering the state (clock reset) with covariates match + proph + year + agecl
(flexsurv's parametrisation: the covariates act on log scale), and simulates patients
with the covariates of patient 2 (no gender mismatch, no prophylaxis, 1995-1998,
age 20-40).  This script does the same fit by maximum likelihood with scipy and
prints shape and scale (days) per transition at patient 2's covariates.

The data: mstate's ebmt4 in msprep's long layout, e.g. ``ebmt_long.csv`` shipped in
the PyPI package pymsm (``pip download pymsm==0.1.7 --no-deps`` and unzip
``pymsm/datasets/ebmt_long.csv``).

    python tools/fit_ebmt4.py path/to/ebmt_long.csv
"""

import csv
import math
import sys

import numpy as np
from scipy.optimize import minimize

STATES = ("transplant", "recovery", "adverse_event", "recovery_ae", "relapse", "death")
LEVELS = {  # R factor levels, reference first (as mstate's ebmt4)
    "match": ("no gender mismatch", "gender mismatch"),
    "proph": ("no", "yes"),
    "year": ("1985-1989", "1990-1994", "1995-1998"),
    "agecl": ("<=20", "20-40", ">40"),
}
PATIENT_2 = {"match": "no gender mismatch", "proph": "no", "year": "1995-1998",
             "agecl": "20-40"}


def design(row):
    """Dummy columns (treatment contrasts, as R's default)."""
    return [1.0] + [float(row[c] == lv) for c, levels in LEVELS.items() for lv in levels[1:]]


def fit_weibull(time, status, x):
    """Weibull AFT MLE: H(t) = (t / exp(x b))^shape.  Returns (shape, b, covariance)."""
    def nll(theta):
        log_shape, b = theta[0], theta[1:]
        shape = math.exp(log_shape)
        log_scale = x @ b
        z = shape * (np.log(time) - log_scale)
        log_h = log_shape - log_scale + (shape - 1.0) * (np.log(time) - log_scale)
        return -(np.sum(status * log_h) - np.sum(np.exp(z)))

    start = np.zeros(1 + x.shape[1])
    start[1] = math.log(np.mean(time))
    res = minimize(nll, start, method="BFGS", options={"gtol": 1e-8, "maxiter": 10_000})
    res = minimize(nll, res.x, method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000})
    return math.exp(res.x[0]), res.x[1:], res


def main(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_trans = {}
    for r in rows:
        by_trans.setdefault(int(r["trans"]), []).append(r)
    x2 = np.array(design(PATIENT_2))
    for trans in sorted(by_trans):
        rs = by_trans[trans]
        time = np.array([float(r["Tstop"]) - float(r["Tstart"]) for r in rs])
        status = np.array([float(r["status"]) for r in rs])
        keep = time > 0  # flexsurv drops zero times as well
        x = np.array([design(r) for r in rs])[keep]
        shape, b, res = fit_weibull(time[keep], status[keep], x)
        scale = math.exp(x2 @ b)
        src, dst = STATES[int(rs[0]["from"]) - 1], STATES[int(rs[0]["to"]) - 1]
        print(f"trans {trans:2d} {src:>13} -> {dst:<13} events {int(status.sum()):4d} "
              f"dropped {int((~keep).sum())} shape {shape:.4f} scale_day {scale:.1f} "
              f"(log-lik {-res.fun:.2f})")


if __name__ == "__main__":
    main(sys.argv[1])
