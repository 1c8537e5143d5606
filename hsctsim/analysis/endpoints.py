"""Clinical endpoints of a cohort and their landmark summaries.

Cumulative incidences with competing risks, survival probabilities and
prevalences, as a transplant paper reports them.  A simulated cohort is followed
completely to its horizon, so at a landmark the Aalen-Johansen and Kaplan-Meier
estimates are the proportions of patients, with binomial variance (Greenwood's
formula reduces to it without censoring).  That makes the summary a matter of
counts, which add up over chunks: a :class:`Tally` summarises 10^8 patients in
the memory of one chunk.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from ..engine.counts import (
    DONOR,
    MICRO,
    OTHER_GRAFT,
    counts_at,
    n_blocks,
    paired_differences,
    tally_differences,
)
from ..model import process_table
from .estimators import loglog_ci

__all__ = ["competing_day", "endpoint_day", "ENDPOINTS", "FIRST_OF", "LANDMARK_DAYS",
           "PairedTally", "rounded", "summarize", "Tally", "wilson"]

LANDMARK_DAYS = (30, 100, 180, 365, 730)
# the incidence endpoints come from the process table (each clinical process declared
# once); the composite ones are defined here
ENDPOINTS = {
    **{name: ("incidence", label) for name, label in process_table.incidence_endpoints().items()},
    "os": ("survival", "overall survival"),
    "rfs": ("survival", "alive without relapse"),
    "grfs": ("survival", "alive without relapse, grade III-IV acute or moderate-severe "
                         "chronic GVHD"),
    "grfs_any_cgvhd": ("survival", "alive without relapse, grade III-IV acute or any "
                                   "chronic GVHD"),
    "full_chimerism": ("prevalence", "full donor chimerism (>95%) among living engrafted"),
    "microchimerism": ("prevalence", "donor microchimerism (<1%) among living engrafted"),
}


# processes whose earliest event is the endpoint (others: the process of that name);
# a cohort may lack some of them (late death exists only with [late_mortality], late
# relapse only with [late_relapse])
_DEATHS = process_table.DEATHS
_RELAPSES = process_table.RELAPSES
FIRST_OF = {
    "relapse": _RELAPSES,
    "graft_failure": ("graft_failure", "rejection"),
    "death_after_relapse": process_table.POST_RELAPSE_DEATHS,
    # non-relapse mortality, as the trials count it: any death without relapse
    "trm": process_table.NON_RELAPSE_DEATHS,
    "os": _DEATHS,
    "rfs": (*_RELAPSES, *_DEATHS),
    # as the trials define it: grade III-IV acute GVHD, chronic GVHD needing systemic
    # therapy (moderate-severe by NIH criteria), relapse, death
    "grfs": (*_RELAPSES, *_DEATHS, "agvhd_3_4", "cgvhd_mod_sev"),
    "grfs_any_cgvhd": (*_RELAPSES, *_DEATHS, "agvhd_3_4", "cgvhd"),
}
_CHIMERISM_COLUMNS = ("engraftment", "graft_failure", "rejection", "mixed_chimerism", "dli",
                      *_DEATHS)


def endpoint_day(cohort, name):
    """Day each patient reaches an incidence or survival endpoint (``inf`` if not).

    For incidences, the day of the event itself; :func:`competing_day` gives the
    day a competing event made it impossible.  For survival endpoints, the day of
    the first failure.
    """
    names = FIRST_OF.get(name, (name,))
    return cohort.first_day(names) if len(names) > 1 else cohort.day(name)


def competing_day(cohort, name):
    """Day a competing event precluded incidence endpoint ``name`` (``inf`` if none)."""
    if name == "engraftment":
        return np.minimum(cohort.day("graft_failure"), cohort.death_day)
    if name == "relapse":
        return cohort.first_day(process_table.NON_RELAPSE_DEATHS)
    if name == "trm":
        return cohort.first_day(_RELAPSES)
    return cohort.death_day


@dataclass
class Tally:
    """Landmark counts of every endpoint, added up over cohorts (or chunks).

    Parameters
    ----------
    days : sequence of float
        Landmark days.
    """

    days: tuple = LANDMARK_DAYS
    n: int = 0
    hits: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)

    def add(self, cohort):
        """Count one cohort (or chunk) in: one O(n) pass (see :mod:`hsctsim.engine.counts`)."""
        args = self.counting_arrays(cohort.process_names, cohort.scenario.chimerism,
                                    cohort.n_patients)
        tally_differences(cohort.event_day, *args)
        return self.add_differences(args[-1], cohort.n_patients)

    def counting_arrays(self, process_names, chimerism, n_patients):
        """``(members, chimerism_cols, graft, grid, diff)``: what the counting kernels of
        :mod:`hsctsim.engine.counts` take after the event days, for ``n_patients`` patients
        of cohorts with these process columns and kind of chimerism."""
        grid = np.unique(np.asarray(self.days, float))
        diff = np.zeros((n_blocks(n_patients), len(_TALLIED) + 3, grid.size + 1), np.int64)
        # the deaths come last, as many as the cohort has
        cols = np.array([process_names.index(c) for c in _CHIMERISM_COLUMNS
                         if c in process_names])
        graft = {"donor": DONOR, "micro": MICRO}.get(chimerism, OTHER_GRAFT)
        return _members(process_names), cols, graft, grid, diff

    def add_differences(self, diff, n_patients):
        """Count in the difference arrays of :meth:`counting_arrays`, once filled."""
        d = np.asarray(self.days, float).reshape(-1)
        counts = counts_at(diff, np.unique(d), d)
        self.n += n_patients
        rows = {name: (counts[e], n_patients) for e, name in enumerate(_TALLIED)}
        living_engrafted = counts[len(_TALLIED) + 2]
        rows["full_chimerism"] = counts[len(_TALLIED)], living_engrafted
        rows["microchimerism"] = counts[len(_TALLIED) + 1], living_engrafted
        for name in ENDPOINTS:
            hit, base = rows[name]
            self.hits[name] = self.hits.get(name, 0) + hit
            self.base[name] = self.base.get(name, 0) + (
                np.full(len(d), base, np.int64) if np.isscalar(base) else base)
        return self

    def estimates(self, name, level=0.95):
        """``(estimate, low, high)`` arrays over the landmark days."""
        kind = ENDPOINTS[name][0]
        hit = np.asarray(self.hits[name], float)
        base = np.asarray(self.base[name], float)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = hit / base
        if kind == "prevalence":
            return (p, *wilson(hit, base, level))
        est = 1.0 - p if kind == "survival" else p
        with np.errstate(invalid="ignore"):
            low, high = loglog_ci(est, p * (1.0 - p) / base, level)
        return est, low, high

    def summary(self, level=0.95):
        """``{endpoint: {"kind", "at": {"d30": {"estimate", "ci95"}}}}`` (JSON-ready)."""
        out = {}
        for name, (kind, _) in ENDPOINTS.items():
            est, low, high = self.estimates(name, level)
            out[name] = {"kind": kind, "at": {
                f"d{day:g}": {"estimate": rounded(e), "ci95": [rounded(lo), rounded(hi)]}
                for day, e, lo, hi in zip(self.days, est, low, high)}}
        return out


@dataclass
class PairedTally:
    """Arm-versus-reference contrasts at landmarks, from common random numbers.

    Arms simulated with the same seed share each patient's random stream, so
    patient ``i`` of one arm is matched with patient ``i`` of another and the
    variance of a difference is that of the per-patient differences: far smaller
    than for independent cohorts.  Counts add up over chunks, as in :class:`Tally`.
    Differences ``arm - reference`` and ratios ``arm / reference`` of incidence and
    survival endpoints, with Wald intervals (the ratio's on the log scale); the
    same numbers as :func:`hsctsim.estimators.landmark_difference` and
    :func:`~hsctsim.estimators.landmark_ratio` with ``paired=True``.
    """

    days: tuple = LANDMARK_DAYS
    n: int = 0
    sums: dict = field(default_factory=dict)  # (endpoint, which) -> counts per day

    def add(self, arm, reference):
        """Count in one pair of matched cohorts (or chunks)."""
        if arm.n_patients != reference.n_patients or arm.first_patient != reference.first_patient:
            raise ValueError("paired cohorts must hold the same patients")
        d = np.asarray(self.days, float).reshape(-1)
        grid = np.unique(d)
        diff = np.zeros((n_blocks(arm.n_patients), 3 * len(_TALLIED), grid.size + 1), np.int64)
        paired_differences(arm.event_day, reference.event_day, _members(arm.process_names),
                           grid, diff)
        counts = counts_at(diff, grid, d)
        self.n += arm.n_patients
        for e, name in enumerate(_TALLIED):
            for k, which in enumerate(("a", "r", "ar")):
                key = (name, which)
                self.sums[key] = self.sums.get(key, 0) + counts[3 * e + k]
        return self

    def contrasts(self, level=0.95):
        """``{endpoint: {"kind", "at": {"d30": {"difference", "ci95", "ratio",
        "ratio_ci95"}}}}`` (JSON-ready)."""
        z = ndtri(0.5 + level / 2)
        out = {}
        for name, (kind, _) in ENDPOINTS.items():
            if kind == "prevalence":
                continue
            pa, pr, par = (np.asarray(self.sums[name, w], float) / self.n
                           for w in ("a", "r", "ar"))
            cov = par - pa * pr  # of the hit indicators; survival flips both signs
            var_a, var_r = pa * (1 - pa), pr * (1 - pr)
            ea, er = (1 - pa, 1 - pr) if kind == "survival" else (pa, pr)
            diff = ea - er
            se_diff = np.sqrt(np.maximum(var_a + var_r - 2 * cov, 0.0) / self.n)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratio = np.log(ea / er)
                se_log = np.sqrt(np.maximum(var_a / ea**2 + var_r / er**2 - 2 * cov / (ea * er),
                                            0.0) / self.n)
            out[name] = {"kind": kind, "at": {
                f"d{day:g}": {"difference": rounded(dd), "ci95": [rounded(dd - z * sd),
                                                                rounded(dd + z * sd)],
                              "ratio": rounded(np.exp(lr)),
                              "ratio_ci95": [rounded(np.exp(lr - z * sl)),
                                             rounded(np.exp(lr + z * sl))]}
                for day, dd, sd, lr, sl in zip(self.days, diff, se_diff, log_ratio, se_log)}}
        return out


_TALLIED = tuple(name for name, (kind, _) in ENDPOINTS.items() if kind != "prevalence")


def _members(process_names):
    """Process columns of each tallied endpoint, padded with -1 (see ``FIRST_OF``)."""
    width = max(len(v) for v in FIRST_OF.values())
    members = np.full((len(_TALLIED), width), -1, np.int64)
    for e, name in enumerate(_TALLIED):
        present = [p for p in FIRST_OF.get(name, (name,)) if p in process_names]
        for k, process in enumerate(present):
            members[e, k] = process_names.index(process)
    return members


def wilson(hit, base, level=0.95):
    """Wilson score interval of the binomial proportion ``hit / base`` (arrays or numbers)."""
    z = ndtri(0.5 + level / 2)  # scipy.special: scipy.stats would add a second to start-up
    hit, base = np.asarray(hit, float), np.asarray(base, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = hit / base
        centre = (p + z * z / (2 * base)) / (1 + z * z / base)
        half = z * np.sqrt(p * (1 - p) / base + z * z / (4 * base * base)) / (1 + z * z / base)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def rounded(x):
    """``x`` as summary documents hold a number: rounded to 6 decimals; None if missing,
    infinite or NaN (which JSON cannot hold)."""
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


def summarize(cohort, days=None):
    """Landmark summary of one cohort (see :meth:`Tally.summary`).

    Parameters
    ----------
    cohort : Cohort
    days : sequence of float, optional
        Landmarks; default the standard ones within the cohort's horizon.
    """
    if days is None:
        days = tuple(d for d in LANDMARK_DAYS if d <= cohort.horizon_days)
    return Tally(tuple(days)).add(cohort).summary()
