"""``hsctsim run``: simulate arms and summarise them at landmark days."""

import math

import click

from ..analysis.endpoints import LANDMARK_DAYS
from ..api import DEFAULT_SEED, simulate
from ..model.scenario import BUNDLED_ORDER, bundled_names
from ..model.whatif import HELD
from . import runner
from .common import (
    DRAWS,
    DRAWS_HELP,
    HAZARD_TABLES_HELP,
    UserError,
    complete_scenarios,
    load_arms,
    replicate_posteriors,
    resolve_backend,
    user_errors,
)
from .limits import MAX_REPLICATES, check_run_size
from .options import SEED, OutPath
from .output import emit
from .progress import Progress

__all__ = ["run"]


RUN_EXAMPLES = """\b
Examples:
  hsctsim run                                   # all bundled arms, 100,000 patients each
  hsctsim run mac ric --compare                 # + paired differences against mac
  hsctsim run ric -n 1000000 --seed 7 --out ric-1m --events --plot
  hsctsim run ric-1m/scenarios/ric.toml --seed 7  # repeat a run from its folder
  hsctsim run ric --set agvhd.incidence=0.45 --replicates 20
  hsctsim run mac ric --horizon 1461 --days 548,1461  # + 18 months and 4 years
"""


@click.command(epilog=RUN_EXAMPLES)
@click.argument("scenarios", nargs=-1, shell_complete=complete_scenarios)
@click.option("-n", "--patients", type=click.IntRange(1), default=100_000, show_default=True,
              help="Patients per arm (and per replicate).")
@click.option("--seed", type=SEED, default=DEFAULT_SEED, show_default=True,
              help="Random seed, 0 to 2^63-1; the same seed gives the same results.")
@click.option("--horizon", "horizon_days", type=click.FloatRange(1, 36500),
              help="Follow-up in days (default: each scenario's); at least 30, the "
                   "first landmark day.")
@click.option("--threads", type=click.IntRange(1), help="Threads (default: all cores).")
@click.option("--replicates", type=click.IntRange(0, MAX_REPLICATES), default=0,
              show_default=True,
              help="Extra cohorts drawing every figure from its reported range.")
@click.option("--draws", type=click.Choice(DRAWS), default="auto", show_default=True,
              help=DRAWS_HELP)
@click.option("--out", "out_dir", type=OutPath(),
              help="Write summary.json, summary.csv (and comparisons.csv with --compare) "
                   "and the resolved scenarios here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@click.option("--events", is_flag=True, help="With --out: also the long event table.")
@click.option("--events-format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="Event table format (parquet needs pyarrow).")
@click.option("--events-layout", type=click.Choice(["hsctsim", "mstate"]), default="hsctsim",
              show_default=True, help="mstate: msprep's long layout with at-risk rows and a "
                                      "transition matrix (multi-state scenarios).")
@click.option("--plot", is_flag=True, help="With --out: also figures (PNG).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="What to print.")
@click.option("--set", "settings", multiple=True, metavar="[ARM:]KEY=VALUE",
              help="Change one figure for a what-if run, e.g. agvhd.incidence=0.45 "
                   "(repeatable; every arm, or one with ARM:KEY=VALUE).  Holds the "
                   "arm's calibrated baseline hazards; a changed incidence is solved for.")
@click.option("--recalibrate", is_flag=True,
              help="With --set: solve every incidence again (keep the published "
                   "incidences) instead of holding the calibration.")
@click.option("--compare", is_flag=True,
              help="Also differences and ratios of each arm against the first, paired.")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
              show_default=True,
              help="Simulate on the CPU or a CUDA GPU (needs numba-cuda); auto: the GPU "
                   "when there is one.")
@click.option("--hazard-tables", is_flag=True, help=HAZARD_TABLES_HELP)
@click.option("--days", "days_text", metavar="DAY,DAY,...",
              help="Landmark days to report besides the standard ones, e.g. 548,1461 "
                   "(18 months, 4 years; within the horizon).")
@user_errors
def run(scenarios, patients, seed, horizon_days, threads, replicates, out_dir, overwrite,
        events, events_layout, plot, fmt, settings, recalibrate, compare, events_format,
        backend, days_text, draws, hazard_tables):
    """Simulate SCENARIOS (bundled names or TOML paths; default: the allogeneic arms)."""
    if (events or plot) and not out_dir:
        raise UserError("--events and --plot need --out DIR")
    if not events and (events_format != "csv" or events_layout != "hsctsim"):
        # otherwise the option would be accepted and do nothing
        raise UserError("--events-format and --events-layout need --events (and --out DIR)")
    if compare and len(scenarios) == 1:
        raise UserError("--compare needs two arms or more (the first is the reference)")
    if threads is not None:
        import numba  # after the cheap checks: numba is slow to import

        if threads > numba.config.NUMBA_NUM_THREADS:
            raise UserError(f"--threads {threads}: at most {numba.config.NUMBA_NUM_THREADS} "
                            "on this machine")
    backend = resolve_backend(backend, hazard_tables)
    # the default set is the allogeneic arms; solid tumours and autologous arms are listed
    # by `hsctsim scenarios` and run by name
    names = scenarios or tuple(n for n in bundled_names() if n in BUNDLED_ORDER)
    if not names:
        raise UserError("no scenario given and no bundled scenarios found")
    if horizon_days is not None and not math.isfinite(horizon_days):
        raise UserError(f"--horizon {horizon_days}: not a number of days")
    if horizon_days is not None and horizon_days < LANDMARK_DAYS[0]:
        raise UserError(f"--horizon {horizon_days:g}: shorter than the first landmark day "
                        f"({LANDMARK_DAYS[0]}), so there would be nothing to report")
    what_ifs = load_arms(names, settings, recalibrate, backend)
    if replicates and any(w.mode == HELD for w in what_ifs.values()):
        raise UserError("--replicates with --set: each replicate solves its draw from the "
                        "reported ranges again, which a held what-if does not; add "
                        "--recalibrate, or leave out --replicates")
    loaded = {arm: w.scenario for arm, w in what_ifs.items()}
    posteriors = replicate_posteriors(loaded, replicates, draws)
    horizon = horizon_days or max(s.horizon_days for s in loaded.values())
    extra_days = _parse_days(days_text, horizon) if days_text is not None else ()
    if events and events_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("--events-format parquet needs pyarrow "
                            "(pip install 'hsctsim[parquet]')") from None
    # before either runner: a multi-state run is held to the same limits
    total = check_run_size(patients, len(loaded), replicates,
                           out_dir if events else None)
    if any(getattr(s, "kind", None) == "multistate" for s in loaded.values()):
        if events and events_format != "csv":
            raise UserError("--events-format parquet: multi-state event tables are CSV")
        if recalibrate:
            raise UserError("--recalibrate: a multi-state scenario's hazards are given, "
                            "nothing is calibrated; a --set changes them as written")
        from .msrunner import run_command  # multi-state runs only

        return run_command(loaded, patients, seed, horizon, threads, replicates, out_dir,
                           overwrite, events, events_layout, plot, fmt, compare,
                           what_ifs=what_ifs, backend=backend, extra_days=extra_days)
    if events_layout == "mstate":
        raise UserError("--events-layout mstate: only for multi-state scenarios "
                        "(kind = \"multistate\")")
    folder = runner.RunFolder(out_dir, overwrite, events_format) if out_dir else None
    with runner.written_whole(folder), Progress(total) as progress:
        arms, comparisons = runner.run_arms(
            loaded, patients, seed, horizon, threads, replicates, compare,
            on_chunk=progress.advance, on_phase=progress.phase,
            on_events=folder.append_events if events else None,
            susceptible={arm: w.susceptible for arm, w in what_ifs.items()},
            backend=backend, extra_days=extra_days, posteriors=posteriors)
        for arm, w in what_ifs.items():
            arms[arm]["what_if"] = w.to_dict()
        document = runner.summary_document(arms, seed, patients, horizon, replicates,
                                    comparisons, backend=backend)
        if replicates:
            document["draws"] = _draws_record(draws, posteriors)
        if folder is not None:
            progress.phase("writing results")
            runner.write_summary(folder, document, loaded)
            if plot:
                progress.phase("drawing figures")
                _write_plots(folder, what_ifs, patients, seed, horizon, document)
    emit(document, fmt, runner.format_table, runner.summary_rows,
         [f"what-if {arm}: {w.describe()}" for arm, w in what_ifs.items() if w.settings]
         + ([f"replicates: {_draws_note(document['draws'])}"] if replicates else []),
         out_dir)


def _draws_record(draws, posteriors):
    """summary.json's ``draws``: how the replicates were drawn, and from which file."""
    if posteriors is None:
        return {"from": "ranges", "joint": False}
    return {"from": "posterior", "joint": True,
            "files": {arm: p.path for arm, p in posteriors.items()},
            "sets": {arm: len(p.values) for arm, p in posteriors.items()}}


def _draws_note(record):
    if record["from"] == "posterior":
        return ("drawn jointly from the posterior of `hsctsim calibrate` "
                + ", ".join(f"{a} ({n} sets)" for a, n in record["sets"].items())
                + "; no calibration solve per draw")
    return "every ranged figure drawn independently from its range, each draw re-solved"


def _parse_days(text, horizon):
    """``--days 548,1461`` as whole days within the horizon, or a UserError."""
    days = []
    for item in text.split(","):
        try:
            day = float(item.strip())
        except ValueError:
            raise UserError(f"--days {text!r}: {item.strip()!r} is not a number") from None
        if not (0 < day < float("inf") and day == int(day)):
            raise UserError(f"--days {text!r}: {item.strip()!r} is not a whole, positive "
                            "number of days")
        if day > horizon:
            raise UserError(f"--days {text!r}: day {day:g} is beyond the horizon "
                            f"({horizon:g} days); add --horizon {day:g}")
        days.append(int(day))
    return tuple(days)


def _write_plots(folder, what_ifs, patients, seed, horizon, document):
    from ..analysis.plotting import write_figures  # matplotlib: only with --plot

    # curves need no more than 10^5 patients; the same seed gives the run's first ones
    cohorts = {arm: simulate(w.scenario, min(patients, 100_000), seed, horizon_days=horizon,
                             susceptible=w.susceptible)
               for arm, w in what_ifs.items()}
    (folder.tmp / "figures").mkdir(exist_ok=True)
    write_figures(cohorts, folder.tmp / "figures",
                  intervals=runner.replicate_intervals_of(document))
