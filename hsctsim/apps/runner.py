"""Scenario runs: several arms, replicates from the reported ranges, result files.

What ``hsctsim run`` does, as plain functions: :func:`run_arms` simulates each arm
in chunks (so memory stays flat however many patients) and returns the summary
that ``summary.json`` holds; :func:`write_summary` writes it into a
:class:`~hsctsim.apps.runfolder.RunFolder`.
"""

import itertools
import json

import numpy as np

from .._version import __version__
from ..analysis.by_design import absent_endpoints
from ..analysis.endpoints import ENDPOINTS, LANDMARK_DAYS, PairedTally, Tally
from ..analysis.response import ResponseTally, format_response, response_rows
from ..api import backend_record, count, describe_backend, iter_chunks, platform_record
from ..model.tomlwrite import dumps
from .output import csv_text
from .runfolder import RunFolder, RunFolderError, written_whole  # noqa: F401 (re-exported)

__all__ = ["cell", "comparison_rows", "DEFAULT_CHUNK", "format_table", "landmark_days",
           "REPLICATE_CALIBRATION_PATIENTS", "replicate_intervals", "replicate_intervals_of",
           "resolved_toml", "run_arms",
           "summary_document", "summary_rows", "write_resolved_scenarios", "write_summary"]

REPLICATE_CALIBRATION_PATIENTS = 10_000  # its noise is small beside the ranges
DEFAULT_CHUNK = 500_000  # per arm; the arms' chunks are alive together


def landmark_days(horizon_days, extra_days=()):
    """The standard landmark days within a horizon, with ``extra_days`` added (sorted)."""
    return tuple(sorted({d for d in LANDMARK_DAYS if d <= horizon_days} | set(extra_days)))


def run_arms(scenarios, n_patients, seed, horizon_days, threads=None, replicates=0,
             compare=False, chunk_size=DEFAULT_CHUNK, on_chunk=None, on_events=None,
             susceptible=None, backend="cpu", on_phase=None, extra_days=(), posteriors=None):
    """Summarise arms: midpoint cohorts, replicates drawn from the ranges, contrasts.

    The arms' midpoint cohorts are simulated chunk by chunk in step, so each chunk
    of an arm can be paired with the same patients of the first arm (common random
    numbers: the same seed gives each patient the same stream in every arm).

    Parameters
    ----------
    scenarios : dict of str to Scenario
        Arms by name; the first is the reference of the contrasts.
    n_patients, seed, horizon_days, threads
        As for :func:`hsctsim.simulate`.
    replicates : int
        Replicate cohorts per arm (of ``n_patients`` each), each drawing every
        ranged figure from its range; their 2.5-97.5 percentiles give ``ui95``.
    compare : bool
        Also differences and ratios of every arm against the first, paired.
    chunk_size : int
        Patients simulated at a time, per arm.
    on_chunk : callable, optional
        Called with the number of patients done after each chunk (progress).
    on_events : callable, optional
        Called as ``on_events(arm, chunk)`` with each midpoint chunk (event tables),
        valid during the call only (the next chunk is simulated into the same array).
    susceptible : dict of str to dict, optional
        Per arm, the susceptible fractions of its midpoint cohort (a what-if that
        holds another calibration, see :func:`hsctsim.what_if`); an arm not given
        or given None is calibrated.  Replicates always calibrate their draws.
    backend : {"cpu", "cuda", "auto"}
        As for :func:`hsctsim.simulate`.
    on_phase : callable, optional
        Called with a short label as each phase starts (progress).
    extra_days : sequence of int
        Landmark days summarised besides the standard ones (within the horizon).
    posteriors : dict of str to PosteriorSample, optional
        Per arm, a posterior (:func:`hsctsim.sim.posterior.load_posterior`): its
        replicates are posterior sets, drawn jointly, with their stored
        calibrations (no solve), instead of independent draws from the ranges.

    Returns
    -------
    arms : dict
        ``{arm: {"scenario", "title", "population", "endpoints", "calibration"}}``.
    comparisons : dict
        ``{arm: {"versus", "endpoints"}}`` (empty without ``compare``).
    """
    days = landmark_days(horizon_days, extra_days)
    names = list(scenarios)
    tallies = {arm: Tally(days) for arm in names}
    responses = {arm: ResponseTally() for arm in names}  # solid tumours only
    given = susceptible or {}
    susceptible = {}  # what each arm's cohort was simulated with (its calibration)
    paired = {arm: PairedTally(days) for arm in names[1:]} if compare else {}
    on_device = backend == "cuda" and not paired and on_events is None
    on_phase = on_phase or (lambda label: None)
    if on_device:  # counted on the GPU: no event days come back (see hsctsim.api.count)
        for arm, s in scenarios.items():
            on_phase(f"simulating {arm} (on the GPU)")
            susceptible[arm] = count(s, n_patients, tallies[arm], seed, threads, horizon_days,
                                     susceptible=given.get(arm), backend=backend,
                                     on_chunk=on_chunk)
    # nothing below keeps a chunk past its turn: each arm's chunks may share one array
    streams = []
    for arm, scenario in scenarios.items():
        if on_device:
            break
        # the first chunk calibrates (and on a first run compiles): a phase of its own
        on_phase(f"preparing {arm} (calibration; a first run also compiles)")
        stream = iter_chunks(scenario, n_patients, chunk_size, seed, threads, horizon_days,
                             susceptible=given.get(arm), tally=tallies[arm],
                             reuse_buffer=True, backend=backend)
        streams.append(itertools.chain([next(stream)], stream))
    if streams:
        on_phase("simulating" + (" and writing events" if on_events is not None else ""))
    for chunks in zip(*streams):
        for arm, chunk in zip(names, chunks):
            responses[arm].add(chunk)  # copies what it keeps: chunks share one array
            susceptible[arm] = chunk.susceptible
            if arm in paired:
                paired[arm].add(chunk, chunks[0])
            if on_events is not None:
                on_events(arm, chunk)
            if on_chunk is not None:
                on_chunk(chunk.n_patients)
    arms = {}
    for arm, scenario in scenarios.items():
        endpoints = tallies[arm].summary()
        if replicates:
            _add_uncertainty(endpoints, scenario, n_patients, seed, horizon_days, threads,
                             replicates, chunk_size, on_chunk, days, backend, on_phase,
                             (posteriors or {}).get(arm))
        for name in absent_endpoints(scenario):  # printed tables leave them out
            endpoints[name]["absent_by_design"] = True
        arms[arm] = {"scenario": scenario.name, "title": scenario.title,
                     "population": scenario.population, "endpoints": endpoints,
                     "calibration": susceptible[arm]}
        if (response := responses[arm].summary()) is not None:
            arms[arm]["response"] = response
    comparisons = {arm: {"versus": names[0], "endpoints": p.contrasts()}
                   for arm, p in paired.items()}
    return arms, comparisons


def _add_uncertainty(endpoints, scenario, n_patients, seed, horizon_days, threads, replicates,
                     chunk_size, on_chunk, days, backend="cpu", on_phase=None, posterior=None):
    """``ui95``: the 2.5-97.5 percentiles of the replicates' estimates."""
    draws = []
    for r in range(replicates):
        if on_phase is not None:
            on_phase(f"replicate {r + 1} of {replicates} of {scenario.name}")
        tally = Tally(days)
        # a posterior set comes with its calibration; a draw from the ranges is solved
        point, susceptible = (scenario, None) if posterior is None else posterior.draw(scenario, r)
        count(point, n_patients, tally, seed, threads, horizon_days, r,
              calibration_patients=REPLICATE_CALIBRATION_PATIENTS, chunk_size=chunk_size,
              backend=backend, on_chunk=on_chunk, susceptible=susceptible)
        draws.append(tally)
    for name in ENDPOINTS:
        values = [d.estimates(name)[0] for d in draws]
        for day, ui95 in zip(days, replicate_intervals(values)):
            endpoints[name]["at"][f"d{day:g}"]["ui95"] = ui95


def replicate_intervals(values):
    """``ui95`` per column of ``values`` (replicates x landmarks, NaN: no estimate): the
    2.5-97.5 percentiles as ``[low, high]``, or ``[None, None]`` where no replicate has
    an estimate (NaN is not JSON: summary.json held it, and strict readers refused it)."""
    values = np.array(values, float)
    defined = ~np.isnan(values).all(axis=0)
    low, high = np.full((2, values.shape[1]), np.nan)
    if defined.any():
        low[defined], high[defined] = np.nanpercentile(values[:, defined], [2.5, 97.5], axis=0)
    return [[round(float(lo), 6), round(float(hi), 6)] if ok else [None, None]
            for lo, hi, ok in zip(low, high, defined)]


def replicate_intervals_of(document):
    """``{arm: endpoints}`` of a summary document for the figures' replicate error
    bars, or None when the run had no replicates (no ``ui95`` to draw)."""
    if not document.get("replicates"):
        return None
    return {arm: data["endpoints"] for arm, data in document["arms"].items()}


def summary_document(arms, seed, n_patients, horizon_days, replicates, comparisons=None,
                     backend="cpu"):
    """The ``summary.json`` document (a contract: keys are only ever added).

    ``backend`` is where the cohorts ran (``cpu`` or ``cuda``): recorded as
    ``backend``, with the GPU's name as ``device``; ``platform`` records the software
    and machine (:func:`hsctsim.api.platform_record`).
    """
    document = {"hsctsim_version": __version__, "seed": int(seed), "patients": int(n_patients),
                "horizon_days": int(horizon_days) if float(horizon_days).is_integer()
                else horizon_days, "replicates": int(replicates), **backend_record(backend),
                "platform": platform_record(), "arms": arms}
    if comparisons:
        document["comparisons"] = comparisons
    return document


def _by_day(sections):
    """``(arm, endpoint, kind, day, values)`` over ``{arm: {"endpoints": ...}}``."""
    for arm, data in sections.items():
        for name, ep in data["endpoints"].items():
            for day, v in ep["at"].items():
                number = float(day[1:])  # d30; a multi-state horizon may be d3652.5
                yield arm, name, ep["kind"], int(number) if number.is_integer() else number, v


def summary_rows(document):
    """Flat rows (arm, endpoint, kind, day, estimate, ci and ui bounds) for CSV."""
    return [{"arm": arm, "endpoint": name, "kind": kind, "day": day,
             "estimate": v["estimate"], "ci95_low": v["ci95"][0], "ci95_high": v["ci95"][1],
             "ui95_low": v.get("ui95", [None, None])[0],
             "ui95_high": v.get("ui95", [None, None])[1]}
            for arm, name, kind, day, v in _by_day(document["arms"])] + response_rows(document)


def comparison_rows(document):
    """Flat rows of ``comparisons`` (arm against versus, per endpoint and day) for CSV."""
    comparisons = document.get("comparisons", {})
    return [{"arm": arm, "versus": comparisons[arm]["versus"], "endpoint": name, "kind": kind,
             "day": day, "difference": v["difference"], "ci95_low": v["ci95"][0],
             "ci95_high": v["ci95"][1], "ratio": v["ratio"],
             "ratio_ci95_low": v["ratio_ci95"][0], "ratio_ci95_high": v["ratio_ci95"][1]}
            for arm, name, kind, day, v in _by_day(comparisons)]


def write_summary(folder, document, scenarios):
    """``summary.json``, ``summary.csv``, ``comparisons.csv`` (with comparisons) and
    ``scenarios/<arm>.json`` and ``.toml`` into a RunFolder."""
    folder.write_text("summary.json", json.dumps(document, indent=1) + "\n")
    folder.write_text("summary.csv", csv_text(summary_rows(document)))
    if document.get("comparisons"):
        folder.write_text("comparisons.csv", csv_text(comparison_rows(document)))
    for arm, scenario in scenarios.items():
        resolved = {"resolved_toml": scenario.to_dict(),
                    "midpoints": {k: r.mid for k, r in scenario.ranges()},
                    "calibrated_susceptible": document["arms"][arm]["calibration"]}
        folder.write_text(f"scenarios/{arm}.json", json.dumps(resolved, indent=1) + "\n")
    held = {arm for arm, a in document["arms"].items()
            if a.get("what_if", {}).get("calibration") == "held"}
    write_resolved_scenarios(folder, scenarios, held, document["horizon_days"],
                             _repeat_options(document))


def _repeat_options(document):
    """The options that repeat the run of ``document`` from one of its scenario files."""
    days = {day for a in document["arms"].values() for ep in a["endpoints"].values()
            if ep.get("kind") in ("incidence", "survival") for day in ep["at"]}
    extra = sorted(int(d[1:]) for d in days
                   if d[1:].isdigit() and int(d[1:]) not in LANDMARK_DAYS)
    return (f"-n {document['patients']} --seed {document['seed']}"
            + (f" --days {','.join(map(str, extra))}" if extra else "")
            + (f" --replicates {document['replicates']}" if document["replicates"] else ""))


def resolved_toml(scenario, held=False, horizon_days=None, repeat="..."):
    """The scenario as one self-contained TOML text (bases merged, --set applied) that
    ``run``, ``show`` and ``check`` accept: the run can be repeated from its folder.

    ``horizon_days``: the horizon the arm was simulated to (``--horizon``, or a longer
    arm's), written in place of the scenario's own so that the file repeats the run;
    ``repeat``: the options that do (patients, seed, extra days).
    """
    data = {k: v for k, v in scenario.to_dict().items() if k != "base"}
    data["name"] = scenario.name
    data = {"name": data.pop("name"), **data}
    if horizon_days is not None:
        data["horizon_days"] = horizon_days
    header = (f"Scenario '{scenario.name}' as resolved by hsctsim {__version__} "
              f"(base scenarios merged in, --set applied).\n"
              f"Repeat the run: hsctsim run scenarios/{scenario.name}.toml {repeat}")
    if held:
        header += ("\nThe run held the unmodified arm's baseline hazards (a what-if, see "
                   "scenarios/" f"{scenario.name}.json);\nthis file is calibrated afresh "
                   "when run, as the run would have been with --recalibrate.")
    return dumps(data, header)


def write_resolved_scenarios(folder, scenarios, held=(), horizon_days=None, repeat="..."):
    """``scenarios/<arm>.toml`` of each arm into a RunFolder (``held``: arms run as
    what-ifs holding another calibration, said in the file's header; ``horizon_days``
    and ``repeat`` as for :func:`resolved_toml`)."""
    for arm, scenario in scenarios.items():
        folder.write_text(f"scenarios/{arm}.toml",
                          resolved_toml(scenario, arm in held, horizon_days, repeat))


def cell(value, days=False):
    """A table cell: estimate (95% CI) [95% uncertainty interval]; ``-`` if none.

    Probabilities as percentages; ``days=True`` for a figure in days.
    """
    if value["estimate"] is None:
        return "-"
    scale, unit = (1.0, "") if days else (100.0, "%")
    low, high = value["ci95"]
    text = f"{scale * value['estimate']:.1f}{unit} ({scale * low:.1f}-{scale * high:.1f})"
    if "ui95" in value and value["ui95"][0] is not None:
        text += f" [{scale * value['ui95'][0]:.1f}-{scale * value['ui95'][1]:.1f}]"
    return text


def format_table(document):
    """A plain-text table: endpoints by landmark day, one column per arm."""
    arms = document["arms"]
    header = (f"hsctsim {document['hsctsim_version']}: {document['patients']:,} patients per "
              f"arm, seed {document['seed']}, horizon {document['horizon_days']} days, "
              f"{describe_backend(document)}")
    drawn = ("drawn jointly from the posterior (hsctsim calibrate)"
             if document.get("draws", {}).get("from") == "posterior"
             else "drawn from the reported ranges")
    note = "estimate (95% CI)" + (f" [95% range over {document['replicates']} replicates "
                                  f"{drawn}]" if document["replicates"] else "")
    rows = [["endpoint", "day", *arms]]
    absent = _absent_in_every_arm(arms)
    for name, (kind, _) in ENDPOINTS.items():
        if name in absent:
            continue
        first = next(iter(arms.values()))["endpoints"][name]["at"]
        for i, day in enumerate(first):
            label = f"{name} ({kind})" if i == 0 else ""
            rows.append([label, day, *("none by design"
                                       if a["endpoints"][name].get("absent_by_design")
                                       else cell(a["endpoints"][name]["at"][day])
                                       for a in arms.values())])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    populations = [f"  {arm}: {a['title']}. {a['population']}" for arm, a in arms.items()]
    what_ifs = [f"  {arm}: {a['what_if']['text']}" for arm, a in arms.items()
                if a.get("what_if", {}).get("settings")]
    omitted = (["not shown, absent by design in every arm: "
                + ", ".join(n for n in ENDPOINTS if n in absent)] if absent else [])
    text = "\n".join([header, note, "", *lines, *omitted, *format_response(arms), "", "arms:",
                      *populations,
                      *(["", "what-if:", *what_ifs] if what_ifs else [])]) + "\n"
    return text + _format_comparisons(document.get("comparisons", {}), absent)


def _absent_in_every_arm(arms):
    """Endpoints every arm's design leaves out (``absent_by_design`` in each)."""
    sets = [{n for n, ep in a["endpoints"].items() if ep.get("absent_by_design")}
            for a in arms.values()]
    return set.intersection(*sets) if sets else set()


def _format_comparisons(comparisons, absent=()):
    if not comparisons:
        return ""
    versus = next(iter(comparisons.values()))["versus"]
    rows = [["endpoint", "day", *(f"{arm} - {versus}" for arm in comparisons)]]
    first = next(iter(comparisons.values()))["endpoints"]
    for name, ep in first.items():
        if name in absent:
            continue
        for i, day in enumerate(ep["at"]):
            cells = []
            for c in comparisons.values():
                v = c["endpoints"][name]["at"][day]
                cells.append("-" if v["difference"] is None else
                             f"{100 * v['difference']:+.1f} ({100 * v['ci95'][0]:+.1f} to "
                             f"{100 * v['ci95'][1]:+.1f})")
            rows.append([name if i == 0 else "", day, *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ("\ndifferences against " + versus + ", percentage points (95% CI, paired: "
            "the arms share each patient's random numbers)\n\n" + "\n".join(lines) + "\n")
