"""Tumour response endpoints of a solid-tumour cohort, as the NMHCT series report them.

Best response by the horizon: complete (CR), partial or better (PR, GVT or early
chemotherapy response), stable disease (SD: neither response nor progression nor
death by the tumour's ``stable_min_day``), progressive disease (PD) otherwise.
Objective response rate = CR + PR.  Time to response is counted among responders;
duration of response runs from the first response to the first progression after
it or death (a response may follow an early progression, then death ends it),
censored at the horizon; PFS and OS are the Kaplan-Meier curves of progression or
death and of death.
"""

import dataclasses

import numpy as np

from ..model.process_table import RELAPSES
from .estimators import kaplan_meier

__all__ = ["best_response", "BEST_RESPONSES", "duration_of_response", "format_response",
           "has_tumour", "plot_response_swimmer", "RESPONSE_CAP_PATIENTS", "response_day",
           "response_rows", "response_summary", "ResponseTally"]

BEST_RESPONSES = ("CR", "PR", "SD", "PD")
RESPONSE_CAP_PATIENTS = 200_000  # medians from this many patients are exact to < 1 day


def has_tumour(cohort):
    """Whether the cohort has tumour response processes (a ``[tumour]`` scenario)."""
    return "gvt_response" in cohort.process_names


def response_day(cohort):
    """Day of the first response (partial or better), ``inf`` if none."""
    return np.minimum(cohort.day("gvt_response"), cohort.day("chemo_response"))


def best_response(cohort, by_day=None):
    """Index into :data:`BEST_RESPONSES` of each patient's best response.

    By the horizon, or by ``by_day`` (no later than the horizon): a series
    reports best response at its own follow-up.
    """
    end = cohort.horizon_days if by_day is None else min(by_day, cohort.horizon_days)
    stable_day = cohort.scenario.extensions["tumour"].stable_min_day
    responded = response_day(cohort) <= end
    failed = np.minimum(cohort.first_day(RELAPSES), cohort.death_day) <= stable_day
    out = np.full(cohort.n_patients, 3, np.int8)
    out[~failed & (stable_day <= end)] = 2
    out[responded] = 1
    out[cohort.day("complete_response") <= end] = 0
    return out


def duration_of_response(cohort):
    """``(days, ended)`` of each responder's response (censored at the horizon)."""
    start = response_day(cohort)
    responders = np.isfinite(start)
    progression = cohort.first_day(RELAPSES)
    after = np.where(progression > start, progression, np.inf)
    end = np.minimum(after, cohort.death_day)[responders]
    ended = np.isfinite(end)
    stop = np.where(ended, end, cohort.horizon_days)
    return stop - start[responders], ended


def _median(time, event):
    if time.size == 0:
        return None
    curve = kaplan_meier(time, event)
    below = np.flatnonzero(curve.estimate <= 0.5)
    return float(curve.time_days[below[0]]) if below.size else None


def _at(time, event, day):
    curve = kaplan_meier(time, event)
    i = np.searchsorted(curve.time_days, day, side="right") - 1
    return 1.0 if i < 0 else float(curve.estimate[i])


def response_summary(cohort):
    """Response endpoints of a cohort (JSON-ready).

    Returns
    -------
    dict
        ``patients``, ``best_response`` (share of each of CR, PR, SD, PD),
        ``objective_response_rate``, ``time_to_response_median_days`` (among
        responders), ``duration_of_response_median_days`` (Kaplan-Meier),
        ``pfs_median_days``, ``os_median_days`` (None where not reached),
        ``pfs_d365`` and ``os_d365``.
    """
    horizon = cohort.horizon_days
    best = best_response(cohort)
    shares = np.bincount(best, minlength=4) / cohort.n_patients
    start = response_day(cohort)
    responders = np.isfinite(start)
    dur, ended = duration_of_response(cohort)
    pfs = np.minimum(cohort.first_day(RELAPSES), cohort.death_day)
    death = cohort.death_day

    def censored(t):
        return np.minimum(t, horizon), np.isfinite(t)

    return {
        "patients": int(cohort.n_patients),
        "best_response": {k: round(float(v), 6) for k, v in zip(BEST_RESPONSES, shares)},
        "objective_response_rate": round(float(shares[0] + shares[1]), 6),
        "time_to_response_median_days": (float(np.median(start[responders]))
                                         if responders.any() else None),
        "duration_of_response_median_days": _median(dur, ended),
        "pfs_median_days": _median(*censored(pfs)),
        "os_median_days": _median(*censored(death)),
        "pfs_d365": round(_at(*censored(pfs), 365.0), 6) if horizon >= 365 else None,
        "os_d365": round(_at(*censored(death), 365.0), 6) if horizon >= 365 else None,
    }


class ResponseTally:
    """Response summary of an arm run in chunks: from its first patients, up to a cap."""

    def __init__(self, cap=RESPONSE_CAP_PATIENTS):
        self.cap = cap
        self.chunks = []
        self.n = 0

    def add(self, cohort):
        if self.n < self.cap and has_tumour(cohort):
            if not self.chunks:
                self.first = cohort
            # a copy: a run may simulate every chunk into the same array
            self.chunks.append(cohort.event_day[: self.cap - self.n].copy())
            self.n += self.chunks[-1].shape[0]
        return self

    def summary(self):
        """:func:`response_summary` of the patients kept, or None without a tumour."""
        if not self.chunks:
            return None

        whole = dataclasses.replace(self.first, event_day=np.concatenate(self.chunks),
                                    first_patient=self.first.first_patient)
        return response_summary(whole)


def format_response(arms):
    """Lines of the response block of the run table, one column per arm with a tumour."""
    rows = {a: s["response"] for a, s in arms.items() if s.get("response")}
    if not rows:
        return []

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}%"

    def days(x):
        return "not reached" if x is None else f"{x:.0f}"

    items = [("objective response (CR+PR)", lambda r: pct(r["objective_response_rate"]))]
    items += [(f"best response {k}", lambda r, k=k: pct(r["best_response"][k]))
              for k in BEST_RESPONSES]
    items += [("time to response, median days", lambda r: days(r["time_to_response_median_days"])),
              ("duration of response, median days",
               lambda r: days(r["duration_of_response_median_days"])),
              ("PFS, median days", lambda r: days(r["pfs_median_days"])),
              ("OS, median days", lambda r: days(r["os_median_days"])),
              ("PFS at d365", lambda r: pct(r["pfs_d365"])),
              ("OS at d365", lambda r: pct(r["os_d365"]))]
    table = [["tumour response (by the horizon)", *rows]]
    table += [[label, *(f(r) for r in rows.values())] for label, f in items]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["", "  ".join(c.ljust(w) for c, w in zip(table[0], widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table[1:]]
    return lines


_PHASES = (("before response", "0.75"), ("partial response", "#1f78b4"),
           ("complete response", "#33a02c"), ("after progression", "#e31a1c"))


def plot_response_swimmer(cohort, n=30, seed=0, ax=None):
    """Response swimmer plot of ``n`` sampled patients, as the NMHCT series show.

    One bar per patient from transplant to death or the horizon, coloured by
    phase (before response, partial response, complete response, after
    progression), with markers for acute and chronic GVHD onset, progression and
    death, and the ciclosporin taper as a dotted line.  Responders first.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)
    from matplotlib.patches import Patch  # matplotlib: imported on use (start-up time)

    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(cohort.n_patients, size=min(n, cohort.n_patients),
                              replace=False))
    if ax is None:
        _, ax = plt.subplots(figsize=(9, min(max(5.5, 0.2 * pick.size + 1.5), 20)))
    end = np.minimum(cohort.death_day[pick], cohort.horizon_days)
    start = response_day(cohort)[pick]
    cr = cohort.day("complete_response")[pick]
    prog = cohort.first_day(RELAPSES)[pick]
    order = np.lexsort((-end, ~np.isfinite(start)))
    for row, i in enumerate(order):
        cuts = sorted({0.0, end[i], *[d for d in (start[i], cr[i], prog[i]) if d < end[i]]})
        for a, b in zip(cuts[:-1], cuts[1:]):
            mid = 0.5 * (a + b)
            phase = 3 if prog[i] < mid and not (start[i] < mid and start[i] > prog[i]) else (
                2 if cr[i] < mid else 1 if start[i] < mid else 0)
            ax.barh(row, b - a, left=a, height=0.6, color=_PHASES[phase][1])
    rows = np.arange(pick.size)
    marks = (("agvhd", "acute GVHD onset", "o", "#fdbf6f"),
             ("cgvhd", "chronic GVHD onset", "D", "#b15928"),
             ("relapse", "progression", "*", "#6a3d9a"))
    for name, label, marker, color in marks:
        day = cohort.day(name)[pick][order]
        seen = np.isfinite(day)
        ax.scatter(day[seen], rows[seen], marker=marker, color=color, s=60, label=label,
                   edgecolors="black", linewidths=0.5, zorder=3)
    dead = cohort.death_day[pick][order]
    seen = np.isfinite(dead)
    ax.scatter(dead[seen], rows[seen], marker="X", color="black", s=60, label="death", zorder=3)
    taper = cohort.scenario.extensions["tumour"].taper_day
    ax.axvline(taper, color="0.3", ls=":", lw=1.5, label=f"ciclosporin taper (d{taper:g})")
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color=c, label=lab) for lab, c in _PHASES]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3,
              frameon=False, fontsize=9)
    ax.set_yticks([])
    ax.set_ylim(-1, pick.size)
    ax.set_xlim(0, cohort.horizon_days)
    ax.set_xlabel("days after transplant")
    ax.set_ylabel("patient")
    ax.set_title(f"Tumour response of {pick.size} sampled patients\n{cohort.scenario.title}")
    ax.figure.tight_layout()
    return ax


def response_rows(document):
    """Flat CSV rows of the arms' response summaries (kind ``response``, day = horizon).

    Same columns as the landmark rows of ``summary.csv``; shares and medians in days
    have no interval here (they come from up to :data:`RESPONSE_CAP_PATIENTS`).
    """
    rows = []
    for arm, data in document["arms"].items():
        summary = data.get("response")
        if not summary:
            continue
        values = {"objective_response_rate": summary["objective_response_rate"],
                  **{f"best_response_{k}": v for k, v in summary["best_response"].items()},
                  **{k: summary[k] for k in ("time_to_response_median_days",
                                             "duration_of_response_median_days",
                                             "pfs_median_days", "os_median_days",
                                             "pfs_d365", "os_d365")}}
        for name, value in values.items():
            day = 365 if name.endswith("_d365") else document["horizon_days"]
            rows.append({"arm": arm, "endpoint": name, "kind": "response", "day": day,
                         "estimate": value, "ci95_low": None, "ci95_high": None,
                         "ui95_low": None, "ui95_high": None})
    return rows
