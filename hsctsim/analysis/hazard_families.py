"""Parametric hazard families for maximum-likelihood fitting.

Each family gives, on an unconstrained parameter vector ``theta``, the log hazard
``log h(t)`` and the cumulative hazard ``H(t)`` at an array of times, with their
derivatives in ``theta`` (analytic, so that the optimiser and the numerical Hessian
of :mod:`hsctsim.analysis.fit` work on exact gradients). The parametrisations
(log shape, log scale, ...) make every real vector a valid distribution.

Times are in whatever unit the caller uses; :func:`rescale` moves a parameter vector
between time units (a linear map, so covariances move with its diagonal Jacobian).
The definitions match :mod:`hsctsim.model.timing` and the engine: Weibull
``H = (t/scale)^shape``, Gompertz ``h = rate exp(shape t)``, log-normal with median
``exp(mu)`` and ``sigma``, log-logistic ``S = 1/(1 + (t/scale)^shape)``.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_ndtr, ndtri

__all__ = ["FAMILIES", "Family"]

FAMILIES = ("exponential", "weibull", "gompertz", "lognormal", "loglogistic", "piecewise")
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class Family:
    """A hazard family; ``breaks`` (interval starts, first 0) only for piecewise."""

    name: str
    breaks: tuple = ()

    @property
    def param_names(self):
        """Names of the entries of ``theta`` (time in days)."""
        return {
            "exponential": ("log_rate_per_day",),
            "weibull": ("log_shape", "log_scale_day"),
            "gompertz": ("shape_per_day", "log_rate_per_day"),
            "lognormal": ("log_median_day", "log_sigma"),
            "loglogistic": ("log_shape", "log_scale_day"),
        }.get(self.name) or tuple(f"log_rate_per_day_{i}" for i in range(len(self.breaks)))

    @property
    def n_params(self):
        return len(self.param_names)

    def start(self, rate):
        """A starting point: the distribution closest to a constant hazard ``rate``."""
        lr = np.log(rate)
        return np.array({
            "exponential": [lr],
            "weibull": [0.0, -lr],
            "gompertz": [0.0, lr],
            "lognormal": [-lr, 0.0],   # median 1/rate, sigma 1
            "loglogistic": [0.0, -lr],
        }.get(self.name) or [lr] * len(self.breaks), dtype=float)

    def evaluate(self, theta, t):
        """``log h(t)``, ``H(t)`` and their gradients in ``theta``.

        Parameters
        ----------
        theta : ndarray, shape (p,)
        t : ndarray, shape (n,)
            Times >= 0. ``log h`` is only meaningful where ``t > 0``.

        Returns
        -------
        log_h, cumhaz : ndarray, shape (n,)
        d_log_h, d_cumhaz : ndarray, shape (n, p)
        """
        return _EVALUATE[self.name](self, np.asarray(theta, float), np.asarray(t, float))

    def cumhaz(self, theta, t):
        """``H(t)`` only."""
        return self.evaluate(theta, t)[1]

    def inverse_cumhaz(self, theta, y):
        """The time ``t`` with ``H(t) = y`` (``inf`` where never reached); for simulation."""
        return _INVERSE[self.name](self, np.asarray(theta, float), np.asarray(y, float))

    def rescale(self, theta, factor):
        """Parameters for times measured in units ``factor`` times smaller.

        ``theta`` fitted to times ``t / factor`` describes times ``t`` with the returned
        vector. Returns ``(theta_new, jacobian_diagonal)``.
        """
        theta = np.asarray(theta, float)
        lf = np.log(factor)
        if self.name == "gompertz":
            return np.array([theta[0] / factor, theta[1] - lf]), np.array([1.0 / factor, 1.0])
        shift = {"exponential": [-lf], "weibull": [0.0, lf], "lognormal": [lf, 0.0],
                 "loglogistic": [0.0, lf]}.get(self.name) or [-lf] * len(self.breaks)
        return theta + np.array(shift), np.ones(theta.size)

    def timing(self, theta):
        """The scenario timing table (:mod:`hsctsim.model.timing` keys), time in days."""
        th = [float(v) for v in theta]
        if self.name == "exponential":
            return {"family": "exponential", "rate_per_day": float(np.exp(th[0]))}
        if self.name in ("weibull", "loglogistic"):
            return {"family": self.name, "shape": float(np.exp(th[0])),
                    "scale_day": float(np.exp(th[1]))}
        if self.name == "gompertz":
            return {"family": "gompertz", "shape": th[0], "rate_per_day": float(np.exp(th[1]))}
        if self.name == "lognormal":
            return {"family": "lognormal", "median_day": float(np.exp(th[0])),
                    "sigma": float(np.exp(th[1]))}
        return {"family": "piecewise", "breaks_day": [float(b) for b in self.breaks],
                "rates_per_day": [float(np.exp(v)) for v in th]}


def _safe_log(t):
    """log t where t > 0, 0 elsewhere (callers zero those terms)."""
    pos = t > 0
    return np.log(np.where(pos, t, 1.0)), pos


def _exponential(fam, th, t):
    n = t.size
    rate = np.exp(th[0])
    return (np.full(n, th[0]), rate * t, np.ones((n, 1)), (rate * t)[:, None])


def _weibull(fam, th, t):
    k = np.exp(th[0])
    lt, pos = _safe_log(t)
    u = lt - th[1]
    H = np.where(pos, np.exp(k * u), 0.0)
    log_h = th[0] - th[1] + (k - 1.0) * u
    d_log_h = np.stack([1.0 + k * u, np.full(t.size, -k)], axis=1)
    d_H = np.stack([np.where(pos, H * k * u, 0.0), -k * H], axis=1)
    return log_h, H, d_log_h, d_H


def _expm1_over(z):
    """``expm1(z) / z`` and its derivative in z, accurate near 0."""
    small = np.abs(z) < 1e-5
    zs = np.where(small, 1.0, z)
    g = np.where(small, 1.0 + z / 2.0 + z * z / 6.0, np.expm1(zs) / zs)
    dg = np.where(small, 0.5 + z / 3.0, (np.exp(zs) * zs - np.expm1(zs)) / (zs * zs))
    return g, dg


def _gompertz(fam, th, t):
    b, a = th[0], np.exp(th[1])
    g, dg = _expm1_over(b * t)
    H = a * t * g                       # a (exp(b t) - 1) / b, and a t at b = 0
    log_h = th[1] + b * t
    d_log_h = np.stack([t, np.ones(t.size)], axis=1)
    d_H = np.stack([a * t * t * dg, H], axis=1)
    return log_h, H, d_log_h, d_H


def _lognormal(fam, th, t):
    mu, sigma = th[0], np.exp(th[1])
    lt, pos = _safe_log(t)
    z = np.where(pos, (lt - mu) / sigma, -np.inf)
    zf = np.where(pos, z, 0.0)
    log_s = log_ndtr(-z)                # log S(t); 0 at t = 0
    H = -log_s
    log_phi = -0.5 * zf * zf - _LOG_SQRT_2PI
    mills = np.where(pos, np.exp(log_phi - log_s), 0.0)   # phi(z) / S, dH/dz
    log_h = log_phi - th[1] - lt - log_s
    dz_dmu, dz_dls = -1.0 / sigma, -zf
    slope = -zf + mills                 # d log h / dz (apart from the -log sigma term)
    d_log_h = np.stack([slope * dz_dmu, slope * dz_dls - 1.0], axis=1)
    d_H = np.stack([mills * dz_dmu, mills * dz_dls], axis=1)
    return log_h, H, d_log_h, d_H


def _loglogistic(fam, th, t):
    k = np.exp(th[0])
    lt, pos = _safe_log(t)
    u = lt - th[1]
    w = np.where(pos, k * u, -np.inf)
    wf = np.where(pos, w, 0.0)
    H = np.logaddexp(0.0, w)            # log(1 + (t/scale)^shape)
    q = expit(w)                        # dH/dw
    log_h = th[0] - th[1] + (k - 1.0) * u - H
    d_log_h = np.stack([1.0 + k * u - q * wf, -k * (1.0 - q)], axis=1)
    d_H = np.stack([q * wf, -k * q], axis=1)
    return log_h, H, d_log_h, d_H


def _exposure(breaks, t):
    """Time spent in each piece up to t, shape (n, pieces)."""
    starts = np.asarray(breaks, float)
    ends = np.r_[starts[1:], np.inf]
    return np.clip(t[:, None] - starts[None, :], 0.0, ends - starts)


def _piece(breaks, t):
    return np.clip(np.searchsorted(np.asarray(breaks, float), t, "right") - 1, 0, len(breaks) - 1)


def _piecewise(fam, th, t):
    rates = np.exp(th)
    e = _exposure(fam.breaks, t)
    d_H = e * rates[None, :]
    j = _piece(fam.breaks, t)
    d_log_h = np.zeros((t.size, th.size))
    d_log_h[np.arange(t.size), j] = 1.0
    return th[j], d_H.sum(axis=1), d_log_h, d_H


_EVALUATE = {"exponential": _exponential, "weibull": _weibull, "gompertz": _gompertz,
             "lognormal": _lognormal, "loglogistic": _loglogistic, "piecewise": _piecewise}


def _inv_piecewise(fam, th, y):
    starts = np.asarray(fam.breaks, float)
    rates = np.exp(th)
    widths = np.r_[np.diff(starts), np.inf]
    cum = np.r_[0.0, np.cumsum(rates[:-1] * widths[:-1])]   # H at each start
    j = np.clip(np.searchsorted(cum, y, "right") - 1, 0, starts.size - 1)
    return starts[j] + (y - cum[j]) / rates[j]


def _inv_gompertz(fam, th, y):
    b, a = th[0], np.exp(th[1])
    if b == 0.0:
        return y / a
    arg = b * y / a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(arg > -1.0, np.log1p(np.maximum(arg, -1.0)) / b, np.inf)


_INVERSE = {
    "exponential": lambda f, th, y: y / np.exp(th[0]),
    "weibull": lambda f, th, y: np.exp(th[1]) * y ** (1.0 / np.exp(th[0])),
    "gompertz": _inv_gompertz,
    "lognormal": lambda f, th, y: np.exp(th[0] - np.exp(th[1]) * ndtri(np.exp(-y))),
    "loglogistic": lambda f, th, y: np.exp(th[1]) * np.expm1(y) ** (1.0 / np.exp(th[0])),
    "piecewise": _inv_piecewise,
}
