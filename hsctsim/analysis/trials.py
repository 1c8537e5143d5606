"""Small trials: what a series of N patients would observe, and how it varies.

The seed series had 5 to 50 patients.  :func:`trial_statistics` splits a simulated
cohort of ``K * N`` patients into ``K`` trials of ``N``; each patient enters at a
day drawn uniformly over the accrual period and is followed to the analysis day
(administrative censoring), so an event counts only if it happened within the
patient's follow-up.  Each trial then reports what a paper would: counts of
engraftment, graft failure, GVHD, relapse or progression, TRM, deaths and tumour
responses, counts by a day after transplant (``relapse_d100``), and the
Kaplan-Meier median survival.  :func:`tail` places a reported result in that
spread.
"""

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from ..model import process_table

__all__ = ["COUNTS", "DEFAULT_STATISTICS", "ENTRY_STREAM", "km_median",
           "multistate_statistic_names", "multistate_trial_statistics", "parse_statistic",
           "plot_trial_counts", "spread", "statistic_names", "tail", "trial_statistics",
           "TrialDesign"]

COUNTS = {
    "engraftment": ("engraftment",),
    "graft_failure": ("graft_failure", "rejection"),
    "agvhd": ("agvhd",),
    "agvhd_3_4": ("agvhd_3_4",),
    "cgvhd": ("cgvhd",),
    "relapse": process_table.RELAPSES,
    "trm": process_table.NON_RELAPSE_DEATHS,
    "deaths": process_table.DEATHS,
    "relapse_or_death": (*process_table.RELAPSES, *process_table.DEATHS),
    "responses": ("chemo_response", "gvt_response"),
    "complete_responses": ("complete_response",),
    "count_recovery": ("count_recovery",),
}
DEFAULT_STATISTICS = ("engraftment", "graft_failure", "agvhd", "relapse", "trm", "deaths",
                      "relapse_or_death",
                      "responses", "complete_responses", "count_recovery", "median_os_days")
_BY_DAY = re.compile(r"^(?P<count>[a-z_0-9]+?)_d(?P<day>\d+(\.\d+)?)$")
# a multi-state model's names: any state name, or a transition's from->to
_NAMED_BY_DAY = re.compile(r"^(?P<count>.+)_d(?P<day>\d+(\.\d+)?)$")
# entry days of trial patients: a stream of their own, apart from the patients' own
ENTRY_STREAM = 0x7472_6961_6C73


@dataclass(frozen=True)
class TrialDesign:
    """Size, number of trials, accrual and analysis day of a simulated trial series."""

    size: int
    trials: int
    accrual_days: float = 0.0
    analysis_day: float | None = None  # None: every patient followed to the horizon

    def follow_up_days(self, horizon_days, seed):
        """Per trial and patient, days of follow-up, shape (trials, size)."""
        if self.accrual_days > 0:
            rng = np.random.default_rng([int(seed) % 2**63, ENTRY_STREAM])
            entry = rng.uniform(0.0, self.accrual_days, size=(self.trials, self.size))
        else:
            entry = np.zeros((self.trials, self.size))
        if self.analysis_day is None:
            return np.full_like(entry, float(horizon_days))
        return np.minimum(self.analysis_day - entry, horizon_days)


def statistic_names(cohort):
    """The statistics this cohort's processes allow (``DEFAULT_STATISTICS`` order)."""
    have = set(cohort.process_names)
    return [s for s in DEFAULT_STATISTICS
            if s == "median_os_days" or set(COUNTS[s]) & have]


def parse_statistic(name, cohort=None):
    """``(count name, day or None)`` of ``relapse`` or ``relapse_d100``; ValueError if unknown.

    With a multi-state ``cohort``, its own names (:func:`multistate_statistic_names`).
    """
    if cohort is not None and hasattr(cohort, "layout"):
        return _parse_multistate(name, _multistate_columns(cohort))
    if name == "median_os_days":
        return name, None
    match = _BY_DAY.match(name)
    base, day = (match["count"], float(match["day"])) if match else (name, None)
    if base not in COUNTS:
        raise ValueError(f"unknown statistic '{name}'; one of {', '.join(DEFAULT_STATISTICS)}"
                         " or a count by a day after transplant such as relapse_d100")
    if cohort is not None and not set(COUNTS[base]) & set(cohort.process_names):
        raise ValueError(f"statistic '{name}': this scenario has no "
                         f"{' or '.join(COUNTS[base])} process")
    return base, day


def km_median(time, event):
    """Kaplan-Meier median of each row (``inf`` where the curve stays above 1/2).

    Parameters
    ----------
    time, event : arrays of shape (K, N)
        Follow-up days and whether the row's subject had the event then.

    Returns
    -------
    ndarray (K,)
        The first time the survival estimate is at or below 0.5 (events before
        censorings at a tie, as usual; an estimate of exactly 1/2 counts as
        reached, whatever the rounding of the product).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, bool)
    k, n = time.shape
    order = _row_order(time, event)
    t = np.take_along_axis(time, order, axis=1)
    d = np.take_along_axis(event, order, axis=1)
    at_risk = n - np.arange(n)[None, :]
    surv = np.cumprod(np.where(d, 1.0 - 1.0 / at_risk, 1.0), axis=1)
    below = surv <= 0.5 + 1e-12  # a product that is 1/2 exactly, less its rounding
    first = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), t[np.arange(k), first], np.inf)


def _row_order(time, event):
    # sort by time, events first at ties: a stable sort of time after ordering by ~event
    pre = np.argsort(~event, axis=1, kind="stable")
    t = np.take_along_axis(time, pre, axis=1)
    return np.take_along_axis(pre, np.argsort(t, axis=1, kind="stable"), axis=1)


def trial_statistics(cohort, design, statistics=None, seed=0):
    """Per trial, each statistic a trial of ``design.size`` patients would report.

    Parameters
    ----------
    cohort : Cohort
        At least ``design.size * design.trials`` patients; patient ``i`` of trial
        ``j`` is cohort patient ``j * size + i``.
    design : TrialDesign
    statistics : sequence of str, optional
        Names (see :data:`COUNTS`, ``<count>_d<day>``, ``median_os_days``);
        default :func:`statistic_names`.
    seed : int
        Seed of the entry days.

    Returns
    -------
    dict of str to ndarray (trials,)
    """
    k, n, follow = _trials_and_follow_up(cohort, design, seed)
    out = {}
    for name in statistics or statistic_names(cohort):
        base, day = parse_statistic(name, cohort)
        if base == "median_os_days":
            death = cohort.death_day[: k * n].reshape(k, n)
            out[name] = km_median(np.minimum(death, follow), death <= follow)
            continue
        first = np.full(k * n, np.inf)
        for process in COUNTS[base]:
            if process in cohort.process_names:
                first = np.minimum(first, cohort.day(process)[: k * n])
        first = first.reshape(k, n)
        seen = first <= follow
        if day is not None:
            seen &= first <= day
        out[name] = seen.sum(axis=1)
    return out


def _multistate_columns(cohort):
    """``{statistic: engine columns whose event is it}`` of a multi-state cohort.

    A state's name counts the patients who entered it (any visit: the first entry
    counts); ``<from>-><to>`` those who made that transition.
    """
    lay = cohort.layout
    out = {}
    for s, state in enumerate(cohort.states):
        if s != lay.initial:
            out[state] = np.flatnonzero(lay.proc_to_state == s)
    for t, tr in enumerate(cohort.scenario.transitions):
        out[tr.label] = np.flatnonzero(lay.proc_transition == t)
    return {k: v for k, v in out.items() if v.size}


def multistate_statistic_names(cohort):
    """The counts a trial of a multi-state model reports: the patients entering each
    state but the initial one, then those making each transition."""
    return list(_multistate_columns(cohort))


def _parse_multistate(name, columns):
    if name in columns:
        return name, None
    match = _NAMED_BY_DAY.match(name)
    if match and match["count"] in columns:
        return match["count"], float(match["day"])
    raise ValueError(f"unknown statistic '{name}' of this multi-state model; one of "
                     f"{', '.join(columns)}, or one of them by a day after the start such "
                     f"as {next(iter(columns), 'death')}_d365")


def _trials_and_follow_up(cohort, design, seed):
    """``(trials, size, follow-up day of each patient)``; the cohort must be big enough."""
    k, n = design.trials, design.size
    if cohort.n_patients < k * n:
        raise ValueError("the cohort has fewer patients than trials x size")
    return k, n, design.follow_up_days(cohort.horizon_days, seed)


def multistate_trial_statistics(cohort, design, statistics=None, seed=0):
    """Per trial, the count of patients with each event of a multi-state model.

    As :func:`trial_statistics`, for a
    :class:`~hsctsim.model.mscohort.MultistateCohort`: an event counts when it
    happened within the patient's follow-up (entry over the accrual period, analysis
    day), and by the day of ``<name>_d<day>``.  Names: see
    :func:`multistate_statistic_names`.

    Returns
    -------
    dict of str to ndarray (trials,)
    """
    k, n, follow = _trials_and_follow_up(cohort, design, seed)
    columns = _multistate_columns(cohort)
    out = {}
    for name in statistics or list(columns):
        base, day = _parse_multistate(name, columns)
        first = cohort.event_day[: k * n][:, columns[base]].min(axis=1).reshape(k, n)
        seen = first <= follow
        if day is not None:
            seen &= first <= day
        out[name] = seen.sum(axis=1)
    return out


def tail(values, observed):
    """Where a reported value falls among simulated ones.

    Returns
    -------
    dict
        ``p_at_most`` = P(X <= observed), ``p_at_least`` = P(X >= observed) and
        ``p_two_sided`` = min(1, 2 min(...)), the simulated tail probabilities.
    """
    values = np.asarray(values, float)
    low = float(np.mean(values <= observed))
    high = float(np.mean(values >= observed))
    return {"p_at_most": low, "p_at_least": high, "p_two_sided": min(1.0, 2 * min(low, high))}


def spread(values):
    """Mean, median and the central 95% range of simulated values (``inf`` kept)."""
    values = np.asarray(values, float)
    finite = np.isfinite(values)
    mean = float(values[finite].mean()) if finite.all() else None
    q = np.percentile(values, [2.5, 50, 97.5], method="inverted_cdf")
    return {"mean": mean, "median": _num(q[1]), "range95": [_num(q[0]), _num(q[2])],
            "share_not_reached": float(np.mean(~finite)) if not finite.all() else 0.0}


def _num(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def plot_trial_counts(values, name, observed=None, title=None, ax=None):
    """Histogram of a statistic over simulated trials, the reported value marked.

    Parameters
    ----------
    values : array (trials,)
    name : str
        The statistic (axis label).
    observed : float, optional
        The reported value: a vertical line, with the simulated tail probabilities.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)
    from matplotlib.ticker import MaxNLocator, PercentFormatter  # likewise

    if ax is None:
        # the legend sits right of the bars: a wider figure, laid out to keep all in
        _, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
    values = np.asarray(values, float)
    finite = values[np.isfinite(values)]
    if name == "median_os_days":
        ax.hist(finite, bins=40, weights=np.full(finite.size, 1.0 / max(values.size, 1)),
                color="#a6cee3", edgecolor="white")
    else:
        counts = np.bincount(finite.astype(np.int64))
        ax.bar(np.arange(counts.size), counts / values.size, color="#a6cee3",
               edgecolor="#1f78b4", width=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of patients
    ax.set_ylabel("share of trials", fontsize=12)
    # whole percents repeat ("1%, 1%, 2%") when the tallest bar is a few percent
    top = ax.get_ylim()[1]
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if top >= 0.1 else
                                                  1 if top >= 0.01 else 2))
    if observed is not None:
        p = tail(values, observed)
        ax.axvline(observed, color="#e31a1c", lw=2,
                   label=f"reported {observed:g}\nP(X \u2264 {observed:g}) = {p['p_at_most']:.3f}"
                         f"\nP(X \u2265 {observed:g}) = {p['p_at_least']:.3f}")
        # outside the axes, right of them: never over the bars
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10)
    ax.set_xlabel(name.replace("_", " "), fontsize=12)
    ax.tick_params(labelsize=11)
    if title:
        # wrapped, so a long scenario title is not cut at the figure's edges
        ax.set_title(textwrap.fill(title, 70), fontsize=13)
    return ax
