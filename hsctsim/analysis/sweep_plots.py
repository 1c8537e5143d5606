"""Figures of parameter sweeps and PSA, from the tidy table of ``hsctsim sweep``.

Rows are dicts as :func:`hsctsim.apps.sweeps.table_rows` makes them (or read back
from ``sweep.csv``): ``point``, ``design``, ``varied``, one column per figure
(``ARM:KEY`` with several arms), ``arm``, ``endpoint``, ``kind``, ``landmark_day``,
``estimate``, ``ci95_low``, ``ci95_high``.  Each function takes ``ax=None`` and
returns the axes; ``arm`` picks one arm's rows of a sweep of several.

With costs (``sweep --cea``) the economic rows (``costs``, ``qalys``, ``icer``,
``nmb_<WTP>`` of each arm against the first) give the decision figures: the ICER and
the incremental net monetary benefit at every point (:func:`plot_point_icer`,
:func:`plot_point_nmb`), a tornado of the net benefit of a one-way sweep
(:func:`plot_tornado` on ``nmb_<WTP>``), a heat map of it over a two-key grid and the
PSA draws on the cost-effectiveness plane (:func:`plot_psa_plane`).
"""

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .ceaplots import plane_axes
from .plotting import FONT, PALETTE, new_axes, save_figure

__all__ = ["plot_heatmap", "plot_point_icer", "plot_point_nmb", "plot_psa", "plot_psa_plane",
           "plot_tornado", "point_value", "write_sweep_figures"]

FIGURE_ENDPOINTS = ("os", "relapse", "trm", "grfs")
# the sections of a cost, utility or duration key (as ``hsctsim.apps.ceadecide`` has them)
_ECONOMIC_SECTIONS = ("costs", "utilities", "durations")
_NMB = "nmb_"
_MONEY = FuncFormatter(lambda v, _: f"{v:,.0f}")


def _is_economic(key):
    return key.rpartition(":")[2].split(".")[0] in _ECONOMIC_SECTIONS


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _axes(ax):
    return new_axes(ax)


def _caption(ax, caption):
    if caption:  # as the figure's x label: the constrained layout leaves room for it
        ax.figure.supxlabel(caption, x=0.01, ha="left", fontsize=8, color="#555555")


def _number(value):
    return None if value in (None, "") else float(value)


def point_value(row, key):
    """The value of the swept ``key`` at ``row``'s point.

    ``key`` as ``varied`` names it: bare (``costs.transplant``, which moves every arm
    that has it: the first arm's column), or ``ARM:KEY``.
    """
    bare = key.rpartition(":")[2]
    for k in (key, bare):
        if row.get(k) not in (None, ""):
            return float(row[k])
    target = key.rpartition(":")[0]
    return next((float(v) for k, v in row.items() if k.endswith(f":{bare}")
                 and (not target or k.startswith(f"{target}:")) and v not in (None, "")),
                float("nan"))


def _select(rows, endpoint, day, arm=None):
    day = float(day)
    return [r for r in rows if r["endpoint"] == endpoint and float(r["landmark_day"]) == day
            and r["estimate"] not in (None, "") and (arm is None or r.get("arm") == arm)]


def _named(endpoint, day, arm, label):
    what = label or f"{endpoint} at day {float(day):g}"
    return f"{arm}: {what}" if arm else what


def plot_tornado(rows, endpoint="os", day=365, ax=None, arm=None, label=None, keys=None,
                 money=False):
    """Tornado plot of a one-way sweep: each figure's swing of ``endpoint`` at ``day``.

    A bar per swept figure from the estimate at its lowest value to that at its
    highest, about the midpoints' estimate (point 0); the widest swing on top.
    ``arm``: that arm's rows (a sweep of several arms); ``keys``: only these swept
    figures; ``label``: what the estimate is, in words (default ``endpoint at day``);
    ``money``: the estimate is an amount (e.g. ``nmb_100000``, the incremental net
    monetary benefit).
    """
    ax = new_axes(ax)
    chosen = _select(rows, endpoint, day, arm)
    base = [float(r["estimate"]) for r in chosen if r["design"] == "baseline"]
    if not base:
        raise ValueError("a tornado plot needs a one-way sweep (with its baseline point)")
    base = base[0]
    bars = []
    for key in dict.fromkeys(r["varied"] for r in chosen if r["design"] == "one-way"):
        if keys is not None and key not in keys:
            continue
        own = sorted((point_value(r, key), float(r["estimate"])) for r in chosen
                     if r["varied"] == key)
        (low_x, low_y), (high_x, high_y) = own[0], own[-1]
        bars.append((abs(high_y - low_y), key, low_x, low_y, high_x, high_y))
    if not bars:
        raise ValueError("no swept figure of this kind in the one-way sweep")
    bars.sort()
    shown = (lambda v: f"{v:,.0f}") if money else (lambda v: f"{v:.3f}")
    for y, (_, key, low_x, low_y, high_x, high_y) in enumerate(bars):
        ends = [(low_x, low_y, "#1f78b4", "lowest value"), (high_x, high_y, "#e31a1c",
                                                              "highest value")]
        # the longer bar first, so that the shorter one stays visible on top of it
        for x, end, color, name in sorted(ends, key=lambda e: -abs(e[1] - base)):
            ax.barh(y, end - base, left=base, color=color, height=0.6,
                    label=name if y == 0 else None)
        for x, end, _, _ in ends:
            right = end >= max(low_y, high_y, base)
            ax.text(end, y, f" {x:g} " if right else f"{x:g} ", va="center",
                    ha="left" if right else "right", fontsize=FONT["legend"])
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(bars)), [b[1] for b in bars], fontsize=FONT["tick"])
    what = label or f"{endpoint} at day {float(day):g}"
    ax.set_xlabel(f"{what} (midpoints: {shown(base)})", fontsize=FONT["label"])
    ax.set_title(f"{arm + ': ' if arm else ''}one-way sensitivity of the net benefit"
                 if money else f"One-way sensitivity of {_named(endpoint, day, arm, label)}",
                 fontsize=FONT["title"])
    if money:
        ax.xaxis.set_major_formatter(_MONEY)
    ax.margins(x=0.15)
    ax.legend(fontsize=FONT["legend"], loc="lower right")
    return ax


def plot_heatmap(rows, endpoint="os", day=365, ax=None, arm=None, label=None, money=False):
    """Heat map of ``endpoint`` at ``day`` over a two-figure factorial grid
    (``arm``, ``label``, ``money`` as for :func:`plot_tornado`)."""
    ax = new_axes(ax)
    chosen = [r for r in _select(rows, endpoint, day, arm) if r["design"] == "grid"]
    keys = chosen[0]["varied"].split("+") if chosen else []
    if len(keys) != 2:
        raise ValueError("a heat map needs a factorial grid over two figures")
    xs = sorted({point_value(r, keys[0]) for r in chosen})
    ys = sorted({point_value(r, keys[1]) for r in chosen})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in chosen:
        grid[ys.index(point_value(r, keys[1])),
             xs.index(point_value(r, keys[0]))] = float(r["estimate"])
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:,.0f}" if money else f"{value:.3f}", ha="center",
                    va="center", color="white", fontsize=FONT["legend"])
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    ax.set_xlabel(keys[0], fontsize=FONT["label"])
    ax.set_ylabel(keys[1], fontsize=FONT["label"])
    ax.set_title(f"{arm + ': ' if arm else ''}net benefit over the grid" if money
                 else _named(endpoint, day, arm, label), fontsize=FONT["title"])
    bar = ax.figure.colorbar(image, ax=ax, label=label or endpoint)
    if money:
        bar.formatter = _MONEY
        bar.update_ticks()
    return ax


def plot_psa(rows, endpoint="os", days=None, ax=None, arm=None):
    """Distribution of ``endpoint`` over PSA draws: a histogram per landmark day.

    The 2.5-97.5 percentiles of the draws (the uncertainty from the reported
    ranges) are marked on each.
    """
    ax = new_axes(ax)
    chosen = [r for r in rows if r["endpoint"] == endpoint and r["design"] == "psa"
              and r["estimate"] not in (None, "") and (arm is None or r.get("arm") == arm)]
    all_days = sorted({float(r["landmark_day"]) for r in chosen})
    days = all_days if days is None else [float(d) for d in days]
    if not chosen:
        raise ValueError("no PSA draws of this endpoint in the rows")
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(days)))
    for day, color in zip(days, colors):
        values = np.array([float(r["estimate"]) for r in chosen
                           if float(r["landmark_day"]) == day])
        low, high = np.percentile(values, [2.5, 97.5])
        ax.hist(values, bins=min(40, max(5, len(values) // 5)), color=color, alpha=0.6,
                label=f"day {day:g}: 95% of draws {low:.3f}-{high:.3f}")
        ax.axvline(low, color=color, ls=":", lw=1)
        ax.axvline(high, color=color, ls=":", lw=1)
    n_draws = len({r["point"] for r in chosen})
    ax.set_xlabel(endpoint, fontsize=FONT["label"])
    ax.set_ylabel("draws", fontsize=FONT["label"])
    ax.set_title(f"{arm + ': ' if arm else ''}{endpoint} over {n_draws} PSA draws",
                 fontsize=FONT["title"])
    ax.legend(fontsize=FONT["legend"])
    return ax


# ---------------------------------------------------------------- decisions


def _economic(rows):
    """``(reference, [other arms], [WTP], {point: {(arm, endpoint): row}}, points)``."""
    by_point, arms, wtp = {}, [], []
    for r in rows:
        e = r["endpoint"]
        if e in ("costs", "qalys", "icer") or e.startswith(_NMB):
            by_point.setdefault(str(r["point"]), {})[(r["arm"], e)] = r
            if r["arm"] not in arms:
                arms.append(r["arm"])
            if e.startswith(_NMB) and float(e[len(_NMB):]) not in wtp:
                wtp.append(float(e[len(_NMB):]))
    if not by_point:
        raise ValueError("no economic rows (costs, QALYs, ICER): sweep with --cea")
    others = [a for a in arms if any((a, "icer") in got for got in by_point.values())]
    if not others:
        raise ValueError("ICERs and net benefit need two arms or more (the first is the "
                         "reference)")
    ref = next(a for a in arms if a not in others)
    return ref, others, wtp, by_point


def _point_label(row):
    if not row["varied"]:
        return "midpoints"
    return "\n".join(f"{k}={point_value(row, k):g}" for k in row["varied"].split("+"))


def _points_axis(ax, by_point):
    """The points down the vertical axis, first on top (a forest plot: long names fit)."""
    labels = [_point_label(next(iter(got.values()))) for got in by_point.values()]
    ax.set_yticks(range(len(labels)), labels, fontsize=FONT["legend"])
    ax.set_ylim(len(labels) - 0.5, -0.5)


def _outside_legend(ax):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              fontsize=FONT["legend"])


def plot_point_nmb(rows, ax=None, money="", caption=None):
    """Incremental net monetary benefit of each arm against the first at every point.

    One colour per arm, one marker per willingness-to-pay, with the 95% interval of
    the Monte Carlo estimate; above 0 the arm is worth more than the reference at that
    WTP.  ``money``: the currency and price year, for the axis.
    """
    ax = _axes(ax)
    ref, others, wtp, by_point = _economic(rows)
    x = np.arange(len(by_point))
    markers = ("o", "s", "^", "D", "v", "P")
    n = len(others) * len(wtp)
    for i, arm in enumerate(others):
        for j, w in enumerate(wtp):
            got = [g.get((arm, f"{_NMB}{w:g}")) for g in by_point.values()]
            y = np.array([_number(r["estimate"]) if r else np.nan for r in got], float)
            low = np.array([_number(r["ci95_low"]) if r else np.nan for r in got], float)
            high = np.array([_number(r["ci95_high"]) if r else np.nan for r in got], float)
            shift = (i * len(wtp) + j - (n - 1) / 2) * min(0.6 / max(n, 1), 0.15)
            err = np.clip([y - low, high - y], 0, None)  # nan (no interval) drawn as none
            ax.errorbar(y, x + shift, xerr=err, fmt=markers[j % len(markers)],
                        color=PALETTE[(i + 1) % len(PALETTE)], capsize=3, ms=6,
                        label=f"{arm}, WTP {w:,.0f}")
    ax.axvline(0, color="black", lw=0.8)
    _points_axis(ax, by_point)
    ax.xaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(f"incremental NMB vs {ref}" + (f" ({money})" if money else ""),
                  fontsize=FONT["label"])
    ax.set_title(f"Net monetary benefit against {ref} at each point\n(above 0: better "
                 f"than {ref}; bars: 95% CI)", fontsize=FONT["title"])
    _outside_legend(ax)
    _caption(ax, caption)
    return ax


def plot_point_icer(rows, ax=None, money="", caption=None):
    """ICER of each arm against the first at every point, with Fieller's 95% interval.

    Where a ratio would mislead the point carries the word instead (dominant,
    dominated, no QALY difference) on the axis; an open marker is a south-west ICER
    (costs saved per QALY lost).
    """
    ax = _axes(ax)
    ref, others, _, by_point = _economic(rows)
    x = np.arange(len(by_point))
    words = []
    for i, arm in enumerate(others):
        colour = PALETTE[(i + 1) % len(PALETTE)]
        shift = (i - (len(others) - 1) / 2) * 0.12
        named = False
        for k, got in enumerate(by_point.values()):
            r = got.get((arm, "icer"))
            if r is None:
                continue
            if r["estimate"] in (None, ""):
                words.append((x[k] + shift, r["kind"].replace("_", " "), colour))
                continue
            y = float(r["estimate"])
            dq = got.get((arm, "qalys")), got.get((ref, "qalys"))
            south_west = all(dq) and float(dq[0]["estimate"]) < float(dq[1]["estimate"])
            low, high = _number(r["ci95_low"]), _number(r["ci95_high"])
            if low is not None and high is not None and low <= y <= high:
                ax.errorbar([y], [x[k] + shift], xerr=[[y - low], [high - y]], fmt="none",
                            color=colour, capsize=3)
            ax.plot([y], [x[k] + shift], "o", ms=7, color=colour,
                    mfc="white" if south_west else colour, label=None if named else arm)
            named = True
    for yp, word, colour in words:  # at the left edge, where no ratio is drawn
        ax.annotate(word, (0, yp), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", ha="left", va="center",
                    fontsize=FONT["legend"], color=colour)
    ax.xaxis.set_major_formatter(_MONEY)
    _points_axis(ax, by_point)
    ax.set_xlabel(f"ICER vs {ref} per QALY" + (f" ({money})" if money else ""),
                  fontsize=FONT["label"])
    ax.set_title(f"ICER against {ref} at each point\n(bars: Fieller's 95% CI; open: "
                 "south-west, saved per QALY lost)", fontsize=FONT["title"])
    if ax.get_legend_handles_labels()[1]:
        _outside_legend(ax)
    _caption(ax, caption)
    return ax


def plot_psa_plane(rows, ax=None, money="", caption=None):
    """The PSA draws of each arm against the first on the cost-effectiveness plane,
    with the willingness-to-pay lines (below a line: cost-effective at it)."""
    ax = _axes(ax)
    ref, others, wtp, by_point = _economic(rows)
    xs, ys = [0.0], [0.0]
    for i, arm in enumerate(others):
        dq = [float(g[(arm, "qalys")]["estimate"]) - float(g[(ref, "qalys")]["estimate"])
              for g in by_point.values()]
        dc = [float(g[(arm, "costs")]["estimate"]) - float(g[(ref, "costs")]["estimate"])
              for g in by_point.values()]
        xs += dq
        ys += dc
        colour = PALETTE[(i + 1) % len(PALETTE)]
        ax.scatter(dq, dc, s=16, alpha=0.6, color=colour, edgecolors="none",
                   label=f"{arm} vs {ref}")
        ax.scatter([np.mean(dq)], [np.mean(dc)], marker="X", s=90, color=colour,
                   edgecolors="black", linewidths=0.6)
    plane_axes(ax, xs, ys, wtp)
    ax.yaxis.set_major_formatter(_MONEY)
    ax.set_xlabel("incremental QALYs (discounted)", fontsize=FONT["label"])
    ax.set_ylabel("incremental costs" + (f" ({money})" if money else ""),
                  fontsize=FONT["label"])
    ax.set_title(f"PSA draws on the cost-effectiveness plane ({len(by_point)} draws; "
                 "X: their mean)", fontsize=FONT["title"])
    _outside_legend(ax)
    _caption(ax, caption)
    return ax


# ---------------------------------------------------------------- files


def _endpoints(rows):
    """The clinical endpoints drawn: the transplant endpoints, or a multi-state model's
    state occupations."""
    present = dict.fromkeys(r["endpoint"] for r in rows)
    chosen = [e for e in FIGURE_ENDPOINTS if e in present]
    return chosen or [e for e in present if e.startswith("occupation:")]


def _last_day(rows, endpoint):
    return max(float(r["landmark_day"]) for r in rows if r["endpoint"] == endpoint)


def write_sweep_figures(rows, mode, out_dir, endpoints=None, formats=("png",), caption=None,
                        money=""):
    """Write the figures that suit the sweep ``mode`` into ``out_dir``.

    Per arm (``<stem>_<arm>`` with several arms) and clinical endpoint (default: os,
    relapse, trm, grfs; of a multi-state model each state's occupation):
    ``one-way``: ``tornado_<endpoint>`` at the last landmark, over the swept clinical
    figures that move the arm; ``factorial`` over two figures: ``heatmap_<endpoint>`` at the last
    landmark; ``psa``: ``psa_<endpoint>`` at every landmark.  With economic rows and
    two arms or more: ``icer_points`` and ``nmb_points`` (grids), the net benefit's
    ``tornado_nmb_<arm>`` (one-way) or ``heatmap_nmb_<arm>`` (two-key factorial) at
    the first WTP, ``psa_plane`` (PSA).  ``caption``: a line under each decision
    figure; ``money``: the currency and price year.  Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arms = list(dict.fromkeys(r.get("arm") for r in rows))
    several = len(arms) > 1
    paths = []
    for endpoint in (endpoints or _endpoints(rows)):
        last_day = _last_day(rows, endpoint)
        for arm in arms:
            mine = [r for r in rows if r.get("arm") == arm]
            stem = f"{endpoint}_{arm}" if several else endpoint
            if mode == "one-way":
                # a cost leaves the course alone, and another arm's figure this arm's
                clinical = [k for k in dict.fromkeys(r["varied"] for r in mine
                                                     if r["design"] == "one-way")
                            if not _is_economic(k) and k.rpartition(":")[0] in ("", arm)]
                if clinical:
                    paths += save_figure(plot_tornado(mine, endpoint, last_day, keys=clinical,
                                                      arm=arm if several else None),
                                         out_dir, _slug(f"tornado_{stem}"), formats)
            elif mode == "factorial":
                keys = rows[0]["varied"].split("+")
                if len(keys) == 2 and not all(map(_is_economic, keys)):
                    paths += save_figure(plot_heatmap(mine, endpoint, last_day,
                                                      arm=arm if several else None),
                                         out_dir, _slug(f"heatmap_{stem}"), formats)
            elif mode == "psa":
                paths += save_figure(plot_psa(mine, endpoint, arm=arm if several else None),
                                     out_dir, _slug(f"psa_{stem}"), formats)
    try:
        ref, others, wtp, by_point = _economic(rows)
    except ValueError:  # no costs, or one arm: no decision to draw
        return paths
    w = f"{_NMB}{wtp[0]:g}"
    day = _last_day(rows, w)
    nmb = f"incremental NMB vs {ref} at WTP {wtp[0]:,.0f}" + (f" ({money})" if money else "")
    if mode == "psa":
        paths += save_figure(plot_psa_plane(rows, money=money, caption=caption), out_dir,
                             "psa_plane", formats)
        return paths
    paths += save_figure(plot_point_icer(rows, money=money, caption=caption), out_dir,
                         "icer_points", formats)
    paths += save_figure(plot_point_nmb(rows, money=money, caption=caption), out_dir,
                         "nmb_points", formats)
    for arm in others:
        if mode == "one-way":
            ax = plot_tornado(rows, w, day, ax=_axes(None), arm=arm, label=nmb, money=True)
            _caption(ax, caption)
            paths += save_figure(ax, out_dir, _slug(f"tornado_nmb_{arm}"), formats)
        elif mode == "factorial" and len(rows[0]["varied"].split("+")) == 2:
            ax = plot_heatmap(rows, w, day, ax=_axes(None), arm=arm, label=nmb, money=True)
            _caption(ax, caption)
            paths += save_figure(ax, out_dir, _slug(f"heatmap_nmb_{arm}"), formats)
    return paths
