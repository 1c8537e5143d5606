"""Landmark summaries of plain multi-state cohorts: occupation, time in state, transitions.

What ``hsctsim run`` reports for a ``kind = "multistate"`` scenario: the probability
of being in each state on each landmark day (Aalen-Johansen state occupation, which
for a cohort followed completely is the share of patients in the state), the
restricted mean time in each state up to the horizon (the area under the occupation
curve), and the cumulative incidence of each transition (the probability of having
made it by the day).  Counts and sums add up over chunks, as in
:class:`hsctsim.analysis.endpoints.Tally`.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ..engine.ms_counts import count_paths
from .endpoints import LANDMARK_DAYS, rounded
from .estimators import loglog_ci, state_occupation

__all__ = ["day_label", "MULTISTATE_DAYS", "multistate_days", "MultistateTally",
           "occupation_curve", "occupation_table", "summarize_multistate"]

MULTISTATE_DAYS = LANDMARK_DAYS + (1826, 3652)  # and 5 and 10 years


def multistate_days(horizon_days):
    """Landmark days of a multi-state summary within a horizon."""
    return tuple(d for d in MULTISTATE_DAYS if d <= horizon_days)


def day_label(day):
    return f"d{day:g}"


@dataclass
class MultistateTally:
    """Occupation, time-in-state and transition counts, added up over chunks.

    Parameters
    ----------
    days : tuple of float
        Landmark days.
    horizon_days : float
        Upper limit of the restricted mean time in each state.
    """

    days: tuple
    horizon_days: float
    n: int = 0
    occupied: np.ndarray = None  # (days, S) patients in each state
    moved: np.ndarray = None  # (days, T) patients who made each transition by the day
    time_sum: np.ndarray = None  # (S,) days in state, summed over patients
    time_sq: np.ndarray = None  # (S,) squares of the same
    states: tuple = ()
    transitions: tuple = ()

    def add(self, cohort):
        """Count one cohort (or chunk) in."""
        n_states = len(cohort.states)
        # followed completely, Aalen-Johansen is the share in each state (the "empirical"
        # method of estimators.state_occupation); counted straight from the paths in one
        # numba pass (engine/ms_counts.py), as clock-reset stays can be shorter than a
        # day's rounding, which that estimator rejects as start == stop
        occupied, moved, spent_sum, spent_sq = chunk_counts(cohort, self.days,
                                                            self.horizon_days)
        if self.occupied is None:
            self.states = tuple(cohort.states)
            self.transitions = tuple(t.label for t in cohort.scenario.transitions)
            self.occupied = np.zeros_like(occupied)
            self.moved = np.zeros_like(moved)
            self.time_sum = np.zeros(n_states)
            self.time_sq = np.zeros(n_states)
        self.n += cohort.n_patients
        self.occupied += occupied
        self.moved += moved
        self.time_sum += spent_sum
        self.time_sq += spent_sq
        return self

    def summary(self, level=0.95):
        """``{endpoint: {"kind", "at": {"d30": {"estimate", "ci95"}}}}`` (JSON-ready).

        Endpoints ``occupation:<state>`` (kind ``occupation``),
        ``time_in:<state>`` (kind ``restricted_mean_days``, at the horizon) and
        ``transition:<from>-><to>`` (kind ``incidence``).
        """
        out = {}
        for s, name in enumerate(self.states):
            out[f"occupation:{name}"] = _proportions("occupation", self.days,
                                                     self.occupied[:, s], self.n, level)
        z = ndtri(0.5 + level / 2)
        mean = self.time_sum / self.n
        var = np.maximum(self.time_sq / self.n - mean ** 2, 0.0) / max(self.n - 1, 1)
        for s, name in enumerate(self.states):
            se = np.sqrt(var[s])
            out[f"time_in:{name}"] = {"kind": "restricted_mean_days", "at": {
                day_label(self.horizon_days): {"estimate": rounded(mean[s]),
                                               "ci95": [rounded(mean[s] - z * se),
                                                        rounded(mean[s] + z * se)]}}}
        for t, label in enumerate(self.transitions):
            out[f"transition:{label}"] = _proportions("incidence", self.days,
                                                      self.moved[:, t], self.n, level)
        return out


def occupation_table(cohort):
    """A cohort's paths in the layout of :func:`hsctsim.analysis.estimators.state_occupation`."""
    table = cohort.event_table()
    return {"patient": table["patient"], "from_state": table["from_state"],
            "to_state": table["to_state"], "start": table["start_day"],
            "stop": table["stop_day"]}


def occupation_curve(cohort, days):
    """Aalen-Johansen state occupation of a cohort on ``days``, shape (len(days), S)."""
    return state_occupation(occupation_table(cohort), np.arange(len(cohort.states)),
                            cohort.layout.initial, times_days=days)


def _proportions(kind, days, hits, n, level):
    p = np.asarray(hits, float) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = loglog_ci(p, p * (1 - p) / n, level)
    return {"kind": kind, "at": {day_label(d): {"estimate": rounded(e),
                                                "ci95": [rounded(lo), rounded(hi)]}
                                 for d, e, lo, hi in zip(days, p, low, high)}}


def summarize_multistate(cohort, days=None):
    """Landmark summary of one multi-state cohort (see :meth:`MultistateTally.summary`)."""
    days = multistate_days(cohort.horizon_days) if days is None else tuple(days)
    return MultistateTally(days, cohort.horizon_days).add(cohort).summary()


def chunk_counts(cohort, days, horizon_days):
    """:func:`count_paths` of a :class:`~hsctsim.model.mscohort.MultistateCohort`."""
    lay = cohort.layout
    d = np.asarray(days, float)
    order = np.argsort(d, kind="stable")
    if not np.all(np.isfinite(d)):
        raise ValueError("landmark days must be finite")
    occ, mov, tsum, tsq = count_paths(
        np.ascontiguousarray(cohort.event_day, dtype=np.float64),
        lay.proc_to_state.astype(np.int64), lay.proc_transition.astype(np.int64),
        int(lay.initial), len(lay.states), len(cohort.scenario.transitions), d[order],
        float(horizon_days))
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return occ[back], mov[back], tsum, tsq
