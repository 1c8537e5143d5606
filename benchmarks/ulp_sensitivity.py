"""How often a few ulps of libm rounding change a patient's course (no GPU needed).

The GPU's ``log``, ``erfc``, ``expm1``... (CUDA's libdevice) round differently from
the host's libm, by a few units in the last place.  This script runs the kernel as
plain Python (``NUMBA_DISABLE_JIT=1``) twice over the same patients: once as it is,
once with every result of the ``math`` functions the hazards and the kernel call
multiplied by ``1 + u``, ``|u| <= ULPS * 2**-53`` at random; and counts the patients
whose event days differ by more than 1e-12 relative, whose events come in another
order, or who have other events.  An estimate of what to expect on a GPU, not a
measurement of one: ``**`` (Weibull, as in ebmt4) is not perturbed, and a device's errors are
not uniform.

    python benchmarks/ulp_sensitivity.py [PATIENTS] [ULPS ...]
"""

import os
import sys

os.environ["NUMBA_DISABLE_JIT"] = "1"  # before numba is imported

import math  # noqa: E402

import numpy as np  # noqa: E402

from gpu_bench import ebmt4_engine  # noqa: E402
from hsctsim.sim import prepare as _prepare  # noqa: E402
from hsctsim.engine import hazards, kernel  # noqa: E402

PERTURBED = ("log", "log1p", "exp", "expm1", "erfc", "sqrt")
REL = 1e-12


class NoisyMath:
    """The ``math`` module with its results off by up to ``ulps`` units in the last place."""

    def __init__(self, ulps, seed):
        self.ulps, self.rng = ulps, np.random.default_rng(seed)

    def __getattr__(self, name):
        exact = getattr(math, name)
        if name not in PERTURBED:
            return exact

        def noisy(*args):
            value = exact(*args)
            return value * (1.0 + self.ulps * 2.0**-53 * self.rng.uniform(-1.0, 1.0))

        return noisy


def _simulate(eng, key, horizon, n, module):
    hazards.math = kernel.math = module
    out = np.empty((n, eng.family.shape[0]))
    kernel.simulate_into(eng, key, 0, horizon, out)
    return out


def compare(exact, noisy):
    """Shares of patients: other events, other order, any difference beyond REL."""
    same_events = (np.isinf(exact) == np.isinf(noisy)).all(axis=1)
    finite = np.isfinite(exact) & np.isfinite(noisy)
    rel = np.zeros_like(exact)
    rel[finite] = np.abs(noisy[finite] - exact[finite]) / np.abs(exact[finite]).clip(1e-300)
    order = (np.argsort(exact, axis=1, kind="stable")
             == np.argsort(noisy, axis=1, kind="stable")).all(axis=1)
    beyond = ~same_events | ~order | (rel > REL).any(axis=1)
    return 1 - same_events.mean(), 1 - order.mean(), beyond.mean(), rel[finite].max()


def main(argv):
    n = int(argv[0]) if argv else 2000
    ulps_list = [float(u) for u in argv[1:]] or [2.0, 8.0]
    _, horizon, _, eng, key = _prepare("ric", 1, 1, None, None, True, None)
    models = {"ric": (eng, key, horizon),
              "ebmt4": ebmt4_engine(1)}
    print(f"{n} patients; shares of patients (other events / other order / beyond {REL:g}), "
          "largest relative difference")
    for label, (e, k, h) in models.items():
        exact = _simulate(e, k, h, n, math)
        for ulps in ulps_list:
            shares = compare(exact, _simulate(e, k, h, n, NoisyMath(ulps, seed=7)))
            print(f"{label:10s} {ulps:g} ulps: {shares[0]:.2%} / {shares[1]:.2%} / "
                  f"{shares[2]:.2%}, {shares[3]:.1e}")
    hazards.math = kernel.math = math


if __name__ == "__main__":
    main(sys.argv[1:])
