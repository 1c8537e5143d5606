"""``hsctsim run`` for plain multi-state scenarios: summaries, tables, event files.

The counterpart of :mod:`hsctsim.apps.runner` for ``kind = "multistate"``: the same
run folder (``summary.json``, ``summary.csv``, ``scenarios/``), with state
occupation, restricted mean time in each state and transition incidences in place
of the transplant endpoints.
"""

import json
from pathlib import Path

import numpy as np

from ..analysis.fit import draw_transition
from ..analysis.occupation import MultistateTally, multistate_days
from ..api import describe_backend, iter_chunks, simulate
from ..model.multistate import is_multistate, layout, parse_multistate
from ..model.scenario import replicate_rng
from ..sim import stream_seed
from .common import UserError
from .output import emit
from .progress import Progress
from .runner import (
    RunFolder,
    cell,
    replicate_intervals,
    summary_document,
    summary_rows,
    write_summary,
    written_whole,
)

__all__ = ["CENSORED_NAME", "EventWriter", "format_multistate_table", "LAYOUTS",
           "replicate_scenario", "run_command", "run_multistate", "show_multistate", "tmat_csv",
           "write_figures"]

LAYOUTS = ("hsctsim", "mstate")
CENSORED_NAME = "end_of_follow_up"


def run_multistate(scenarios, n_patients, seed, horizon_days, threads=None, chunk_size=500_000,
                   on_chunk=None, on_events=None, replicates=0, draw=None, backend="cpu",
                   extra_days=()):
    """Summarise multi-state arms chunk by chunk.

    With ``replicates``, each replicate draws the parameters of every transition
    that has a ``fit`` table (written by ``hsctsim fit``) from the fit's asymptotic
    normal distribution (``draw(transition_table, rng)``, by default
    ``hsctsim.analysis.fit.draw_transition``) and simulates ``n_patients`` more;
    the 2.5-97.5 percentiles of the replicates' estimates give ``ui95``.
    ``backend`` (``cpu``, ``cuda`` or ``auto``) is where the patients are simulated;
    the occupation is counted here from each chunk's event days. ``extra_days``:
    landmark days besides the standard ones (``run --days``).

    Returns
    -------
    dict
        ``{arm: {"scenario", "title", "population", "kind", "states", "transitions",
        "endpoints", "calibration"}}``, as the arms of ``summary.json``.
    """

    days = tuple(sorted(set(multistate_days(horizon_days)) | set(extra_days)))
    arms = {}
    for arm, scenario in scenarios.items():
        tally = MultistateTally(days, horizon_days)
        for chunk in iter_chunks(scenario, n_patients, chunk_size, seed, threads, horizon_days,
                                 backend=backend):
            tally.add(chunk)
            if on_events is not None:
                on_events(arm, chunk)
            if on_chunk is not None:
                on_chunk(chunk.n_patients)
        arms[arm] = {"scenario": scenario.name, "title": scenario.title,
                     "population": scenario.population, "kind": "multistate",
                     "clock": scenario.clock, "states": list(scenario.states),
                     "transitions": [t.label for t in scenario.transitions],
                     "endpoints": tally.summary(), "calibration": {}}
        if replicates:
            _add_uncertainty(arms[arm]["endpoints"], scenario, n_patients, seed, horizon_days,
                             threads, chunk_size, replicates, draw, on_chunk, backend, days)
    return arms


def replicate_scenario(scenario, rng, draw):
    """The scenario with every fitted transition's parameters drawn once."""

    raw = dict(scenario.raw)
    raw["transitions"] = [draw(dict(t), rng) if "fit" in t else dict(t)
                          for t in scenario.raw["transitions"]]
    return parse_multistate(raw, scenario.path)


def _add_uncertainty(endpoints, scenario, n_patients, seed, horizon_days, threads, chunk_size,
                     replicates, draw, on_chunk, backend="cpu", days=None):
    if draw is None:
        draw = draw_transition
    days = multistate_days(horizon_days) if days is None else days
    estimates = {name: [] for name in endpoints}
    for r in range(replicates):
        point = replicate_scenario(scenario, replicate_rng(seed, r), draw)
        tally = MultistateTally(days, horizon_days)
        for chunk in iter_chunks(point, n_patients, chunk_size, stream_seed(seed, r), threads,
                                 horizon_days, backend=backend):
            tally.add(chunk)
            if on_chunk is not None:
                on_chunk(chunk.n_patients)
        for name, ep in tally.summary().items():
            estimates[name].append([v["estimate"] if v["estimate"] is not None else np.nan
                                    for v in ep["at"].values()])
    for name, ep in endpoints.items():
        for value, ui95 in zip(ep["at"].values(), replicate_intervals(estimates[name])):
            value["ui95"] = ui95


def _rows(arms, prefix, days=False):

    rows = []
    first = next(iter(arms.values()))["endpoints"]
    for name, ep in first.items():
        if not name.startswith(prefix):
            continue
        for i, day in enumerate(ep["at"]):
            rows.append([name[len(prefix):] if i == 0 else "", day,
                         *(cell(a["endpoints"][name]["at"][day], days) for a in arms.values())])
    return rows


def _table(header, rows):
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_multistate_table(document):
    """Plain-text tables: occupation by day, time in state, transition incidences."""

    arms = document["arms"]
    names = list(arms)
    text = [f"hsctsim {document['hsctsim_version']}: {document['patients']:,} patients per arm, "
            f"seed {document['seed']}, horizon {document['horizon_days']} days, "
            f"{describe_backend(document)}",
            "estimate (95% CI)" + (f" [95% range over {document['replicates']} replicates "
                                   "drawn from the fits' parameter uncertainty]"
                                   if document.get("replicates") else ""), "",
            "state occupation probability",
            _table(["state", "day", *names], _rows(arms, "occupation:")), "",
            f"restricted mean time in state up to day {document['horizon_days']} (days)",
            _table(["state", "day", *names], _rows(arms, "time_in:", days=True)), "",
            "cumulative incidence of each transition",
            _table(["transition", "day", *names], _rows(arms, "transition:")), "",
            "arms:"]
    text += [f"  {arm}: {a['title']}. {a['population']} (clock {a['clock']})"
             for arm, a in arms.items()]
    what_ifs = [f"  {arm}: {a['what_if']['text']}" for arm, a in arms.items()
                if a.get("what_if", {}).get("settings")]
    text += ["", "what-if:", *what_ifs] if what_ifs else []
    return "\n".join(text) + "\n"


class EventWriter:
    """Appends each chunk's paths to ``events/<arm>.csv`` of a run folder.

    Layout ``hsctsim``: ``patient, from, to, start_day, stop_day`` with state names
    (``end_of_follow_up`` for the last row of a patient alive in a transient state).
    Layout ``mstate``: msprep's long counting-process table ``id, from, to, trans,
    Tstart, Tstop, time, status`` (integer states, at-risk rows for every transition
    possible from each state, covariates after), and ``events/<arm>.tmat.csv``, the
    transition matrix (``NA`` where none).
    """

    def __init__(self, folder, layout="hsctsim"):
        if layout not in LAYOUTS:
            raise ValueError(f"events layout {layout!r} is not one of {LAYOUTS}")
        self.folder, self.layout, self.files = folder, layout, {}

    def __call__(self, arm, cohort):
        events = self.folder.tmp / "events"
        events.mkdir(exist_ok=True)
        first = arm not in self.files
        if first:
            self.files[arm] = open(events / f"{arm}.csv", "w", newline="")
            self.folder._events[arm] = self.files[arm]  # closed on commit or discard
        fh = self.files[arm]
        if self.layout == "mstate":
            table = cohort.mstate_table()
            columns = list(table)
            if first:
                fh.write(",".join(columns) + "\n")
                (events / f"{arm}.tmat.csv").write_text(tmat_csv(cohort))
            # Tstart, Tstop, time on the export's 0.001-day grid (model.msexport): every
            # stay at least one step long, which survival::coxph and mstate accept
            fmt = "%d,%d,%d,%d,%.3f,%.3f,%.3f,%d" + ",%.17g" * (len(columns) - 8) + "\n"
            rows = zip(*(table[c].tolist() for c in columns))
        else:
            table = cohort.event_table()
            if first:
                fh.write("patient,from,to,start_day,stop_day\n")
            names = np.array(list(cohort.states) + [CENSORED_NAME])
            to = np.where(table["to_state"] < 0, len(cohort.states), table["to_state"])
            fmt = "%d,%s,%s,%.6f,%.6f\n"
            rows = zip(table["patient"].tolist(), names[table["from_state"]].tolist(),
                       names[to].tolist(), table["start_day"].tolist(),
                       table["stop_day"].tolist())
        fh.write("".join(map(fmt.__mod__, rows)))


def tmat_csv(cohort):
    """The transition matrix as CSV for R: ``as.matrix(read.csv(f, row.names = 1))``."""
    _, matrix = cohort.transition_numbers()
    states = list(cohort.states)
    lines = ["," + ",".join(states)]
    for s, row in zip(states, matrix):
        lines.append(s + "," + ",".join(str(v) if v else "NA" for v in row))
    return "\n".join(lines) + "\n"


def write_figures(cohorts, out_dir, formats=("png",)):
    """Stacked state occupation over time, one figure per arm; returns the paths.

    As :func:`hsctsim.analysis.plotting.write_figures`: a caption line saying what
    was simulated, and each file written under a temporary name and renamed.
    """

    import matplotlib  # matplotlib: imported on use (start-up time)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)

    from ..analysis.plotting import caption, save_figure  # matplotlib: imported on use

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for arm, cohort in cohorts.items():
        grid = np.linspace(0.0, cohort.horizon_days, 200)
        state = cohort.state_at(grid)
        shares = np.stack([(state == s).mean(axis=0) for s in range(len(cohort.states))])
        fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        ax.stackplot(grid, shares, labels=cohort.states)
        ax.set_xlim(0, cohort.horizon_days)
        ax.set_ylim(0, 1)
        ax.set_xlabel("days")
        ax.set_ylabel("probability of being in state")
        ax.set_title(f"{cohort.scenario.title}"[:80], fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
        caption(ax, [(arm, cohort)])
        written += save_figure(ax, out_dir, f"{arm}_state_occupation", formats)
    return written


def run_command(loaded, patients, seed, horizon, threads, replicates, out_dir, overwrite,
                events, events_layout, plot, fmt, compare, what_ifs=None, backend="cpu",
                extra_days=()):
    """What ``hsctsim run`` does when its scenarios are multi-state ones."""

    if not all(is_multistate(s) for s in loaded.values()):
        raise UserError("multi-state scenarios (kind = \"multistate\") and transplant arms "
                        "cannot share a run: run them apart")
    if replicates:
        for arm, s in loaded.items():
            if not any(t.fit for t in s.transitions):
                raise UserError(f"--replicates: no transition of {arm} has a fit table (written "
                                "by `hsctsim fit`) to draw its parameters from")
            if any(t.fit and not t.fit.get("covariance") for t in s.transitions):
                raise UserError(f"--replicates: a fit table of {arm} has no covariance")
        draw = draw_transition
    else:
        draw = None
    if compare:
        raise UserError("--compare: not available for multi-state scenarios yet")
    folder = RunFolder(out_dir, overwrite) if out_dir else None
    # a long run says what it does on stderr, in a log too (as a transplant run does)
    with written_whole(folder), Progress(patients * len(loaded) * (1 + replicates)) as progress:
        progress.phase("simulating")
        writer = EventWriter(folder, events_layout) if events else None
        arms = run_multistate(loaded, patients, seed, horizon, threads,
                              on_chunk=progress.advance, on_events=writer,
                              replicates=replicates, draw=draw, backend=backend,
                              extra_days=extra_days)
        for arm, w in (what_ifs or {}).items():  # what a --set changed, as run records it
            arms[arm]["what_if"] = w.to_dict()
        document = summary_document(arms, seed, patients, horizon, replicates,
                                    backend=backend)
        if folder is not None:
            progress.phase("writing results")
            write_summary(folder, document, loaded)
            if plot:
                progress.phase("drawing figures")
                (folder.tmp / "figures").mkdir(exist_ok=True)
                cohorts = {arm: simulate(s, min(patients, 100_000), seed, horizon_days=horizon,
                                         backend=backend)
                           for arm, s in loaded.items()}
                write_figures(cohorts, folder.tmp / "figures")
    emit(document, fmt, format_multistate_table, summary_rows, out_dir=out_dir)



def show_multistate(scenario, fmt="text"):
    """What ``hsctsim show`` prints for a multi-state scenario."""


    lay = layout(scenario)
    if fmt == "json":
        return json.dumps({"resolved_toml": scenario.to_dict(),
                           "engine_processes": list(lay.process_names)}, indent=1) + "\n"
    absorbing = ", ".join(scenario.absorbing) or "none"
    lines = [f"{scenario.name}: {scenario.title}", f"population: {scenario.population}",
             f"file: {scenario.path}", f"source: {scenario.source}",
             f"horizon: {scenario.horizon_days:g} days; clock: {scenario.clock}; "
             f"initial state: {scenario.initial}; max visits: {scenario.max_visits}",
             f"states: {', '.join(scenario.states)} (absorbing: {absorbing})", ""]
    for cov in scenario.covariates:
        mix = ", ".join(f"{lv:g}: {sh:g}" for lv, sh in zip(cov.levels, cov.shares))
        lines.append(f"covariate {cov.name}: {mix}\n  source: {cov.source}")
    lines.append("transitions:")
    for t in scenario.transitions:
        cure = f", cure fraction {t.cure_fraction:g}" if t.cure_fraction else ""
        hr = "".join(f", log HR {c} {b:+g}" for c, b in t.log_hr)
        lines.append(f"  {t.label}: {t.timing.describe()}{cure}{hr}\n    source: {t.source}")
    lines.append(f"\nengine: {len(lay.process_names)} transition processes")
    return "\n".join(lines) + "\n"
