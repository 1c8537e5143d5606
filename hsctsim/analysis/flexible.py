"""Flexible hazard families for fitting real transplant data.

Beside the two-parameter families of :mod:`hsctsim.analysis.hazard_families`:

``spline<m>``
    Royston-Parmar flexible parametric model: the log cumulative hazard is a natural
    cubic spline in log time, ``log H(t) = s(log t)``, with ``m`` internal knots at
    equally spaced centiles of the log event times and boundary knots at the first and
    last event (Royston & Parmar, Stat Med 2002;21:2175; the basis as their eq. 3). The
    spline is linear in log time outside the boundary knots (a Weibull tail).
``gengamma``
    Generalized gamma in Prentice's (1974) parametrisation ``mu, sigma, Q`` (log-normal
    at ``Q = 0``, Weibull at ``Q = 1``, gamma at ``Q = sigma``), as flexsurv's
    ``gengamma``; its survival function from the regularized incomplete gamma
    function of scipy.
``<family>-cure``
    Mixture cure of any family: ``S(t) = 1 - pi F0(t)``, ``pi`` the susceptible
    fraction. Covariates act proportionally on the population cumulative hazard
    ``H = -log(1 - pi F0)``, as the engine applies them (:mod:`hsctsim.engine.hazards`).
``piecewise``
    Piecewise-constant hazard with pieces that hold no event allowed: such a piece
    gets rate 0 (its maximum-likelihood estimate) or is pooled with the piece before.

Every family has the interface of :class:`hsctsim.analysis.hazard_families.Family`
used by the likelihood of :mod:`hsctsim.analysis.fit`: ``n_params``, ``param_names``
and ``evaluate(theta, t) -> (log h, H, d log h, d H)`` (times in days).

The engine has no spline or generalized gamma hazard: :func:`engine_timing` exports
those as a piecewise-constant hazard on a fine grid whose cumulative hazard equals
the fitted one at every grid point (:data:`GRID_POINTS` log-spaced points up to the
horizon); the fit's report and scenario say so.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammainc, gammaincc, gammaln, log_ndtr

from .hazard_families import FAMILIES as BASIC, Family

__all__ = ["auto_breaks", "Basic", "build", "cumhaz", "Cure", "engine_timing", "family_names",
           "from_spec", "GenGamma", "GRID_POINTS", "is_extended",
           "model_from_spec", "nelson_aalen", "parse_family", "Piecewise", "piecewise_for",
           "Spline", "SPLINE_KNOTS", "spline_knots", "start_for"]

GRID_POINTS = 120          # pieces of an exported spline / generalized gamma hazard
SPLINE_KNOTS = (1, 2, 3)   # internal knots tried by default
_TINY = 1e-300
_BASIS_CACHE = {}


# ------------------------------------------------------------------ splines
def spline_knots(event_times, m):
    """Knots (log days) of an ``m``-internal-knot spline: boundaries at the first and
    last event, internal ones at equally spaced centiles of the log event times."""
    x = np.log(np.asarray(event_times, float)[np.asarray(event_times) > 0])
    if x.size == 0:
        raise ValueError("no event after time 0")
    inner = np.quantile(x, np.arange(1, m + 1) / (m + 1)) if m else np.array([])
    knots = np.r_[x.min(), inner, x.max()]
    if np.any(np.diff(knots) <= 0):
        raise ValueError(f"{m} internal knots do not fit between the event times "
                         "(too few distinct event times)")
    return tuple(float(k) for k in knots)


def _spline_basis(knots, x):
    """Basis and its derivative in x: 1, x, then one column per internal knot."""
    k = np.asarray(knots, float)
    kmin, kmax = k[0], k[-1]
    width3 = (kmax - kmin) ** 3           # scales the cubic columns to O(1)
    cols, dcols = [np.ones_like(x), x], [np.zeros_like(x), np.ones_like(x)]
    for kj in k[1:-1]:
        lam = (kmax - kj) / (kmax - kmin)
        a, b, c = (np.clip(x - kj, 0, None), np.clip(x - kmin, 0, None),
                   np.clip(x - kmax, 0, None))
        cols.append((a ** 3 - lam * b ** 3 - (1 - lam) * c ** 3) / width3)
        dcols.append(3 * (a ** 2 - lam * b ** 2 - (1 - lam) * c ** 2) / width3)
    return np.stack(cols, axis=1), np.stack(dcols, axis=1)


@dataclass(frozen=True)
class Spline:
    """Royston-Parmar spline on the log cumulative hazard (``knots`` in log days)."""

    knots: tuple

    @property
    def name(self):
        return f"spline{len(self.knots) - 2}"

    @property
    def param_names(self):
        return tuple(f"gamma{i}" for i in range(len(self.knots)))

    @property
    def n_params(self):
        return len(self.knots)

    def evaluate(self, theta, t):
        t = np.asarray(t, float)
        pos = t > 0
        x = np.log(np.where(pos, t, 1.0))
        # the optimiser evaluates the same times again and again: keep their basis
        key = (self.knots, t.size, float(t.sum()), float(t[:1].sum()), float(t[-1:].sum()))
        if key not in _BASIS_CACHE:
            if len(_BASIS_CACHE) > 8:
                _BASIS_CACHE.clear()
            _BASIS_CACHE[key] = _spline_basis(self.knots, x)
        B, dB = _BASIS_CACHE[key]
        s, ds = B @ theta, dB @ theta
        H = np.where(pos, np.exp(np.minimum(s, 700.0)), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_ds = np.where(ds > 0, np.log(np.where(ds > 0, ds, 1.0)), -np.inf)
            log_h = s + log_ds - x
            d_log_h = B + dB / np.where(ds > 0, ds, np.nan)[:, None]
        d_H = H[:, None] * B * pos[:, None]
        return log_h, H, d_log_h, d_H

    def start(self, rows):
        """Least squares of the log Nelson-Aalen cumulative hazard on the basis."""
        times, cum = nelson_aalen(rows)
        keep = cum > 0
        B, _ = _spline_basis(self.knots, np.log(times[keep]))
        theta = np.linalg.lstsq(B, np.log(cum[keep]), rcond=None)[0]
        x = np.log(times[keep])
        _, dB = _spline_basis(self.knots, np.r_[x, x.max() + 5.0])
        if np.all(dB @ theta > 0):
            return theta
        # a start that is not increasing everywhere: the Weibull line through the data
        line = np.linalg.lstsq(B[:, :2], np.log(cum[keep]), rcond=None)[0]
        if line[1] <= 0.05:
            line = np.array([np.log(cum[keep][-1]) - x[-1], 1.0])
        return np.r_[line, np.zeros(self.n_params - 2)]


def nelson_aalen(rows):
    """Nelson-Aalen cumulative hazard at the event times of ``rows`` (delayed entry)."""
    ev = np.sort(rows.exit[rows.event])
    times = np.unique(ev)
    d = np.searchsorted(ev, times, "right") - np.searchsorted(ev, times, "left")
    entry, exit_ = np.sort(rows.entry), np.sort(rows.exit)
    at_risk = np.searchsorted(entry, times, "left") - np.searchsorted(exit_, times, "left")
    return times, np.cumsum(d / np.maximum(at_risk, 1))


# ------------------------------------------------------------------ generalized gamma
def _gengamma_value(theta, t):
    """``log h`` and ``H`` of the generalized gamma (Prentice), times in days."""
    mu, sigma, q = theta[0], math.exp(theta[1]), theta[2]
    t = np.asarray(t, float)
    pos = t > 0
    lt = np.log(np.where(pos, t, 1.0))
    w = (lt - mu) / sigma
    if abs(q) < 1e-5:   # the log-normal limit
        log_s = log_ndtr(-w)
        log_f = -0.5 * w * w - 0.5 * math.log(2 * math.pi) - math.log(sigma) - lt
    else:
        a = 1.0 / (q * q)
        u = a * np.exp(np.clip(q * w, -700, 700))
        surv = gammaincc(a, u) if q > 0 else gammainc(a, u)
        log_s = np.log(np.maximum(surv, _TINY))
        log_f = (math.log(abs(q)) + a * math.log(a) - gammaln(a) - math.log(sigma) - lt
                 + a * (q * w) - u)
    H = np.where(pos, -log_s, 0.0)
    return log_f - log_s, H


@dataclass(frozen=True)
class GenGamma:
    """Generalized gamma (``mu`` log days, ``log sigma``, ``Q``)."""

    name: str = "gengamma"
    param_names: tuple = ("mu_log_day", "log_sigma", "q")

    @property
    def n_params(self):
        return 3

    def evaluate(self, theta, t):
        return _numeric(_gengamma_value, theta, t)

    def start(self, rows):
        ev = rows.exit[rows.event]
        lt = np.log(ev[ev > 0])
        return np.array([np.median(lt), math.log(max(np.std(lt), 0.1)), 0.5])


def _numeric(value, theta, t):
    """``value(theta, t) -> (log h, H)`` with central-difference gradients."""
    theta = np.asarray(theta, float)
    log_h, H = value(theta, t)
    d_log_h = np.empty((np.size(t), theta.size))
    d_H = np.empty_like(d_log_h)
    for i in range(theta.size):
        step = 1e-6 * max(1.0, abs(theta[i]))
        e = np.zeros(theta.size)
        e[i] = step
        lp, hp = value(theta + e, t)
        lm, hm = value(theta - e, t)
        d_log_h[:, i] = (lp - lm) / (2 * step)
        d_H[:, i] = (hp - hm) / (2 * step)
    return log_h, H, d_log_h, d_H


# ------------------------------------------------------------------ cure
@dataclass(frozen=True)
class Cure:
    """Mixture cure of ``base``: ``S = 1 - pi F0``; the last parameter is
    ``logit`` of the cure fraction ``1 - pi``."""

    base: object

    @property
    def name(self):
        return f"{self.base.name}-cure"

    @property
    def param_names(self):
        return (*self.base.param_names, "logit_cure_fraction")

    @property
    def n_params(self):
        return self.base.n_params + 1

    def evaluate(self, theta, t):
        theta = np.asarray(theta, float)
        lh0, H0, dlh0, dH0 = self.base.evaluate(theta[:-1], t)
        cured = expit(theta[-1])
        pi = 1.0 - cured
        f0 = -np.expm1(-H0)
        denom = 1.0 - pi * f0
        H = -np.log(denom)
        g = pi * np.exp(-H0) / denom            # dH/dH0
        dpi = -pi * cured                       # dpi / d logit(cure)
        dH_dc = f0 / denom * dpi
        log_pi = -np.logaddexp(0.0, theta[-1])  # log(1 - expit(c)), 0 < pi or not
        log_h = log_pi + lh0 - H0 + H
        d_log_h = np.column_stack([dlh0 + (g - 1.0)[:, None] * dH0, -cured + dH_dc])
        d_H = np.column_stack([g[:, None] * dH0, dH_dc])
        return log_h, H, d_log_h, d_H


# ------------------------------------------------------------------ piecewise
@dataclass(frozen=True)
class Piecewise:
    """Piecewise-constant hazard; pieces in ``zero`` have rate 0 (no parameter)."""

    breaks: tuple
    zero: tuple = ()

    name = "piecewise"

    @property
    def free(self):
        return tuple(i for i in range(len(self.breaks)) if i not in self.zero)

    @property
    def param_names(self):
        return tuple(f"log_rate_per_day_{i}" for i in self.free)

    @property
    def n_params(self):
        return len(self.free)

    def evaluate(self, theta, t):
        full = np.full(len(self.breaks), -np.inf)
        full[list(self.free)] = theta
        t = np.asarray(t, float)
        starts = np.asarray(self.breaks, float)
        ends = np.r_[starts[1:], np.inf]
        e = np.clip(t[:, None] - starts[None, :], 0.0, ends - starts)[:, list(self.free)]
        rates = np.exp(np.asarray(theta, float))
        d_H = e * rates[None, :]
        j = np.clip(np.searchsorted(starts, t, "right") - 1, 0, starts.size - 1)
        col = np.full(starts.size, -1)
        col[list(self.free)] = np.arange(len(self.free))
        d_log_h = np.zeros((t.size, len(self.free)))
        hit = col[j]
        d_log_h[np.flatnonzero(hit >= 0), hit[hit >= 0]] = 1.0
        return full[j], d_H.sum(axis=1), d_log_h, d_H

    def rates(self, theta):
        full = np.zeros(len(self.breaks))
        full[list(self.free)] = np.exp(np.asarray(theta, float))
        return full


def auto_breaks(rows, pieces=None):
    """Piece starts for a transition: 0, equally spaced centiles of the event times,
    and the first day after the last event (its piece holds no event: rate 0)."""
    ev = np.sort(rows.exit[rows.event])
    n = ev.size
    m = pieces or int(min(8, max(1, n // 25)))
    inner = np.unique(np.round(np.quantile(ev, np.arange(1, m) / m), 1)) if m > 1 else []
    breaks = [0.0] + [float(b) for b in inner if b > 0]
    last = float(ev[-1])
    if rows.exit.max() > last:
        breaks.append(last + min(1.0, (rows.exit.max() - last) / 2))  # after the last event
    return tuple(sorted(set(breaks)))


def piecewise_for(rows, breaks, empty="zero"):
    """The piecewise family on ``breaks`` with its empty pieces at rate 0 (``empty =
    "zero"``) or pooled with the piece before (``"pool"``; the first with the next).

    Returns ``(family, note)``; ``note`` says which pieces were empty (or "")."""
    starts = np.asarray(breaks, float)
    ev = rows.exit[rows.event]
    piece = np.clip(np.searchsorted(starts, ev, "right") - 1, 0, None)
    counts = np.bincount(piece, minlength=starts.size)
    exposure = np.clip(rows.exit[:, None] - starts[None, :], 0, None) - np.clip(
        rows.entry[:, None] - starts[None, :], 0, None)
    ends = np.r_[starts[1:], np.inf]
    exposure = np.clip(np.minimum(rows.exit[:, None], ends) - np.maximum(
        rows.entry[:, None], starts[None, :]), 0, None).sum(axis=0)
    empty_idx = [i for i in range(starts.size) if counts[i] == 0]
    if not empty_idx:
        return Piecewise(tuple(float(b) for b in starts)), ""
    where = ", ".join(_piece_text(starts, i) for i in empty_idx)
    if empty == "pool":
        keep = [i for i in range(starts.size) if counts[i] > 0]
        new = [0.0] + [float(starts[i]) for i in keep[1:]]
        return Piecewise(tuple(new)), f"no events in {where}: pooled with the piece before"
    unseen = [i for i in empty_idx if exposure[i] == 0]
    note = f"no events in {where}: rate 0"
    if unseen:
        note += " (no time at risk in " + ", ".join(_piece_text(starts, i) for i in unseen) + ")"
    return Piecewise(tuple(float(b) for b in starts), tuple(int(i) for i in empty_idx)), note


def _piece_text(starts, i):
    if i + 1 < starts.size:
        return f"days {starts[i]:g}-{starts[i + 1]:g}"
    return f"days {starts[i]:g}+"


# ------------------------------------------------------------------ names
def parse_family(name):
    """``(base name, cure)`` of a family name such as ``spline2-cure``; ValueError if
    unknown."""
    base, cure = (name[:-5], True) if name.endswith("-cure") else (name, False)
    if base in BASIC or base == "gengamma":
        return base, cure
    if base.startswith("spline") and base[6:].isdigit() and int(base[6:]) <= 10:
        return base, cure
    raise ValueError(f"family {name!r} is not one of {', '.join(family_names())}")


def family_names():
    return (*BASIC, "gengamma", "spline<m> (m = 0..10 knots)", "<family>-cure")


def is_extended(name):
    """Whether a family needs this module (anything but the basic families)."""
    return name not in BASIC


def build(name, rows, breaks=None, empty="zero"):
    """The family object for ``name`` on one transition's rows; ``(family, note)``."""
    base, cure = parse_family(name)
    note = ""
    if base == "gengamma":
        fam = GenGamma()
    elif base.startswith("spline"):
        fam = Spline(spline_knots(rows.exit[rows.event], int(base[6:])))
    elif base == "piecewise":
        fam, note = piecewise_for(rows, breaks or auto_breaks(rows), empty)
    else:
        fam = Basic(Family(base))
    return (Cure(fam) if cure else fam), note


@dataclass(frozen=True)
class Basic:
    """A basic family (hazard_families.Family) in days, with a start from the data."""

    family: Family

    @property
    def name(self):
        return self.family.name

    @property
    def param_names(self):
        return self.family.param_names

    @property
    def n_params(self):
        return self.family.n_params

    def evaluate(self, theta, t):
        return self.family.evaluate(theta, t)

    def start(self, rows):
        rate = rows.event.sum() / max(np.sum(rows.exit - rows.entry), 1e-12)
        return self.family.start(rate)


def start_for(family, rows):
    if isinstance(family, Cure):
        return np.r_[start_for(family.base, rows), -2.0]
    if isinstance(family, Piecewise):
        counts, exposure = _piece_counts(family, rows)
        rate = np.where(counts > 0, counts / np.maximum(exposure, 1e-12), 1e-12)
        return np.log(rate[list(family.free)])
    return family.start(rows)


def _piece_counts(family, rows):
    starts = np.asarray(family.breaks, float)
    ends = np.r_[starts[1:], np.inf]
    ev = rows.exit[rows.event]
    counts = np.bincount(np.clip(np.searchsorted(starts, ev, "right") - 1, 0, None),
                         minlength=starts.size)
    exposure = np.clip(np.minimum(rows.exit[:, None], ends) - np.maximum(
        rows.entry[:, None], starts[None, :]), 0, None).sum(axis=0)
    return counts, exposure


# ------------------------------------------------------------------ export
def cumhaz(family, theta, t):
    return family.evaluate(np.asarray(theta, float), np.asarray(t, float))[1]


def engine_timing(family, theta, horizon_days, first_day=None):
    """``(timing table, cure fraction, note)`` that the engine simulates.

    Basic families (and their cure versions) go over as they are; a piecewise fit
    as its pieces; a spline or generalized gamma (cure or not) as a piecewise-constant
    hazard on :data:`GRID_POINTS` pieces, log-spaced from ``first_day`` (default
    half a day) to the horizon, with the fitted cumulative hazard at every break.
    """
    theta = np.asarray(theta, float)
    cure = 0.0
    core = family
    if isinstance(family, Cure) and isinstance(family.base, (Basic, Piecewise)):
        cure = float(expit(theta[-1]))
        core, theta = family.base, theta[:-1]
    if isinstance(core, Basic):
        return core.family.timing(theta), cure, ""
    if isinstance(core, Piecewise):
        return ({"family": "piecewise", "breaks_day": [float(b) for b in core.breaks],
                 "rates_per_day": [float(r) for r in core.rates(theta)]}, cure, "")
    lo = first_day or 0.5
    hi = max(float(horizon_days), lo * 2)
    grid = np.r_[0.0, np.geomspace(lo, hi, GRID_POINTS - 1)]
    H = cumhaz(family, theta, grid)
    H = np.maximum.accumulate(np.where(np.isfinite(H), H, np.nan_to_num(H, posinf=1e6)))
    rates = np.diff(H) / np.diff(grid)
    # beyond the horizon: the hazard at the horizon
    t_end = np.array([hi, hi * 1.0001])
    H_end = cumhaz(family, theta, t_end)
    last = max(float((H_end[1] - H_end[0]) / (t_end[1] - t_end[0])), 0.0)
    rates = np.r_[rates, last if np.isfinite(last) else 0.0]
    note = (f"the engine has no {family.name} hazard: simulated as a piecewise-constant "
            f"hazard on {GRID_POINTS} pieces (log-spaced to day {hi:g}) with the fitted "
            "cumulative hazard at every break")
    return ({"family": "piecewise", "breaks_day": [float(round(b, 6)) for b in grid],
             "rates_per_day": [float(r) for r in rates]}, 0.0, note)


def model_from_spec(name, spec):
    """The family object of a scenario's fit block (``family`` and ``spec``)."""
    base, cure = parse_family(name)
    if base.startswith("spline"):
        fam = Spline(tuple(float(k) for k in spec["knots_log_day"]))
    elif base == "gengamma":
        fam = GenGamma()
    elif base == "piecewise":
        fam = Piecewise(tuple(float(b) for b in spec["breaks_day"]),
                        tuple(int(i) for i in spec.get("zero_pieces", ())))
    else:
        fam = Basic(Family(base))
    return Cure(fam) if cure else fam


def from_spec(transition, fit_block, draw):
    """A transition table with the timing (and cure fraction, log hazard ratios) of a
    parameter draw of a flexible family (see :func:`hsctsim.analysis.fit.apply_draw`)."""
    spec = fit_block["spec"]
    model = model_from_spec(fit_block["family"], spec)
    values = list(draw.values())
    p = model.n_params
    timing, cure, _ = engine_timing(model, values[:p], spec.get("horizon_day", 3650.0))
    out = dict(transition)
    out["timing"] = timing
    if cure:
        out["cure_fraction"] = min(cure, 1.0 - 1e-12)
    else:
        out.pop("cure_fraction", None)
    if len(values) > p:
        out["log_hr"] = dict(zip(list(draw)[p:], values[p:]))
    return out
