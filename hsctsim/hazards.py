"""Parametric baseline hazards with an optional cure fraction, as numba functions.

Every process has a baseline cumulative hazard ``H0(s)`` from one family and a
susceptible fraction ``pi`` (``1 - cure fraction``).  The cumulative hazard of the
process is that of the mixture-cure distribution ``F(s) = pi * F0(s)``::

    H(s) = -log(1 - pi * (1 - exp(-H0(s))))

which is bounded by ``-log(1 - pi)`` when ``pi < 1``: a patient whose exponential
budget exceeds that bound never has the event.  Proportional-hazards modifiers act
on ``H`` (the population hazard), the way reported hazard ratios are estimated.

Family parameters, columns of ``par`` (days):

=============  ====================  ======================
family         ``par[0]``            ``par[1]``
=============  ====================  ======================
EXPONENTIAL    rate per day          --
WEIBULL        shape                 scale (days)
LOGNORMAL      mu (log days)         sigma
GOMPERTZ       shape b per day       initial rate a per day
PIECEWISE      first piece index     number of pieces
FIXED          day                   --
=============  ====================  ======================
"""

import math

import numpy as np
from numba import njit

EXPONENTIAL, WEIBULL, LOGNORMAL, GOMPERTZ, PIECEWISE, FIXED = 0, 1, 2, 3, 4, 5
FAMILY_CODES = {
    "exponential": EXPONENTIAL,
    "weibull": WEIBULL,
    "lognormal": LOGNORMAL,
    "gompertz": GOMPERTZ,
    "piecewise": PIECEWISE,
    "fixed": FIXED,
}

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Acklam's rational approximation to the normal quantile (relative error 1.15e-9),
# refined below by Halley steps on erfc to full double precision.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)


@njit(cache=True)
def norm_ppf_lower(p):
    """Normal quantile for ``0 < p <= 0.5`` (lower tail, full precision)."""
    if p <= 0.0:
        return -np.inf
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / (
            ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    # one Halley step takes a 1e-9 relative error past double precision
    e = 0.5 * math.erfc(-x / _SQRT2) - p
    u = e / (_INV_SQRT_2PI * math.exp(-0.5 * x * x))
    return x - u / (1.0 + 0.5 * x * u)


@njit(cache=True)
def _piece_cumhaz(start, rate, first, count, s):
    """Cumulative hazard of a piecewise-constant hazard at ``s``."""
    total = 0.0
    for j in range(first, first + count):
        lo = start[j]
        if s <= lo:
            break
        hi = start[j + 1] if j + 1 < first + count else np.inf
        total += rate[j] * (min(s, hi) - lo)
    return total


@njit(cache=True)
def _piece_inverse(start, rate, first, count, y):
    """Smallest ``s`` with piecewise cumulative hazard ``>= y`` (inf if never)."""
    total = 0.0
    for j in range(first, first + count):
        hi = start[j + 1] if j + 1 < first + count else np.inf
        width = hi - start[j]
        gain = rate[j] * width
        if rate[j] > 0.0 and total + gain >= y:
            return start[j] + (y - total) / rate[j]
        total += gain
    return np.inf


@njit(cache=True)
def base_cumhaz(family, p0, p1, pw_start, pw_rate, s):
    """Baseline cumulative hazard ``H0(s)`` of one family at ``s >= 0`` days."""
    if s <= 0.0:
        return 0.0
    if family == EXPONENTIAL:
        return p0 * s
    if family == WEIBULL:
        return (s / p1) ** p0
    if family == LOGNORMAL:
        z = (math.log(s) - p0) / p1
        if z < 0.0:  # small hazard: log1p of the lower tail keeps its digits
            return -math.log1p(-0.5 * math.erfc(-z / _SQRT2))
        surv = 0.5 * math.erfc(z / _SQRT2)
        return -math.log(surv) if surv > 0.0 else np.inf
    if family == GOMPERTZ:
        if p0 == 0.0:
            return p1 * s
        return p1 / p0 * math.expm1(p0 * s)
    if family == PIECEWISE:
        return _piece_cumhaz(pw_start, pw_rate, int(p0), int(p1), s)
    # FIXED: left-continuous step at the day, so a process opened at its own day
    # (delay 0) still starts from zero and fires at once.
    return 0.0 if s <= p0 else np.inf


@njit(cache=True)
def base_inverse(family, p0, p1, pw_start, pw_rate, y, f0):
    """Smallest ``s`` with ``H0(s) >= y``; ``f0 = 1 - exp(-y)`` keeps precision."""
    if y <= 0.0:
        return 0.0
    if y == np.inf:
        return np.inf
    if family == EXPONENTIAL:
        return y / p0
    if family == WEIBULL:
        return p1 * y ** (1.0 / p0)
    if family == LOGNORMAL:
        if f0 <= 0.5:
            z = norm_ppf_lower(f0)
        else:
            z = -norm_ppf_lower(math.exp(-y))
        return math.exp(p0 + p1 * z)
    if family == GOMPERTZ:
        if p0 == 0.0:
            return y / p1
        arg = p0 * y / p1
        if arg <= -1.0:
            return np.inf
        return math.log1p(arg) / p0
    if family == PIECEWISE:
        return _piece_inverse(pw_start, pw_rate, int(p0), int(p1), y)
    return p0


@njit(cache=True)
def cumhaz(family, p0, p1, pi, pw_start, pw_rate, s):
    """Cumulative hazard ``H(s)`` of the mixture-cure process (``pi`` susceptible)."""
    if pi <= 0.0:
        return 0.0
    if family == LOGNORMAL and pi < 1.0:
        # the hot case (most processes): straight from the cdf, two fewer calls
        if s <= 0.0:
            return 0.0
        f0 = 0.5 * math.erfc((p0 - math.log(s)) / (p1 * _SQRT2))
        return -math.log1p(-pi * f0)
    h0 = base_cumhaz(family, p0, p1, pw_start, pw_rate, s)
    if pi == 1.0:
        return h0
    return -math.log1p(pi * math.expm1(-h0))


@njit(cache=True)
def cumhaz_dpi(family, p0, p1, pi, pw_start, pw_rate, s):
    """Derivative of ``H(s)`` with respect to ``pi`` (used by calibration)."""
    f0 = -math.expm1(-base_cumhaz(family, p0, p1, pw_start, pw_rate, s))
    denom = 1.0 - pi * f0
    if denom <= 0.0:
        return np.inf
    return f0 / denom


@njit(cache=True)
def inverse(family, p0, p1, pi, pw_start, pw_rate, y):
    """Smallest ``s`` with ``H(s) >= y``; ``inf`` when ``y`` exceeds the cure bound."""
    if y <= 0.0:
        return 0.0
    if pi == 1.0:
        return base_inverse(family, p0, p1, pw_start, pw_rate, y, -math.expm1(-y))
    if pi <= 0.0:
        return np.inf
    target = -math.expm1(-y)
    f0 = target / pi
    if f0 >= 1.0:
        return np.inf
    if family == LOGNORMAL:
        z = norm_ppf_lower(f0) if f0 <= 0.5 else -norm_ppf_lower((pi - target) / pi)
        return math.exp(p0 + p1 * z)
    return base_inverse(family, p0, p1, pw_start, pw_rate, -math.log1p(-f0), f0)
