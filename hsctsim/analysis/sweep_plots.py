"""Figures of parameter sweeps and PSA, from the tidy table of ``hsctsim sweep``.

Rows are dicts as :func:`hsctsim.apps.sweeps.table_rows` makes them (or read back
from ``sweep.csv``): ``point``, ``design``, ``varied``, one column per figure,
``arm``, ``endpoint``, ``kind``, ``landmark_day``, ``estimate``, ``ci95_low``,
``ci95_high``.  Each function takes ``ax=None`` and returns the axes.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .plotting import FONT, new_axes, save_figure

__all__ = ["plot_tornado", "plot_heatmap", "plot_psa", "write_sweep_figures"]

FIGURE_ENDPOINTS = ("os", "relapse", "trm", "grfs")


def _select(rows, endpoint, day):
    day = float(day)
    return [r for r in rows if r["endpoint"] == endpoint and float(r["landmark_day"]) == day
            and r["estimate"] not in (None, "")]


def plot_tornado(rows, endpoint="os", day=365, ax=None):
    """Tornado plot of a one-way sweep: each figure's swing of ``endpoint`` at ``day``.

    A bar per swept figure from the estimate at its lowest value to that at its
    highest, about the midpoints' estimate (point 0); the widest swing on top.
    """
    ax = new_axes(ax)
    chosen = _select(rows, endpoint, day)
    base = [float(r["estimate"]) for r in chosen if r["design"] == "baseline"]
    if not base:
        raise ValueError("a tornado plot needs a one-way sweep (with its baseline point)")
    base = base[0]
    bars = []
    for key in dict.fromkeys(r["varied"] for r in chosen if r["design"] == "one-way"):
        own = sorted((float(r[key]), float(r["estimate"])) for r in chosen if r["varied"] == key)
        (low_x, low_y), (high_x, high_y) = own[0], own[-1]
        bars.append((abs(high_y - low_y), key, low_x, low_y, high_x, high_y))
    bars.sort()
    for y, (_, key, low_x, low_y, high_x, high_y) in enumerate(bars):
        ends = [(low_x, low_y, "#1f78b4", "lowest value"), (high_x, high_y, "#e31a1c",
                                                              "highest value")]
        # the longer bar first, so that the shorter one stays visible on top of it
        for x, end, color, label in sorted(ends, key=lambda e: -abs(e[1] - base)):
            ax.barh(y, end - base, left=base, color=color, height=0.6,
                    label=label if y == 0 else None)
        for x, end, _, _ in ends:
            right = end >= max(low_y, high_y, base)
            ax.text(end, y, f" {x:g} " if right else f"{x:g} ", va="center",
                    ha="left" if right else "right", fontsize=FONT["legend"])
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(bars)), [b[1] for b in bars], fontsize=FONT["tick"])
    ax.set_xlabel(f"{endpoint} at day {float(day):g} (midpoints: {base:.3f})",
                  fontsize=FONT["label"])
    ax.set_title(f"One-way sensitivity of {endpoint} at day {float(day):g}",
                 fontsize=FONT["title"])
    ax.margins(x=0.15)
    ax.legend(fontsize=FONT["legend"], loc="lower right")
    return ax


def plot_heatmap(rows, endpoint="os", day=365, ax=None):
    """Heat map of ``endpoint`` at ``day`` over a two-figure factorial grid."""
    ax = new_axes(ax)
    chosen = [r for r in _select(rows, endpoint, day) if r["design"] == "grid"]
    keys = chosen[0]["varied"].split("+") if chosen else []
    if len(keys) != 2:
        raise ValueError("a heat map needs a factorial grid over two figures")
    xs = sorted({float(r[keys[0]]) for r in chosen})
    ys = sorted({float(r[keys[1]]) for r in chosen})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in chosen:
        grid[ys.index(float(r[keys[1]])), xs.index(float(r[keys[0]]))] = float(r["estimate"])
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white",
                    fontsize=FONT["legend"])
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    ax.set_xlabel(keys[0], fontsize=FONT["label"])
    ax.set_ylabel(keys[1], fontsize=FONT["label"])
    ax.set_title(f"{endpoint} at day {float(day):g}", fontsize=FONT["title"])
    ax.figure.colorbar(image, ax=ax, label=endpoint)
    return ax


def plot_psa(rows, endpoint="os", days=None, ax=None):
    """Distribution of ``endpoint`` over PSA draws: a histogram per landmark day.

    The 2.5-97.5 percentiles of the draws (the uncertainty from the reported
    ranges) are marked on each.
    """
    ax = new_axes(ax)
    chosen = [r for r in rows if r["endpoint"] == endpoint and r["design"] == "psa"
              and r["estimate"] not in (None, "")]
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
    ax.set_title(f"{endpoint} over {n_draws} PSA draws", fontsize=FONT["title"])
    ax.legend(fontsize=FONT["legend"])
    return ax


def write_sweep_figures(rows, mode, out_dir, endpoints=FIGURE_ENDPOINTS, formats=("png",)):
    """Write the figures that suit the sweep ``mode`` into ``out_dir``.

    ``one-way``: ``tornado_<endpoint>`` at the last landmark; ``factorial`` over two
    figures: ``heatmap_<endpoint>`` at the last landmark; ``psa``:
    ``psa_<endpoint>`` at every landmark.  Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_day = max(float(r["landmark_day"]) for r in rows)
    paths = []
    for endpoint in endpoints:
        if mode == "one-way":
            paths += save_figure(plot_tornado(rows, endpoint, last_day), out_dir,
                                 f"tornado_{endpoint}", formats)
        elif mode == "factorial":
            keys = rows[0]["varied"].split("+")
            if len(keys) == 2:
                paths += save_figure(plot_heatmap(rows, endpoint, last_day), out_dir,
                                     f"heatmap_{endpoint}", formats)
        elif mode == "psa":
            paths += save_figure(plot_psa(rows, endpoint), out_dir, f"psa_{endpoint}", formats)
    return paths
