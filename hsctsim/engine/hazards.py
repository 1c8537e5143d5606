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
LOGLOGISTIC    shape                 scale (days)
=============  ====================  ======================

Log-logistic: ``S0(s) = 1 / (1 + (s / scale)^shape)``, so ``H0(s) = log1p((s / scale)^shape)``.
"""

import math

import numpy as np
from numba import njit

from .jitcache import key_on_engine

__all__ = ["base_cumhaz", "base_inverse", "cumhaz", "cumhaz_dpi", "cure_cumhaz", "cure_target",
           "FAMILY_CODES", "inverse", "norm_ppf_lower", "piece_cumhaz", "piece_inverse"]

EXPONENTIAL, WEIBULL, LOGNORMAL, GOMPERTZ, PIECEWISE, FIXED, LOGLOGISTIC = 0, 1, 2, 3, 4, 5, 6
FAMILY_CODES = {
    "exponential": EXPONENTIAL,
    "weibull": WEIBULL,
    "lognormal": LOGNORMAL,
    "gompertz": GOMPERTZ,
    "piecewise": PIECEWISE,
    "fixed": FIXED,
    "loglogistic": LOGLOGISTIC,
}

_SQRT2 = math.sqrt(2.0)

# Wichura's AS241 (PPND16), relative error about 1e-16: the published coefficients
# of its central and two tail rational approximations, highest power first.
_CENTRAL_NUM = (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
                4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
                1.3314166789178437745e2, 3.3871328727963666080e0)
_CENTRAL_DEN = (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
                2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
                4.2313330701600911252e1, 1.0)
_NEAR_NUM = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
             1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
             4.63033784615654529590e0, 1.42343711074968357734e0)
_NEAR_DEN = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
             1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
             2.05319162663775882187e0, 1.0)
_FAR_NUM = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
            2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
            5.46378491116411436990e0, 6.65790464350110377720e0)
_FAR_DEN = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
            7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
            5.99832206555887937690e-1, 1.0)


@njit(cache=True)
def _horner(coef, x):
    total = 0.0
    for c in coef:
        total = total * x + c
    return total


@njit(cache=True)
def norm_ppf_lower(p):
    """Normal quantile for ``0 <= p <= 0.5`` (AS241, full double precision)."""
    if p <= 0.0:
        return -np.inf
    q = p - 0.5
    if q >= -0.425:
        r = 0.180625 - q * q
        return q * _horner(_CENTRAL_NUM, r) / _horner(_CENTRAL_DEN, r)
    r = math.sqrt(-math.log(p))
    if r <= 5.0:
        return -_horner(_NEAR_NUM, r - 1.6) / _horner(_NEAR_DEN, r - 1.6)
    return -_horner(_FAR_NUM, r - 5.0) / _horner(_FAR_DEN, r - 5.0)


@njit(cache=True)
def piece_cumhaz(start, rate, first, count, s):
    """Cumulative hazard at ``s`` of the pieces ``first .. first + count - 1``."""
    total = 0.0
    for j in range(first, first + count):
        lo = start[j]
        if s <= lo:
            break
        hi = start[j + 1] if j + 1 < first + count else np.inf
        total += rate[j] * (min(s, hi) - lo)
    return total


@njit(cache=True)
def piece_inverse(start, rate, first, count, y):
    """Smallest ``s`` with piecewise cumulative hazard ``>= y`` (inf if never)."""
    total = 0.0
    for j in range(first, first + count):
        hi = start[j + 1] if j + 1 < first + count else np.inf
        gain = rate[j] * (hi - start[j])
        if rate[j] > 0.0 and total + gain >= y:
            return start[j] + (y - total) / rate[j]
        total += gain
    return np.inf


@njit(cache=True)
def base_cumhaz(family, p0, p1, s):
    """Baseline cumulative hazard ``H0(s)`` of a parametric family at ``s`` days."""
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
    if family == LOGLOGISTIC:
        return math.log1p((s / p1) ** p0)
    # FIXED: left-continuous step at the day, so a process opened at its own day
    # (delay 0) still starts from zero and fires at once.
    return 0.0 if s <= p0 else np.inf


@njit(cache=True)
def base_inverse(family, p0, p1, y, f0):
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
        z = norm_ppf_lower(f0) if f0 <= 0.5 else -norm_ppf_lower(math.exp(-y))
        return math.exp(p0 + p1 * z)
    if family == GOMPERTZ:
        if p0 == 0.0:
            return y / p1
        arg = p0 * y / p1
        if arg <= -1.0:
            return np.inf
        return math.log1p(arg) / p0
    if family == LOGLOGISTIC:
        # (s / scale)^shape = e^y - 1: expm1 keeps small targets exact, and its log
        # is y + log1p(-e^-y) where e^y would overflow
        log_odds = math.log(math.expm1(y)) if y < 30.0 else y + math.log1p(-math.exp(-y))
        return p1 * math.exp(log_odds / p0)
    return p0


@njit(cache=True)
def cure_cumhaz(h0, pi):
    """``H`` of the mixture cure from the baseline ``H0`` (``pi`` susceptible)."""
    if pi == 1.0:
        return h0
    if pi <= 0.0:
        return 0.0
    return -math.log1p(pi * math.expm1(-h0))


@njit(cache=True)
def cure_target(y, pi):
    """The baseline ``(H0, F0)`` at which the mixture cure reaches ``H = y``.

    ``H0`` is inf when ``y`` is beyond the cure bound ``-log(1 - pi)``.
    """
    if pi == 1.0:
        return y, -math.expm1(-y)
    f0 = -math.expm1(-y) / pi if pi > 0.0 else np.inf
    if f0 >= 1.0:
        return np.inf, 1.0
    return -math.log1p(-f0), f0


@njit(cache=True)
def cumhaz(family, p0, p1, pi, s):
    """Cumulative hazard ``H(s)`` of a parametric process with ``pi`` susceptible."""
    if family == LOGNORMAL and 0.0 < pi < 1.0:
        # the hot case (most processes): straight from the cdf, two fewer calls
        if s <= 0.0:
            return 0.0
        f0 = 0.5 * math.erfc((p0 - math.log(s)) / (p1 * _SQRT2))
        return -math.log1p(-pi * f0)
    return cure_cumhaz(base_cumhaz(family, p0, p1, s), pi)


@njit(cache=True)
def inverse(family, p0, p1, pi, y):
    """Smallest ``s`` with ``H(s) >= y``; ``inf`` when ``y`` exceeds the cure bound."""
    if y <= 0.0:
        return 0.0
    if family == LOGNORMAL and 0.0 < pi < 1.0:
        target = -math.expm1(-y)
        f0 = target / pi
        if f0 >= 1.0:
            return np.inf
        z = norm_ppf_lower(f0) if f0 <= 0.5 else -norm_ppf_lower((pi - target) / pi)
        return math.exp(p0 + p1 * z)
    if pi == 1.0 and family != LOGNORMAL:
        # no cure fraction: H0 is y, and F0 (an expm1) is read by the log-normal only
        return base_inverse(family, p0, p1, y, 0.0)
    h0, f0 = cure_target(y, pi)
    return base_inverse(family, p0, p1, h0, f0)


@njit(cache=True)
def inverse_grid(family, p0, p1, pi, start, rate, top, out):
    """``out[k]``: the smallest ``s`` with ``H(s) >= k * top / (out.size - 1)``.

    For :func:`hsctsim.engine.processes.day_bounds`, in one call per process
    (piecewise: ``p0, p1`` are the first piece and the count in ``start, rate``).
    """
    steps = out.size - 1
    for k in range(steps + 1):
        y = k * top / steps
        if family == PIECEWISE:
            h0, _ = cure_target(y, pi)
            out[k] = piece_inverse(start, rate, int(p0), int(p1), h0)
        else:
            out[k] = inverse(family, p0, p1, pi, y)


@njit(cache=True)
def cumhaz_dpi(h0, pi):
    """Derivative of ``H`` with respect to ``pi``, from the baseline ``H0``."""
    f0 = -math.expm1(-h0)
    denom = 1.0 - pi * f0
    if denom <= 0.0:
        return np.inf
    return f0 / denom


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
