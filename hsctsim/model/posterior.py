"""Calibration as inference: a posterior over an arm's ranged figures.

What the posterior is over
--------------------------
An arm's scenario gives some figures as reported ranges (``Scenario.ranges()``:
incidences such as acute GVHD 30-60%, hazard ratios such as chronic GVHD on
relapse 0.5-0.6, the grade III-IV share).  Today a run takes their midpoints and
``--replicates`` draws each one on its own from its range.  Here the vector of
those figures, ``theta``, gets a prior and a posterior:

* **prior**: each figure independently from its range, read the way
  :meth:`hsctsim.model.schema.Range.draw` reads it (uniform, triangular, beta or
  log-normal with the range as its 95% interval);
* **likelihood**: the arm's calibration targets (published figures such as
  transplant-related mortality at 18 months with its 95% CI), each simulated
  for a parameter set by calibrating the model at ``theta`` (the susceptible
  fractions that reproduce its incidences under competing risks) and simulating
  a cohort; a target with a 95% CI contributes a normal likelihood on the logit
  scale, one with a number of patients ``n`` a binomial likelihood, one with a
  standard error a normal one (see :class:`Target`).

Which targets carry information beyond the priors: the calibration makes the
model reproduce every configured incidence exactly, whatever ``theta``, so a
target that *is* a configured incidence at its landmark day (BMT CTN 0901's
relapse at 18 months for ``mac``) is the same for every parameter set and moves
nothing.  The informative ones are the figures that the model reaches only
through how the processes compete and modify one another: for example TRM at 18
months with TRM at 4 years held (how much of the non-relapse death comes early
depends on how much severe GVHD, CMV and graft loss there is and how strongly
each raises it), or survival figures of the same cohort.  With one or two such
targets and a dozen ranged figures most of the posterior is the prior: the
diagnostics say how far each margin moved.

How it is sampled
-----------------
Incremental mixture importance sampling (IMIS; Steele, Raftery and Emond 2006;
Raftery and Bao 2010), written here with numpy and scipy.  Why this and not a
library: IMIS needs only batches of likelihood evaluations and importance
weights; each evaluation is a full calibration and cohort simulation, so a
method that reuses every evaluation (unlike ABC rejection, which discards most)
and needs no tolerance schedule suits it; the maintained ABC-SMC library on PyPI
(pyabc 0.13) requires pandas, scikit-learn, sqlalchemy, redis, dask distributed,
pyarrow and gitpython at install, too heavy for a core dependency of a numerical
package (and ABC would replace the published uncertainty by a distance and a
tolerance); no IMIS package for Python is on PyPI.  The sampler works on ``z``, each figure mapped through its prior's
distribution function to a standard normal (``theta_i = F_i^-1(Phi(z_i))``), so
the prior is ``N(0, I)`` on all of ``R^d`` and no mixture draw falls outside a
range.  Steps: ``n0`` draws from the prior; then, until the resample is diverse
enough (expected number of distinct points among ``n_sets`` draws at least
``(1 - 1/e) n_sets``, Raftery and Bao's rule) or ``max_iterations``: take the
point of largest importance weight, fit a normal to its ``batch`` nearest
neighbours (weighted by their importance weights), draw ``batch`` points from
it, and re-weight everything against the mixture of the prior and every normal
so far.  The output is ``n_sets`` points resampled with replacement by weight.
The optimisation stage of Raftery and Bao is not used.

Everything is a function of the seed: the draws come from one
``numpy.random.Generator``, and the likelihood is deterministic (the simulation
uses common random numbers, the same patient streams for every parameter set),
so the same seed gives the same posterior whatever the thread count.
"""

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import logit, ndtr, ndtri

from .schema import Z95

__all__ = ["BUNDLED_POSTERIORS", "IMISResult", "Prior", "TARGETS_FILE", "Target", "imis",
           "posterior_folder"]

# the arms' calibration targets (published figures with their uncertainty)
TARGETS_FILE = Path(__file__).with_name("calibration_targets.toml")

_EPS = 1e-12  # keeps prior CDF values and probabilities off 0 and 1


# posteriors shipped with the package (bundled arms), used when the user has none
BUNDLED_POSTERIORS = Path(__file__).with_name("posteriors")


def posterior_folder(arm):
    """Where ``hsctsim calibrate ARM`` keeps an arm's posterior without ``--out``.

    ``$HSCTSIM_CACHE_DIR/posterior/ARM`` (default ``~/.cache/hsctsim``), beside the
    point calibrations of :mod:`hsctsim.model.calibrate`.
    """
    root = os.environ.get("HSCTSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hsctsim")
    return Path(root) / "posterior" / arm


def _distribution(r):
    """The frozen scipy distribution a :class:`Range` is drawn from."""
    from scipy import stats  # scipy.stats: slow to import (start-up time)

    width = r.high - r.low
    if r.distribution == "triangular":
        return stats.triang(c=(r.mid - r.low) / width, loc=r.low, scale=width)
    if r.distribution == "beta":
        a, b = r.beta_parameters()
        return stats.beta(a, b)
    if r.distribution == "lognormal":
        return stats.lognorm(s=math.log(r.high / r.low) / (2 * Z95),
                             scale=math.sqrt(r.low * r.high))
    return stats.uniform(loc=r.low, scale=width)


class Prior:
    """Independent priors of named figures, each from its reported range.

    Parameters
    ----------
    items : list of (str, Range)
        Dotted keys and their ranges (points, ``low == high``, are left out: they
        are not parameters).
    """

    def __init__(self, items):
        self.items = [(k, r) for k, r in items if r.low != r.high]
        if not self.items:
            raise ValueError("no ranged figures: nothing to calibrate")
        self.keys = [k for k, _ in self.items]
        self.dists = [_distribution(r) for _, r in self.items]

    @property
    def dim(self):
        return len(self.items)

    def values(self, z):
        """Figures ``theta`` (rows) for standard-normal coordinates ``z`` (rows)."""
        u = np.clip(ndtr(np.atleast_2d(z)), _EPS, 1 - _EPS)
        return np.column_stack([d.ppf(u[:, i]) for i, d in enumerate(self.dists)])

    def coordinates(self, theta):
        """The inverse of :meth:`values`."""
        theta = np.atleast_2d(theta)
        u = np.column_stack([d.cdf(theta[:, i]) for i, d in enumerate(self.dists)])
        return ndtri(np.clip(u, _EPS, 1 - _EPS))

    def interval(self, level=0.9):
        """Central ``level`` prior interval of each figure, ``(d, 2)``."""
        q = (0.5 - level / 2, 0.5 + level / 2)
        return np.array([[d.ppf(q[0]), d.ppf(q[1])] for d in self.dists])


@dataclass(frozen=True)
class Target:
    """A published probability with its uncertainty, as a likelihood.

    Exactly one of ``ci95`` (a 95% confidence interval: normal on the logit
    scale, its standard error ``(logit high - logit low) / 3.92``), ``n`` (a
    binomial with ``estimate * n`` events of ``n``) or ``se`` (normal with that
    standard error) is used, in that order of preference.
    """

    label: str
    estimate: float
    ci95: tuple | None = None
    n: int | None = None
    se: float | None = None

    def __post_init__(self):
        if not 0.0 < self.estimate < 1.0:
            raise ValueError(f"{self.label}: estimate {self.estimate} is not a probability "
                             "strictly between 0 and 1")
        if self.ci95 is None and self.n is None and self.se is None:
            raise ValueError(f"{self.label}: no uncertainty (ci95, n or se): it cannot be "
                             "a likelihood")
        if self.ci95 is not None and not 0.0 < self.ci95[0] < self.ci95[1] < 1.0:
            raise ValueError(f"{self.label}: ci95 {self.ci95} must be inside (0, 1), low < high")

    @property
    def kind(self):
        return "ci95" if self.ci95 is not None else "n" if self.n is not None else "se"

    def loglik(self, p, n_sim=None):
        """Log-likelihood (0 at ``p == estimate``) of simulated probabilities ``p``.

        ``n_sim``, the simulated patients behind each ``p``, adds the Monte Carlo
        variance of ``p`` to the published one (for ``n``, the binomial's size
        becomes ``1 / (1/n + 1/n_sim)``), so that a small simulation does not
        make the likelihood sharper than it is.
        """
        p = np.clip(np.asarray(p, float), _EPS, 1 - _EPS)
        bad = ~np.isfinite(p)
        est = self.estimate
        if self.kind == "ci95":
            se2 = ((logit(self.ci95[1]) - logit(self.ci95[0])) / (2 * Z95)) ** 2
            if n_sim:
                se2 = se2 + 1.0 / (n_sim * p * (1 - p))
            out = -0.5 * (logit(p) - logit(est)) ** 2 / se2
        elif self.kind == "n":
            n = 1.0 / (1.0 / self.n + (1.0 / n_sim if n_sim else 0.0))
            k = est * n
            out = (k * np.log(p / est) + (n - k) * np.log((1 - p) / (1 - est)))
        else:
            se2 = self.se**2 + (p * (1 - p) / n_sim if n_sim else 0.0)
            out = -0.5 * (p - est) ** 2 / se2
        return np.where(bad, -np.inf, out)


@dataclass
class IMISResult:
    """What :func:`imis` returns.

    ``z``: every point evaluated, in evaluation order, in standard-normal
    coordinates; ``loglik``: their log-likelihoods; ``weights``: final importance
    weights (sum 1); ``index``: the rows of ``z`` resampled as the posterior
    sample; ``iterations``: mixture components added; ``n0``: initial draws from
    the prior (the first rows); ``batch``: points per component.
    """

    z: np.ndarray
    loglik: np.ndarray
    weights: np.ndarray
    index: np.ndarray
    iterations: int
    converged: bool
    n0: int
    batch: int

    @property
    def ess(self):
        """Kish's effective sample size of the importance weights."""
        return float(1.0 / np.sum(self.weights**2))

    @property
    def expected_unique(self):
        """Expected number of distinct points among ``len(index)`` weighted draws."""
        return float(np.sum(1.0 - (1.0 - self.weights) ** len(self.index)))

    def diagnostics(self):
        """Plain data: evaluations, ESS, its share, unique resampled share, iterations."""
        n = len(self.loglik)
        return {"evaluations": n, "ess": self.ess, "ess_share": self.ess / n,
                "resampled": len(self.index),
                "unique_resampled": int(np.unique(self.index).size),
                "unique_share": float(np.unique(self.index).size / len(self.index)),
                "finite_likelihood_share": float(np.mean(np.isfinite(self.loglik))),
                "iterations": self.iterations, "converged": self.converged}


def _log_normal_pdf(z, mean, chol):
    """Log density of ``N(mean, L L^T)`` at the rows of ``z``."""
    dev = np.linalg.solve(chol, (z - mean).T)
    d = z.shape[1]
    return (-0.5 * np.sum(dev**2, axis=0) - np.sum(np.log(np.diag(chol)))
            - 0.5 * d * math.log(2 * math.pi))


def _weights(z, loglik, n0, components, batch):
    """Normalised importance weights of ``z`` against the mixture proposal."""
    d = z.shape[1]
    log_prior = -0.5 * np.sum(z**2, axis=1) - 0.5 * d * math.log(2 * math.pi)
    total = n0 + batch * len(components)
    terms = [np.log(n0 / total) + log_prior]
    terms += [np.log(batch / total) + _log_normal_pdf(z, m, c) for m, c in components]
    log_q = np.logaddexp.reduce(np.array(terms), axis=0)
    log_w = np.where(np.isfinite(loglik), loglik + log_prior - log_q, -np.inf)
    if not np.any(np.isfinite(log_w)):
        raise ValueError("every parameter set evaluated has likelihood 0")
    w = np.exp(log_w - np.max(log_w))
    return w / w.sum()


def imis(loglik, dim, rng, n_sets=1000, n0=None, batch=None, max_iterations=50):
    """Incremental mixture importance sampling on a standard-normal prior.

    Parameters
    ----------
    loglik : callable
        ``loglik(z)``: the log-likelihood of each row of ``z`` (``(m, dim)``), an
        array of ``m`` (``-inf`` where the parameters are impossible).  Called
        with the initial draws, then once per iteration with ``batch`` rows.
    dim : int
        Number of parameters.
    rng : numpy.random.Generator
        The only source of randomness.
    n_sets : int
        Size of the posterior sample (resampled with replacement by weight).
    n0 : int, optional
        Initial prior draws (default ``n_sets``).
    batch : int, optional
        Points per mixture component (default ``max(10, n_sets // 10)``).  Raftery
        and Bao take ``1000 d`` and ``100 d``; here each point costs a calibration
        solve and a cohort, and the arms' likelihoods are broad (most of the
        posterior is the prior), so fewer do.
    max_iterations : int
        Mixture components at most.

    Returns
    -------
    IMISResult
    """
    batch = int(batch or max(10, n_sets // 10))
    n0 = int(n0 or n_sets)
    z = rng.standard_normal((n0, dim))
    ll = np.asarray(loglik(z), float)
    components = []
    converged = False
    for _ in range(max_iterations + 1):
        w = _weights(z, ll, n0, components, batch)
        if np.sum(1.0 - (1.0 - w) ** n_sets) >= (1.0 - math.exp(-1.0)) * n_sets:
            converged = True
            break
        if len(components) == max_iterations:
            break
        best = int(np.argmax(w))
        near = np.argsort(np.sum((z - z[best]) ** 2, axis=1))[:batch]
        # Raftery and Bao: neighbours weighted by the mean of their weight and 1/N
        nw = 0.5 * (w[near] + 1.0 / len(w))
        dev = z[near] - z[best]
        cov = (dev * nw[:, None]).T @ dev / nw.sum() + 1e-6 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        components.append((z[best].copy(), chol))
        new = z[best] + rng.standard_normal((batch, dim)) @ chol.T
        z = np.vstack([z, new])
        ll = np.concatenate([ll, np.asarray(loglik(new), float)])
    index = rng.choice(len(w), size=n_sets, replace=True, p=w)
    return IMISResult(z, ll, w, index, len(components), converged, n0, batch)
