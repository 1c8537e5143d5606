"""A plain-Python reference of the engine, written apart from the kernel.

Slow and obvious: pure ``math`` hazards, Python integers for the random
streams, and a first-reaction loop that keeps each process's unspent budget and
recomputes every candidate time at every step (the kernel keeps target
cumulative hazards instead).  For the same seed it gives the kernel's cohort to
rounding, which the tests check.  Also the baseline the benchmarks compare with.
"""

import math
from statistics import NormalDist

from .hazards import EXPONENTIAL, GOMPERTZ, LOGLOGISTIC, LOGNORMAL, PIECEWISE, WEIBULL

__all__ = ["simulate", "simulate_patient"]

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
_NORMAL = NormalDist()


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class _Stream:
    def __init__(self, key, patient):
        self.state = _mix((int(key) + patient * _GOLDEN) & _MASK)

    def exponential(self):
        self.state = (self.state + _GOLDEN) & _MASK
        return -math.log(((_mix(self.state) >> 11) + 0.5) * 2.0**-53)


class _Hazard:
    """Cumulative hazard of one process and its inverse, in plain Python."""

    def __init__(self, eng, q):
        self.family = int(eng.family[q])
        self.p0, self.p1 = float(eng.par[q, 0]), float(eng.par[q, 1])
        self.pi = float(eng.susceptible[q])
        if self.family == PIECEWISE:
            first, count = int(self.p0), int(self.p1)
            self.starts = [float(x) for x in eng.pw_start[first:first + count]]
            self.rates = [float(x) for x in eng.pw_rate[first:first + count]]

    def _base(self, s):
        if s <= 0:
            return 0.0
        f, a, b = self.family, self.p0, self.p1
        if f == EXPONENTIAL:
            return a * s
        if f == WEIBULL:
            return (s / b) ** a
        if f == LOGNORMAL:
            z = (math.log(s) - a) / b
            if z < 0:
                return -math.log1p(-_NORMAL.cdf(z))
            sf = _NORMAL.cdf(-z)
            return -math.log(sf) if sf > 0 else math.inf
        if f == GOMPERTZ:
            return b * s if a == 0 else b / a * (math.exp(a * s) - 1.0)
        if f == LOGLOGISTIC:  # S0 = 1 / (1 + (s / b)^a)
            return math.log(1.0 + (s / b) ** a)
        if f == PIECEWISE:
            ends = self.starts[1:] + [math.inf]
            return sum(r * (min(s, e) - lo) for lo, e, r in zip(self.starts, ends, self.rates)
                       if s > lo)
        return 0.0 if s <= a else math.inf

    def _base_inverse(self, h):
        f, a, b = self.family, self.p0, self.p1
        if f == EXPONENTIAL:
            return h / a
        if f == WEIBULL:
            return b * h ** (1.0 / a)
        if f == LOGNORMAL:
            return math.exp(a + b * _NORMAL.inv_cdf(-math.expm1(-h)))
        if f == GOMPERTZ:
            if a == 0:
                return h / b
            arg = 1.0 + a * h / b
            return math.log(arg) / a if arg > 0 else math.inf
        if f == LOGLOGISTIC:
            log_odds = math.log(math.expm1(h)) if h < 30 else h + math.log1p(-math.exp(-h))
            return b * math.exp(log_odds / a)
        if f == PIECEWISE:
            total = 0.0
            ends = self.starts[1:] + [math.inf]
            for lo, e, r in zip(self.starts, ends, self.rates):
                if r > 0 and total + r * (e - lo) >= h:
                    return lo + (h - total) / r
                total += r * (e - lo)
            return math.inf
        return a

    def cumhaz(self, s):
        h0 = self._base(s)
        if self.pi == 1.0:
            return h0
        if self.pi == 0.0 or h0 == 0.0:
            return 0.0
        return -math.log(1.0 - self.pi * (1.0 - math.exp(-h0)))

    def inverse(self, y):
        if y == math.inf:  # e.g. a fixed day already past when the process opened
            return math.inf
        if self.pi == 1.0:
            return self._base_inverse(y)
        f0 = (1.0 - math.exp(-y)) / self.pi if self.pi > 0 else math.inf
        if f0 >= 1.0:
            return math.inf
        return self._base_inverse(-math.log(1.0 - f0))


def simulate_patient(eng, key, patient, horizon):
    """Event days of one patient (list, ``inf`` where none), as the kernel defines them."""
    n = len(eng.family)
    hz = [_Hazard(eng, q) for q in range(n)]
    rng = _Stream(key, patient)
    out = [math.inf] * n
    is_open = [False] * n
    done = [False] * n
    mult = [1.0] * n
    origin = [0.0] * n
    budget = [0.0] * n  # unspent exponential budget, in units of multiplied hazard

    def open_process(q, t):
        factor = 1.0
        for day, f in zip(eng.entry_day[q], eng.entry_mult[q]):
            if day <= t:
                factor = float(f)
        mult[q] *= factor
        is_open[q] = True
        origin[q] = t if eng.clock_reset[q] else 0.0
        budget[q] = rng.exponential() if eng.susceptible[q] > 0 else math.inf

    for q in range(n):
        if eng.at_start[q] and eng.enabled[q]:
            open_process(q, 0.0)
    t = 0.0
    while True:
        best, t_best = -1, math.inf
        for q in range(n):
            if is_open[q] and not done[q] and budget[q] < math.inf:
                h = hz[q].cumhaz(t - origin[q])
                cand = origin[q] + hz[q].inverse(h + budget[q] / mult[q])
                if cand < t_best:
                    best, t_best = q, cand
        if best < 0 or t_best > horizon:
            return out
        for q in range(n):
            if is_open[q] and not done[q] and q != best and budget[q] < math.inf:
                spent = hz[q].cumhaz(t_best - origin[q]) - hz[q].cumhaz(t - origin[q])
                budget[q] = max(budget[q] - mult[q] * spent, 0.0)
        t = t_best
        out[best] = t
        done[best] = True
        if eng.terminal[best]:
            return out
        for q in range(n):
            if q == best:
                continue
            if not done[q] and eng.closes[best, q]:
                done[q] = True
            else:
                mult[q] *= float(eng.mult[best, q])
        for q in range(n):
            if not is_open[q] and not done[q] and eng.opens[best, q] and eng.enabled[q]:
                open_process(q, t)


def simulate(eng, key, n_patients, horizon, first_patient=0):
    """Event days of ``n_patients`` patients, a list of lists (n_patients, n_processes)."""
    return [simulate_patient(eng, key, first_patient + i, horizon) for i in range(n_patients)]
