"""Figures of the decision parts of a cost-effectiveness analysis.

The CE plane with the efficiency frontier, the acceptability curves with their
frontier (CEAC + CEAF), the EVPI curve, EVPPI bars and the expected net benefit of
sampling against the pilot's size.  Each takes the ``cea.json`` document (see
:mod:`hsctsim.apps.ceadecide`) and returns the axes, in the style of
:mod:`hsctsim.analysis.ceaplots` (its palette, size and caption).
"""

import numpy as np
from matplotlib.ticker import FuncFormatter, PercentFormatter

from .ceaplots import PALETTE, cea_axes, cea_caption
from .incremental import tornado_order

__all__ = ["plot_ceac_ceaf", "plot_enbs", "plot_evpi", "plot_evppi", "plot_frontier", "plot_sweep",
           "plot_tornado"]

_MONEY = FuncFormatter(lambda v, _: f"{v:,.0f}")
_STATUS_MARKER = {"frontier": "o", "dominated": "X", "extendedly dominated": "D"}


def _colour(doc, arm):
    return PALETTE[list(doc["arms"]).index(arm) % len(PALETTE)]


def _legend(ax):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=10)


def plot_frontier(doc, ax=None):
    """Mean costs against mean QALYs of each arm, the efficiency frontier drawn through.

    Circles: arms on the frontier (the ICER of each step written on it); crosses:
    dominated arms; diamonds: extendedly dominated ones.  With replicates, each
    replicate's means are a faint cloud around its arm.
    """
    ax = cea_axes(ax)
    rows = doc["incremental"]["table"]
    for arm, m in doc.get("replicate_means", {}).items():
        ax.scatter(m["qalys"], m["costs"], s=10, alpha=0.25, color=_colour(doc, arm),
                   edgecolors="none")
    front = [r for r in rows if r["status"] == "frontier"]
    ax.plot([r["effect"] for r in front], [r["cost"] for r in front], color="black", lw=1.5,
            zorder=3, label="efficiency frontier")
    for r in rows:
        ax.scatter([r["effect"]], [r["cost"]], marker=_STATUS_MARKER[r["status"]], s=110,
                   color=_colour(doc, r["arm"]), edgecolors="black", linewidths=0.8, zorder=4,
                   label=f"{r['arm']} ({r['status']})")
        ax.annotate(r["arm"], (r["effect"], r["cost"]), xytext=(7, -12),
                    textcoords="offset points", fontsize=10)
    for a, b in zip(front, front[1:]):
        ax.annotate(f"ICER {b['icer']:,.0f}", (0.5 * (a["effect"] + b["effect"]),
                                               0.5 * (a["cost"] + b["cost"])),
                    xytext=(-6, 6), textcoords="offset points", ha="right", fontsize=9,
                    color="#333333")
    ax.yaxis.set_major_formatter(_MONEY)
    ax.set_xlabel("QALYs per patient (discounted)", fontsize=12)
    ax.set_ylabel(f"costs per patient ({doc['currency']} {doc['price_year']})", fontsize=12)
    ax.set_title("Cost-effectiveness plane and efficiency frontier", fontsize=14)
    _legend(ax)
    cea_caption(ax, doc)
    return ax


def plot_ceac_ceaf(doc, ax=None):
    """Each arm's acceptability curve, and the frontier (CEAF) drawn over them.

    The CEAF follows, at each WTP, the arm of highest expected net benefit (the
    arm a decision maker would choose): a thick grey band under that arm's curve.
    """
    ax = cea_axes(ax)
    grid = np.array(doc["ceac"]["wtp"])
    ceaf = doc["ceac"]["ceaf"]
    ax.plot(grid, np.array(ceaf["probability"]) * 100, color="#999999", lw=7, alpha=0.55,
            solid_capstyle="butt", label="frontier (CEAF)", zorder=1)
    for arm, probs in doc["ceac"]["probability_best"].items():
        ax.plot(grid, np.array(probs) * 100, lw=2, color=_colour(doc, arm), label=arm,
                zorder=2)
    switches = [grid[i] for i in range(1, len(grid))
                if ceaf["optimal"][i] != ceaf["optimal"][i - 1]]
    for w in switches:
        ax.axvline(w, ls=":", color="#555555", lw=1)
    ax.set_ylim(-2, 102)
    ax.set_xlim(grid[0], grid[-1])
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.xaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(f"willingness to pay per QALY ({doc['currency']} {doc['price_year']})",
                  fontsize=12)
    ax.set_ylabel("probability cost-effective", fontsize=12)
    ax.set_title("Acceptability curves and frontier (dotted: the chosen arm changes)",
                 fontsize=14)
    _legend(ax)
    cea_caption(ax, doc)
    return ax


def plot_evpi(doc, ax=None):
    """EVPI per patient against the WTP; the population EVPI on a second axis."""
    ax = cea_axes(ax)
    voi = doc["voi"]
    grid = np.array(voi["evpi_curve"]["wtp"])
    values = np.array(voi["evpi_curve"]["per_patient"])
    ax.plot(grid, values, lw=2, color=PALETTE[0])
    ax.fill_between(grid, 0, values, color=PALETTE[0], alpha=0.12)
    for w in doc["wtp"]:
        ax.axvline(w, ls=":", color="#999999", lw=1)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(_MONEY)
    ax.yaxis.set_major_formatter(_MONEY)
    cur = f"{doc['currency']} {doc['price_year']}"
    ax.set_xlabel(f"willingness to pay per QALY ({cur})", fontsize=12)
    ax.set_ylabel(f"EVPI per patient ({cur})", fontsize=12)
    pop = voi["population"]
    if pop:
        factor = pop["discounted_patients"]
        right = ax.secondary_yaxis("right", functions=(lambda v: v * factor,
                                                       lambda v: v / factor))
        right.yaxis.set_major_formatter(_MONEY)
        right.set_ylabel(f"population EVPI ({pop['incidence_per_year']:g} a year, "
                         f"{pop['years']:g} years)", fontsize=11)
    ax.set_title(f"Expected value of perfect information ({voi['replicates']} replicates)",
                 fontsize=14)
    cea_caption(ax, doc)
    return ax


def plot_evppi(doc, ax=None, top=10):
    """Horizontal bars: EVPPI per patient of the ``top`` parameter groups, at each WTP."""
    ax = cea_axes(ax)
    voi = doc["voi"]
    best = {}
    for rows in voi["evppi"].values():
        for r in rows:
            best[r["group"]] = max(best.get(r["group"], 0.0), r["per_patient"])
    groups = sorted(best, key=lambda g: best[g])[-top:]
    wtps = list(voi["evppi"])
    height = 0.8 / max(len(wtps), 1)
    y = np.arange(len(groups))
    for i, w in enumerate(wtps):
        value = {r["group"]: r["per_patient"] for r in voi["evppi"][w]}
        evpi = voi["evpi"][w]["per_patient"]
        ax.barh(y + (i - (len(wtps) - 1) / 2) * height, [value[g] for g in groups],
                height=height, color=PALETTE[i % len(PALETTE)],
                label=f"WTP {float(w):,.0f} (EVPI {evpi:,.0f})")
    ax.set_yticks(y, [g.replace(":", ": ") for g in groups], fontsize=9)
    ax.xaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(f"EVPPI per patient ({doc['currency']} {doc['price_year']})", fontsize=12)
    ax.set_title("Expected value of partial perfect information", fontsize=14)
    _legend(ax)
    cea_caption(ax, doc)
    return ax


def plot_enbs(doc, ax=None):
    """Expected net benefit of sampling (or population EVSI) against the pilot's size."""
    ax = cea_axes(ax)
    pilot = doc["voi"]["pilot"]
    sizes = np.array(pilot["sizes"])
    has_enbs = all("enbs" in r for p in pilot["by_wtp"].values() for r in p["rows"])
    key = "enbs" if has_enbs else ("population" if doc["voi"]["population"] else
                                   "per_patient")
    for i, (w, p) in enumerate(pilot["by_wtp"].items()):
        values = np.array([r[key] for r in p["rows"]], float)
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(sizes, values, marker="o", lw=2, color=colour, label=f"WTP {float(w):,.0f}")
        if has_enbs and p["best_size"] is not None:
            j = list(sizes).index(p["best_size"])
            ax.scatter([sizes[j]], [values[j]], s=160, facecolors="none", edgecolors=colour,
                       linewidths=2, zorder=4)
    ax.axhline(0, color="black", lw=0.8)
    cur = f"{doc['currency']} {doc['price_year']}"
    label = {"enbs": "expected net benefit of sampling", "population": "population EVSI",
             "per_patient": "EVSI per patient"}[key]
    ax.yaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(f"pilot patients per arm ({pilot['arms_enrolled']} arm"
                  f"{'s' if pilot['arms_enrolled'] > 1 else ''} enrolled)", fontsize=12)
    ax.set_ylabel(f"{label} ({cur})", fontsize=12)
    cost = pilot["study_cost"]
    extra = (f"study cost {cost['fixed']:,.0f}\n+ {cost['per_patient']:,.0f} per patient"
             if cost and has_enbs else None)
    ax.set_title(f"{label[0].upper()}{label[1:]}" + (" (circle: the best size)" if has_enbs
                                                      else "")
                 + f"\npilot measuring {', '.join(pilot['endpoints'])}", fontsize=13)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=10,
              title=extra, title_fontsize=9, alignment="left")
    cea_caption(ax, doc)
    return ax


def plot_tornado(doc, arm, ax=None, top=12):
    """Tornado of ``arm``'s incremental net benefit at the first WTP.

    Each bar runs from the result with the figure at its low to that at its high;
    the vertical line is the base case.  The ``top`` figures of widest swing.
    """
    ax = cea_axes(ax)
    t = doc["tornado"]
    w = f"{doc['wtp'][0]:g}"
    base = t["base"][arm][w]

    rows = tornado_order(t, arm, w)[:top][::-1]
    y = np.arange(len(rows))
    for i, r in enumerate(rows):
        lo, hi = r["inmb"][arm][w]["low"], r["inmb"][arm][w]["high"]
        ax.barh(i, lo - base, left=base, height=0.6, color=PALETTE[0],
                label="figure at its low" if i == 0 else None)
        ax.barh(i, hi - base, left=base, height=0.6, color=PALETTE[1],
                label="figure at its high" if i == 0 else None)
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, [r["figure"] for r in rows], fontsize=9)
    ax.xaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(f"incremental net monetary benefit vs {t['versus']} at WTP "
                  f"{float(w):,.0f} ({doc['currency']} {doc['price_year']})", fontsize=12)
    ax.set_title(f"One-way sensitivity: {arm} (ranged figures over their range, "
                 f"others +-{100 * t['spread']:g}%)", fontsize=13)
    _legend(ax)
    cea_caption(ax, doc)
    return ax


def plot_sweep(doc, figure, ax=None):
    """Incremental net benefit of each arm against the first as ``figure`` varies, one
    line per WTP (solid: the first arm after the reference; others dashed)."""
    ax = cea_axes(ax)
    s = doc["sweep"]
    points = s["figures"][figure]
    x = np.array([p["value"] for p in points])
    styles = ("-", "--", ":", "-.")
    for j, w in enumerate(doc["wtp"]):
        for k, arm in enumerate(points[0]["increments"]):
            y = [p["increments"][arm]["nmb"][f"{w:g}"] for p in points]
            ax.plot(x, y, marker="o", lw=2, color=_colour(doc, arm),
                    ls=styles[j % len(styles)], alpha=1.0 if j == 0 else 0.7,
                    label=f"{arm}, WTP {float(w):,.0f}")
    ax.axhline(0, color="black", lw=0.8)
    ax.yaxis.set_major_formatter(_MONEY)
    ax.set_xlabel(figure.replace(":", ": "), fontsize=12)
    ax.set_ylabel(f"incremental NMB vs {s['versus']} ({doc['currency']} "
                  f"{doc['price_year']})", fontsize=12)
    if np.max(np.abs(x)) >= 1000:
        ax.xaxis.set_major_formatter(_MONEY)
    ax.set_title(f"One-way sweep: {figure}\n(above 0: better than {s['versus']}; the same "
                 "patients at every value)", fontsize=13)
    _legend(ax)
    cea_caption(ax, doc)
    return ax
