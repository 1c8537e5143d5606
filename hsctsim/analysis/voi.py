"""Value of information from the draws of a probabilistic sensitivity analysis.

- EVPI, the expected value of perfect information: ``E[max_a NB_a] - max_a E[NB_a]``
  over the draws, per patient, and for the population that the decision concerns
  (patients a year, discounted over the years the decision stands).
- EVPPI of a group of parameters, by the nonparametric regression method of Strong,
  Oakley and Brennan (Med Decis Making 2014;34:311-326): regress each arm's net
  benefit (less the first arm's) on the group's parameters across the draws; the
  fitted values estimate the expected net benefit given the group, and
  ``EVPPI = mean_i max_a g_a(theta_i) - max_a mean_i g_a(theta_i)``.
- EVSI of a study by the same regression, on a summary of data simulated for each
  draw (Strong, Brennan, Oakley, Med Decis Making 2015;35:570-583): a pilot of ``n``
  patients per arm observes, for each figure it measures, the number of patients
  with the event, binomial with the draw's incidence; the fitted net benefit given
  the observed proportions gives the EVSI, and the expected net benefit of sampling
  (ENBS) is the population EVSI less the study's cost.

The regression: one parameter (or one summary) is smoothed by a penalised cubic
regression spline whose smoothing is chosen by generalised cross-validation
(:func:`scipy.interpolate.make_smoothing_spline`, in scipy since 1.10) -- the
single-smooth generalised additive model that Strong et al. fit with mgcv.  A
group of several parameters is fitted as an additive model (one such smooth per
parameter, by backfitting), which leaves out their interactions: the estimate can
then be low when the parameters act on the net benefit jointly (a product, not a
sum); say so with a result.  Smoothing lets the patient-level Monte Carlo noise
of each draw's means average out, which the plain EVPI does not (it is biased up
by that noise; more patients per draw shrink the bias).
"""

import math

import numpy as np
from scipy.interpolate import make_smoothing_spline

__all__ = ["BACKFIT_ITERATIONS", "BACKFIT_TOLERANCE", "DRAWS_PER_KNOT", "enbs", "evpi",
           "evpi_standard_error", "evppi", "evsi", "evsi_by_size", "fitted_values", "KNOTS",
           "MIN_DRAWS", "population_factor", "simulate_pilot"]

MIN_DRAWS = 20
KNOTS = 100  # at most this many groups of draws per smooth (see _smooth_1d)
DRAWS_PER_KNOT = 10
BACKFIT_ITERATIONS = 50
BACKFIT_TOLERANCE = 1e-6


def evpi(nb):
    """EVPI per patient from net benefits ``nb``: array (draws, arms) or (wtp, draws, arms).

    Returns a float, or an array over the leading willingness-to-pay axis.
    """
    nb = np.asarray(nb, float)
    out = nb.max(axis=-1).mean(axis=-1) - nb.mean(axis=-2).max(axis=-1)
    return np.maximum(out, 0.0)


def evpi_standard_error(nb):
    """Monte Carlo standard error of :func:`evpi` (draws of ``nb``: (draws, arms)).

    The variance of the mean over draws of ``max_a NB_a - NB_best``, ``best`` the arm
    with the highest mean; the error of choosing ``best`` itself is left out.
    """
    nb = np.asarray(nb, float)
    best = int(np.argmax(nb.mean(axis=0)))
    loss = nb.max(axis=1) - nb[:, best]
    return float(loss.std(ddof=1) / math.sqrt(len(loss)))


def population_factor(incidence, years, discount=0.0):
    """Discounted patients over a decision horizon: ``incidence * sum_t (1+r)^-t``.

    ``incidence`` patients a year for ``years`` years (a fraction of a year counts
    pro rata), the year ``t`` (0, 1, ...) discounted by ``(1 + discount)^-t``.
    """
    if incidence < 0 or years < 0 or discount < 0:
        raise ValueError("incidence, years and discount must be >= 0")
    whole = int(math.floor(years))
    total = sum((1.0 + discount) ** -t for t in range(whole))
    total += (years - whole) * (1.0 + discount) ** -whole
    return incidence * total


def _smooth_1d(x, y):
    """Fitted values of a GCV-chosen cubic smoothing spline of ``y`` on ``x``.

    The draws are grouped into at most :data:`KNOTS` groups of consecutive ``x``
    (about equal counts), and the spline is fitted to the groups' means, weighted by
    their counts: a low-rank penalised spline, as mgcv's default basis is, and one
    whose GCV search stays well-posed (on thousands of close knots it can fail).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=y)
    if len(values) < 5:  # too few distinct values for a spline: the mean at each one
        return (sums / counts)[inverse]
    span = values[-1] - values[0]
    # at least DRAWS_PER_KNOT draws a group: with few draws GCV alone lets the spline
    # follow their noise, which inflates every EVPPI
    most = max(5, min(KNOTS, len(y) // DRAWS_PER_KNOT))
    for knots in (most, most // 2, most // 4):
        if len(values) > knots:
            group = np.minimum((np.cumsum(counts) - counts) * knots // counts.sum(),
                               knots - 1)
        else:
            group = np.arange(len(values))
        w = np.bincount(group, weights=counts)
        keep = w > 0
        w = w[keep]
        xs = np.bincount(group, weights=values * counts)[keep] / w
        ys = np.bincount(group, weights=sums)[keep] / w
        if len(xs) < 5:
            break
        try:
            # x scaled to [0, 1] so that the GCV search behaves alike for every unit
            spline = make_smoothing_spline((xs - values[0]) / span, ys, w=w)
        except ValueError:
            continue
        return spline((values - values[0]) / span)[inverse]
    return (sums / counts)[inverse]


def fitted_values(y, x):
    """Nonparametric regression of ``y`` (draws,) on ``x`` (draws,) or (draws, k).

    One column: a GCV smoothing spline; several: an additive model of one per
    column, by backfitting.  Returns the fitted values at the draws.
    """
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    if x.ndim == 1:
        x = x[:, None]
    if len(y) != x.shape[0]:
        raise ValueError("one row of parameters per draw")
    if len(y) < MIN_DRAWS:
        raise ValueError(f"at least {MIN_DRAWS} draws are needed for a regression")
    keep = [j for j in range(x.shape[1]) if np.ptp(x[:, j]) > 0]
    alpha = y.mean()
    if not keep:
        return np.full_like(y, alpha)
    if len(keep) == 1:
        return _smooth_1d(x[:, keep[0]], y)
    parts = {j: np.zeros_like(y) for j in keep}
    scale = max(float(np.std(y)), 1e-300)
    for _ in range(BACKFIT_ITERATIONS):
        change = 0.0
        for j in keep:
            rest = y - alpha - sum(parts[k] for k in keep if k != j)
            new = _smooth_1d(x[:, j], rest)
            new -= new.mean()
            change = max(change, float(np.max(np.abs(new - parts[j]))) / scale)
            parts[j] = new
        if change < BACKFIT_TOLERANCE:
            break
    return alpha + sum(parts.values())


def _partial(nb, x):
    """EVPPI-type value: regress each arm's net benefit (less the first's) on ``x``."""
    nb = np.asarray(nb, float)
    if nb.ndim != 2:
        raise ValueError("net benefits must be an array (draws, arms)")
    inc = nb[:, 1:] - nb[:, :1]
    fitted = np.zeros_like(nb)
    for a in range(inc.shape[1]):
        fitted[:, a + 1] = fitted_values(inc[:, a], x)
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0), fitted


def evppi(nb, params):
    """EVPPI per patient of the parameters ``params`` (draws,) or (draws, k).

    ``nb``: net benefits (draws, arms) at one willingness-to-pay.  Returns a dict:
    ``evppi`` and ``standard_error`` (Monte Carlo error of the average over the
    draws, the regression's own error left out).
    """
    value, fitted = _partial(nb, params)
    best = int(np.argmax(fitted.mean(axis=0)))
    loss = fitted.max(axis=1) - fitted[:, best]
    return {"evppi": value, "standard_error": float(loss.std(ddof=1) / math.sqrt(len(loss)))}


def simulate_pilot(incidences, n, rng):
    """Observed proportions of a pilot of ``n`` patients per measured figure.

    ``incidences``: (draws,) or (draws, k), each draw's incidence of each figure.
    Returns the same shape: ``Binomial(n, p) / n``.
    """
    p = np.asarray(incidences, float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("a pilot measures incidences, which lie in [0, 1]")
    return rng.binomial(int(n), p) / float(n)


def evsi(nb, incidences, n, rng):
    """EVSI per patient of a pilot of ``n`` patients per measured figure.

    ``nb``: (draws, arms) at one willingness-to-pay; ``incidences``: (draws,) or
    (draws, k), the drawn incidences that the pilot measures (one column per figure,
    e.g. an arm's relapse incidence, or one per arm of a two-arm pilot).
    """
    observed = simulate_pilot(incidences, n, rng)
    value, fitted = _partial(nb, observed)
    best = int(np.argmax(fitted.mean(axis=0)))
    loss = fitted.max(axis=1) - fitted[:, best]
    return {"evsi": value, "standard_error": float(loss.std(ddof=1) / math.sqrt(len(loss)))}


def evsi_by_size(nb, incidences, sizes, rng):
    """EVSI per patient of pilots of each of ``sizes`` (patients per measured figure).

    The pilots are nested: the one of ``n2 > n1`` patients observes those of ``n1``
    and ``n2 - n1`` more (a binomial increment), so that the curve over sizes is
    not roughened by independent data at each size.  Returns a list of
    :func:`evsi`-like dicts, in the order of ``sizes``.
    """
    p = np.asarray(incidences, float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("a pilot measures incidences, which lie in [0, 1]")
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    count = np.zeros(p.shape)
    previous = 0
    out = [None] * len(sizes)
    for i in order:
        n = int(sizes[i])
        count = count + rng.binomial(n - previous, p)
        previous = n
        value, fitted = _partial(nb, count / n)
        best = int(np.argmax(fitted.mean(axis=0)))
        loss = fitted.max(axis=1) - fitted[:, best]
        out[i] = {"evsi": value, "standard_error": float(loss.std(ddof=1) / math.sqrt(len(loss)))}
    return out


def enbs(population_evsi, sizes, fixed_cost, cost_per_patient, arms_enrolled=1):
    """Expected net benefit of sampling: population EVSI less the study's cost.

    ``sizes``: patients per arm; the study enrols ``arms_enrolled * size``.
    """
    sizes = np.asarray(sizes, float)
    return np.asarray(population_evsi, float) - (fixed_cost
                                                 + cost_per_patient * arms_enrolled * sizes)
