"""Cost-effectiveness summaries from per-patient costs and QALYs.

Means with Monte Carlo intervals per arm; paired increments against a reference
arm (arms simulated with the same seed share each patient's random numbers, so the
per-patient differences carry far less noise than two independent cohorts); the
ICER with Fieller's interval; net monetary benefit at given willingness-to-pay;
across replicates drawn from the reported ranges, the cost-effectiveness plane and
the acceptability curve (CEAC).  Accumulators take chunks, so memory stays flat.
"""

import math

import numpy as np

__all__ = ["ArmTally", "ceac", "fieller_interval", "icer", "MEASURES", "nmb_increment", "Z95"]

Z95 = 1.959963984540054
MEASURES = ("costs", "life_years", "qalys")


class ArmTally:
    """Running sums of one arm's per-patient values (and of its paired differences)."""

    def __init__(self):
        self.n = 0
        self.sum = dict.fromkeys(MEASURES, 0.0)
        self.sumsq = dict.fromkeys(MEASURES, 0.0)
        # paired differences against the reference arm
        self.dsum = dict.fromkeys(MEASURES, 0.0)
        self.dsumsq = dict.fromkeys(MEASURES, 0.0)
        self.dcross = 0.0  # sum of d_costs * d_qalys

    def add(self, values, reference=None):
        """Add a chunk's ``{measure: array}``; ``reference``: the same patients' values
        in the reference arm."""
        self.n += len(values["costs"])
        for m in MEASURES:
            x = np.asarray(values[m], float)
            self.sum[m] += float(x.sum())
            self.sumsq[m] += float(np.dot(x, x))
        if reference is not None:
            diff = {m: np.asarray(values[m], float) - np.asarray(reference[m], float)
                    for m in MEASURES}
            for m in MEASURES:
                self.dsum[m] += float(diff[m].sum())
                self.dsumsq[m] += float(np.dot(diff[m], diff[m]))
            self.dcross += float(np.dot(diff["costs"], diff["qalys"]))

    def mean(self, m):
        return self.sum[m] / self.n

    def _var_of_mean(self, total, total_sq):
        if self.n < 2:
            return math.nan
        mean = total / self.n
        return max(total_sq / self.n - mean * mean, 0.0) * self.n / (self.n - 1) / self.n

    def interval(self, m):
        """Mean and 95% Monte Carlo interval of measure ``m``."""
        mean = self.mean(m)
        half = Z95 * math.sqrt(self._var_of_mean(self.sum[m], self.sumsq[m]))
        return mean, (mean - half, mean + half)

    def increment(self, m):
        """Mean paired difference against the reference and its 95% interval."""
        mean = self.dsum[m] / self.n
        half = Z95 * math.sqrt(self._var_of_mean(self.dsum[m], self.dsumsq[m]))
        return mean, (mean - half, mean + half)

    def increment_cov(self):
        """Variances and covariance of the mean increments (costs, QALYs)."""
        n = self.n
        mc, mq = self.dsum["costs"] / n, self.dsum["qalys"] / n
        vc = self._var_of_mean(self.dsum["costs"], self.dsumsq["costs"])
        vq = self._var_of_mean(self.dsum["qalys"], self.dsumsq["qalys"])
        cov = (self.dcross / n - mc * mq) * n / (n - 1) / n if n > 1 else math.nan
        return mc, mq, vc, vq, cov


def fieller_interval(d_cost, d_qaly, var_cost, var_qaly, cov, z=Z95):
    """Fieller's interval of the ratio ``d_cost / d_qaly`` (the ICER).

    Returns ``(low, high)``, or None when the interval is unbounded (the QALY
    increment is not distinguishable from zero at this level).
    """
    a = d_qaly * d_qaly - z * z * var_qaly
    b = -2.0 * (d_cost * d_qaly - z * z * cov)
    c = d_cost * d_cost - z * z * var_cost
    disc = b * b - 4 * a * c
    if a <= 0 or disc < 0:
        return None
    root = math.sqrt(disc)
    return ((-b - root) / (2 * a), (-b + root) / (2 * a))


def nmb_increment(tally, wtp):
    """Incremental net monetary benefit ``wtp * dQALY - dcost`` with its 95% interval."""
    mc, mq, vc, vq, cov = tally.increment_cov()
    mean = wtp * mq - mc
    half = Z95 * math.sqrt(max(wtp * wtp * vq + vc - 2 * wtp * cov, 0.0))
    return mean, (mean - half, mean + half)


def icer(d_cost, d_qaly):
    """Incremental cost per QALY, or a word when a ratio would mislead."""
    if d_qaly > 0 and d_cost <= 0:
        return "dominant"       # more QALYs for less money
    if d_qaly < 0 and d_cost >= 0:
        return "dominated"
    if d_qaly == 0:
        return None
    return d_cost / d_qaly


def ceac(replicate_means, wtp_grid):
    """Probability that each arm has the highest net monetary benefit, by WTP.

    Parameters
    ----------
    replicate_means : dict of arm -> (costs array, qalys array) over replicates
    wtp_grid : 1-d array

    Returns
    -------
    dict of arm -> array over ``wtp_grid``
    """
    arms = list(replicate_means)
    costs = np.array([np.asarray(replicate_means[a][0], float) for a in arms])
    qalys = np.array([np.asarray(replicate_means[a][1], float) for a in arms])
    out = {}
    nmb = np.asarray(wtp_grid, float)[:, None, None] * qalys[None] - costs[None]
    best = np.argmax(nmb, axis=1)  # (wtp, replicate)
    for i, arm in enumerate(arms):
        out[arm] = (best == i).mean(axis=1)
    return out
