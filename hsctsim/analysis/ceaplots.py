"""Figures of a cost-effectiveness analysis: the CE plane and the acceptability curve.

Both take the document :func:`hsctsim.apps.cea.run_cea` returns (``cea.json``)
with replicates, and return the axes (``ax=None`` makes a new figure).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, PercentFormatter

__all__ = ["FIGSIZE", "PALETTE", "plane_axes", "plot_ce_plane", "plot_ceac"]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
FIGSIZE = (8, 5.5)


def cea_caption(ax, doc):
    d = doc["discount"]
    horizon = "lifetime" if doc["lifetime"] else f"{doc['horizon_days']:g} days"
    ax.figure.text(0.01, 0.005, f"hsctsim {doc['hsctsim_version']}; {doc['patients']:,} "
                   f"patients per arm and replicate; {doc['replicates']} replicates; seed "
                   f"{doc['seed']}; horizon {horizon}; discount {100 * d['rate']:g}% "
                   f"({d['method']}); {doc['currency']} {doc['price_year']}",
                   fontsize=8, color="#555555", ha="left", va="bottom")


def cea_axes(ax):
    if ax is None:
        fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
        fig.get_layout_engine().set(h_pad=0.25)
    return ax


def plane_axes(ax, xs, ys, wtp):
    """The cost-effectiveness plane around ``xs`` (QALYs) and ``ys`` (costs): limits
    symmetric about the origin, the axes through it, and a dashed line per
    willingness to pay in ``wtp``, labelled where it leaves the plot."""
    xlim = max(abs(min(xs)), abs(max(xs))) * 1.15 or 1.0
    ylim = max(abs(min(ys)), abs(max(ys))) * 1.15 or 1.0
    ax.set_xlim(-xlim, xlim)
    ax.set_ylim(-ylim, ylim)
    x = np.array([-xlim, xlim])
    for w in wtp:
        ax.plot(x, w * x, ls="--", lw=1, color="#777777")
        x_end = min(xlim, ylim / w) if w > 0 else xlim  # top right, where it leaves
        ax.annotate(f"WTP {w:,.0f}", (x_end, w * x_end), fontsize=8, color="#555555",
                    ha="right", va="top", xytext=(-3, -3), textcoords="offset points")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)


def plot_ce_plane(doc, ax=None):
    """Incremental costs against incremental QALYs of each replicate, by arm.

    Dashed lines: the willingness-to-pay thresholds of the document; points below a
    line are cost-effective at it.
    """
    ax = cea_axes(ax)
    ref = next(iter(doc["arms"]))
    base = doc["replicate_means"][ref]
    xs_all, ys_all = [0.0], [0.0]
    for i, (arm, m) in enumerate(a for a in doc["replicate_means"].items() if a[0] != ref):
        dq = np.subtract(m["qalys"], base["qalys"])
        dc = np.subtract(m["costs"], base["costs"])
        xs_all += list(dq)
        ys_all += list(dc)
        ax.scatter(dq, dc, s=14, alpha=0.6, color=PALETTE[i % len(PALETTE)],
                   label=f"{arm} vs {ref}", edgecolors="none")
        inc = doc["increments"][arm]
        ax.scatter([inc["qalys"]["mean"]], [inc["costs"]["mean"]], marker="X", s=80,
                   color=PALETTE[i % len(PALETTE)], edgecolors="black", linewidths=0.6)
    plane_axes(ax, xs_all, ys_all, doc["wtp"])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("incremental QALYs (discounted)", fontsize=12)
    ax.set_ylabel(f"incremental costs ({doc['currency']} {doc['price_year']})", fontsize=12)
    ax.set_title("Cost-effectiveness plane (X: the point estimate)", fontsize=14)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=10)
    cea_caption(ax, doc)
    return ax


def plot_ceac(doc, ax=None):
    """Probability that each arm has the highest net monetary benefit, by WTP."""
    ax = cea_axes(ax)
    grid = np.array(doc["ceac"]["wtp"])
    for i, (arm, probs) in enumerate(doc["ceac"]["probability_best"].items()):
        ax.step(grid, np.array(probs) * 100, where="mid", lw=2, color=PALETTE[i % len(PALETTE)],
                label=arm)
    for w in doc["wtp"]:
        ax.axvline(w, ls=":", color="#999999", lw=1)
    ax.set_ylim(-2, 102)
    ax.set_xlim(grid[0], grid[-1])
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(f"willingness to pay per QALY ({doc['currency']} {doc['price_year']})",
                  fontsize=12)
    ax.set_ylabel("probability cost-effective", fontsize=12)
    ax.set_title("Cost-effectiveness acceptability curve", fontsize=14)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=10)
    cea_caption(ax, doc)
    return ax
