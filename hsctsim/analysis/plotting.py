"""Matplotlib figures of simulated cohorts.

Every figure function takes ``ax=None`` (a new figure is made when None) and
returns the axes, in the manner of lifelines.  Functions that compare arms take
a :class:`~hsctsim.cohort.Cohort`, a list of them (labelled by scenario title) or
a dict ``label -> Cohort``.  Curves are evaluated on a grid of
:data:`GRID_POINTS` days, so that a figure of 10^6 patients is as quick to draw
as one of 10^3.  Nothing here calls ``plt.show``: the backend is matplotlib's
default (Agg without a display, inline in a notebook).
"""

import os
import re
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ..model import process_table
from ..model.cohort import CHIMERISM_STATES, Cohort
from .endpoints import ENDPOINTS, competing_day, endpoint_day
from .estimators import aalen_johansen, kaplan_meier
from .response import has_tumour, plot_response_swimmer

__all__ = ["plot_incidence", "plot_competing", "plot_survival", "plot_state_occupation",
           "plot_swimmer", "plot_chimerism", "write_figures", "state_shares",
           "chimerism_shares", "OCCUPATION_STATES"]

GRID_POINTS = 400
X_LABEL = "days after transplant"
FONT = {"title": 14, "label": 12, "tick": 11, "legend": 10}
FIGSIZE = (9, 5.5)
DPI = 150
LANDMARK_TICKS_DAYS = (0, 30, 100, 180, 365, 548, 730, 1095, 1461, 1826)
GVHD_ACTIVE_DAYS = 100.0  # default of the state-occupation figure's `agvhd_active_days`
# early endpoints are read on a short axis (days): engraftment by day 100, GVHD and
# CMV by day 180
EARLY_AXIS_DAYS = {"engraftment": 100.0, "graft_failure": 100.0, "agvhd": 180.0,
                   "agvhd_3_4": 180.0, "cmv": 180.0}
# Okabe & Ito's palette: told apart with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

OCCUPATION_STATES = ("alive in remission, no active GVHD", "alive with active GVHD",
                     "alive after relapse", "dead, non-relapse (TRM)", "dead after relapse")
_OCCUPATION_COLORS = ("#009E73", "#E69F00", "#CC79A7", "#999999", "#D55E00")
_CHIMERISM_SHOWN = ("full", "mixed", "micro", "lost")
_CHIMERISM_COLORS = ("#0072B2", "#56B4E9", "#009E73", "#D55E00")
# (process or "death", legend label, marker, colour): the processes declared with a
# marker in the process table, then death; aGVHD II is aGVHD without III-IV
_SWIMMER_EVENTS = (*process_table.swimmer_events(), ("death", "death", "X", "black"))


# ---------------------------------------------------------------- helpers
def _arms(cohorts):
    """``[(label, Cohort)]`` from a Cohort, a list of them or a dict label -> Cohort."""
    if isinstance(cohorts, Cohort):
        cohorts = [cohorts]
    if isinstance(cohorts, dict):
        return [(str(k), c) for k, c in cohorts.items()]
    return [(_label(c), c) for c in cohorts]


def _label(cohort):
    return cohort.scenario.title or cohort.scenario.name


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "arm"


def _grid(cohorts, max_day=None):
    horizon = max(c.horizon_days for _, c in cohorts)
    return np.linspace(0.0, min(horizon, max_day or horizon), GRID_POINTS)


def caption(ax, arms):
    """A line under the figure: what was simulated (version, patients, seed, horizon)."""
    cohorts = [c for _, c in arms]
    sizes = sorted({c.n_patients for c in cohorts})
    seeds = sorted({c.seed for c in cohorts})
    text = (f"hsctsim {cohorts[0].hsctsim_version}; n = "
            + ", ".join(f"{n:,}" for n in sizes) + (" per arm" if len(cohorts) > 1 else "")
            + "; seed " + ", ".join(str(x) for x in seeds)
            + f"; horizon {max(c.horizon_days for c in cohorts):g} days")
    fig = ax.figure
    fig.text(0.005, 0.005, text, fontsize=FONT["tick"] - 3, color="0.35", ha="left",
             va="bottom")
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0, 0.035, 1, 0.965))  # keep the caption clear of the x label


def new_axes(ax, figsize=FIGSIZE):
    """``ax``, or new axes of a figure of ``figsize`` in the run figures' layout."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _finish(ax, title, ylabel, horizon_days, legend=True, legend_kw=None, percent=True):
    """Title, labels, day ticks at the usual landmarks and font sizes for a slide;
    ``percent``: the y axis (a proportion) in percent."""
    ax.set_title(title, fontsize=FONT["title"])
    ax.set_xlabel(X_LABEL, fontsize=FONT["label"])
    ax.set_ylabel(ylabel, fontsize=FONT["label"])
    ax.set_xlim(0.0, horizon_days)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if horizon_days <= 200:
        ticks = [d for d in (0, 14, 28, 42, 60, 80, 100, 120, 150, 180) if d <= horizon_days]
    elif horizon_days <= 5 * 365.25 + 1:
        ticks = [d for d in LANDMARK_TICKS_DAYS if d <= horizon_days]
    else:
        # years on a long axis (late mortality runs to decades): the landmarks would
        # crowd its first tenth; every 1, 2, 5 or 10 years, whichever gives at most 10
        years = horizon_days / 365.25
        step = next(s for s in (1, 2, 5, 10, 20) if years / s <= 10)
        ticks = [round(y * 365.25) for y in np.arange(0, years + 1e-9, step)]
        ax.set_xlabel(f"{X_LABEL} (ticks every {step} year{'s' if step > 1 else ''})",
                      fontsize=FONT["label"])
    # day 30 crowds day 0 on a long axis
    ax.set_xticks([d for d in ticks if d != 30 or horizon_days <= 400])
    ax.tick_params(labelsize=FONT["tick"])
    if legend:
        ax.legend(fontsize=FONT["legend"], **(legend_kw or {}))
    return ax


BAND_LABEL = "band: 95% CI of the simulated cohort (Monte Carlo)"
BARS_LABEL = "bars: 95% UI over the replicates (input uncertainty)"


def _replicate_bars(ax, intervals, arm, endpoint, color, max_day, shift):
    """Error bars at the landmark days from summary.json's ``ui95`` of one arm's endpoint.

    ``intervals``: ``{arm: summary's endpoints of that arm}`` (None: nothing drawn).
    Returns the highest bar top drawn, or None when there was nothing to draw.
    """
    at = ((intervals or {}).get(arm) or {}).get(endpoint, {}).get("at", {})
    rows = [(float(day[1:]), v["estimate"], *v["ui95"]) for day, v in at.items()
            if v.get("ui95", [None])[0] is not None and v.get("estimate") is not None
            and float(day[1:]) <= max_day]
    if not rows:
        return None
    day, estimate, low, high = np.array(rows, float).T
    # a point estimate can sit outside its replicates' interval (another seed per
    # replicate): the bar spans both, so the reader sees the interval, not a gap
    bars = ax.errorbar(day + shift, estimate, yerr=[np.maximum(estimate - low, 0.0),
                                                    np.maximum(high - estimate, 0.0)],
                       fmt="o", ms=4, color=color, alpha=0.75, capsize=4, lw=1.5, zorder=4)
    for artist in bars.get_children():
        artist.set_clip_on(False)  # a bar on the last day of the axis is drawn whole
    return float(np.max(high))


def _band_legend(ax, bands, bars, own=True):
    """The axes' labelled handles (``own``), then what the bands and the error bars are."""
    handles, labels = ax.get_legend_handles_labels() if own else ([], [])
    if bands:
        handles.append(Patch(color="0.5", alpha=0.25, lw=0))
        labels.append(textwrap.fill(BAND_LABEL, 32))
    if bars:
        proxy = ax.errorbar([np.nan], [np.nan], yerr=[[np.nan], [np.nan]], fmt="o", ms=4,
                            color="0.3", capsize=4, lw=1.5)
        proxy.remove()  # a legend key only: off the axes
        handles.append(proxy)
        labels.append(textwrap.fill(BARS_LABEL, 32))
    return {"handles": handles, "labels": labels}


def _incidence_curves(cohort, endpoint):
    """Aalen-Johansen curves ``{1: endpoint, 2: competing event}`` of one cohort.

    Cause 1 if the endpoint comes no later than the competing event and the
    horizon, 2 if the competing event comes first, else censored at the horizon.
    """
    event = endpoint_day(cohort, endpoint)
    competing = competing_day(cohort, endpoint)
    horizon = cohort.horizon_days
    time = np.minimum.reduce([event, competing, np.full_like(event, horizon)])
    cause = np.where(event <= np.minimum(competing, horizon), 1,
                     np.where(competing <= horizon, 2, 0))
    return aalen_johansen(time, cause, causes=(1, 2))


def _occupation(start_days, stop_days, grid_days):
    """Number of patients inside ``[start, stop)`` at each grid day."""
    keep = start_days < stop_days
    return (np.searchsorted(np.sort(start_days[keep]), grid_days, "right")
            - np.searchsorted(np.sort(stop_days[keep]), grid_days, "right"))


def state_shares(cohort, grid_days, agvhd_active_days=GVHD_ACTIVE_DAYS,
                 cgvhd_active_days=None):
    """Share of the cohort in each of :data:`OCCUPATION_STATES` at each grid day.

    Parameters
    ----------
    cohort : Cohort
    grid_days : array_like, shape (g,)
    agvhd_active_days : float
        Acute GVHD counts as active for this many days from its onset (the model
        has onsets, not resolutions: a figure to state with the plot).
    cgvhd_active_days : float, optional
        Likewise for chronic GVHD; None: active until relapse or death.

    Returns
    -------
    ndarray, shape (len(OCCUPATION_STATES), g)
        Columns sum to 1.  See :func:`plot_state_occupation` for the states.
    """
    grid = np.asarray(grid_days, float)
    day = cohort.day
    agvhd, cgvhd, relapse = day("agvhd"), day("cgvhd"), cohort.first_day(process_table.RELAPSES)
    trm = cohort.first_day(process_table.NON_RELAPSE_DEATHS)
    dar = cohort.first_day(process_table.POST_RELAPSE_DEATHS)
    # before relapse or TRM, GVHD is active on [aGVHD, aGVHD + window) and
    # [cGVHD, cGVHD + window): count both intervals and take off their overlap once
    end = np.minimum(relapse, trm)
    acute_end = np.minimum(agvhd + agvhd_active_days, end)
    chronic_end = end if cgvhd_active_days is None else np.minimum(cgvhd + cgvhd_active_days,
                                                                   end)
    gvhd = (_occupation(agvhd, acute_end, grid) + _occupation(cgvhd, chronic_end, grid)
            - _occupation(np.maximum(agvhd, cgvhd), np.minimum(acute_end, chronic_end), grid))
    counts = np.array([
        np.zeros_like(grid),
        gvhd,
        _occupation(relapse, dar, grid),
        _occupation(trm, np.full_like(trm, np.inf), grid),
        _occupation(dar, np.full_like(dar, np.inf), grid),
    ], float)
    counts[0] = cohort.n_patients - counts[1:].sum(axis=0)
    return counts / cohort.n_patients


# ---------------------------------------------------------------- figures
def plot_incidence(cohorts, endpoint, ax=None, ci=True, level=0.95, max_day=None,
                   intervals=None):
    """Cumulative incidence of an endpoint, with competing risks, for one or more arms.

    Parameters
    ----------
    cohorts : Cohort, list of Cohort or dict of str to Cohort
        The arms; a dict's keys label them, otherwise the scenario titles.
    endpoint : str
        An incidence endpoint of :data:`hsctsim.endpoints.ENDPOINTS` (``relapse``,
        ``trm``, ``agvhd``, ``agvhd_3_4``, ``cgvhd``, ``cmv``, ``engraftment``,
        ``graft_failure``); its competing event is
        :func:`hsctsim.endpoints.competing_day`.
    ax : matplotlib Axes, optional
    ci : bool
        Draw pointwise log(-log) confidence bands.
    level : float
        Confidence level of the bands.
    max_day : float, optional
        Right end of the day axis; default :data:`EARLY_AXIS_DAYS` for early
        endpoints (engraftment, GVHD, CMV), else the horizon.
    intervals : dict, optional
        ``{arm label: endpoints}`` with ``endpoints`` as in summary.json
        (``arms.<arm>.endpoints``): where a landmark has a ``ui95`` (a run with
        ``--replicates``), an error bar from it is drawn at that day.  The band is
        the Monte Carlo uncertainty of the simulated cohort; the bars the
        uncertainty of the inputs; the legend says which is which.

    Returns
    -------
    matplotlib Axes
        One step line per arm (and one band per arm when ``ci``; error bars when
        ``intervals`` has them), y in [0, 1] shown in percent; the legend outside
        the axes, clear of the curves.
    """
    kind, description = ENDPOINTS.get(endpoint, (None, None))
    if kind != "incidence":
        names = [k for k, (v, _) in ENDPOINTS.items() if v == "incidence"]
        raise ValueError(f"{endpoint!r} is not an incidence endpoint; one of {names}")
    arms = _arms(cohorts)
    ax = new_axes(ax)
    grid = _grid(arms, max_day or EARLY_AXIS_DAYS.get(endpoint))
    top, bars = 0.0, False
    for i, (label, cohort) in enumerate(arms):
        curve = _incidence_curves(cohort, endpoint)[1]
        y = curve.at(grid)
        (line,) = ax.plot(grid, y, drawstyle="steps-post", lw=2, label=label,
                          color=PALETTE[i % len(PALETTE)])
        top = max(top, y.max())
        if ci:
            low, high = curve.ci(grid, level)
            ax.fill_between(grid, low, high, step="post", color=line.get_color(), alpha=0.2,
                            lw=0)
            top = max(top, high.max())
        bar_top = _replicate_bars(ax, intervals, label, endpoint, line.get_color(), grid[-1],
                                  (i - (len(arms) - 1) / 2) * grid[-1] * 0.008)
        if bar_top is not None:
            bars, top = True, max(top, bar_top)
    ax.set_ylim(0.0, min(1.0, np.ceil(top * 10.0 + 0.5) / 10.0))
    main, _, competing = description.partition(" (")
    title = f"Cumulative incidence of {main}" + (f"\n({competing}" if competing else "")
    caption(ax, arms)
    return _finish(ax, title, "cumulative incidence", grid[-1],
                   legend_kw={"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                              "frameon": False, **_band_legend(ax, ci and bars, bars)})


def plot_competing(cohort, ax=None):
    """Relapse and non-relapse death (TRM) as competing risks of one arm, stacked.

    From the bottom: cumulative incidence of relapse, of TRM (before relapse),
    and the rest, alive without relapse (Aalen-Johansen; the three add up to 1).

    Parameters
    ----------
    cohort : Cohort
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Three filled areas.
    """
    ax = new_axes(ax)
    grid = _grid([(None, cohort)])
    curves = _incidence_curves(cohort, "relapse")
    relapse, trm = curves[1].at(grid), curves[2].at(grid)
    ax.stackplot(grid, relapse, trm, 1.0 - relapse - trm, step="post",
                 colors=(_OCCUPATION_COLORS[4], _OCCUPATION_COLORS[3], "#deebf7"),
                 labels=("relapse", "non-relapse death (TRM)", "alive without relapse"))
    for y, text in ((relapse, "relapse"), (relapse + trm, "relapse + TRM")):
        ax.annotate(f"{text}: {y[-1]:.0%}", (grid[-1], y[-1]), xytext=(-6, 4),
                    textcoords="offset points", ha="right", fontsize=FONT["legend"])
    ax.set_ylim(0.0, 1.0)
    caption(ax, [(None, cohort)])
    return _finish(ax, f"Relapse vs non-relapse death\n{_label(cohort)}",
                   "cumulative incidence (stacked)", grid[-1],
                   legend_kw={"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                              "frameon": False})


def plot_survival(cohorts, endpoints=("os", "rfs", "grfs"), ax=None, ci=True, level=0.95,
                  intervals=None):
    """Kaplan-Meier curves of survival endpoints for one or more arms.

    Parameters
    ----------
    cohorts : Cohort, list of Cohort or dict of str to Cohort
    endpoints : sequence of str
        Survival endpoints of :data:`hsctsim.endpoints.ENDPOINTS` (``os``, ``rfs``,
        ``grfs``): colour tells the arm, line style the endpoint.
    ax : matplotlib Axes, optional
    ci : bool
        Draw pointwise confidence bands (as for :func:`plot_incidence`).
    level : float
        Confidence level of the bands.
    intervals : dict, optional
        Replicate intervals drawn as error bars at the landmark days (as for
        :func:`plot_incidence`).

    Returns
    -------
    matplotlib Axes
        ``len(arms) * len(endpoints)`` lines; two legends (arms, endpoints and
        what the bands and bars are).
    """
    bad = [e for e in endpoints if ENDPOINTS.get(e, ("",))[0] != "survival"]
    if bad:
        raise ValueError(f"not survival endpoints: {bad}")
    arms = _arms(cohorts)
    ax = new_axes(ax, figsize=(FIGSIZE[0] + 3, FIGSIZE[1] + 0.5))
    grid = _grid(arms)
    styles = dict(zip(endpoints, ("-", "--", ":", "-.")))
    colors = PALETTE
    bars = False
    for i, (label, cohort) in enumerate(arms):
        for name in endpoints:
            shift = (i - (len(arms) - 1) / 2) * grid[-1] * 0.008
            bars |= _replicate_bars(ax, intervals, label, name, colors[i % len(colors)],
                                    grid[-1], shift) is not None
            day = endpoint_day(cohort, name)
            curve = kaplan_meier(np.minimum(day, cohort.horizon_days),
                                 day <= cohort.horizon_days)
            ax.plot(grid, curve.at(grid), drawstyle="steps-post", lw=2,
                    color=colors[i % len(colors)], ls=styles[name],
                    label=f"{label}: {name.upper()}")
            if ci:
                low, high = curve.ci(grid, level)
                ax.fill_between(grid, low, high, step="post", color=colors[i % len(colors)],
                                alpha=0.15, lw=0)
    ax.set_ylim(0.0, 1.0)
    # a legend of arms (colour) and one of endpoints (line style) instead of one entry
    # per line, which for five arms would be fifteen; both outside, clear of the curves
    outside = {"fontsize": FONT["legend"], "title_fontsize": FONT["legend"], "frameon": False}
    arm_legend = ax.legend(
        [Line2D([], [], color=colors[i % len(colors)], lw=2) for i in range(len(arms))],
        [textwrap.fill(label, 32) for label, _ in arms], title="arm", loc="upper left",
        bbox_to_anchor=(1.01, 1.0), **outside)
    ax.add_artist(arm_legend)
    arm_legend.set_clip_on(False)  # add_artist clips it to the axes: left out of the layout
    kinds = _band_legend(ax, ci and bars, bars, own=False)
    ax.legend([Line2D([], [], color="0.3", ls=styles[e], lw=2) for e in endpoints]
              + kinds["handles"],
              [textwrap.fill(f"{e.upper()}: {ENDPOINTS[e][1]}", 32) for e in endpoints]
              + kinds["labels"],
              title="endpoint", loc="lower left", bbox_to_anchor=(1.01, 0.0), **outside)
    caption(ax, arms)
    return _finish(ax, "Survival (Kaplan-Meier)", "probability", grid[-1], legend=False)


def plot_state_occupation(cohort, ax=None, times_days=None,
                          agvhd_active_days=GVHD_ACTIVE_DAYS, cgvhd_active_days=None):
    """Where the patients of one arm are over time, as stacked areas.

    States (each patient in exactly one at each day ``t``; complete follow-up, so
    the shares are exact proportions of the cohort):

    - *alive in remission, no active GVHD*: alive, no relapse by ``t``, and not
      in the next state (includes graft failure and rejection);
    - *alive with active GVHD*: alive without relapse, with acute GVHD (II-IV)
      onset in ``(t - agvhd_active_days, t]`` or chronic GVHD onset in
      ``(t - cgvhd_active_days, t]`` (by default chronic GVHD counts as active
      until relapse or death); the windows are written on the figure;
    - *alive after relapse*;
    - *dead, non-relapse (TRM)*;
    - *dead after relapse*.

    Parameters
    ----------
    cohort : Cohort
    ax : matplotlib Axes, optional
    times_days : array_like, optional
        Grid of days; default :data:`GRID_POINTS` days from 0 to the horizon.
    agvhd_active_days, cgvhd_active_days : float
        How long GVHD counts as active (see :func:`state_shares`).

    Returns
    -------
    matplotlib Axes
        One filled area per state, y in [0, 1]; the legend's title states the
        GVHD windows.
    """
    ax = new_axes(ax)
    grid = _grid([(None, cohort)]) if times_days is None else np.asarray(times_days, float)
    ax.stackplot(grid, state_shares(cohort, grid, agvhd_active_days, cgvhd_active_days),
                 labels=OCCUPATION_STATES, colors=_OCCUPATION_COLORS)
    ax.set_ylim(0.0, 1.0)
    chronic = ("until relapse or death" if cgvhd_active_days is None
               else f"{cgvhd_active_days:g} days from onset")
    caption(ax, [(None, cohort)])
    return _finish(ax, f"State occupation\n{_label(cohort)}", "share of patients", grid[-1],
                   legend_kw={"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                              "frameon": False,
                              "title": f"active GVHD: acute {agvhd_active_days:g} days\n"
                                       f"from onset, chronic {chronic}",
                              "title_fontsize": FONT["legend"],
                              "alignment": "left"})


def plot_swimmer(cohort, n=30, seed=0, ax=None):
    """Swimmer plot: the course of ``n`` randomly sampled patients of one arm.

    One horizontal line per patient from transplant to death or the horizon
    (sorted by length), with a marker per event (see the legend); acute GVHD
    grade II is an onset that did not reach III-IV.

    Parameters
    ----------
    cohort : Cohort
    n : int
        Patients to show (at most the cohort's size).
    seed : int
        Seed of the sample.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One line collection and one marker collection per event kind.
    """
    rng = np.random.default_rng(seed)
    pick = rng.choice(cohort.n_patients, size=min(n, cohort.n_patients), replace=False)
    ax = new_axes(ax, figsize=(FIGSIZE[0], min(max(FIGSIZE[1], 0.18 * pick.size + 1.5), 20)))
    death = cohort.death_day[pick]
    end = np.minimum(death, cohort.horizon_days)
    order = np.argsort(end, kind="stable")
    pick, death, end = pick[order], death[order], end[order]
    rows = np.arange(pick.size)
    ax.hlines(rows, 0.0, end, color="0.6", lw=2)
    for name, label, marker, color in _SWIMMER_EVENTS:
        if name == "death":
            day = death
        else:
            # the relapse marker is the patient's relapse, early or late
            day = (cohort.first_day(process_table.RELAPSES) if name == "relapse"
                   else cohort.day(name))[pick]
            if name == "agvhd":
                day = np.where(np.isfinite(cohort.day("agvhd_3_4")[pick]), np.inf, day)
        seen = np.isfinite(day)
        ax.scatter(day[seen], rows[seen], marker=marker, color=color, s=70, label=label,
                   edgecolors="black", linewidths=0.5, zorder=3)
    ax.set_ylim(-1, pick.size)
    ax.set_yticks([])
    caption(ax, [(None, cohort)])
    return _finish(ax, f"Course of {pick.size} sampled patients\n{_label(cohort)}",
                   "patient", cohort.horizon_days, percent=False,
                   legend_kw={"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                              "frameon": False})


def chimerism_shares(cohort, days):
    """Shares of full, mixed, micro and lost chimerism among living engrafted patients.

    Parameters
    ----------
    cohort : Cohort
    days : sequence of float, length d

    Returns
    -------
    ndarray, shape (4, d)
        Rows follow ``("full", "mixed", "micro", "lost")``; NaN where nobody is
        alive and engrafted.
    """
    d = np.asarray(days, float)
    state = cohort.chimerism(d)
    base = (cohort.death_day[:, None] > d) & (cohort.day("engraftment")[:, None] <= d)
    counts = np.array([((state == CHIMERISM_STATES.index(s)) & base).sum(axis=0)
                       for s in _CHIMERISM_SHOWN], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / base.sum(axis=0)


def plot_chimerism(cohorts, days=(30, 100, 180, 365), ax=None):
    """Chimerism of the living engrafted patients on check days, per arm.

    Grouped stacked bars: a group per arm, a bar per check day (labelled above
    it), stacked shares of full (>95% donor), mixed, micro (<1%, after
    microtransplantation) and lost (rejection) chimerism.

    Parameters
    ----------
    cohorts : Cohort, list of Cohort or dict of str to Cohort
    days : sequence of float
        Check days.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One bar container per chimerism state, ``len(arms) * len(days)`` bars each.
    """
    arms = _arms(cohorts)
    ax = new_axes(ax, figsize=(max(FIGSIZE[0], 2.2 * len(arms) + 2), FIGSIZE[1]))
    days = tuple(days)
    width = 0.8 / len(days)
    x = (np.arange(len(arms))[:, None] + (np.arange(len(days)) - (len(days) - 1) / 2)
         * width).ravel()
    shares = np.concatenate([chimerism_shares(c, days) for _, c in arms], axis=1)
    shares = np.nan_to_num(shares)
    bottom = np.zeros_like(x)
    for state, color, height in zip(_CHIMERISM_SHOWN, _CHIMERISM_COLORS, shares):
        ax.bar(x, height, width * 0.9, bottom=bottom, color=color, label=state,
               edgecolor="white", lw=0.5)
        bottom += height
    for xi, day in zip(x, np.tile(days, len(arms))):
        ax.text(xi, 1.01, f"d{day:g}", ha="center", va="bottom", fontsize=FONT["tick"] - 2)
    ax.set_xticks(np.arange(len(arms)),
                  [textwrap.fill(label, 22) for label, _ in arms], fontsize=FONT["tick"] - 1)
    ax.set_ylim(0.0, 1.08)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    caption(ax, arms)
    ax.tick_params(axis="y", labelsize=FONT["tick"])
    ax.set_ylabel("share of living engrafted patients", fontsize=FONT["label"])
    ax.set_title("Donor chimerism on check days", fontsize=FONT["title"])
    ax.legend(title="chimerism", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, fontsize=FONT["legend"], title_fontsize=FONT["legend"])
    return ax


# ---------------------------------------------------------------- files
def save_figure(ax, out_dir, stem, formats):
    """Write the figure of ``ax`` under each format, atomically; close it."""
    fig = ax.figure
    paths = []
    try:
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            tmp = out_dir / f".{stem}.{os.getpid()}.{fmt}.tmp"
            fig.savefig(tmp, format=fmt, dpi=DPI)
            os.replace(tmp, path)
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


def write_figures(cohorts, out_dir, formats=("png",), intervals=None):
    """Write every figure of the arms into ``out_dir``.

    Files: ``incidence_<endpoint>`` for each incidence endpoint, ``survival``,
    ``chimerism``, and per arm ``competing_<arm>``, ``state_occupation_<arm>`` and
    ``swimmer_<arm>``, where ``<arm>`` is the scenario name (or the dict key made
    file-safe).  Each file is written under a temporary name and renamed, so a
    reader never sees half a file.

    Parameters
    ----------
    cohorts : Cohort, list of Cohort or dict of str to Cohort
    out_dir : str or Path
        Created if missing.
    formats : sequence of str
        Matplotlib formats, e.g. ``("png", "pdf")``.
    intervals : dict, optional
        ``{arm: endpoints}`` of summary.json (``arms.<arm>.endpoints``), keyed as
        the arms are labelled: the incidence and survival figures draw each
        landmark's replicate interval (``ui95``) as an error bar.

    Returns
    -------
    list of Path
    """
    arms = _arms(cohorts)
    by_name = not isinstance(cohorts, dict)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (kind, _) in ENDPOINTS.items():
        if kind == "incidence":
            paths += save_figure(plot_incidence(cohorts, name, intervals=intervals), out_dir,
                                 f"incidence_{name}", formats)
    paths += save_figure(plot_survival(cohorts, intervals=intervals), out_dir, "survival",
                         formats)
    paths += save_figure(plot_chimerism(cohorts), out_dir, "chimerism", formats)
    for label, cohort in arms:
        arm = _slug(cohort.scenario.name if by_name else label)
        for stem, plot in (("competing", plot_competing), ("swimmer", plot_swimmer),
                           ("state_occupation", plot_state_occupation)):
            paths += save_figure(plot(cohort), out_dir, f"{stem}_{arm}", formats)
        if has_tumour(cohort):
            paths += save_figure(plot_response_swimmer(cohort), out_dir, f"response_swimmer_{arm}",
                           formats)
    return paths
