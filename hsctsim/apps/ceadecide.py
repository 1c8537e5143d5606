"""The decision parts of ``hsctsim cea``: the efficiency frontier, the CEAF, and the
value of information of the replicates (EVPI, EVPPI, and the EVSI and ENBS of a pilot).

:func:`incremental_section` works on any document of three arms or more;
:func:`psa_sections` on the replicates' means, each replicate's drawn figures and,
for a pilot, each replicate's share of patients with the pilot's endpoint.  The
methods are in :mod:`hsctsim.analysis.incremental` and :mod:`hsctsim.analysis.voi`.
"""

import dataclasses
import fnmatch
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ..analysis.costeffectiveness import icer
from ..analysis.incremental import (
    acceptability,
    frontier,
    net_benefit,
    optimal_by_wtp,
    tornado_order,
)
from ..analysis.trials import COUNTS, parse_statistic
from ..api import scenario_point
from ..model.econfigures import DEFAULT_ECONOMIC_DRAWS
from ..model.economics import Figure, economics_of
from ..model.hsct import process_names
from .output import text_table

__all__ = ["check_decisions", "CHEERS_LEFT", "cheers_report", "CHEERS_SOURCE", "decision_figures",
           "decision_rows", "Decisions", "DEFAULT_PILOT_SIZES", "ECONOMIC_SECTIONS", "EVPPI_SHOWN",
           "format_incremental", "format_psa", "format_sweep", "format_tornado",
           "incremental_section", "inflation_lines", "MAX_SWEEP_STEPS", "noise_shares",
           "NOISY_SHARE", "parameter_columns", "parse_sweep", "pilot_counter", "PILOT_STREAM",
           "psa_sections", "replicate_parameters", "STABLE_DRAWS", "sweep_section",
           "sweep_variants", "TORNADO_SHOWN", "tornado_variants", "TornadoTally"]

DEFAULT_PILOT_SIZES = (5, 10, 20, 30, 50)
PILOT_STREAM = 0x7069_6C6F_74  # the pilots' binomial draws: a stream of their own
EVPPI_SHOWN = 8  # rows of the EVPPI table (all are in cea.json)
# below this many replicates the regressions (EVPPI, EVSI) are rough: said in a note
STABLE_DRAWS = 200


@dataclass(frozen=True)
class Decisions:
    """What ``cea`` is asked to value beyond the frontier.

    incidence : patients a year that the decision concerns (None: per patient only)
    years : how many years the decision stands
    groups : named groups of parameters for the EVPPI, ``name -> (pattern, ...)``
        (``fnmatch`` patterns over the parameter names, e.g. ``costs.*``)
    pilot : ``(arm, statistic)`` endpoints a pilot measures, e.g.
        ``("haplo_nk", "relapse_d365")``: the share of the arm's patients with the
        event by that day, observed as a binomial count of ``size`` patients
    sizes : pilot sizes (patients per arm enrolled)
    study_cost : ``(fixed, per patient)``, or None
    """

    incidence: float | None = None
    years: float = 10.0
    groups: dict = field(default_factory=dict)
    pilot: tuple = ()
    sizes: tuple = DEFAULT_PILOT_SIZES
    study_cost: tuple | None = None


# -- the frontier ----------------------------------------------------------------------


def incremental_section(doc):
    """``incremental`` of ``cea.json``: the frontier and each arm's net benefit."""
    names = list(doc["arms"])
    costs = [doc["arms"][a]["costs"]["mean"] for a in names]
    qalys = [doc["arms"][a]["qalys"]["mean"] for a in names]
    rows = frontier(costs, qalys, names)
    for r in rows:
        for k in ("cost", "effect", "incremental_cost", "incremental_effect", "icer"):
            if r[k] is not None:
                r[k] = round(r[k], 6 if "effect" in k else 2)
    best = optimal_by_wtp(rows, doc["wtp"])
    return {"table": rows,
            "optimal": {f"{w:g}": arm for w, arm in zip(doc["wtp"], best)},
            "nmb": {a: {f"{w:g}": round(w * q - c, 2) for w in doc["wtp"]}
                    for a, c, q in zip(names, costs, qalys)}}


def format_incremental(doc):
    """The frontier table and the arm of highest net benefit at each WTP."""

    inc = doc["incremental"]
    rows = [["arm (by cost)", "costs", "QALYs", "status", "ICER on the frontier",
             *(f"NMB at {float(w):,.0f}" for w in doc["wtp"])]]
    for r in inc["table"]:
        if r["status"] == "frontier":
            status = "frontier"
            ratio = f"{r['icer']:,.0f} vs {r['versus']}" if r["icer"] is not None else "-"
        elif r["status"] == "dominated":
            status, ratio = f"dominated by {r['by']}", "-"
        else:
            status, ratio = f"ext. dominated ({' + '.join(r['by'])})", "-"
        rows.append([r["arm"], f"{r['cost']:,.0f}", f"{r['effect']:.3f}", status, ratio,
                     *(f"{inc['nmb'][r['arm']][f'{float(w):g}']:+,.0f}" for w in doc["wtp"])])
    lines = ["", "fully incremental (means; dominated and extendedly dominated arms removed, "
             "ICERs along the efficiency frontier)", ""] + text_table(rows)
    lines.append("highest net monetary benefit: " + "; ".join(
        f"{a} at {float(w):,.0f}" for w, a in inc["optimal"].items()))
    return lines


# -- the replicates ----------------------------------------------------------------------


def replicate_parameters(scenarios, econ, seed, replicate,
                         economic_draws=DEFAULT_ECONOMIC_DRAWS):
    """The figures replicate ``replicate`` drew, ``{"arm:key": value}``.

    Clinical ranges (``arm:agvhd.incidence``) and ranged costs, utilities and
    durations (``arm:costs.nk_infusion``), as the arms' replicate draws them.
    """
    out = {}
    for arm, s in scenarios.items():
        if hasattr(s, "ranges"):
            ranged = {k for k, r in s.ranges() if r.low != r.high}
            if ranged:
                for k, r in scenario_point(s, seed, replicate).ranges():
                    if k in ranged:
                        out[f"{arm}:{k}"] = float(r.mid)
        drawn = econ[arm].draw(seed, replicate, economic_draws)
        for section in ("costs", "utilities", "durations"):
            for k, fig in getattr(econ[arm], section).items():
                if fig.is_range:
                    out[f"{arm}:{section}.{k}"] = float(getattr(drawn, section)[k].point)
    return out


def parameter_columns(rows):
    """Columns of the replicates' parameters; a figure every arm drew alike is one
    column named without its arm (``costs.agvhd_onset``)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    cols = {k: np.array([r.get(k, np.nan) for r in rows]) for k in names}
    by_base = {}
    for k in names:
        by_base.setdefault(k.partition(":")[2], []).append(k)
    out = {}
    for base, keys in by_base.items():
        first = cols[keys[0]]
        if len(keys) > 1 and all(np.array_equal(cols[k], first) for k in keys[1:]):
            out[base] = first
        else:
            out.update({k: cols[k] for k in keys})
    # a figure that did not vary (or only in some replicates) carries no information
    return {k: v for k, v in out.items() if np.all(np.isfinite(v)) and np.ptp(v) > 0}


def pilot_counter(pilot, scenarios):
    """Check the pilot's endpoints against the arms; return a counter of chunks.

    The counter's ``add(arm, cohort)`` counts a chunk; ``shares()`` gives, per
    endpoint, the share of the arm's patients with the event by its day, and
    ``reset()`` starts the next replicate.
    """
    checked = []
    for arm, stat in pilot:
        if arm not in scenarios:
            raise ValueError(f"--pilot {arm}:{stat}: no arm {arm!r} (arms: "
                             f"{', '.join(scenarios)})")
        try:
            base, day = parse_statistic(stat)
        except ValueError as exc:
            raise ValueError(f"--pilot {arm}:{stat}: {exc}") from None
        if base == "median_os_days":
            raise ValueError(f"--pilot {arm}:{stat}: a pilot here counts patients with an "
                             "event; a median survival is not a count")
        checked.append((arm, stat, COUNTS[base], day))

    class Counter:
        def __init__(self):
            self.checked = checked
            self.reset()

        def reset(self):
            self.hits = [0] * len(checked)
            self.n = [0] * len(checked)

        def add(self, arm, cohort):
            for i, (a, stat, processes, day) in enumerate(checked):
                if a != arm:
                    continue
                have = [p for p in processes if p in cohort.process_names]
                if not have:
                    raise ValueError(f"--pilot {a}:{stat}: this arm has no "
                                     f"{' or '.join(processes)} process")
                first = np.min([cohort.day(p) for p in have], axis=0)
                if day is not None:
                    if day > cohort.horizon_days:
                        raise ValueError(f"--pilot {a}:{stat}: day {day:g} is after the "
                                         f"simulated window ({cohort.horizon_days:g} days)")
                    first = np.where(first <= day, first, np.inf)
                self.hits[i] += int(np.isfinite(first).sum())
                self.n[i] += cohort.n_patients

        def shares(self):
            return [h / n for h, n in zip(self.hits, self.n)]

    return Counter()


def check_decisions(decisions, scenarios, econ, seed):
    """Refuse a pilot or an EVPPI group that the arms cannot give (ValueError, one line).

    Returns the pilot counter (or None).
    """
    counter = pilot_counter(decisions.pilot, scenarios) if decisions.pilot else None
    if counter is not None:

        for arm, stat, processes, _ in counter.checked:
            s = scenarios[arm]
            if getattr(s, "kind", None) == "multistate":
                raise ValueError(f"--pilot {arm}:{stat}: a pilot here counts the events of "
                                 "a transplant arm, not the transitions of a multi-state "
                                 "model")
            names = (process_names(scenario_point(s)) if hasattr(s, "ranges") else ())
            if not set(processes) & set(names):
                raise ValueError(f"--pilot {arm}:{stat}: this arm has no "
                                 f"{' or '.join(processes)} process")
    if decisions.groups:
        names = list(parameter_columns([replicate_parameters(scenarios, econ, seed, r)
                                        for r in range(3)]))
        _resolve_groups(decisions.groups, names)
    return counter


def _resolve_groups(groups, names):
    out = {}
    for group, patterns in groups.items():
        keys = []
        for p in patterns:
            hit = [n for n in names if fnmatch.fnmatchcase(n, p)]
            if not hit:
                raise ValueError(f"--evppi {group}={','.join(patterns)}: {p!r} matches no "
                                 "figure drawn in the replicates (they are: "
                                 f"{', '.join(names) or 'none'})")
            keys += [k for k in hit if k not in keys]
        out[group] = keys
    return out


def psa_sections(doc, draws, parameters, shares, decisions, seed, discount_rate,
                 within=None):
    """``ceaf`` (into ``doc["ceac"]``) and ``voi`` of ``cea.json``.

    draws : dict arm -> (costs list, qalys list) over replicates
    parameters : dict name -> array over replicates (see :func:`parameter_columns`)
    shares : array (replicates, endpoints) of the pilot's endpoints, or None
    within : list over replicates of ``{arm: (var cost, var QALY, cov)}`` of each
        replicate's mean increments against the first arm (its patient-level noise),
        or None
    """
    from ..analysis.voi import (
        MIN_DRAWS,
        enbs,
        evpi,
        evpi_standard_error,
        evppi,
        evsi_by_size,  # scipy.interpolate: imported on use
        population_factor,
    )

    names = list(draws)
    costs = np.column_stack([np.asarray(draws[a][0], float) for a in names])
    qalys = np.column_stack([np.asarray(draws[a][1], float) for a in names])
    grid = np.asarray(doc["ceac"]["wtp"], float)
    acc = acceptability(costs, qalys, grid)
    doc["ceac"]["ceaf"] = {"optimal": [names[i] for i in acc["optimal"]],
                           "probability": [round(float(p), 4)
                                           for p in acc["frontier_probability"]]}
    if len(costs) < MIN_DRAWS:
        return
    factor = (population_factor(decisions.incidence, decisions.years, discount_rate)
              if decisions.incidence is not None else None)

    def scaled(v):
        return None if factor is None else round(v * factor, 2)

    voi = {"replicates": len(costs),
           "population": None if factor is None else {
               "incidence_per_year": decisions.incidence, "years": decisions.years,
               "discount_rate": discount_rate, "discounted_patients": round(factor, 3)},
           "evpi_curve": {"wtp": [float(w) for w in grid],
                          "per_patient": [round(float(v), 2) for v in evpi(
                              net_benefit(costs, qalys, grid))]},
           "evpi": {}, "evppi": {}}
    if len(costs) < STABLE_DRAWS:
        voi["notes"] = [f"{len(costs)} replicates: EVPPI and EVSI by regression are rough "
                        f"below about {STABLE_DRAWS} (they can credit a figure with value it "
                        "does not have); run more for a decision"]
    groups = {k: [k] for k in parameters}
    groups.update(_resolve_groups(decisions.groups, list(parameters)))
    if within:
        voi["patient_noise_share"] = noise_shares(costs, qalys, within, names, doc["wtp"])
        noisy = sorted({f"{arm} at WTP {float(w):,.0f}"
                        for w, by_arm in voi["patient_noise_share"].items()
                        for arm, share in by_arm.items() if share > NOISY_SHARE})
        if noisy:
            voi.setdefault("notes", []).append(
                f"patient-level noise is more than {100 * NOISY_SHARE:g}% of the spread of the "
                f"incremental net benefit across replicates ({'; '.join(noisy)}): the EVPI "
                "is inflated by it; raise -n")
    for w in doc["wtp"]:
        nb = net_benefit(costs, qalys, w)
        value = float(evpi(nb))
        voi["evpi"][f"{w:g}"] = {"per_patient": round(value, 2),
                                 "standard_error": round(evpi_standard_error(nb), 2),
                                 "population": scaled(value)}
        rows = []
        for group, keys in groups.items():
            x = np.column_stack([parameters[k] for k in keys])
            out = evppi(nb, x)
            rows.append({"group": group, "parameters": keys,
                         "per_patient": round(out["evppi"], 2),
                         "standard_error": round(out["standard_error"], 2),
                         "population": scaled(out["evppi"])})
        rows.sort(key=lambda r: -r["per_patient"])
        voi["evppi"][f"{w:g}"] = rows
        over = [r["group"] for r in rows
                if r["per_patient"] > value + 2 * (r["standard_error"]
                                                   + voi["evpi"][f"{w:g}"]["standard_error"])]
        if over:  # the regression overfits a few replicates
            voi.setdefault("notes", []).append(
                f"at WTP {w:,.0f} the EVPPI of {', '.join(over)} is above the EVPI: too few "
                "replicates for the regression; run more")
    if shares is not None:
        arms_enrolled = len({arm for arm, _ in decisions.pilot})
        sizes = [int(s) for s in decisions.sizes]
        pilot = {"endpoints": [f"{a}:{s}" for a, s in decisions.pilot],
                 "arms_enrolled": arms_enrolled, "sizes": sizes,
                 "study_cost": None if decisions.study_cost is None else {
                     "fixed": decisions.study_cost[0],
                     "per_patient": decisions.study_cost[1]},
                 "mean_share": [round(float(v), 4) for v in shares.mean(axis=0)],
                 "by_wtp": {}}
        for w in doc["wtp"]:
            nb = net_benefit(costs, qalys, w)
            rows = []
            # the same pilot data at every WTP (one stream): nested over the sizes
            rng = np.random.default_rng([int(seed) % 2**63, PILOT_STREAM])
            for n, out in zip(sizes, evsi_by_size(nb, shares, sizes, rng)):
                row = {"size": n, "per_patient": round(out["evsi"], 2),
                       "standard_error": round(out["standard_error"], 2),
                       "population": scaled(out["evsi"])}
                if factor is not None and decisions.study_cost is not None:
                    row["enbs"] = round(float(enbs(out["evsi"] * factor, n,
                                                   *decisions.study_cost, arms_enrolled)), 2)
                rows.append(row)
            best = (max(rows, key=lambda r: r["enbs"]) if rows and "enbs" in rows[0]
                    else None)
            pilot["by_wtp"][f"{w:g}"] = {
                "rows": rows,
                "best_size": None if best is None or best["enbs"] <= 0 else best["size"]}
        voi["pilot"] = pilot
    doc["voi"] = voi


NOISY_SHARE = 0.1


def noise_shares(costs, qalys, within, names, wtp):
    """Per WTP and arm, the share of the variance of the incremental net benefit across
    replicates that is the replicates' own patient-level Monte Carlo noise.

    ``mean_r Var_r(INB) / Var(INB_r)``: near 0, the spread is the parameters'
    (as a PSA intends); near 1, mostly noise, which inflates the EVPI.
    """
    out = {}
    for w in wtp:
        by_arm = {}
        for j, arm in enumerate(names[1:], start=1):
            inb = w * (qalys[:, j] - qalys[:, 0]) - (costs[:, j] - costs[:, 0])
            total = float(np.var(inb, ddof=1)) if len(inb) > 1 else 0.0
            noise = float(np.mean([w * w * v[arm][1] + v[arm][0] - 2 * w * v[arm][2]
                                   for v in within]))
            by_arm[arm] = round(min(noise / total, 1.0), 4) if total > 0 else 1.0
        out[f"{w:g}"] = by_arm
    return out


def format_psa(doc):
    """Lines: the CEAF at the document's WTPs, EVPI, the largest EVPPIs, the pilot."""

    lines = []
    grid = doc["ceac"]["wtp"]
    ceaf = doc["ceac"].get("ceaf")
    if ceaf:
        lines += ["", "cost-effectiveness acceptability frontier (the arm of highest expected "
                  "net benefit, and the share of replicates in which it is best): " + "; ".join(
                      f"{float(w):,.0f}: {ceaf['optimal'][grid.index(w)]} "
                      f"{ceaf['probability'][grid.index(w)]:.2f}" for w in doc["wtp"])]
    voi = doc.get("voi")
    if not voi:
        return lines
    pop = voi["population"]
    who = (f"; population: {pop['incidence_per_year']:g} patients a year for "
           f"{pop['years']:g} years, discounted at {100 * pop['discount_rate']:g}% "
           f"({pop['discounted_patients']:,.1f} patients)" if pop else "")
    lines += ["", f"value of information over {voi['replicates']} replicates (per patient"
              f"{who})", ""]
    rows = [["", *(f"WTP {float(w):,.0f}" for w in doc["wtp"])]]
    at = [voi["evpi"][f"{float(w):g}"] for w in doc["wtp"]]
    rows.append(["EVPI per patient", *(f"{v['per_patient']:,.0f} (se {v['standard_error']:,.0f})"
                                       for v in at)])
    if pop:
        rows.append(["EVPI population", *(f"{voi['evpi'][f'{float(w):g}']['population']:,.0f}"
                                          for w in doc["wtp"])])
    lines += text_table(rows)
    tops = {}
    for w in doc["wtp"]:
        for r in voi["evppi"][f"{float(w):g}"]:
            tops[r["group"]] = max(tops.get(r["group"], 0.0), r["per_patient"])
    shown = sorted(tops, key=lambda g: -tops[g])[:EVPPI_SHOWN]
    if shown:
        lines += ["", "EVPPI per patient (regression on the replicates' draws; the largest "
                  f"{len(shown)})", ""]
        rows = [["parameters", *(f"WTP {float(w):,.0f}" for w in doc["wtp"])]]
        for g in shown:
            rows.append([g, *(next(f"{r['per_patient']:,.0f}" for r in
                                   voi["evppi"][f"{float(w):g}"] if r["group"] == g)
                              for w in doc["wtp"])])
        lines += text_table(rows)
    lines += [f"note: {n}" for n in voi.get("notes", [])]
    pilot = voi.get("pilot")
    if pilot:
        lines += ["", f"pilot of {', '.join(pilot['endpoints'])} (expected value of sample "
                  "information per patient; ENBS: population EVSI less the study's cost)", ""]
        header = ["patients per arm"]
        for w in doc["wtp"]:
            header.append(f"EVSI at {float(w):,.0f}")
            if "enbs" in pilot["by_wtp"][f"{float(w):g}"]["rows"][0]:
                header.append(f"ENBS at {float(w):,.0f}")
        rows = [header]
        for i, n in enumerate(pilot["sizes"]):
            row = [str(n)]
            for w in doc["wtp"]:
                r = pilot["by_wtp"][f"{float(w):g}"]["rows"][i]
                row.append(f"{r['per_patient']:,.0f}")
                if "enbs" in r:
                    row.append(f"{r['enbs']:+,.0f}")
            rows.append(row)
        lines += text_table(rows)
        best = [(w, pilot["by_wtp"][f"{float(w):g}"]["best_size"]) for w in doc["wtp"]]
        if pilot["study_cost"] is not None and pop:
            lines.append("pilot size of the highest ENBS: " + "; ".join(
                f"{b if b is not None else 'none worth its cost'} at {float(w):,.0f}"
                for w, b in best))
    return lines


def decision_figures(doc):
    """``(name, function)`` of each decision figure the document has data for."""
    from ..analysis import decisionplots as dp  # matplotlib: imported on use

    out = []
    if "incremental" in doc:
        out.append(("frontier", dp.plot_frontier))
    if "ceaf" in doc.get("ceac", {}):
        out.append(("ceac_ceaf", dp.plot_ceac_ceaf))
    if "voi" in doc:
        out += [("evpi", dp.plot_evpi), ("evppi", dp.plot_evppi)]
        if "pilot" in doc["voi"]:
            out.append(("enbs", dp.plot_enbs))
    if "sweep" in doc:

        for figure in doc["sweep"]["figures"]:
            stem = "sweep_" + "".join(c if c.isalnum() or c in "_-." else "_" for c in figure)
            out.append((stem, functools.partial(dp.plot_sweep, figure=figure)))
    if "tornado" in doc:

        for arm in doc["tornado"]["base"]:
            out.append((f"tornado_{arm}", functools.partial(dp.plot_tornado, arm=arm)))
    return out


def decision_rows(doc):
    """Flat CSV rows of the decision sections (``decisions.csv``)."""
    rows = []
    for r in doc.get("incremental", {}).get("table", []):
        rows.append({"section": "frontier", "item": r["arm"], "wtp": "",
                     "value": r["icer"] if r["icer"] is not None else "",
                     "note": r["status"] + (f" vs {r['versus']}" if r["versus"] else "")})
    tornado = doc.get("tornado")
    for r in (tornado or {}).get("figures", []):
        for arm, by_wtp in r["inmb"].items():
            for w, v in by_wtp.items():
                for side in ("low", "high"):
                    rows.append({"section": "tornado", "item": f"{arm}:{r['figure']}:{side}",
                                 "wtp": w, "value": v[side],
                                 "note": f"vs {tornado['versus']}; figure "
                                         f"{_shown_values(r['values'][side])}"})
    for figure, points in (doc.get("sweep") or {}).get("figures", {}).items():
        for p in points:
            for arm, inc in p["increments"].items():
                item = f"{arm}:{figure}={p['value']:g}"
                rows.append({"section": "sweep_icer", "item": item, "wtp": "",
                             "value": inc["icer"] if inc["icer"] is not None else "",
                             "note": f"vs {doc['sweep']['versus']}; {inc['quadrant']}"})
                for w, v in inc["nmb"].items():
                    rows.append({"section": "sweep_nmb", "item": item, "wtp": w, "value": v,
                                 "note": f"best: {p['optimal'][w]}"})
    voi = doc.get("voi") or {}
    for w, v in voi.get("evpi", {}).items():
        rows.append({"section": "evpi", "item": "per_patient", "wtp": w,
                     "value": v["per_patient"], "note": f"se {v['standard_error']}"})
        if v["population"] is not None:
            rows.append({"section": "evpi", "item": "population", "wtp": w,
                         "value": v["population"], "note": ""})
    for w, group_rows in voi.get("evppi", {}).items():
        for r in group_rows:
            rows.append({"section": "evppi", "item": r["group"], "wtp": w,
                         "value": r["per_patient"], "note": f"se {r['standard_error']}"})
    for w, p in (voi.get("pilot") or {}).get("by_wtp", {}).items():
        for r in p["rows"]:
            rows.append({"section": "evsi", "item": f"n={r['size']}", "wtp": w,
                         "value": r["per_patient"], "note": f"se {r['standard_error']}"})
            if "enbs" in r:
                rows.append({"section": "enbs", "item": f"n={r['size']}", "wtp": w,
                             "value": r["enbs"], "note": ""})
    return rows


# -- one-way sensitivity of the economic figures (tornado) -------------------------------

ECONOMIC_SECTIONS = ("costs", "utilities", "durations")
TORNADO_SHOWN = 10
# bounds a varied point figure is clipped to (as the scenario file would check it)
_BOUNDS = {"utilities": {"agvhd_decrement": (0.0, 2.0), "cgvhd_decrement": (0.0, 2.0)}}


def _bounds(section, key):
    if section == "utilities":
        return _BOUNDS["utilities"].get(key, (-1.0, 1.0))
    return (0.0, math.inf)


def tornado_variants(econ, spread):
    """Each economic figure at its low and its high, the rest at their base values.

    A ranged figure goes to the ends of its range; a point figure to ``(1 -
    spread)`` and ``(1 + spread)`` times itself (clipped to what the file allows;
    left out when ``spread`` is 0 or the figure is 0).  A figure several arms carry
    moves in all of them at once, each from its own value.

    Returns
    -------
    list of ``(figure, side, values, {arm: Economics})``; ``values``: arm -> value.
    """


    names = {}
    for arm, e in econ.items():
        for section in ECONOMIC_SECTIONS:
            for key in getattr(e, section):
                names.setdefault((section, key), []).append(arm)
    out = []
    for (section, key), arms in names.items():
        ends = {}
        for arm in arms:
            fig = getattr(econ[arm], section)[key]
            if fig.is_range:
                ends[arm] = tuple(float(v) for v in fig.value)
            elif spread > 0 and fig.point != 0:
                lo, hi = _bounds(section, key)
                p = float(fig.point)
                ends[arm] = tuple(sorted(min(max(p * f, lo), hi)
                                         for f in (1 - spread, 1 + spread)))
        if not ends:
            continue
        for i, side in enumerate(("low", "high")):
            variant = dict(econ)
            for arm, pair in ends.items():
                table = dict(getattr(econ[arm], section))
                table[key] = Figure(pair[i], table[key].source)
                variant[arm] = dataclasses.replace(econ[arm], **{section: table})
            out.append((f"{section}.{key}", side, {a: p[i] for a, p in ends.items()},
                        variant))
    return out


class TornadoTally:
    """Mean costs and QALYs of each arm under each variant, chunk by chunk."""

    def __init__(self, variants, names):
        self.variants = variants
        self.names = names
        self.sums = [{a: [0.0, 0.0] for a in names} for _ in variants]
        self.base = {a: [0.0, 0.0] for a in names}
        self.n = 0

    def add(self, chunks, base_values, values_of):
        """``chunks``: arm -> cohort; ``values_of(cohort, arm, econ)``: its values."""
        self.n += len(next(iter(base_values.values()))["costs"])
        for arm in self.names:
            self.base[arm][0] += float(np.sum(base_values[arm]["costs"]))
            self.base[arm][1] += float(np.sum(base_values[arm]["qalys"]))
        for i, (_, _, changed, variant) in enumerate(self.variants):
            for arm in self.names:
                v = (values_of(chunks[arm], arm, variant[arm]) if arm in changed
                     else base_values[arm])
                self.sums[i][arm][0] += float(np.sum(v["costs"]))
                self.sums[i][arm][1] += float(np.sum(v["qalys"]))

    def section(self, doc, spread):
        """``tornado`` of ``cea.json``: each arm's incremental NMB against the first at
        each WTP, with each figure low and high."""
        ref = self.names[0]
        base = {a: (s[0] / self.n, s[1] / self.n) for a, s in self.base.items()}

        def inmb(means, arm, w):
            return (w * (means[arm][1] - means[ref][1]) - (means[arm][0] - means[ref][0]))

        figures = {}
        for i, (figure, side, values, _) in enumerate(self.variants):
            means = {a: (s[0] / self.n, s[1] / self.n) for a, s in self.sums[i].items()}
            entry = figures.setdefault(figure, {"figure": figure, "values": {}, "inmb": {}})
            entry["values"][side] = {a: round(v, 6) for a, v in values.items()}
            for arm in self.names[1:]:
                for w in doc["wtp"]:
                    entry["inmb"].setdefault(arm, {}).setdefault(f"{w:g}", {})[side] = round(
                        inmb(means, arm, w), 2)
        rows = list(figures.values())
        first = f"{doc['wtp'][0]:g}"

        def swing(r):
            return max(abs(v[first]["high"] - v[first]["low"]) for v in r["inmb"].values())

        rows.sort(key=lambda r: -swing(r))
        return {"spread": spread, "versus": ref,
                "base": {arm: {f"{w:g}": round(inmb(base, arm, w), 2) for w in doc["wtp"]}
                         for arm in self.names[1:]},
                "figures": rows}


def format_tornado(doc):
    """The figures that move each arm's incremental NMB most, at the first WTP."""

    t = doc["tornado"]
    w = f"{doc['wtp'][0]:g}"
    lines = ["", f"one-way sensitivity of the incremental NMB against {t['versus']} at WTP "
             f"{float(w):,.0f} (ranged figures over their range, the others "
             f"+-{100 * t['spread']:g}%; the largest {TORNADO_SHOWN})", ""]
    for arm, base in t["base"].items():
        rows = [[f"{arm} (base {base[w]:+,.0f})", "figure low", "figure high", "NMB at low",
                 "NMB at high"]]
        for r in tornado_order(t, arm, w)[:TORNADO_SHOWN]:
            lo, hi = r["values"]["low"], r["values"]["high"]
            rows.append([r["figure"], _shown_values(lo), _shown_values(hi),
                         f"{r['inmb'][arm][w]['low']:+,.0f}",
                         f"{r['inmb'][arm][w]['high']:+,.0f}"])
        lines += text_table(rows) + [""]
    return lines[:-1]


def _number(v):
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _shown_values(values):
    distinct = sorted(set(values.values()))
    if len(distinct) == 1:
        return _number(distinct[0])
    return ", ".join(f"{a} {_number(v)}" for a, v in values.items())


def inflation_lines(doc):
    """One line per arm naming the costs brought to the price year, and the index."""
    inf = doc["inflation"]
    out = [f"  {arm}: " + ", ".join(f"{k} from {v['from_year']} (x{v['factor']:.4f})"
                                    for k, v in figures.items())
           for arm, figures in inf["figures"].items()]
    return [f"costs brought to {inf['to_year']} prices with {'; '.join(inf['index_sources'])}:",
            *out]


# -- CHEERS 2022 -------------------------------------------------------------------------

CHEERS_SOURCE = ("Husereau et al., Consolidated Health Economic Evaluation Reporting "
                 "Standards 2022 (CHEERS 2022) statement, BMJ 2022;376:e067975 and "
                 "BMC Med 2022;20:23")
CHEERS_LEFT = ("1-6 (title, abstract, background, analysis plan, study population, setting), "
               "12 (measurement of outcomes), 17-19 (analytics and assumptions, "
               "heterogeneity, distributional effects), 21 and 25 (engagement), 26-28 "
               "(discussion, funding, conflicts of interest)")


def cheers_report(doc, scenarios):
    """The CHEERS 2022 items a ``cea`` run can fill, as Markdown (``cheers.md``)."""
    econ = {arm: economics_of(s) for arm, s in scenarios.items()}
    d = doc["discount"]
    if doc.get("lifetime_method") == "simulated":
        horizon = (f"lifetime: every patient simulated to death ({doc['horizon_days']:g} "
                   "days), late mortality from the life table times the relative mortality "
                   "of long-term HSCT survivors ([late_mortality] of each arm)")
    elif doc["lifetime"]:
        horizon = (f"lifetime: {doc['horizon_days']:g} days simulated patient by patient, "
                   "then the life table times the excess mortality of long-term HSCT "
                   "survivors ([lifetime] of each arm)")
    else:
        horizon = f"{doc['horizon_days']:g} days after transplant (day 0 = infusion)"
    lines = [f"# CHEERS 2022 items filled by hsctsim {doc['hsctsim_version']}", "",
             f"Checklist: {CHEERS_SOURCE}. Items left to the analyst: {CHEERS_LEFT}.", "",
             "**7. Comparators.** " + "; ".join(
                 f"`{arm}`: {a['title']}" for arm, a in doc["arms"].items())
             + f". Increments are against `{next(iter(doc['arms']))}`"
             + (", and fully incremental along the efficiency frontier." if "incremental"
                in doc else "."), "",
             "**8. Perspective.** Not fixed by hsctsim: the costs counted are the `[costs]` "
             "figures listed under item 14, direct medical costs only (no productivity, "
             "travel or informal care costs). State the perspective they imply.", "",
             f"**9. Time horizon.** {horizon}.", "",
             f"**10. Discount rate.** {100 * d['rate']:g}% a year for costs and outcomes "
             f"alike, {d['method']} (continuous: the factor (1 + r)^-t; annual: a step on "
             "each anniversary of the transplant).", "",
             "**11. Selection of outcomes.** Quality-adjusted life years (QALYs) and life "
             "years per patient, discounted; costs per patient.", "",
             "**13. Valuation of outcomes.** Utility weights and decrements (section.key, "
             "value, source):", ""]
    lines += _figure_lines(econ, "utilities")
    lines += ["", "**14. Measurement and valuation of resources and costs.** Costs per day "
              "while a condition lasts and one-off costs on the day of an event, and the "
              "durations that price them (section.key, value, source):", ""]
    lines += _figure_lines(econ, "costs") + _figure_lines(econ, "durations")
    if doc.get("inflation"):
        inf = doc["inflation"]
        moved = "; ".join(f"{arm}: " + ", ".join(
            f"costs.{k} from {v['from_year']} (x{v['factor']:.4f})" for k, v in f.items())
            for arm, f in inf["figures"].items())
        conversion = (f"costs whose figure names another price year were inflated to "
                      f"{inf['to_year']} with {'; '.join(inf['index_sources'])} ({moved}); "
                      "the others are used as their sources report them")
    else:
        conversion = ("no cost names another price year (`price_year` of a cost figure), "
                      "so none was inflated: a figure whose source reports another year "
                      "is used as reported")
    lines += ["", f"**15. Currency, price date, and conversion.** {doc['currency']}, price "
              f"year {doc['price_year']} (`costs.price_year`); no currency conversion; "
              f"{conversion}.", "",
              f"**16. Rationale and description of model.** hsctsim {doc['hsctsim_version']},"
              " an open-source patient-level simulation of the post-transplant course "
              "(competing and interacting time-to-event processes, calibrated to reported "
              f"incidences); {doc['patients']:,} patients per arm, seed {doc['seed']}; all "
              "arms share each patient's random numbers. The resolved scenarios are in "
              "`scenarios/`.", ""]
    uncertainty = ["Monte Carlo 95% intervals of every mean; Fieller's interval of the ICER"]
    if doc["replicates"]:
        draws = doc.get("economic_draws", "uniform")
        uncertainty.append(
            f"probabilistic analysis over {doc['replicates']} replicates, each drawing "
            "every ranged clinical figure from its range and ranged costs, utilities and "
            + ("durations uniformly" if draws == "uniform" else
               "durations from gamma (costs, durations) and beta (utilities) distributions "
               "with the range as the 95% spread")
            + ": CE plane, CEAC and CEAF")
    if "voi" in doc:
        uncertainty.append("EVPI, and EVPPI by nonparametric regression (Strong, Oakley, "
                           "Brennan 2014)" + (", and the EVSI of a pilot"
                                              if "pilot" in doc["voi"] else ""))
    if "tornado" in doc:
        uncertainty.append("one-way sensitivity of the incremental net benefit (ranged "
                           "figures over their range, the others "
                           f"+-{100 * doc['tornado']['spread']:g}%)")
    lines += ["**20. Characterising uncertainty.** " + "; ".join(uncertainty) + ".", "",
              "**22. Study parameters.** Items 13 and 14, and every clinical figure with "
              "its source in `scenarios/`; figures whose source opens with 'assumption' "
              "or 'proxy' are not published figures of their own"
              + (": " + "; ".join(c["text"] for c in doc["caveats"]) if doc.get("caveats")
                 else "") + ".", "",
              "**23. Summary of main results.** Means per patient:", "",
              "| arm | costs | life years | QALYs |", "|---|---|---|---|"]
    for arm, a in doc["arms"].items():
        lines.append(f"| {arm} | {a['costs']['mean']:,.0f} | {a['life_years']['mean']:.3f} "
                     f"| {a['qalys']['mean']:.3f} |")
    if "incremental" in doc:
        front = [r for r in doc["incremental"]["table"] if r["status"] == "frontier"]
        lines += ["", "Efficiency frontier: " + " -> ".join(
            r["arm"] + (f" (ICER {r['icer']:,.0f})" if r["icer"] is not None else "")
            for r in front) + "; off it: " + (", ".join(
                f"{r['arm']} ({r['status']})" for r in doc["incremental"]["table"]
                if r["status"] != "frontier") or "none") + "."]
    else:
        lines += [""] + [f"{arm} against {inc['versus']}: ICER "
                         + (f"{inc['icer']:,.0f}" if isinstance(inc["icer"], float)
                            else str(inc["icer"])) + "."
                         for arm, inc in doc["increments"].items()]
    if "ceac" in doc:
        grid = doc["ceac"]["wtp"]
        effect = ["", "**24. Effect of uncertainty.** Probability of the highest net "
                  "benefit at each willingness-to-pay: " + "; ".join(
                      f"{float(w):,.0f}: " + ", ".join(
                          f"{arm} {p[grid.index(w)]:.2f}"
                          for arm, p in doc["ceac"]["probability_best"].items())
                      for w in doc["wtp"]) + "."]
        if "voi" in doc:
            effect[-1] += " EVPI per patient: " + "; ".join(
                f"{float(w):,.0f}: {v['per_patient']:,.0f}"
                for w, v in doc["voi"]["evpi"].items()) + "."
        lines += effect
    return "\n".join(lines) + "\n"


def _figure_lines(econ, section):
    rows = {}
    for arm, e in econ.items():
        for key, fig in getattr(e, section).items():
            # a cost brought from its source's price year says so beside its value
            moved = e.inflation.get(key) if section == "costs" else None
            note = (f" ({e.price_year} prices; from {moved[0]}, x{moved[1]:.4f})"
                    if moved else "")
            rows.setdefault((key, fig.value, fig.source, note), []).append(arm)
    out = []
    for (key, value, source, note), arms in rows.items():
        shown = ("-".join(_number(v) for v in value) if isinstance(value, tuple)
                 else _number(value))
        who = "" if len(arms) == len(econ) else f" ({', '.join(arms)})"
        out.append(f"- `{section}.{key}`{who}: {shown}{note}; {source}")
    return out


# -- one-way sweeps of the economic figures -----------------------------------------------

MAX_SWEEP_STEPS = 101
_LIMITS = {"costs": (0.0, 1e10), "durations": (0.0, 36500.0)}


def parse_sweep(text, econ):
    """``[ARM:]section.key=LOW:HIGH:STEPS`` into ``(arms, section, key, values)``.

    Without ``ARM:`` every arm carrying the figure moves; the values are checked as
    the scenario file would check them.  ValueError (one line) when wrong.
    """

    target, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or len(parts) != 3:
        raise ValueError(f"--sweep {text!r}: expected [ARM:]FIGURE=LOW:HIGH:STEPS, e.g. "
                         "haplo_nk:costs.nk_infusion=30000:150000:7")
    arm, _, figure = target.strip().rpartition(":")
    section, _, key = figure.partition(".")
    if arm and arm not in econ:
        raise ValueError(f"--sweep {text!r}: no arm {arm!r} (arms: {', '.join(econ)})")
    arms = [a for a in ([arm] if arm else econ)
            if section in ECONOMIC_SECTIONS and key in getattr(econ[a], section)]
    if not arms:
        known = sorted({f"{s}.{k}" for e in econ.values() for s in ECONOMIC_SECTIONS
                        for k in getattr(e, s)})
        raise ValueError(f"--sweep {text!r}: {figure!r} is not a cost, utility or duration "
                         f"of {'arm ' + arm if arm else 'the arms'} (they have: "
                         f"{', '.join(known)})")
    try:
        low, high, steps = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(f"--sweep {text!r}: LOW and HIGH must be numbers and STEPS a whole "
                         "number") from None
    if not (low <= high and 1 <= steps <= MAX_SWEEP_STEPS) or (steps == 1 and low != high):
        raise ValueError(f"--sweep {text!r}: need LOW <= HIGH and STEPS from 2 to "
                         f"{MAX_SWEEP_STEPS} (1 when LOW == HIGH)")
    lo, hi = (_bounds(section, key) if section == "utilities" else _LIMITS[section])
    if not (lo <= low and high <= hi):
        raise ValueError(f"--sweep {text!r}: {section}.{key} must stay within "
                         f"[{lo:g}, {hi:g}]")
    return arms, section, key, tuple(float(v) for v in np.linspace(low, high, steps))


def sweep_variants(econ, sweeps):
    """Each swept value as a variant of the arms' economics (see :func:`parse_sweep`)."""


    out = []
    for arms, section, key, values in sweeps:
        for v in values:
            variant = dict(econ)
            for arm in arms:
                table = dict(getattr(econ[arm], section))
                table[key] = Figure(v, table[key].source)
                variant[arm] = dataclasses.replace(econ[arm], **{section: table})
            label = f"{section}.{key}" if len(arms) == len(econ) or len(arms) > 1 else \
                f"{arms[0]}:{section}.{key}"
            out.append((label, v, {a: v for a in arms}, variant))
    return out


def sweep_section(tally, doc):
    """``sweep`` of ``cea.json``: per figure and value, each arm's means, ICER and
    incremental NMB against the first, and the arm of highest net benefit."""

    names = tally.names
    ref = names[0]
    out = {}
    for i, (figure, value, _, _) in enumerate(tally.variants):
        means = {a: (s[0] / tally.n, s[1] / tally.n) for a, s in tally.sums[i].items()}
        incs = {}
        for arm in names[1:]:
            dc = means[arm][0] - means[ref][0]
            dq = means[arm][1] - means[ref][1]
            ratio = icer(dc, dq)  # a word where a ratio would mislead
            incs[arm] = {"costs": round(dc, 2), "qalys": round(dq, 6),
                         "icer": round(ratio, 2) if isinstance(ratio, float) else ratio,
                         # as in increments: in the south-west the ratio is the saving per
                         # QALY given up
                         "quadrant": (("NE" if dq > 0 else "SW") if isinstance(ratio, float)
                                      else ratio),
                         "nmb": {f"{w:g}": round(w * dq - dc, 2) for w in doc["wtp"]}}
        rows = frontier([means[a][0] for a in names], [means[a][1] for a in names], names)
        out.setdefault(figure, []).append({
            "value": value,
            "arms": {a: {"costs": round(c, 2), "qalys": round(q, 6)}
                     for a, (c, q) in means.items()},
            "increments": incs,
            "optimal": dict(zip((f"{w:g}" for w in doc["wtp"]),
                                optimal_by_wtp(rows, doc["wtp"])))})
    return {"versus": ref, "figures": out}


def format_sweep(doc):
    """One table per swept figure: ICER and NMB against the first arm, and the best arm."""

    s = doc["sweep"]
    w = f"{doc['wtp'][0]:g}"
    lines = []
    for figure, points in s["figures"].items():
        arms = list(points[0]["increments"])
        rows = [[figure, *(f"{a}: ICER vs {s['versus']}" for a in arms),
                 *(f"{a}: NMB at {float(w):,.0f}" for a in arms),
                 *(f"best at {float(x):,.0f}" for x in doc["wtp"])]]
        for p in points:
            rows.append([_number(p["value"]),
                         *(_ratio(p["increments"][a]["icer"])
                           + (" SW" if p["increments"][a]["quadrant"] == "SW" else "")
                           for a in arms),
                         *(f"{p['increments'][a]['nmb'][w]:+,.0f}" for a in arms),
                         *(p["optimal"][f"{x:g}"] for x in doc["wtp"])])
        lines += ["", f"one-way sweep of {figure} (the same patients at every value; SW: "
                  "saved per QALY lost)", ""]
        lines += text_table(rows)
    return lines


def _ratio(value):
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:,.0f}"
