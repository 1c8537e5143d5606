"""Posterior calibration of an arm: the simulation side of :mod:`hsctsim.model.posterior`.

A parameter set (the arm's ranged figures) is turned into simulated targets by
calibrating the scenario point (:func:`hsctsim.model.calibrate.calibrate`, warm
started from the midpoints' solution) and simulating a cohort with the same
patient streams for every set (common random numbers); the published figures are
read from the simulated cohort as ``hsctsim validate`` reads them
(:func:`hsctsim.analysis.validation.simulated`).  :func:`calibrate_arm` runs the
sampler and returns the posterior sample with its calibrated susceptible
fractions, so that a draw from it needs no calibration solve.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..analysis.validation import load_figures, simulated
from ..model.calibrate import calibrate, fingerprint
from ..model.posterior import (
    BUNDLED_POSTERIORS,
    TARGETS_FILE,
    Prior,
    Target,
    imis,
    posterior_folder,
)
from ..model.scenario import Scenario, ScenarioError, load_scenario
from .cohorts import DEFAULT_SEED, simulate

__all__ = ["ArmPosterior", "PosteriorSample", "arm_targets", "calibrate_arm", "is_held",
           "load_posterior", "predictive_intervals", "target_arms"]

PROBABILITY_ENDPOINTS = ("os", "rfs", "pfs", "grfs", "relapse", "trm")


def target_arms(path=TARGETS_FILE):
    """The arms that have calibration targets in ``path``, in order of appearance."""
    return list(dict.fromkeys(f.arm for f in load_figures(path)))


def arm_targets(arm, path=TARGETS_FILE):
    """The calibration targets (validation :class:`Figure` objects) of ``arm``.

    Raises
    ------
    ScenarioError
        When the file names none for the arm, or one that is not a probability at a
        landmark with an uncertainty.
    """
    figures = [f for f in load_figures(path) if f.arm == arm]
    if not figures:
        raise ScenarioError(path, None, f"no calibration targets for arm '{arm}'")
    for i, f in enumerate(figures):
        if f.endpoint not in PROBABILITY_ENDPOINTS or f.among is not None:
            raise ScenarioError(path, f"{arm} target {i + 1}", f"endpoint '{f.endpoint}'"
                                f"{' with among' if f.among else ''} cannot be a calibration "
                                f"target (one of {', '.join(PROBABILITY_ENDPOINTS)}, whole cohort)")
        if f.ci95 is None and f.n is None and f.se is None:
            raise ScenarioError(path, f"{arm} target {i + 1}", "needs ci95, n or se")
    return figures


def is_held(figure, scenario):
    """Whether the calibration reproduces ``figure`` for every parameter set.

    True for a cumulative incidence that is a configured incidence of the same
    process at the same landmark day (its estimate may differ from the configured
    value: then the arm disagrees with its own target, and the posterior cannot
    mend that).  False in an arm with an intervention (donor NK cells, DLI): the
    calibration runs without it, and the intervention then changes the hazards, so
    the simulated cohort does not reproduce the configured incidences (fewer
    relapses leave more patients at risk of TRM).
    """
    if scenario.nk_cells is not None or scenario.dli is not None:
        return False
    spec = scenario.processes.get(figure.endpoint)
    return (spec is not None and spec.incidence is not None
            and spec.landmark_day == figure.landmark_day)


def _target(figure):
    ci = tuple(figure.ci95) if figure.ci95 is not None else None
    return Target(f"{figure.endpoint} d{figure.landmark_day:g}", figure.estimate, ci,
                  figure.n, figure.se)


def _study_noise(target, p, rng):
    """``p`` as a new study of the target's size would report it (its sampling error)."""
    p = np.clip(p, 1e-9, 1 - 1e-9)
    if target.kind == "n":
        return rng.binomial(target.n, p) / target.n
    if target.kind == "ci95":
        from scipy.special import expit, logit  # deferred: only this helper needs them
        se = (logit(target.ci95[1]) - logit(target.ci95[0])) / 3.919927969080108
        return expit(logit(p) + se * rng.standard_normal(p.shape))
    return np.clip(p + target.se * rng.standard_normal(p.shape), 0.0, 1.0)


@dataclass
class ArmPosterior:
    """A posterior sample of an arm's ranged figures, with what a run needs.

    ``values``: ``(n_sets, d)`` figures, columns ``keys``; ``susceptible``: the
    calibrated susceptible fractions of each set; ``targets``: per target, the
    published value, whether the calibration holds it, and the prior and
    posterior 90% intervals of the simulated figure (``model``) and of what a new
    study of the target's size would report (``predictive``); ``diagnostics``:
    the sampler's (:meth:`hsctsim.model.posterior.IMISResult.diagnostics`).
    """

    arm: str
    keys: list
    ranges: list
    values: np.ndarray
    susceptible: list
    targets: list
    diagnostics: dict
    settings: dict = field(default_factory=dict)

    def to_dict(self):
        """Plain JSON data (the file ``hsctsim calibrate`` writes)."""
        return {"arm": self.arm, "method": "incremental mixture importance sampling (IMIS)",
                "version": __version__, "settings": self.settings,
                "parameters": [{"key": k, "low": r.low, "high": r.high,
                                "distribution": r.distribution}
                               for k, r in zip(self.keys, self.ranges)],
                "sets": self.values.tolist(), "susceptible": self.susceptible,
                "targets": self.targets, "diagnostics": self.diagnostics}

    def margins(self, level=0.9):
        """Per figure: prior and posterior mean and central ``level`` interval."""
        prior = Prior(list(zip(self.keys, self.ranges)))
        q = (0.5 - level / 2, 0.5 + level / 2)
        post = np.quantile(self.values, q, axis=0)
        return [{"key": k, "prior_mean": float(prior.dists[i].mean()),
                 "prior_interval": prior.interval(level)[i].tolist(),
                 "posterior_mean": float(self.values[:, i].mean()),
                 "posterior_interval": post[:, i].tolist()}
                for i, k in enumerate(self.keys)]


class _Evaluator:
    """Log-likelihood of parameter sets, keeping what each evaluation produced."""

    def __init__(self, scenario, prior, figures, n_patients, calibration_patients, seed,
                 threads):
        self.scenario, self.prior, self.figures = scenario, prior, figures
        self.targets = [_target(f) for f in figures]
        self.held = [is_held(f, scenario) for f in figures]
        self.n_patients, self.calibration_patients = n_patients, calibration_patients
        self.seed, self.threads = seed, threads
        self.horizon = max(f.horizon_days for f in figures)
        self.start = calibrate(scenario.at_midpoints(), calibration_patients, use_cache=False)
        self.simulated, self.susceptible = [], []

    def _one(self, theta):
        point = self.scenario.with_values(dict(zip(self.prior.keys, theta.tolist())))
        try:
            susceptible = calibrate(point, self.calibration_patients, use_cache=False,
                                    start=self.start)
        except ScenarioError:  # incidences that cannot be reached together: impossible
            return None, None
        cohort = simulate(point, self.n_patients, self.seed, threads=self.threads,
                          horizon_days=self.horizon, susceptible=susceptible)
        arm = {f.arm: cohort for f in self.figures}
        return np.array([simulated(f, arm)[0] for f in self.figures]), susceptible

    def __call__(self, z):
        theta = self.prior.values(z)
        out = np.empty(len(theta))
        for i, row in enumerate(theta):
            sims, susceptible = self._one(row)
            self.susceptible.append(susceptible)
            self.simulated.append(sims if sims is not None
                                  else np.full(len(self.figures), math.nan))
            out[i] = -math.inf if sims is None else sum(
                t.loglik(p, self.n_patients) for t, p, h
                in zip(self.targets, sims, self.held) if not h)
        return out


def calibrate_arm(scenario, n_sets=1000, n_patients=20_000, calibration_patients=20_000,
                  seed=DEFAULT_SEED, threads=None, n0=None, batch=None, max_iterations=30,
                  targets_path=TARGETS_FILE):
    """Bayesian calibration of an arm to its targets (see :mod:`hsctsim.model.posterior`).

    Parameters
    ----------
    scenario : Scenario or str
        The arm (a bundled name or a loaded scenario); its ranged figures are the
        parameters.
    n_sets : int
        Size of the posterior sample.
    n_patients, calibration_patients : int
        Patients simulated per parameter set for the targets, and per
        conditional Monte Carlo evaluation of its calibration.
    seed : int
        Seeds the sampler and (the same for every set) the patient streams.
    threads : int, optional
        Threads of the simulation (the result does not depend on them).
    n0, batch, max_iterations
        See :func:`hsctsim.model.posterior.imis`.

    Returns
    -------
    ArmPosterior
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    figures = arm_targets(scenario.name, targets_path)
    prior = Prior(scenario.ranges())
    evaluate = _Evaluator(scenario, prior, figures, n_patients, calibration_patients, seed,
                          threads)
    if all(evaluate.held):
        raise ScenarioError(targets_path, None, f"every target of arm '{scenario.name}' is "
                            "one of its configured incidences: none carries information")
    rng = np.random.default_rng([int(seed), 0x9D5])
    res = imis(evaluate, prior.dim, rng, n_sets, n0, batch, max_iterations)
    sims = np.array(evaluate.simulated)
    prior_sims = sims[:res.n0]  # the initial draws are from the prior
    post_sims = sims[res.index]
    noise = np.random.default_rng([int(seed), 0x9D6])
    table = []
    for j, (f, t, h) in enumerate(zip(figures, evaluate.targets, evaluate.held)):
        row = {"label": t.label, "endpoint": f.endpoint, "landmark_day": f.landmark_day,
               "estimate": f.estimate, "uncertainty": t.kind, "held_by_calibration": h,
               "citation": f.citation}
        for name, s in (("prior", prior_sims[:, j]), ("posterior", post_sims[:, j])):
            s = s[np.isfinite(s)]
            row[f"{name}_model"] = np.quantile(s, [0.05, 0.5, 0.95]).tolist()
            row[f"{name}_predictive"] = np.quantile(_study_noise(t, s, noise),
                                                    [0.05, 0.95]).tolist()
        low, high = row["posterior_predictive"]
        row["inside_posterior_predictive"] = bool(low <= f.estimate <= high)
        table.append(row)
    settings = {"seed": int(seed), "n_sets": int(n_sets), "n_patients": int(n_patients),
                "calibration_patients": int(calibration_patients),
                "fingerprint": fingerprint(scenario.at_midpoints()),
                "targets_file": str(targets_path)}
    return ArmPosterior(scenario.name, prior.keys, [r for _, r in prior.items],
                        prior.values(res.z[res.index]),
                        [evaluate.susceptible[i] for i in res.index], table,
                        res.diagnostics(), settings)


@dataclass(frozen=True)
class PosteriorSample:
    """A stored posterior (``posterior.json`` of ``hsctsim calibrate``), ready to draw from."""

    arm: str
    keys: list
    values: np.ndarray
    susceptible: list
    fingerprint: str
    path: str

    def draw(self, scenario, replicate):
        """Replicate ``replicate``'s ``(scenario point, susceptible fractions)``.

        The sets are taken in their stored order (a resample in random order),
        cycling past the last: no calibration solve.
        """
        i = int(replicate) % len(self.values)
        point = scenario.with_values(dict(zip(self.keys, self.values[i].tolist())))
        return point, dict(self.susceptible[i])


def load_posterior(scenario, folder=None):
    """The stored posterior of ``scenario``'s arm, checked against the scenario.

    ``folder``: where ``hsctsim calibrate`` wrote it (default
    :func:`hsctsim.model.posterior.posterior_folder`, and where that has none, the
    posterior shipped with the package for a bundled arm,
    :data:`hsctsim.model.posterior.BUNDLED_POSTERIORS`).

    Raises
    ------
    ScenarioError
        Naming the file, when there is none, it cannot be read, or it was made
        for a different scenario (its figures, timings or ties changed since).
    """
    import json  # deferred: only reading a stored posterior needs it

    path = Path(folder or posterior_folder(scenario.name)) / "posterior.json"
    shipped = BUNDLED_POSTERIORS / scenario.name / "posterior.json"
    if folder is None and not path.exists() and shipped.exists():
        path = shipped  # the user has run no calibration of their own
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = [p["key"] for p in data["parameters"]]
        values = np.array(data["sets"], float)
        susceptible = [{str(k): float(v) for k, v in s.items()} for s in data["susceptible"]]
        stored = data["settings"]["fingerprint"]
    except FileNotFoundError:
        if scenario.name not in target_arms():
            raise ScenarioError(path, None, f"no posterior of '{scenario.name}', which has "
                                f"no calibration targets ({TARGETS_FILE.name}): draw its "
                                "ranges (--draws ranges)") from None
        raise ScenarioError(path, None, f"no posterior of '{scenario.name}': run `hsctsim "
                            f"calibrate {scenario.name}` first") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScenarioError(path, None, f"not a posterior written by hsctsim calibrate "
                            f"({type(exc).__name__}: {exc})") from None
    if stored != fingerprint(scenario.at_midpoints()):
        if scenario.settings:
            raise ScenarioError(path, None, f"made for '{scenario.name}' as configured; "
                                f"{scenario.origin} changes it, so its posterior does not "
                                "apply (leave out the --set or --draws posterior)")
        raise ScenarioError(path, None, f"made for another version of '{scenario.name}' "
                            f"(its figures changed since): run `hsctsim calibrate "
                            f"{scenario.name}` again")
    if (values.ndim != 2 or values.shape[1] != len(keys) or len(susceptible) != len(values)
            or not len(values)):
        raise ScenarioError(path, None, "sets, parameters and susceptible fractions do not "
                            "match in size")
    return PosteriorSample(scenario.name, keys, values, susceptible, stored, str(path))


def predictive_intervals(figures, scenario, sample, n_patients, seed=DEFAULT_SEED, n_sets=20,
                         level=0.9, noise_draws=50):
    """Posterior predictive intervals of published figures of one arm.

    For each of the first ``n_sets`` posterior sets (with their stored
    calibrations: no solve), a cohort of ``n_patients`` is simulated and each
    figure read from it; each value is then reported as a new study of the
    figure's size would report it (its published 95% interval, ``n`` or
    standard error gives that sampling error on the logit scale; a figure
    without one gets the model's spread alone).  Hazard ratios, which need a
    second arm, are left out (None).

    Returns
    -------
    list of (low, high) or None, one per figure
    """
    from scipy.special import expit, logit  # deferred: only this function needs them

    rng = np.random.default_rng([int(seed), 0x9D7])
    horizon = max(f.horizon_days for f in figures)
    chosen = [i for i, f in enumerate(figures) if not f.is_ratio and not f.is_median]
    values = np.full((min(n_sets, len(sample.values)), len(figures)), math.nan)
    for r in range(len(values)):
        point, susceptible = sample.draw(scenario, r)
        cohort = simulate(point, n_patients, seed, horizon_days=horizon,
                          susceptible=susceptible)
        for j in chosen:
            values[r, j] = simulated(figures[j], {figures[j].arm: cohort})[0]
    q = (0.5 - level / 2, 0.5 + level / 2)
    out = [None] * len(figures)
    for j in chosen:
        v = np.clip(values[:, j][np.isfinite(values[:, j])], 1e-6, 1 - 1e-6)
        if not v.size:
            continue
        interval = figures[j].interval
        if interval is not None and 0.0 < interval[0] < interval[1] < 1.0:
            se = (logit(interval[1]) - logit(interval[0])) / 3.919927969080108
            v = expit(logit(np.repeat(v, noise_draws))
                      + se * rng.standard_normal(v.size * noise_draws))
        low, high = np.quantile(v, q)
        out[j] = (float(low), float(high))
    return out
