"""``hsctsim cea``: costs, life years and QALYs of arms, and their cost-effectiveness.

:func:`run_cea` is the plain-Python driver: it simulates the arms chunk by chunk in
step (the same seed: common random numbers), turns each chunk's event days into
per-patient discounted costs and QALYs, and returns the document that ``cea.json``
holds.  The click command below is a thin shell over it.
"""

import dataclasses
import json

import click
import numpy as np

from .._version import __version__
from ..analysis.costeffectiveness import ArmTally, ceac, fieller_interval, icer, nmb_increment
from ..api import DEFAULT_SEED, iter_chunks
from ..model.economics import (
    SECTIONS,
    Discount,
    ScenarioError,
    cohort_values,
    comparison_caveats,
    economics_of,
    economics_tail,
)
from ..model.econfigures import DEFAULT_ECONOMIC_DRAWS, ECONOMIC_DISTRIBUTIONS, economic_draws_text
from ..model.late_mortality import lifetime_horizon
from ..model.whatif import HELD
from .ceadecide import (
    Decisions,
    TornadoTally,
    check_decisions,
    cheers_report,
    decision_figures,
    decision_rows,
    format_incremental,
    format_psa,
    format_sweep,
    format_tornado,
    incremental_section,
    inflation_lines,
    parameter_columns,
    parse_sweep,
    psa_sections,
    replicate_parameters,
    sweep_section,
    sweep_variants,
    tornado_variants,
)
from .common import (
    DRAWS,
    DRAWS_HELP,
    UserError,
    complete_scenarios,
    load_arms,
    replicate_posteriors,
    user_errors,
)
from .limits import MAX_REPLICATES, check_run_size
from .options import SEED, FiniteFloatRange, OutPath, check_threads, wtp_list
from .output import csv_text, emit, text_table
from .progress import Progress
from .runner import (
    REPLICATE_CALIBRATION_PATIENTS,
    RunFolder,
    write_resolved_scenarios,
    written_whole,
)

__all__ = ["caveat_lines", "cea", "cea_rows", "CEAC_POINTS", "DEFAULT_CHUNK", "DEFAULT_WTP",
           "EPILOG", "format_cea", "run_cea", "write_cea"]

DEFAULT_WTP = (50_000, 100_000, 150_000)
DEFAULT_CHUNK = 200_000
CEAC_POINTS = 101


def _interval(mean, ci):
    return {"mean": round(float(mean), 6), "ci95": [round(float(ci[0]), 6),
                                                    round(float(ci[1]), 6)]}


def run_cea(scenarios, n_patients, seed, horizon_days=None, discount=None, lifetime=False,
            wtp=DEFAULT_WTP, replicates=0, threads=None, chunk_size=DEFAULT_CHUNK,
            on_chunk=None, susceptible=None, decisions=None, tornado=None,
            economic_draws=DEFAULT_ECONOMIC_DRAWS, sweeps=(), posteriors=None):
    """Cost-effectiveness of arms against the first.

    Parameters
    ----------
    scenarios : dict of str to Scenario
        Arms by name, each with ``[costs]``, ``[utilities]``, ``[durations]`` (and
        ``[lifetime]`` for ``lifetime``); the first is the reference.
    n_patients, seed, threads
        As for :func:`hsctsim.simulate`; every arm gets the same seed.
    horizon_days : float, optional
        Simulated window (default: the longest of the arms' horizons).
    discount : Discount, optional
        Default 3% a year, continuous.
    lifetime : bool
        Extend beyond the window with the life table and excess mortality of
        long-term survivors (``[lifetime]``).
    wtp : sequence of float
        Willingness-to-pay per QALY for the net monetary benefit.
    replicates : int
        Cohorts drawing every ranged figure from its range (clinical figures and
        ranged costs, utilities and durations): the CE plane and CEAC.
    susceptible : dict of str to dict, optional
        Per arm, the susceptible fractions of its midpoint cohort (a what-if that
        holds another calibration, see :func:`hsctsim.what_if`).
    decisions : Decisions, optional
        Value of information asked for with replicates: population, EVPPI groups, a
        pilot (see :mod:`hsctsim.apps.ceadecide`).  Three arms or more get the
        efficiency frontier (``incremental``); replicates the CEAF and, from
        20 replicates on, ``voi``.
    tornado : float, optional
        One-way sensitivity of each arm's incremental net benefit to every cost,
        utility and duration (``tornado``): ranged figures over their range, point
        figures this fraction either side (0: ranged figures only), on the same
        patients as the base case.
    economic_draws : {"gamma-beta", "uniform"}
        How replicates draw ranged costs, utilities and durations (default gamma for
        costs and durations, beta for utilities; see
        :meth:`~hsctsim.model.economics.Economics.draw`).
    sweeps : sequence of str
        One-way sweeps ``[ARM:]FIGURE=LOW:HIGH:STEPS`` of costs, utilities or
        durations, on the base case's patients (``sweep``).
    posteriors : dict of str to PosteriorSample, optional
        Per arm, a posterior (``hsctsim calibrate``): replicate ``r`` takes its set
        ``r``, the clinical figures jointly, with its stored calibration (costs,
        utilities and durations still drawn from their ranges).

    Returns
    -------
    dict
        The ``cea.json`` document.
    """

    discount = discount or Discount()
    names = list(scenarios)
    kinds = {getattr(s, "kind", "hsct") == "multistate" for s in scenarios.values()}
    if len(kinds) > 1:
        arm = next(a for a, s in scenarios.items() if getattr(s, "kind", "") == "multistate")
        raise ScenarioError(scenarios[arm].path, "kind", "a multi-state arm cannot be "
                            "compared with transplant arms (their patients are not the same "
                            "model's): compare multi-state arms with each other")
    econ = {arm: economics_of(s) for arm, s in scenarios.items()}
    first = econ[names[0]]
    for arm, e in econ.items():
        if (e.currency, e.price_year) != (first.currency, first.price_year):
            raise ScenarioError(scenarios[arm].path, "costs.currency",
                                f"{e.currency} {e.price_year} differs from {names[0]}'s "
                                f"{first.currency} {first.price_year}")
    horizon = float(horizon_days or max(s.horizon_days for s in scenarios.values()))
    lifetime_days, _ = lifetime_horizon(scenarios)
    simulated_lifetime = bool(lifetime) and lifetime_days is not None
    if simulated_lifetime:
        # late mortality is part of the simulation: follow every patient to death
        # instead of adding a life-table tail after the window
        horizon = max(horizon, lifetime_days)
    elif lifetime:
        for arm, e in econ.items():
            if e.lifetime is None:
                raise ScenarioError(scenarios[arm].path, "lifetime",
                                    "missing: --lifetime needs a [lifetime] table")
    tails = {arm: economics_tail(e, horizon, discount)
             if lifetime and not simulated_lifetime else None for arm, e in econ.items()}

    decisions = decisions or Decisions()
    counter = check_decisions(decisions, scenarios, econ, seed)

    if tornado is not None:
        tornado_tally = TornadoTally(tornado_variants(econ, tornado), names)
    sweep_tally = None
    if sweeps:
        sweep_tally = TornadoTally(sweep_variants(econ, [parse_sweep(t, econ) for t in sweeps]),
                                   names)

    def tally_arms(replicate, n, calibration_patients=None):
        figures = econ if replicate is None else {
            arm: e.draw(seed, replicate, economic_draws) for arm, e in econ.items()}
        tallies = {arm: ArmTally() for arm in names}
        given = (susceptible or {}) if replicate is None else {}
        points = dict(scenarios)
        if replicate is not None and posteriors:  # posterior sets: no solve
            for arm, sample in posteriors.items():
                points[arm], given[arm] = sample.draw(scenarios[arm], replicate)
        streams = [iter_chunks(s, n, chunk_size, seed, threads, horizon, replicate,
                               calibration_patients=calibration_patients,
                               susceptible=given.get(arm))
                   for arm, s in points.items()]
        for chunks in zip(*streams):
            values = {arm: cohort_values(c, figures[arm], discount, tails[arm])
                      for arm, c in zip(names, chunks)}
            for arm, c in zip(names, chunks):
                tallies[arm].add(values[arm], values[names[0]] if arm != names[0] else None)
                if counter is not None and replicate is not None:
                    counter.add(arm, c)
            for extra in ((tornado_tally if tornado is not None else None), sweep_tally):
                if extra is not None and replicate is None:
                    extra.add(dict(zip(names, chunks)), values,
                              lambda c, arm, e: cohort_values(c, e, discount, tails[arm]))
                if on_chunk is not None:
                    on_chunk(len(values[arm]["costs"]))
        return tallies

    tallies = tally_arms(None, n_patients)
    arms = {}
    for arm, s in scenarios.items():
        t = tallies[arm]
        arms[arm] = {"title": s.title, **{m: _interval(*t.interval(m))
                                           for m in ("costs", "life_years", "qalys")}}
    increments = {}
    for arm in names[1:]:
        t = tallies[arm]
        mc, mq, vc, vq, cov = t.increment_cov()
        ratio = icer(mc, mq)
        fieller = fieller_interval(mc, mq, vc, vq, cov) if not isinstance(ratio, str) else None
        increments[arm] = {
            "versus": names[0],
            **{m: _interval(*t.increment(m)) for m in ("costs", "life_years", "qalys")},
            "icer": round(ratio, 2) if isinstance(ratio, float) else ratio,
            # where the point lies on the CE plane; in the south-west the ratio is the
            # saving per QALY given up
            "quadrant": ("NE" if mq > 0 else "SW") if isinstance(ratio, float) else ratio,
            "icer_ci95": [round(v, 2) for v in fieller] if fieller else None,
            "nmb": {f"{w:g}": _interval(*nmb_increment(t, w)) for w in wtp},
        }
    document = {
        "hsctsim_version": __version__, "seed": int(seed), "patients": int(n_patients),
        "horizon_days": horizon, "lifetime": bool(lifetime),
        "lifetime_method": (None if not lifetime else "simulated" if simulated_lifetime
                            else "life-table tail"),
        "discount": {"rate": discount.rate, "method": discount.method},
        "currency": first.currency, "price_year": first.price_year,
        "wtp": [float(w) for w in wtp], "replicates": int(replicates),
        "arms": arms, "increments": increments,
    }
    if replicates:
        draws = {arm: ([], []) for arm in names}
        drawn, shares, within = [], [], []
        for r in range(replicates):
            if counter is not None:
                counter.reset()
            rep = tally_arms(r, n_patients, REPLICATE_CALIBRATION_PATIENTS)
            drawn.append(replicate_parameters(scenarios, econ, seed, r, economic_draws))
            if counter is not None:
                shares.append(counter.shares())
            for arm in names:
                draws[arm][0].append(rep[arm].mean("costs"))
                draws[arm][1].append(rep[arm].mean("qalys"))
            # each replicate's own patient-level noise in its increments (vc, vq, cov)
            within.append({arm: rep[arm].increment_cov()[2:] for arm in names[1:]})
        top = 2.0 * max(wtp) if len(wtp) else 200_000.0
        grid = sorted(set(float(x) for x in
                          list(range(0, int(top) + 1, max(int(top) // (CEAC_POINTS - 1), 1)))
                          + list(wtp)))
        probabilities = ceac(draws, grid)
        document["economic_draws"] = economic_draws
        document["replicate_means"] = {arm: {"costs": [round(x, 2) for x in c],
                                             "qalys": [round(x, 6) for x in q]}
                                       for arm, (c, q) in draws.items()}
        document["ceac"] = {"wtp": grid,
                            "probability_best": {arm: [round(float(p), 4) for p in v]
                                                 for arm, v in probabilities.items()}}

        psa_sections(document, draws, parameter_columns(drawn),
                     np.array(shares) if counter is not None else None, decisions, seed,
                     discount.rate, within)
    if tornado is not None:
        document["tornado"] = tornado_tally.section(document, tornado)
    if sweep_tally is not None:
        document["sweep"] = sweep_section(sweep_tally, document)
    if len(names) >= 3:
        document["incremental"] = incremental_section(document)
    inflated = {arm: {k: {"from_year": y, "factor": round(f, 6)} for k, (y, f)
                      in e.inflation.items()} for arm, e in econ.items() if e.inflation}
    if inflated:  # absent when no cost names another price year
        document["inflation"] = {"to_year": first.price_year, "figures": inflated,
                                 "index_sources": sorted({e.price_index_source
                                                          for e in econ.values()
                                                          if e.inflation})}
    caveats = comparison_caveats(econ)
    if caveats:  # absent when there are none, so the document is as before
        document["caveats"] = caveats
    return document


# -- presenting ----------------------------------------------------------------------


def _money(x):
    return f"{x:,.0f}"


def format_cea(doc):
    """Plain-text tables of a :func:`run_cea` document."""
    cur = f"{doc['currency']} {doc['price_year']}"
    if doc.get("lifetime_method") == "simulated":
        horizon = (f"lifetime (every patient followed to death, {doc['horizon_days']:g} "
                   "days: each arm's late mortality)")
    elif doc["lifetime"]:
        horizon = (f"lifetime (simulated {doc['horizon_days']:g} days, then life table x "
                   "excess mortality)")
    else:
        horizon = f"{doc['horizon_days']:g} days"
    d = doc["discount"]
    lines = [f"hsctsim {doc['hsctsim_version']}: {doc['patients']:,} patients per arm, seed "
             f"{doc['seed']}, horizon {horizon}",
             f"discounted at {100 * d['rate']:g}% a year ({d['method']}); costs in {cur}; "
             "mean (95% CI of the Monte Carlo estimate)", ""]
    if doc.get("inflation"):
        lines[-1:-1] = inflation_lines(doc)
    else:  # the price year said either way: nothing was inflated, and why
        lines[-1:-1] = [f"price year {doc['price_year']}: no cost names another price year "
                        "(`price_year` of a cost figure), so none was inflated"]
    rows = [["arm", "costs", "life years", "QALYs"]]
    for arm, a in doc["arms"].items():
        rows.append([arm, f"{_money(a['costs']['mean'])} ({_money(a['costs']['ci95'][0])}-"
                          f"{_money(a['costs']['ci95'][1])})",
                     _num(a["life_years"]), _num(a["qalys"])])
    lines += text_table(rows)
    if doc["increments"]:
        versus = next(iter(doc["increments"].values()))["versus"]
        lines += ["", f"against {versus} (paired: the arms share each patient's random numbers)",
                  ""]
        rows = [["arm", "incremental costs", "incremental QALYs", "ICER (per QALY)",
                 *(f"NMB at {float(w):,.0f}" for w in doc["wtp"])]]
        for arm, inc in doc["increments"].items():
            c = inc["costs"]
            rows.append([arm, f"{c['mean']:+,.0f} ({c['ci95'][0]:+,.0f} to {c['ci95'][1]:+,.0f})",
                         _num(inc["qalys"], signed=True), _icer(inc),
                         *(f"{v['mean']:+,.0f} ({v['ci95'][0]:+,.0f} to {v['ci95'][1]:+,.0f})"
                           for v in inc["nmb"].values())])
        lines += text_table(rows)
    if "incremental" in doc:
        lines += format_incremental(doc)
    if "tornado" in doc:
        lines += format_tornado(doc)
    if "sweep" in doc:
        lines += format_sweep(doc)
    if "ceac" in doc:
        drawn = ("drawn jointly from the posterior (hsctsim calibrate)"
                 if doc.get("draws", {}).get("from") == "posterior"
                 else "drawn from the reported ranges")
        lines += ["", f"probability of the highest net monetary benefit over {doc['replicates']} "
                      f"replicates (clinical figures {drawn}; "
                      f"{economic_draws_text(doc.get('economic_draws', 'uniform'))})", ""]
        grid = doc["ceac"]["wtp"]
        shown = [w for w in grid if w in doc["wtp"] or w == 0]
        rows = [["arm", *(f"WTP {w:,.0f}" for w in shown)]]
        for arm, probs in doc["ceac"]["probability_best"].items():
            rows.append([arm, *(f"{probs[grid.index(w)]:.2f}" for w in shown)])
        lines += text_table(rows)

        lines += format_psa(doc)
    lines += ["", *caveat_lines(doc)] if doc.get("caveats") else []
    what_ifs = [f"  {arm}: {a['what_if']['text']}" for arm, a in doc["arms"].items()
                if a.get("what_if", {}).get("settings")]
    lines += ["", "what-if:", *what_ifs] if what_ifs else []
    return "\n".join(lines) + "\n"


def caveat_lines(doc):
    """One line per figure that shapes the comparison without a published size."""
    return [f"caution: {c['text']}" for c in doc.get("caveats", [])]


def _num(v, signed=False):
    f = "{:+.3f}" if signed else "{:.3f}"
    return (f.format(v["mean"]) + " (" + f.format(v["ci95"][0]) + " to "
            + f.format(v["ci95"][1]) + ")")


def _icer(inc):
    value = inc["icer"]
    if value is None or isinstance(value, str):
        return value or "-"
    ci = inc["icer_ci95"]
    text = f"{value:,.0f}" + (f" ({ci[0]:,.0f} to {ci[1]:,.0f})" if ci else " (CI unbounded)")
    return text + (" SW: saved per QALY lost" if inc.get("quadrant") == "SW" else "")


def cea_rows(doc):
    """Flat rows (arm, versus, measure, mean, ci95) for CSV: levels and increments."""
    rows = []
    for arm, a in doc["arms"].items():
        for m in ("costs", "life_years", "qalys"):
            rows.append({"arm": arm, "versus": "", "measure": m, "mean": a[m]["mean"],
                         "ci95_low": a[m]["ci95"][0], "ci95_high": a[m]["ci95"][1]})
    for arm, inc in doc["increments"].items():
        for m in ("costs", "life_years", "qalys"):
            rows.append({"arm": arm, "versus": inc["versus"], "measure": f"incremental_{m}",
                         "mean": inc[m]["mean"], "ci95_low": inc[m]["ci95"][0],
                         "ci95_high": inc[m]["ci95"][1]})
        ci = inc["icer_ci95"] or [None, None]
        rows.append({"arm": arm, "versus": inc["versus"], "measure": "icer",
                     "mean": inc["icer"], "ci95_low": ci[0], "ci95_high": ci[1]})
        for w, v in inc["nmb"].items():
            rows.append({"arm": arm, "versus": inc["versus"], "measure": f"nmb_at_{w}",
                         "mean": v["mean"], "ci95_low": v["ci95"][0],
                         "ci95_high": v["ci95"][1]})
    return rows


def write_cea(folder, doc, scenarios):
    """``cea.json``, ``cea.csv`` and, with replicates, ``ce_plane.csv``, ``ceac.csv`` and
    their figures, into a RunFolder."""
    folder.write_text("cea.json", json.dumps(doc, indent=1) + "\n")
    folder.write_text("cea.csv", csv_text(cea_rows(doc)))
    if any(k in doc for k in ("incremental", "voi", "tornado", "sweep")):
        folder.write_text("decisions.csv", csv_text(decision_rows(doc)))
    if "ceac" in doc:
        ref = next(iter(doc["arms"]))
        base = doc["replicate_means"][ref]
        plane = [{"replicate": r, "arm": arm, "versus": ref,
                  "incremental_costs": round(c - base["costs"][r], 2),
                  "incremental_qalys": round(q - base["qalys"][r], 6)}
                 for arm, m in doc["replicate_means"].items() if arm != ref
                 for r, (c, q) in enumerate(zip(m["costs"], m["qalys"]))]
        folder.write_text("ce_plane.csv", csv_text(plane))
        grid = doc["ceac"]["wtp"]
        folder.write_text("ceac.csv", csv_text(
            [{"wtp": w, **{arm: p[i] for arm, p in doc["ceac"]["probability_best"].items()}}
             for i, w in enumerate(grid)]))
        from ..analysis.ceaplots import plot_ce_plane, plot_ceac  # matplotlib: on use

        (folder.tmp / "figures").mkdir(exist_ok=True)
        for name, fn in (("ce_plane", plot_ce_plane), ("ceac", plot_ceac)):
            ax = fn(doc)
            ax.figure.savefig(folder.tmp / "figures" / f"{name}.png", dpi=150)
            import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)

            plt.close(ax.figure)

    figures = decision_figures(doc)  # frontier, CEAF, VOI, tornado: what doc has
    if figures:
        import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)

        (folder.tmp / "figures").mkdir(exist_ok=True)
        for name, fn in figures:
            ax = fn(doc)
            ax.figure.savefig(folder.tmp / "figures" / f"{name}.png", dpi=150)
            plt.close(ax.figure)

    folder.write_text("cheers.md", cheers_report(doc, scenarios))

    write_resolved_scenarios(folder, scenarios, horizon_days=doc["horizon_days"])


def _decisions(loaded, seed, replicates, incidence, years, groups, pilot, sizes, study_cost):
    """The value-of-information options, checked against the arms (one line if wrong)."""
    from ..analysis.voi import MIN_DRAWS  # scipy.interpolate: imported on use
    
    asked = [o for o, v in (("--incidence", incidence), ("--evppi", groups),
                            ("--pilot", pilot), ("--study-cost", study_cost)) if v]
    if asked and replicates < MIN_DRAWS:
        raise UserError(f"{asked[0]} values information from the replicates: give "
                        f"--replicates {MIN_DRAWS} or more (a few hundred for stable values)")
    if study_cost is not None and incidence is None:
        raise UserError("--study-cost is set against the population's EVSI: give --incidence "
                        "(patients a year)")
    if study_cost is not None and not pilot:
        raise UserError("--study-cost prices a pilot: give --pilot ARM:ENDPOINT")
    if len({arm for arm, _ in pilot}) > 2:
        raise UserError("--pilot: a pilot here has one arm or two")
    decisions = Decisions(incidence, years, groups, pilot, sizes, study_cost)
    try:
        check_decisions(decisions, loaded, {a: economics_of(s) for a, s in loaded.items()},
                        DEFAULT_SEED if seed is None else seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return decisions


def _is_economic(setting):
    """Whether a ``--set [ARM:]KEY=VALUE`` changes an economic table only."""
    key = setting.partition("=")[0]
    key = key.partition(":")[2] if ":" in key else key
    return key.strip().split(".")[0] in SECTIONS


def _blame_settings(what_ifs, settings):
    """Check each arm's economics now, so that a bad ``--set`` is blamed, not the file."""
    for w in what_ifs.values():
        try:
            economics_of(w.scenario)
        except ScenarioError as exc:
            for item in settings:
                key = item.partition("=")[0].rpartition(":")[2].strip()
                if exc.key and (exc.key == key or exc.key.startswith(key + ".")
                                or key.startswith(exc.key + ".")):
                    raise UserError(f"--set {item}: {exc.key}: {exc.problem}") from None
            raise


def _sizes(ctx, param, value):
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected whole numbers separated by commas, "
                                 "e.g. 5,10,20,50") from None
    if not out or not all(1 <= n <= 100_000 for n in out):
        raise click.BadParameter("give one or more sizes from 1 to 100,000")
    return tuple(sorted(set(out)))


def _study_cost(ctx, param, value):
    if value is None:
        return None
    try:
        fixed, per_patient = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected FIXED,PER_PATIENT, e.g. "
                                 "250000,40000") from None
    if not all(0 <= v < float("inf") for v in (fixed, per_patient)):
        raise click.BadParameter("give two finite amounts >= 0")
    return fixed, per_patient


def _groups(ctx, param, value):
    out = {}
    for item in value:
        name, sep, patterns = item.partition("=")
        keys = tuple(p.strip() for p in patterns.split(",") if p.strip())
        if not sep or not name.strip() or not keys:
            raise click.BadParameter(f"{item!r}: expected NAME=FIGURE[,FIGURE...], e.g. "
                                     "'nk=haplo_nk:nk_cells.*,costs.nk_infusion'")
        out[name.strip()] = keys
    return out


def _pilot(ctx, param, value):
    out = []
    for item in value:
        arm, sep, stat = item.partition(":")
        if not sep or not arm.strip() or not stat.strip():
            raise click.BadParameter(f"{item!r}: expected ARM:ENDPOINT, e.g. "
                                     "haplo_nk:relapse_d365")
        out.append((arm.strip(), stat.strip()))
    return tuple(out)


EPILOG = """\b
Examples:
  hsctsim cea mac ric                              # 2 years, 3% continuous discounting
  hsctsim cea haplo_ptcy haplo_nk --lifetime       # + life table after the window
  hsctsim cea mac ric --discount 0.035 --discounting annual --wtp 20000,30000
  hsctsim cea mac ric --replicates 50 -n 20000 --out cea-mac-ric   # CE plane, CEAC
  hsctsim cea haplo_ptcy haplo_nk --set 'costs.nk_infusion={ value = 60000, source = "what-if" }'
  hsctsim cea mac haplo_ptcy haplo_nk --replicates 200 -n 2000 --incidence 300 \\
      --pilot haplo_nk:relapse_d365 --study-cost 250000,40000 --out voi   # frontier, VOI, pilot
"""


@click.command(epilog=EPILOG)
@click.argument("arms", nargs=-1, required=True, shell_complete=complete_scenarios)
@click.option("-n", "--patients", type=click.IntRange(2), default=100_000, show_default=True,
              help="Patients per arm (and per replicate); at least 2, for the intervals.")
@click.option("--seed", type=SEED, default=None, help="Random seed (default: hsctsim's).")
@click.option("--horizon", "horizon_days", type=FiniteFloatRange(1, 36500),
              help="Simulated window in days (default: the arms' horizon).")
@click.option("--lifetime", is_flag=True,
              help="Lifetime horizon: after the window, the life table times the excess "
                   "mortality of long-term HSCT survivors ([lifetime] of each arm).")
@click.option("--discount", type=FiniteFloatRange(0, 0.5, max_open=True), default=0.03,
              show_default=True, help="Discount rate per year (0.03 US practice, 0.035 NICE).")
@click.option("--discounting", type=click.Choice(["continuous", "annual"]),
              default="continuous", show_default=True,
              help="Continuously, or in steps on each anniversary of the transplant.")
@click.option("--wtp", default=",".join(str(w) for w in DEFAULT_WTP), show_default=True,
              callback=wtp_list, help="Willingness-to-pay per QALY, comma-separated.")
@click.option("--replicates", type=click.IntRange(0, MAX_REPLICATES), default=0, show_default=True,
              help="Cohorts drawing each figure from its reported range: CE plane, CEAC.")
@click.option("--incidence", type=FiniteFloatRange(0, 1e9),
              help="Patients a year the decision concerns: population EVPI, EVPPI, EVSI "
                   "(needs --replicates).")
@click.option("--decision-years", type=FiniteFloatRange(0, 200), default=10.0,
              show_default=True, help="Years the decision stands (discounted at --discount).")
@click.option("--evppi", "groups", multiple=True, callback=_groups,
              metavar="NAME=FIGURE[,FIGURE]",
              help="A named group of drawn figures for the EVPPI (patterns such as "
                   "'costs.*' or 'haplo_nk:nk_cells.*'; repeatable). Each figure alone is "
                   "always valued.")
@click.option("--pilot", multiple=True, callback=_pilot, metavar="ARM:ENDPOINT",
              help="An endpoint a pilot measures, e.g. haplo_nk:relapse_d365 (repeatable: "
                   "two arms make a two-arm pilot): its EVSI by size (needs --replicates).")
@click.option("--pilot-sizes", default="5,10,20,30,50", show_default=True, callback=_sizes,
              help="Patients per arm of the pilot, comma-separated.")
@click.option("--study-cost", callback=_study_cost, metavar="FIXED,PER_PATIENT",
              help="The pilot's cost: ENBS = population EVSI - cost (needs --incidence).")
@click.option("--economic-draws", type=click.Choice(ECONOMIC_DISTRIBUTIONS),
              default=DEFAULT_ECONOMIC_DRAWS, show_default=True,
              help="How --replicates draw ranged costs, utilities and durations: gamma "
                   "(costs, durations) and beta (utilities) with the range as the 95% "
                   "spread, as the field does, or uniformly over the range.")
@click.option("--sweep", "sweeps", multiple=True, metavar="[ARM:]FIGURE=LOW:HIGH:STEPS",
              help="One-way sweep of a cost, utility or duration on the same patients: "
                   "ICER, NMB and the best arm at each value, e.g. "
                   "haplo_nk:costs.nk_infusion=30000:150000:7 (repeatable).")
@click.option("--tornado", type=FiniteFloatRange(0, 0.99), metavar="SPREAD",
              help="One-way sensitivity of the incremental NMB to every cost, utility and "
                   "duration: ranged ones over their range, the others +-SPREAD (e.g. 0.2).")
@click.option("--threads", type=click.IntRange(1), help="Threads (default: all cores).")
@click.option("--set", "settings", multiple=True, metavar="[ARM:]KEY=VALUE",
              help="Change one figure, e.g. costs.transplant.value=250000 (repeatable; "
                   "every arm, or ARM:KEY=VALUE one; a new figure needs its source: "
                   "KEY={ value = ..., source = \"...\" }). Clinical figures as for `run`.")
@click.option("--recalibrate", is_flag=True,
              help="With --set of a clinical figure: solve every incidence again (as for "
                   "`run`).")
@click.option("--out", "out_dir", type=OutPath(file_okay=False),
              help="Write cea.json, cea.csv (with --replicates: ce_plane.csv, ceac.csv, "
                   "figures/) and the resolved scenarios here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="What to print.")
@click.option("--draws", type=click.Choice(DRAWS), default="auto", show_default=True,
              help=DRAWS_HELP + "  (Clinical figures; costs, utilities and durations are "
                   "drawn from their ranges.)")
def cea(arms, patients, seed, horizon_days, lifetime, discount, discounting, wtp, replicates,
        incidence, decision_years, groups, pilot, pilot_sizes, study_cost, economic_draws,
        sweeps, tornado, threads, settings, recalibrate, out_dir, overwrite, fmt, draws):
    """Costs, life years and QALYs of ARMS, and cost-effectiveness against the first.

    ARMS are bundled scenario names or TOML paths with [costs], [utilities] and
    [durations]; all arms get the same seed, so the increments are paired.
    """
    @user_errors
    def body(out_dir):  # by keyword: a failed write (a full disk) names the folder



        if len(arms) < 2:
            raise UserError("cea needs two arms or more (the first is the reference)")
        check_threads(threads)
        check_run_size(patients, len(arms), replicates)  # not hours, then an answer
        what_ifs = load_arms(arms, settings, recalibrate)
        _blame_settings(what_ifs, settings)
        # costs and utilities leave the course alone: nothing to hold or solve again
        clinical = [s for s in settings if not _is_economic(s)]
        if not clinical:
            what_ifs = {arm: dataclasses.replace(w, susceptible=None)
                        for arm, w in what_ifs.items()}
        if replicates and clinical and any(w.mode == HELD for w in what_ifs.values()):
            raise UserError("--replicates with a --set of a clinical figure: each replicate "
                            "solves its draw again, which a held what-if does not; add "
                            "--recalibrate, or leave out --replicates")
        loaded = {arm: w.scenario for arm, w in what_ifs.items()}
        held = {arm: w.susceptible for arm, w in what_ifs.items() if w.susceptible}
        decisions = _decisions(loaded, seed, replicates, incidence, decision_years, groups,
                               pilot, pilot_sizes, study_cost)
        if sweeps:

            econ = {a: economics_of(s) for a, s in loaded.items()}
            for text in sweeps:
                try:
                    parse_sweep(text, econ)
                except ValueError as exc:
                    raise UserError(str(exc)) from None
        posteriors = replicate_posteriors(loaded, replicates, draws)
        folder = RunFolder(out_dir, overwrite) if out_dir else None
        with written_whole(folder):
            total = patients * (1 + replicates) * len(loaded)
            # as run: a line every few seconds on stderr, in a log too (a terminal-only
            # bar left a long cea silent in a log or a cluster job)
            with Progress(total) as progress:
                progress.phase("simulating")
                doc = run_cea(loaded, patients, DEFAULT_SEED if seed is None else seed,
                              horizon_days, Discount(discount, discounting), lifetime, wtp,
                              replicates, threads, on_chunk=progress.advance,
                              susceptible=held, decisions=decisions, tornado=tornado,
                              economic_draws=economic_draws, sweeps=sweeps,
                              posteriors=posteriors)
                if replicates:  # how the replicates were drawn (cea.json)
                    doc["draws"] = ({"from": "ranges", "joint": False} if posteriors is None
                                    else {"from": "posterior", "joint": True,
                                          "files": {a: p.path for a, p in posteriors.items()},
                                          "sets": {a: len(p.values)
                                                   for a, p in posteriors.items()}})
                if folder is not None:
                    progress.phase("writing results")
            for arm, w in what_ifs.items():  # as run records it: what a --set changed
                if w.settings:
                    doc["arms"][arm]["what_if"] = w.to_dict()
            if folder is not None:
                write_cea(folder, doc, loaded)
        emit(doc, fmt, format_cea, cea_rows, caveat_lines(doc), out_dir)

    body(out_dir=out_dir)
