"""Fit a multi-state model to transition data by maximum likelihood.

Each transition ``h -> j`` gets its own parametric hazard ``h0(t) exp(x beta)``
(proportional hazards in the covariates ``x``), fitted from the rows at risk of it:
right-censored where ``status`` is 0, left-truncated at ``Tstart`` with the clock
forward (time since time 0: the interval ``(Tstart, Tstop]``) or entering at 0 with
the clock reset (time since entering the state: ``(0, Tstop - Tstart]``; a patient's
first stay in the initial state began at time 0, so there ``Tstart > 0`` is delayed
entry, ``(Tstart, Tstop]``, under either clock). The
log-likelihood of one transition is

    sum over events of [log h0(t) + x beta]  -  sum over rows of exp(x beta) [H0(stop) - H0(entry)]

maximised with BFGS on analytic gradients (log shape, log scale, ...: every real
vector valid), polished by Newton steps; standard errors come from the inverse of a
central-difference Hessian of the analytic gradient. The best family per transition
is chosen by AIC unless the caller fixes one. :meth:`MsmFit.to_toml` writes a plain
multi-state scenario (``kind = "multistate"``) with each transition's estimate and
covariance, which :func:`draw_transition` samples for parameter uncertainty.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from .._version import __version__
from ..model.tomlwrite import dumps_value as _toml_value, toml_key
from . import flexible
from .flexible import Cure, Piecewise, Spline, engine_timing, from_spec
from .hazard_families import Family
from .msdata import MsData, read_msdata, read_patient_table

__all__ = ["apply_draw", "AUTO_BASIC", "AUTO_FAMILIES", "CLOCKS", "draw_parameters",
           "draw_transition", "ExtendedFit", "fit_extended", "FamilyFit", "fit_family", "fit_msm", "FitError",
           "format_report", "IDENTIFIER", "MsmFit", "safe_name", "scenario_toml", "TransitionFit"]

AUTO_BASIC = ("exponential", "weibull", "gompertz", "lognormal", "loglogistic")
# what ``auto`` tries on every transition: the basic families, Royston-Parmar splines
# with 1 to 3 internal knots, Weibull and log-normal with a cure fraction, and piecewise
# exponential on breaks from the event times. The generalized gamma (numerical
# derivatives: ~20x slower) only when asked for (--family gengamma, or auto+gengamma).
AUTO_FAMILIES = (*AUTO_BASIC, "spline1", "spline2", "spline3", "weibull-cure",
                 "lognormal-cure", "piecewise")
CLOCKS = ("forward", "reset")
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class FitError(ValueError):
    """A fit that cannot be made as asked (the message says which transition and why)."""


# ------------------------------------------------------------------ likelihood
@dataclass(frozen=True, eq=False)
class _Rows:
    """The rows at risk of one transition: entry, exit (days), event, covariates."""

    entry: np.ndarray
    exit: np.ndarray
    event: np.ndarray
    x: np.ndarray          # shape (n, q)


def _loglik(family, rows, theta, scale=1.0):
    """Log-likelihood and gradient at ``theta`` for times divided by ``scale``."""
    p = family.n_params
    base, beta = theta[:p], theta[p:]
    truncated = rows.entry > 0
    t = np.r_[rows.exit, rows.entry[truncated]] / scale
    log_h, H, d_log_h, d_H = family.evaluate(base, t)
    n = rows.exit.size
    dH = H[:n].copy()
    d_dH = d_H[:n].copy()
    dH[truncated] -= H[n:]
    d_dH[truncated] -= d_H[n:]
    ev = rows.event
    # einsum, not @: tall-skinny BLAS calls cost more in thread start-up than they save
    lin = np.einsum("ij,j->i", rows.x, beta)
    risk = np.exp(lin)
    value = (log_h[:n][ev].sum() - math.log(scale) * ev.sum() + lin[ev].sum()
             - np.dot(risk, dH))
    grad = np.r_[d_log_h[:n][ev].sum(axis=0) - np.einsum("i,ij->j", risk, d_dH),
                 rows.x[ev].sum(axis=0) - np.einsum("i,ij->j", risk * dH, rows.x)]
    return value, grad


def _hessian(family, rows, theta, scale):
    """Hessian of the log-likelihood: central differences of the analytic gradient."""
    k = theta.size
    out = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(1.0, abs(theta[i]))
        e = np.zeros(k)
        e[i] = step
        out[:, i] = (_loglik(family, rows, theta + e, scale)[1]
                     - _loglik(family, rows, theta - e, scale)[1]) / (2.0 * step)
    return 0.5 * (out + out.T)


def _maximise(family, rows, scale, start, edge=30.0, gtol=1e-7):
    """BFGS then Newton steps; returns (theta, hessian, converged, message)."""
    n_events = max(int(rows.event.sum()), 1)

    def objective(theta):
        value, grad = _loglik(family, rows, theta, scale)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(theta)
        return -value / n_events, -grad / n_events

    result = minimize(objective, start, jac=True, method="BFGS",
                      options={"gtol": gtol, "maxiter": 500})
    theta = result.x
    value = _loglik(family, rows, theta, scale)[0]
    for _ in range(20):   # Newton polish: BFGS stops a little short of the optimum
        hess = _hessian(family, rows, theta, scale)
        grad = _loglik(family, rows, theta, scale)[1]
        try:
            step = np.linalg.solve(-hess, grad)
        except np.linalg.LinAlgError:
            break
        for _half in range(30):
            trial = theta + step
            trial_value = _loglik(family, rows, trial, scale)[0]
            if np.isfinite(trial_value) and trial_value >= value - 1e-12 * abs(value):
                break
            step = step / 2.0
        else:
            break
        theta, value = trial, trial_value
        if np.max(np.abs(step)) < 1e-10:
            break
    hess = _hessian(family, rows, theta, scale)
    grad = _loglik(family, rows, theta, scale)[1]
    if not np.isfinite(value):
        return theta, hess, False, "the log-likelihood is not finite"
    try:
        np.linalg.cholesky(-hess)
    except np.linalg.LinAlgError:
        return theta, hess, False, "the information matrix is not positive definite"
    if np.max(np.abs(grad)) > 1e-4 * n_events:
        return theta, hess, False, "the optimiser did not converge"
    if np.max(np.abs(theta)) > edge:
        i = int(np.argmax(np.abs(theta)))
        name = (family.param_names[i] if i < family.n_params
                else f"log hazard ratio {i - family.n_params + 1}")
        return theta, hess, False, (f"'{name}' ran off to {theta[i]:.3g}: the best fit of "
                                    "this family lies at its edge (its shape cannot follow "
                                    "the data)")
    return theta, hess, True, ""


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class FamilyFit:
    """One family's maximum-likelihood fit to one transition (time in days).

    ``param_names`` are the family's parameters (:class:`Family.param_names`) then one
    log hazard ratio per covariate; ``estimate`` and ``covariance`` are on that scale.
    """

    family: str
    breaks_day: tuple
    param_names: tuple
    estimate: tuple
    covariance: tuple
    loglik: float
    aic: float
    converged: bool
    message: str = ""
    bic: float = float("nan")   # k log(events) - 2 log-lik

    @property
    def cure_fraction(self):
        """The cure fraction the engine gets (0 but for cure families)."""
        return 0.0

    @property
    def note(self):
        """What the report and scenario should say about this fit (or "")."""
        return ""

    @property
    def se(self):
        """Standard errors of ``estimate``."""
        return tuple(math.sqrt(max(self.covariance[i][i], 0.0)) for i in range(len(self.estimate)))

    @property
    def hazard_family(self):
        return Family(self.family, self.breaks_day)

    def timing(self):
        """The scenario timing table of the estimate."""
        fam = self.hazard_family
        return fam.timing(self.estimate[:fam.n_params])

    def log_hr(self):
        """Covariate name -> log hazard ratio."""
        p = self.hazard_family.n_params
        return dict(zip(self.param_names[p:], self.estimate[p:]))


@dataclass(frozen=True)
class ExtendedFit(FamilyFit):
    """A fit of a family of :mod:`hsctsim.analysis.flexible` (splines, generalized
    gamma, cure, piecewise with empty pieces); ``timing()`` is what the engine
    simulates."""

    n_par: int = 0
    extra_note: str = ""
    model: object = None
    horizon_days: float = 0.0

    def __init__(self, family, breaks_day, param_names, estimate, covariance, loglik, aic,
                 converged, message="", bic=float("nan"), n_par=0, note="", model=None,
                 horizon_days=0.0):
        values = dict(family=family, breaks_day=breaks_day, param_names=param_names,
                      estimate=estimate, covariance=covariance, loglik=loglik, aic=aic,
                      converged=converged, message=message, bic=bic, n_par=n_par,
                      extra_note=note, model=model, horizon_days=horizon_days)
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def failed(cls, name, covariates, message, base_names=()):
        names = (*base_names, *covariates)
        k = len(names)
        nan = float("nan")
        return cls(name, (), names, (nan,) * k, tuple((nan,) * k for _ in range(k)), nan,
                   nan, False, message)

    def _engine(self):
        p = self.model.n_params
        return engine_timing(self.model, self.estimate[:p], self.horizon_days)

    @property
    def hazard_family(self):
        return self.model

    def timing(self):
        return self._engine()[0]

    @property
    def cure_fraction(self):
        return self._engine()[1]

    @property
    def note(self):
        return "; ".join(n for n in (self.extra_note, self._engine()[2]) if n)

    def log_hr(self):
        p = self.model.n_params
        return dict(zip(self.param_names[p:], self.estimate[p:]))

    def spec(self):
        """What rebuilds the family from its parameters (the scenario's fit block)."""
        model = self.model.base if hasattr(self.model, "base") else self.model
        out = {"horizon_day": self.horizon_days}
        if isinstance(model, Spline):
            out["knots_log_day"] = list(model.knots)
        if isinstance(model, Piecewise):
            out["breaks_day"] = list(model.breaks)
            out["zero_pieces"] = list(model.zero)
        out["cure"] = isinstance(self.model, Cure)
        return out


@dataclass(frozen=True)
class TransitionFit:
    """The fits of one transition; ``chosen`` is the family written to the scenario."""

    number: int
    from_state: str
    to_state: str
    n_events: int
    n_rows: int
    exposure_days: float
    fits: tuple
    chosen: str
    chosen_by: str          # "aic", "bic" or "user"
    clock: str = ""         # this transition's clock

    @property
    def best(self):
        return next(f for f in self.fits if f.family == self.chosen)


@dataclass(frozen=True, eq=False)
class MsmFit:
    """A fitted multi-state model: the data, the clock and one fit per transition."""

    data: MsData
    clock: str
    covariates: tuple
    transitions: tuple

    def report(self):
        """The text ``hsctsim fit`` prints."""
        return format_report(self)

    def to_toml(self, name=None, title=None, horizon_days=None, mix="joint", patients=None):
        """A plain multi-state scenario (TOML text) of the chosen fits.

        Parameters
        ----------
        name : str, optional
            Scenario name (letters, digits, _ and -); default from the data file name.
        title : str, optional
        horizon_days : float, optional
            Default: the last ``Tstop`` in the data, rounded up.
        mix : {"joint", "independent"}
            Simulated patients drawn from the rows of the data (a ``[patients]`` table:
            the joint mix), or each covariate on its own from its shares.
        patients : str or Path, optional
            A patient table (CSV, one row per patient, the covariate columns as in the
            data) whose rows make ``[patients]`` instead of the data's.
        """
        return scenario_toml(self, name=name, title=title, horizon_days=horizon_days,
                             mix=mix, patients=patients)


# ------------------------------------------------------------------ fitting
def _rows_for(data, number, clock, covariates):
    at = data.trans == number
    tstart, tstop = data.tstart[at], data.tstop[at]
    if clock == "forward":
        entry, exit_ = tstart, tstop
    else:
        # time since entering the state; a first stay in the initial state began at
        # time 0, so Tstart > 0 there is delayed entry, as with the clock forward
        late = (data.first_stay() & (data.from_state == data.initial))[at]
        entry = np.where(late, tstart, 0.0)
        exit_ = np.where(late, tstop, tstop - tstart)
    x = np.column_stack([v[at] for c, v in data.covariates if c in covariates]) \
        if covariates else np.zeros((tstart.size, 0))
    return _Rows(entry.astype(float), exit_.astype(float), data.status[at] == 1, x)


def fit_family(family, rows, covariates=()):
    """Fit one family to the rows of one transition.

    Parameters
    ----------
    family : Family
    rows : _Rows
    covariates : sequence of str
        Names of the columns of ``rows.x``.

    Returns
    -------
    FamilyFit
    """
    n_events = int(rows.event.sum())
    exposure = float(np.sum(rows.exit - rows.entry))
    # work in units of the mean time per event, where every parameter is O(1)
    scale = exposure / n_events
    names = (*family.param_names, *covariates)
    k = len(names)
    problem = ""
    if family.name == "piecewise":
        breaks = np.asarray(family.breaks, float)
        piece = np.clip(np.searchsorted(breaks, rows.exit[rows.event], "right") - 1, 0, None)
        empty = np.flatnonzero(np.bincount(piece, minlength=breaks.size) == 0)
        if empty.size:
            problem = f"no events after day {breaks[empty[0]]:g} of the piece starting there"
    if n_events < k and not problem:
        problem = f"{n_events} events for {k} parameters"
    if problem:
        nan = float("nan")
        return FamilyFit(family.name, family.breaks, names, (nan,) * k,
                         tuple((nan,) * k for _ in range(k)), nan, nan, False, problem)
    scaled = Family(family.name, tuple(b / scale for b in family.breaks))
    start = np.r_[scaled.start(1.0), np.zeros(len(covariates))]
    # line searches try wild points; their overflows come back as inf and are refused
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        theta, hess, converged, message = _maximise(scaled, rows, scale, start)
    p = family.n_params
    base, jac = scaled.rescale(theta[:p], scale)
    theta = np.r_[base, theta[p:]]
    jac = np.r_[jac, np.ones(len(covariates))]
    try:
        cov = np.linalg.inv(-hess) * np.outer(jac, jac)
        cov = 0.5 * (cov + cov.T)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    loglik = float(_loglik(family, rows, theta)[0])
    return FamilyFit(family.name, family.breaks, names, tuple(float(v) for v in theta),
                     tuple(tuple(float(v) for v in row) for row in cov), loglik,
                     2.0 * k - 2.0 * loglik, converged, message,
                     k * math.log(max(n_events, 1)) - 2.0 * loglik)


def _family_choice(family, numbers, names):
    """Transition number -> family name or None (choose by AIC)."""
    if family is None or isinstance(family, str):
        return {k: (None if family in (None, "auto") else family) for k in numbers}
    family = dict(family)
    every = family.pop("*", None)
    choice = {k: (None if every in (None, "auto") else every) for k in numbers}
    for key, value in family.items():
        if isinstance(key, str) and not key.isdigit():
            if key not in names:
                raise FitError(f"family for {key!r}: not a transition ("
                               f"{', '.join(names)} or their numbers)")
            key = names[key]
        if int(key) not in choice:
            raise FitError(f"family for transition {key}: the data have transitions "
                           f"{', '.join(map(str, numbers))}")
        choice[int(key)] = None if value == "auto" else value
    return choice


def fit_msm(data, *, clock="forward", family=None, covariates=(), states=None,
            transitions=None, breaks_day=None, criterion="aic", empty_pieces="zero",
            references=None):
    """Fit per-transition parametric hazards to multi-state data.

    Parameters
    ----------
    data : str, Path, mapping or MsData
        mstate msprep-layout data (see :func:`hsctsim.analysis.msdata.read_msdata`).
    clock : {"forward", "reset"} or mapping
        Time since time 0 (Markov; ``Tstart > 0`` is delayed entry) or since entering
        the state (semi-Markov; delayed entry only in the first stay in the initial
        state, which began at time 0; a first stay elsewhere is taken to begin at its
        ``Tstart``); or a mapping like ``family`` (``"*"`` the default, else forward)
        for mixed clocks.
    family : str or mapping, optional
        One family for every transition, or a mapping from transition number (or
        ``"from->to"``; ``"*"`` for all the others) to family; ``"auto"`` or missing:
        the lowest ``criterion`` among :data:`AUTO_FAMILIES` (see
        :mod:`hsctsim.analysis.flexible` for splines, ``gengamma``, ``-cure`` and
        piecewise).
    covariates : sequence of str
        Covariate columns, each a log hazard ratio on every transition; a text column
        is a factor (one log hazard ratio per level but the reference, named as R
        names them: ``year1990-1994``).
    references : mapping of str to str, optional
        Reference level of factor columns (default: the first in sorted order).
    states, transitions
        Passed to :func:`read_msdata`.
    breaks_day : sequence of float or mapping, optional
        Piece starts (from 0) for the piecewise family: one list for every transition,
        or a mapping like ``family`` (transition -> list). Default per transition:
        :func:`hsctsim.analysis.flexible.auto_breaks`.
    criterion : {"aic", "bic"}
        How ``auto`` chooses (BIC with the number of events as sample size).
    empty_pieces : {"zero", "pool"}
        A piece without events: rate 0, or pooled with the piece before.

    Returns
    -------
    MsmFit

    Raises
    ------
    DataError, FitError
    """
    if isinstance(clock, dict):
        default_clock = clock.get("*", "forward")
    else:
        default_clock = clock
    if default_clock not in CLOCKS:
        raise FitError(f"clock must be one of {', '.join(CLOCKS)}, got {default_clock!r}")
    if criterion not in ("aic", "bic"):
        raise FitError(f"criterion must be aic or bic, got {criterion!r}")
    if empty_pieces not in ("zero", "pool"):
        raise FitError(f"empty pieces must be 'zero' or 'pool', got {empty_pieces!r}")
    covariates = tuple(covariates)
    for c in covariates:
        if not IDENTIFIER.match(c):
            raise FitError(f"covariate {c!r}: names must start with a letter and hold only "
                           "ASCII letters (A-Z, a-z), digits and _")
    if len(set(covariates)) != len(covariates):
        raise FitError("a covariate is named twice")
    if not isinstance(data, MsData):
        data = read_msdata(data, covariates=covariates, states=states, transitions=transitions,
                           references=references)
    dummies = {column: names for column, _, names in data.factors}
    covariates = tuple(n for c in covariates for n in dummies.get(c, (c,)))
    have = {c for c, _ in data.covariates}
    missing = [c for c in covariates if c not in have]
    if missing:
        raise FitError(f"{data.source}: covariate '{missing[0]}' was not read with the data")
    numbers = [k for k, _, _ in data.transitions]
    names = {f"{data.states[f]}->{data.states[t]}": k for k, f, t in data.transitions}
    choice = _family_choice(family, numbers, names)
    clocks = ({k: (c or default_clock) for k, c in _family_choice(
        {**clock, "*": None}, numbers, names).items()} if isinstance(clock, dict)
        else {k: clock for k in numbers})
    for k, c in clocks.items():
        if c not in CLOCKS:
            raise FitError(f"transition {k}: clock must be one of {', '.join(CLOCKS)}, "
                           f"got {c!r}")
    if isinstance(breaks_day, dict):
        per_breaks = {k: (None if v is None else _check_breaks(v))
                      for k, v in _family_choice(breaks_day, numbers, names).items()}
    else:
        one = _check_breaks(breaks_day) or None
        per_breaks = {k: one for k in numbers}
    candidates = {}
    for k, fam in choice.items():
        names_k = fam.split("+") if fam else ["auto"]
        if names_k[0] == "auto":
            candidates[k] = AUTO_FAMILIES + tuple(n for n in names_k[1:]
                                                  if n not in AUTO_FAMILIES)
            choice[k] = None
        elif len(names_k) > 1:
            raise FitError(f"transition {k}: family {fam!r}: only auto+FAMILY adds to the "
                           "families tried")
        else:
            candidates[k] = (fam,)
        for name in candidates[k]:
            try:
                flexible.parse_family(name)
            except ValueError as exc:
                raise FitError(f"transition {k}: {exc}") from None
    horizon = float(data.tstop.max())

    fitted = []
    for k, f, t in data.transitions:
        rows = _rows_for(data, k, clocks[k], covariates)
        label = f"transition {k} ({data.states[f]} -> {data.states[t]})"
        n_events = int(rows.event.sum())
        if n_events == 0:
            raise FitError(f"{data.source}: {label} has no events; nothing to fit (leave it "
                           "out of the data or the transitions)")
        for j, c in enumerate(covariates):
            if np.ptp(rows.x[:, j]) == 0:
                raise FitError(f"{data.source}: {label}: covariate '{c}' is {rows.x[0, j]:g} "
                               "in every row at risk, so its hazard ratio cannot be estimated")
        fits = []
        for name in candidates[k]:
            if name in AUTO_BASIC:
                fits.append(fit_family(Family(name), rows, covariates))
            else:
                fits.append(fit_extended(name, rows, covariates, breaks=per_breaks[k],
                                                  empty=empty_pieces, horizon_days=horizon))
        fits = tuple(fits)
        usable = [fit for fit in fits if fit.converged]
        if not usable:
            why = "; ".join(f"{fit.family}: {fit.message}" for fit in fits)
            raise FitError(f"{data.source}: {label}: no fit converged ({why})")
        best = min(usable, key=lambda fit: getattr(fit, criterion))
        fitted.append(TransitionFit(k, data.states[f], data.states[t], n_events,
                                    int(rows.exit.size), float(np.sum(rows.exit - rows.entry)),
                                    fits, best.family, "user" if choice[k] else criterion,
                                    clocks[k]))
    return MsmFit(data, default_clock, covariates, tuple(fitted))


def _check_breaks(breaks_day):
    if breaks_day is None:
        return ()
    breaks = tuple(float(b) for b in breaks_day)
    if not breaks or breaks[0] != 0 or any(b <= a for a, b in zip(breaks, breaks[1:])):
        raise FitError(f"breaks {list(breaks)}: must start at 0 and increase")
    return breaks


# ------------------------------------------------------------------ uncertainty
def draw_parameters(fit_block, rng):
    """One draw of a transition's parameters from the fit's asymptotic normal.

    Parameters
    ----------
    fit_block : mapping
        A transition's ``fit`` table as written by :meth:`MsmFit.to_toml`: ``params``,
        ``estimate``, ``covariance`` (``n_events``, ``aic`` are not used).
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to float
        Parameter name -> drawn value, on the fit's scale (log shape, log scale, ...,
        then log hazard ratios). :func:`apply_draw` turns it into a timing table.
    """
    names = list(fit_block["params"])
    mean = np.asarray(fit_block["estimate"], float)
    cov = np.asarray(fit_block["covariance"], float)
    if mean.shape != (len(names),) or cov.shape != (len(names), len(names)):
        raise ValueError("fit: params, estimate and covariance do not match in size")
    return dict(zip(names, rng.multivariate_normal(mean, cov).tolist()))


def apply_draw(transition, draw):
    """A transition table with ``timing`` and ``log_hr`` set from a draw.

    Parameters
    ----------
    transition : mapping
        A ``[[transitions]]`` table (its ``timing.family``, and ``breaks_day`` for
        piecewise, say how to read the draw).
    draw : mapping of str to float
        From :func:`draw_parameters`.

    Returns
    -------
    dict
        A copy of ``transition`` with the drawn ``timing`` and ``log_hr``.
    """
    timing = transition["timing"]
    fit_block = transition.get("fit") or {}
    if "spec" in fit_block:   # a family of analysis.flexible: rebuild it from the spec
        return from_spec(transition, fit_block, draw)
    family = Family(timing["family"], tuple(timing.get("breaks_day", ())))
    values = list(draw.values())
    p = family.n_params
    out = dict(transition)
    out["timing"] = family.timing(values[:p])
    if len(values) > p:
        out["log_hr"] = dict(zip(list(draw)[p:], values[p:]))
    return out


def draw_transition(transition, rng):
    """One draw of a fitted transition: :func:`draw_parameters` then :func:`apply_draw`.

    For ``run --replicates`` on a scenario written by ``hsctsim fit``: each replicate
    calls this on every ``[[transitions]]`` table that has a ``fit`` block (tables
    without one are returned unchanged).

    Parameters
    ----------
    transition : mapping
        A ``[[transitions]]`` table.
    rng : numpy.random.Generator

    Returns
    -------
    dict
    """
    if "fit" not in transition:
        return dict(transition)
    return apply_draw(transition, draw_parameters(transition["fit"], rng))


# ------------------------------------------------------------------ output
def _fmt(value):
    return f"{value:.4g}" if math.isfinite(value) else "-"


def format_report(fit):
    """Per transition: AIC of every family tried, then the chosen one's estimates."""
    data = fit.data
    lines = [f"{data.source}: {len(data.patient_ids)} patients, {data.tstart.size} rows, "
             f"{len(fit.transitions)} transitions; clock {fit.clock}"
             + (f"; covariates {', '.join(fit.covariates)}" if fit.covariates else "")]
    for tr in fit.transitions:
        own = f"; clock {tr.clock}" if tr.clock and tr.clock != fit.clock else ""
        lines += ["", f"transition {tr.number}: {tr.from_state} -> {tr.to_state}  "
                      f"({tr.n_events} events in {tr.n_rows} stays at risk, "
                      f"{tr.exposure_days:.6g} days at risk{own})"]
        ok = [f.aic for f in tr.fits if f.converged]
        lines.append(f"  {'family':<16} {'params':>6} {'log-lik':>11} {'AIC':>11} {'dAIC':>8} "
                     f"{'BIC':>11}")
        for f in sorted(tr.fits, key=lambda f: (not f.converged, f.aic)):
            mark = "*" if f.family == tr.chosen else " "
            k = getattr(f, "n_par", 0) or len(f.estimate)
            if f.converged:
                lines.append(f"  {f.family + mark:<16} {k:>6} {f.loglik:>11.2f} "
                             f"{f.aic:>11.2f} {f.aic - min(ok):>8.2f} {f.bic:>11.2f}")
            else:
                lines.append(f"  {f.family + mark:<16} {k:>6}  not fitted: {f.message}")
        best = tr.best
        how = {"user": "fixed", "aic": "lowest AIC", "bic": "lowest BIC"}[tr.chosen_by]
        lines.append(f"  {best.family} ({how}): estimate (standard error)")
        for name, est, se in zip(best.param_names, best.estimate, best.se):
            extra = ""
            if name in fit.covariates:
                lo, hi = math.exp(est - 1.96 * se), math.exp(est + 1.96 * se)
                extra = f"   HR {math.exp(est):.3g} (95% CI {lo:.3g}-{hi:.3g})"
            lines.append(f"    {name:<22} {est:>11.5g} ({se:.3g}){extra}")
        timing = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}"
                           for k, v in best.timing().items() if k != "family")
        if best.timing().get("family") == "piecewise" and len(best.timing()["breaks_day"]) > 12:
            timing = f"{len(best.timing()['breaks_day'])} pieces"
        lines.append(f"    timing: {best.timing()['family']}, {timing}"
                     + (f"; cure fraction {best.cure_fraction:.4g}" if best.cure_fraction else ""))
        if best.note:
            lines.append(f"    note: {best.note}")
    return "\n".join(lines)


def _level(value):
    return int(value) if float(value).is_integer() else float(value)


def safe_name(text):
    """A scenario name from any text: a letter, then letters, digits, _ and -."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    return name if name[:1].isalpha() else f"fitted_{name}".rstrip("_")


def scenario_toml(fit, name=None, title=None, horizon_days=None, mix="joint", patients=None):
    """The plain multi-state scenario of a fit, as TOML text (see MsmFit.to_toml)."""
    data = fit.data
    source_name = Path(data.source).name
    name = safe_name(Path(data.source).stem if name is None else name)
    if horizon_days is None:
        horizon_days = int(math.ceil(data.tstop.max()))
    n_patients = len(data.patient_ids)
    how_chosen = {t.chosen_by for t in fit.transitions}
    chosen = ("by " + how_chosen.pop().upper()) if how_chosen in ({"aic"}, {"bic"}) \
        else "as given"
    top = {
        "kind": "multistate",
        "name": name,
        "title": title or f"Multi-state model fitted to {source_name}",
        "population": f"the {n_patients} patients of {source_name}",
        "source": (f"maximum-likelihood fit by hsctsim {__version__} (hsctsim fit) to "
                   f"{source_name}: {n_patients} patients, {data.tstart.size} rows; "
                   f"clock {fit.clock}; families {chosen}"),
        "horizon_days": horizon_days,
        "clock": fit.clock,
    }
    out = [f"# Written by `hsctsim fit` from {source_name}; the fit blocks hold each",
           "# transition's estimate and covariance for --replicates.", ""]
    out += [f"{k} = {_toml_value(v)}" for k, v in top.items()]
    states = {"names": list(data.states),
              "absorbing": [data.states[i] for i in data.absorbing],
              "initial": data.states[data.initial]}
    visits = data.max_visits()
    if visits > 1:
        # room for one more stay than the data show (the simulator allows up to 50)
        states["max_visits"] = min(visits + 1, 50)
    out += ["", "[states]"] + [f"{k} = {_toml_value(v)}" for k, v in states.items()]
    shares = data.covariate_shares()
    factor_of = {n: (column, levels[i + 1]) for column, levels, names in data.factors
                 for i, n in enumerate(names)}
    for c in fit.covariates:
        levels, share = shares[c]
        out += ["", f"[covariates.{toml_key(c)}]",
                f"levels = {_toml_value([_level(v) for v in levels])}",
                f"shares = {_toml_value([float(s) for s in share])}",
                f"source = {_toml_value(f'{source_name}: shares among patients at time 0')}"]
        if c in factor_of:
            column, level = factor_of[c]
            out += [f"factor = {_toml_value(column)}", f"level = {_toml_value(level)}"]
    if mix not in ("joint", "independent"):
        raise FitError(f"covariate mix must be joint or independent, got {mix!r}")
    if patients is not None and mix != "joint":
        raise FitError("a patient table gives a joint mix: not with an independent one")
    if patients is not None and not fit.covariates:
        raise FitError(f"{patients}: a patient table, but the fit has no covariates")
    if fit.covariates and mix == "joint":
        if patients is None:
            combos, counts = data.covariate_mix(fit.covariates)
            whose = f"{source_name}: the joint mix of the covariates among the " \
                    f"{int(counts.sum())} patients at time 0"
        else:
            combos, counts = read_patient_table(patients, data, fit.covariates)
            whose = (f"{Path(patients).name}: the joint mix of the covariates of its "
                     f"{int(counts.sum())} patients (given by the user)")
        out += ["", "[patients]", f"columns = {_toml_value(list(fit.covariates))}",
                f"rows = {_toml_value([[_level(v) for v in r] for r in combos])}",
                f"counts = {_toml_value([int(n) for n in counts])}",
                "source = " + _toml_value(f"{whose} (simulated patients are drawn from "
                                          "these rows)")]
        references = {column: levels[0] for column, levels, _ in data.factors}
        if references:
            out.append(f"references = {_toml_value(references)}")
    for tr in fit.transitions:
        best = tr.best
        aics = ", ".join(f"{f.family} {f.aic:.2f}" for f in
                         sorted(tr.fits, key=lambda f: (not f.converged, f.aic)) if f.converged)
        how = {"user": "family fixed by the user", "aic": "family by lowest AIC",
               "bic": "family by lowest BIC"}[tr.chosen_by]
        source = (f"maximum-likelihood fit to {source_name}: {tr.n_events} events in "
                  f"{tr.n_rows} stays at risk; {best.family}, {how} (AIC {aics})"
                  + (f"; {best.note}" if best.note else ""))
        block = {"family": best.family, "params": list(best.param_names),
                 "estimate": list(best.estimate),
                 "covariance": [list(r) for r in best.covariance], "n_events": tr.n_events,
                 "aic": best.aic, "bic": best.bic}
        if hasattr(best, "spec"):
            block["spec"] = best.spec()
        out += ["", "[[transitions]]", f"from = {_toml_value(tr.from_state)}",
                f"to = {_toml_value(tr.to_state)}", f"timing = {_toml_value(best.timing())}",
                f"source = {_toml_value(source)}"]
        if best.cure_fraction:
            out.append(f"cure_fraction = {_toml_value(best.cure_fraction)}")
        if tr.clock and tr.clock != fit.clock:
            out.append(f"clock = {_toml_value(tr.clock)}")
        if fit.covariates:
            out.append(f"log_hr = {_toml_value(best.log_hr())}")
        out.append(f"fit = {_toml_value(block)}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ fitting
def fit_extended(name, rows, covariates=(), *, breaks=None, empty="zero", horizon_days=None):
    """Fit family ``name`` (any, see :func:`parse_family`) to one transition's rows.

    Returns an :class:`~hsctsim.analysis.fit.FamilyFit` whose ``timing()`` is what
    the engine simulates (see :func:`engine_timing`)."""
    n_events = int(rows.event.sum())
    horizon = float(horizon_days or rows.exit.max())
    try:
        family, note = flexible.build(name, rows, breaks, empty)
    except ValueError as exc:
        return ExtendedFit.failed(name, covariates, str(exc))
    names = (*family.param_names, *covariates)
    k = len(names)
    if n_events < k:
        return ExtendedFit.failed(name, covariates, f"{n_events} events for {k} parameters",
                                  family.param_names)
    start = np.r_[flexible.start_for(family, rows), np.zeros(len(covariates))]
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            theta, hess, converged, message = _maximise(
                family, rows, 1.0, start, edge=np.inf if isinstance(family, Spline) else 30.0,
                gtol=1e-4)   # BFGS near the top, then the Newton steps of _maximise
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        # a step into a region the family cannot evaluate: this family does not fit
        return ExtendedFit.failed(name, covariates, f"the optimiser failed ({exc})",
                                  family.param_names)
    try:
        cov = np.linalg.inv(-hess)
        cov = 0.5 * (cov + cov.T)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    loglik = float(_loglik(family, rows, theta)[0])
    if converged and not np.all(np.isfinite(cov)):
        converged, message = False, "the information matrix cannot be inverted"
    # a piecewise piece held at rate 0 counts as an estimated parameter
    n_par = k + (len(family.zero) if isinstance(family, Piecewise) else 0)
    return ExtendedFit(name, tuple(getattr(family, "breaks", ())), names,
                       tuple(float(v) for v in theta),
                       tuple(tuple(float(v) for v in r) for r in cov), loglik,
                       2.0 * n_par - 2.0 * loglik, converged, message,
                       bic=n_par * math.log(max(n_events, 1)) - 2.0 * loglik,
                       n_par=n_par, note=note, model=family, horizon_days=horizon)
