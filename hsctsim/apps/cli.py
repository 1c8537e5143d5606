"""The ``hsctsim`` command line: thin click commands over the Python API."""

import functools
import json
import math
import sys

import click

from .. import __version__
from ..api import DEFAULT_SEED, MAX_SEED, scenario_point
from ..model.calibrate import calibrate
from ..model.economics import parse_economics
from ..model.scenario import (BUNDLED_ORDER, ScenarioError, bundled_names, load_scenario,
                              set_value, shadowed_note)

from .limits import MAX_REPLICATES
from .options import SEED, OutPath


class UserError(click.ClickException):
    """A problem the user can fix: one line on stderr, exit status 2."""

    exit_code = 2


def user_errors(func):
    """Turn the errors a user can cause into :class:`UserError`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ScenarioError as exc:
            raise UserError(str(exc)) from None
        except BrokenPipeError:
            raise  # the reader went away (`| head`): not the user's mistake
        except (FileExistsError, FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            # a failed write (a full disk) names no file: name the --out being written
            where = exc.filename or (kwargs.get("out_dir") or kwargs.get("out_path")
                                      or kwargs.get("run_dir") or "")
            raise UserError(f"{where}: {exc.strerror or exc}" if where else
                            f"{exc.strerror or exc}") from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hsctsim")
def cli():
    """Simulate outcomes after hematopoietic stem-cell transplantation.

    Scenarios are TOML files; the bundled ones are listed by `hsctsim scenarios`.
    """


def complete_scenarios(ctx, param, incomplete):
    """Shell completion of a scenario argument: bundled names, then TOML paths."""
    from click.shell_completion import CompletionItem

    names = [CompletionItem(n) for n in bundled_names() if n.startswith(incomplete)]
    return names + [CompletionItem(incomplete, type="file")]


def _parse_settings(settings):
    """``(arm or None, key, value, text)`` of each ``--set [ARM:]KEY=VALUE``."""
    out = []
    for item in settings:
        key, sep, value = item.partition("=")
        arm, colon, dotted = key.partition(":")
        if not colon:
            arm, dotted = None, key
        if not sep or not dotted.strip() or (colon and not arm.strip()):
            raise UserError(f"--set {item!r}: expected KEY=VALUE or ARM:KEY=VALUE, "
                            "e.g. agvhd.incidence=0.45 or mst:relapse.incidence=0.5")
        out.append((arm.strip() if colon else None, dotted.strip(), value.strip(), item))
    return out


def _resolve_backend(backend):
    """``--backend`` as it will run (``auto`` decided), or one line saying why it cannot."""
    if backend == "cpu":
        return backend
    from ..api import BackendError, resolve_backend

    try:
        return resolve_backend(backend)
    except BackendError as exc:
        raise UserError(f"--backend {backend}: {exc}") from None


def _load_arms(names, settings=(), recalibrate=False, backend="cpu"):
    """Every arm as ``run``, ``show`` and ``check`` see it: loaded, changed, validated.

    A plain ``--set`` changes every arm (with a warning where the arm's design
    excludes what it changes); ``--set ARM:KEY=VALUE`` one arm, named as given or
    by its scenario name.  Returns ``{arm: WhatIf}``; a held what-if is calibrated on
    ``backend`` (``cuda``: an arm too big for the GPU kernel is refused).
    """
    from ..analysis.endpoints import LANDMARK_DAYS
    from ..model.hints import did_you_mean
    from ..model.whatif import excluded_by_design, what_if

    parsed = _parse_settings(settings)
    bases = {}
    for name in names:
        if note := shadowed_note(name):
            click.echo(f"note: {note}", err=True)
        scenario = load_scenario(name)
        if scenario.name in bases:
            raise UserError(f"{name}: arm '{scenario.name}' given twice")
        if scenario.horizon_days < LANDMARK_DAYS[0]:
            raise ScenarioError(scenario.path, "horizon_days",
                                f"{scenario.horizon_days:g} is shorter than the first "
                                f"landmark day ({LANDMARK_DAYS[0]}): nothing to report")
        if backend == "cuda":
            from ..api import BackendError, check_fits_device

            try:
                check_fits_device(scenario)
            except BackendError as exc:
                raise UserError(f"--backend cuda: {exc}") from None
        bases[scenario.name] = (name, scenario)
    for target, _, _, item in parsed:
        if target is not None and not any(target in (arm, given)
                                          for arm, (given, _) in bases.items()):
            raise UserError(f"--set {item}: no arm '{target}' here (arms: "
                            f"{', '.join(bases)}){did_you_mean(target, bases)}")
    arms = {}
    for arm, (given, base) in bases.items():
        changed = base
        for target, key, value, item in parsed:
            if target is not None and target not in (arm, given):
                continue
            if target is None and (why := excluded_by_design(base, key)):
                click.echo(f"warning: --set {item} changes {arm}, which {why}" +
                           ("; use ARM:KEY=VALUE to change one arm" if len(bases) > 1
                            else ""), err=True)
            label = f"--set {item}" + (f" (arm {arm})" if len(bases) > 1 else "")
            changed = set_value(changed, key, value, label=label)
        arms[arm] = what_if(base, changed, recalibrate, backend=backend)
        for line in arms[arm].warnings:
            click.echo(f"warning: {arm}: {line}", err=True)
    return arms


RUN_EXAMPLES = """\b
Examples:
  hsctsim run                                   # all bundled arms, 100,000 patients each
  hsctsim run mac ric --compare                 # + paired differences against mac
  hsctsim run ric -n 1000000 --seed 7 --out ric-1m --events --plot
  hsctsim run ric-1m/scenarios/ric.toml --seed 7  # repeat a run from its folder
  hsctsim run ric --set agvhd.incidence=0.45 --replicates 20
  hsctsim run mac ric --horizon 1461 --days 548,1461  # + 18 months and 4 years
"""


@cli.command(epilog=RUN_EXAMPLES)
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
@click.option("--days", "days_text", metavar="DAY,DAY,...",
              help="Landmark days to report besides the standard ones, e.g. 548,1461 "
                   "(18 months, 4 years; within the horizon).")
@user_errors
def run(scenarios, patients, seed, horizon_days, threads, replicates, out_dir, overwrite,
        events, events_layout, plot, fmt, settings, recalibrate, compare, events_format,
        backend, days_text):
    """Simulate SCENARIOS (bundled names or TOML paths; default: the allogeneic arms)."""
    from .limits import check_run_size
    from .progress import Progress
    from .output import emit
    from .runner import (RunFolder, format_table, run_arms, summary_document, summary_rows,
                         write_summary, written_whole)

    if (events or plot) and not out_dir:
        raise UserError("--events and --plot need --out DIR")
    if not events and (events_format != "csv" or events_layout != "hsctsim"):
        # otherwise the option would be accepted and do nothing
        raise UserError("--events-format and --events-layout need --events (and --out DIR)")
    if compare and len(scenarios) == 1:
        raise UserError("--compare needs two arms or more (the first is the reference)")
    if threads is not None:
        import numba

        if threads > numba.config.NUMBA_NUM_THREADS:
            raise UserError(f"--threads {threads}: at most {numba.config.NUMBA_NUM_THREADS} "
                            "on this machine")
    backend = _resolve_backend(backend)
    # the default set is the allogeneic arms; solid tumours and autologous arms are listed
    # by `hsctsim scenarios` and run by name
    names = scenarios or tuple(n for n in bundled_names() if n in BUNDLED_ORDER)
    if not names:
        raise UserError("no scenario given and no bundled scenarios found")
    from ..analysis.endpoints import LANDMARK_DAYS
    from ..model.whatif import HELD

    if horizon_days is not None and not math.isfinite(horizon_days):
        raise UserError(f"--horizon {horizon_days}: not a number of days")
    if horizon_days is not None and horizon_days < LANDMARK_DAYS[0]:
        raise UserError(f"--horizon {horizon_days:g}: shorter than the first landmark day "
                        f"({LANDMARK_DAYS[0]}), so there would be nothing to report")
    what_ifs = _load_arms(names, settings, recalibrate, backend)
    if replicates and any(w.mode == HELD for w in what_ifs.values()):
        raise UserError("--replicates with --set: each replicate solves its draw from the "
                        "reported ranges again, which a held what-if does not; add "
                        "--recalibrate, or leave out --replicates")
    loaded = {arm: w.scenario for arm, w in what_ifs.items()}
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
        from .msrunner import run_command

        return run_command(loaded, patients, seed, horizon, threads, replicates, out_dir,
                           overwrite, events, events_layout, plot, fmt, compare,
                           what_ifs=what_ifs, backend=backend, extra_days=extra_days)
    if events_layout == "mstate":
        raise UserError("--events-layout mstate: only for multi-state scenarios "
                        "(kind = \"multistate\")")
    folder = RunFolder(out_dir, overwrite, events_format) if out_dir else None
    with written_whole(folder), Progress(total) as progress:
        arms, comparisons = run_arms(
            loaded, patients, seed, horizon, threads, replicates, compare,
            on_chunk=progress.advance, on_phase=progress.phase,
            on_events=folder.append_events if events else None,
            susceptible={arm: w.susceptible for arm, w in what_ifs.items()},
            backend=backend, extra_days=extra_days)
        for arm, w in what_ifs.items():
            arms[arm]["what_if"] = w.to_dict()
        document = summary_document(arms, seed, patients, horizon, replicates,
                                    comparisons, backend=backend)
        if folder is not None:
            progress.phase("writing results")
            write_summary(folder, document, loaded)
            if plot:
                progress.phase("drawing figures")
                _write_plots(folder, what_ifs, patients, seed, horizon)
    emit(document, fmt, format_table, summary_rows,
         [f"what-if {arm}: {w.describe()}" for arm, w in what_ifs.items() if w.settings],
         out_dir)


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


def _write_plots(folder, what_ifs, patients, seed, horizon):
    from ..api import simulate
    from ..analysis.plotting import write_figures

    # curves need no more than 10^5 patients; the same seed gives the run's first ones
    cohorts = {arm: simulate(w.scenario, min(patients, 100_000), seed, horizon_days=horizon,
                             susceptible=w.susceptible)
               for arm, w in what_ifs.items()}
    (folder.tmp / "figures").mkdir(exist_ok=True)
    write_figures(cohorts, folder.tmp / "figures")


def _sources(table):
    """Every ``*source`` value of a TOML table, at any depth."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _sources(value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:  # [[transitions]] of a multi-state scenario
                yield from _sources(item)
        elif key.endswith("source") and value:
            yield value


@cli.command(epilog="\b\nExamples:\n  hsctsim scenarios\n  hsctsim scenarios --format json")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def scenarios(fmt):
    """List the bundled scenarios with their populations and sources."""
    rows = []
    for name in bundled_names("all"):
        s = load_scenario(name)
        sources = sorted(set(_sources(s.to_dict())))
        rows.append({"name": name, "title": s.title, "population": s.population,
                     "base": s.raw.get("base"), "sources": sources})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        base = f" (based on {row['base']})" if row["base"] else ""
        click.echo(f"{row['name']}{base}: {row['title']}\n  population: {row['population']}\n"
                   "  sources:\n" + "".join(f"    - {s}\n" for s in row["sources"]))


@cli.command(epilog="\b\nExamples:\n  hsctsim show haplo_nk\n"
                    "  hsctsim show my_arm.toml --format json\n"
                    "  hsctsim show ric --set agvhd.incidence=0.45")
@click.argument("scenario", shell_complete=complete_scenarios)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--set", "settings", multiple=True, metavar="[ARM:]KEY=VALUE",
              help="Change one figure first (as for `run`).")
@click.option("--recalibrate", is_flag=True,
              help="With --set: solve every incidence again (as for `run`).")
@user_errors
def show(scenario, fmt, settings, recalibrate):
    """Show SCENARIO's resolved parameters, after base scenarios and calibration."""
    (what,) = _load_arms([scenario], settings, recalibrate).values()
    loaded = what.scenario
    if getattr(loaded, "kind", None) == "multistate":
        from .msrunner import show_multistate

        if recalibrate:
            raise UserError("--recalibrate: a multi-state scenario's hazards are given, "
                            "nothing is calibrated; a --set changes them as written")
        if what.settings and fmt != "json":
            click.echo(f"what-if: {what.describe()}")
        return click.echo(show_multistate(loaded, fmt), nl=False)
    point = scenario_point(loaded)
    susceptible = what.susceptible or calibrate(point)
    if fmt == "json":
        click.echo(json.dumps({"resolved_toml": loaded.to_dict(),
                               "midpoints": {k: r.mid for k, r in loaded.ranges()},
                               "calibrated_susceptible": susceptible,
                               "what_if": what.to_dict()}, indent=1))
        return
    click.echo(f"{loaded.name}: {loaded.title}\npopulation: {loaded.population}\n"
               f"file: {loaded.path}\nhorizon: {loaded.horizon_days:g} days; "
               f"chimerism: {loaded.chimerism}\n" +
               (f"what-if: {what.describe()}\n" if what.settings else "") + "\nprocesses:")
    for name, spec in loaded.processes.items():
        if spec.incidence is not None:
            r = spec.incidence
            given = (f"incidence {r.low:g}" if r.low == r.high
                     else f"incidence [{r.low:g}, {r.high:g}] -> {r.mid:g}")
            given += f" by day {spec.landmark_day:g}"
        else:
            given = f"cure fraction {spec.cure_fraction:g}"
        pi = susceptible.get(name)
        solved = f"; calibrated cure fraction {1 - pi:.4f}" if pi is not None else ""
        click.echo(f"  {name}: {given}{solved}\n    timing: {spec.timing.describe()}\n"
                   f"    source: {spec.source}")
        if spec.timing_source:
            click.echo(f"    timing source: {spec.timing_source}")
    click.echo(f"  agvhd grade III-IV share: {point.share_3_4.mid:g}  "
               f"({loaded.share_3_4_source})\n\neffects (hazard ratios):")
    for name, effect in loaded.effects.items():
        r = effect.hr
        value = f"{r.low:g}" if r.low == r.high else f"[{r.low:g}, {r.high:g}] -> {r.mid:g}"
        click.echo(f"  {name}: {value}\n    source: {effect.source}")
    for name in ("nk_cells", "dli"):
        iv = getattr(loaded, name)
        if iv is None:
            continue
        click.echo(f"\nintervention {name}:")
        for field, value in vars(iv).items():
            if field == "source":
                continue
            if hasattr(value, "mid"):
                value = (f"{value.low:g}" if value.low == value.high
                         else f"[{value.low:g}, {value.high:g}] -> {value.mid:g}")
            click.echo(f"  {field}: {value}")
        click.echo(f"  source: {iv.source}")
    if loaded.extensions:  # solid tumour, covariates, recovery after graft failure, MSCs
        from ..model.extensions import describe

        click.echo("\n".join(describe(loaded, susceptible)))


@cli.command(epilog="\b\nExamples:\n  hsctsim check my_arm.toml\n"
                    "  hsctsim check configs/*.toml --calibrate")
@click.argument("files", nargs=-1, required=True, shell_complete=complete_scenarios)
@click.option("--calibrate", "do_calibrate", is_flag=True,
              help="Also check that the incidences can be reached together (slower).")
def check(files, do_calibrate):
    """Validate scenario FILES without running them; exit 0 if all are valid, else 2."""
    failed = False
    for name in files:
        try:
            (what,) = _load_arms([name]).values()  # exactly what `run` loads and checks
            multistate = getattr(what.scenario, "kind", None) == "multistate"
            if not multistate:
                parse_economics(what.scenario.to_dict(), what.scenario.path)  # [costs], ...
            if do_calibrate and not multistate:
                calibrate(scenario_point(what.scenario))
        except ScenarioError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            failed = True
        else:
            click.echo(f"ok: {name}")
    if failed:
        sys.exit(2)


@cli.command(epilog="\b\nExamples:\n  hsctsim plot mac-vs-ric\n"
                    "  hsctsim plot mac-vs-ric --format svg --format pdf")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", multiple=True, type=click.Choice(["png", "svg", "pdf"]),
              default=("png",), show_default=True, help="Figure formats (repeatable).")
@click.option("-n", "--patients", type=click.IntRange(1), default=None,
              help="Patients per arm for the curves (default: the run's, at most 100,000).")
@user_errors
def plot(run_dir, formats, patients):
    """Draw the figures of a run folder written by `hsctsim run --out`.

    The cohorts are simulated again from the scenarios and seed the run recorded,
    which gives the same patients.
    """
    from pathlib import Path

    from ..api import simulate
    from ..analysis.plotting import write_figures
    from .limits import check_plot_size

    folder = Path(run_dir)
    document, scenarios = _read_run(folder)
    n = patients or min(document["patients"], 100_000)
    check_plot_size(n, len(scenarios))
    cohorts = {}
    for arm, scenario in scenarios.items():
        path = folder / "scenarios" / f"{arm}.json"
        cohorts[arm] = simulate(scenario, n, document["seed"],
                                horizon_days=document["horizon_days"],
                                susceptible=_held_susceptible(document["arms"][arm], path))
    if any(getattr(c.scenario, "kind", None) == "multistate" for c in cohorts.values()):
        from .msrunner import write_figures  # noqa: F811 (multi-state runs have their own)
    written = write_figures(cohorts, folder / "figures", formats=formats)
    click.echo(f"{len(written)} figures written to {folder / 'figures'}")


def _read_run(folder):
    """summary.json and the arms' scenarios of a run folder; one line if tampered."""
    import re

    from ..model.scenario import MAX_HORIZON_DAYS, parse

    path = folder / "summary.json"
    try:
        document = json.loads(path.read_text())
        problem = None
        if not isinstance(document, dict):
            problem = "not a JSON object"
        elif not isinstance(document.get("arms"), dict) or not document["arms"]:
            problem = "'arms' missing or empty"
        elif not all(isinstance(a, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", a)
                     for a in document["arms"]):
            problem = "an arm name that is not a plain name"
        elif type(document.get("seed")) is not int or not 0 <= document["seed"] <= MAX_SEED:
            problem = "'seed' missing or not an integer from 0 to 2^63-1"
        elif type(document.get("patients")) is not int or document["patients"] < 1:
            problem = "'patients' missing or not a positive integer"
        elif (type(document.get("horizon_days")) not in (int, float)
              or not 0 < document["horizon_days"] <= MAX_HORIZON_DAYS):
            problem = f"'horizon_days' missing or not in (0, {MAX_HORIZON_DAYS}]"
    except (OSError, ValueError, RecursionError) as exc:
        problem = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if problem:
        raise UserError(f"{path}: {problem}; is this a folder written by `hsctsim run --out`?")
    scenarios = {}
    for arm in document["arms"]:
        path = folder / "scenarios" / f"{arm}.json"
        try:
            resolved = json.loads(path.read_text())["resolved_toml"]
            scenarios[arm] = parse(resolved, path)
        except ScenarioError:
            raise
        except (OSError, ValueError, LookupError, TypeError, AttributeError,
                RecursionError) as exc:
            reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
            raise UserError(f"{path}: cannot be read ({reason})") from None
    return document, scenarios


def _held_susceptible(arm_entry, path):
    """The fractions a held what-if ran with (recorded beside it), or None to calibrate."""
    from ..model.calibrate import valid_entry

    if not (isinstance(arm_entry, dict) and isinstance(arm_entry.get("what_if"), dict)
            and arm_entry["what_if"].get("calibration") == "held"):
        return None
    try:
        susceptible = json.loads(path.read_text()).get("calibrated_susceptible")
    except (OSError, ValueError, AttributeError):
        susceptible = None
    if not (isinstance(susceptible, dict)
            and valid_entry({"n_patients": 1, "susceptible": susceptible}, susceptible)):
        raise UserError(f"{path}: calibrated_susceptible: missing or not fractions in [0, 1]")
    return susceptible


# Commands with a module of their own register here, one line each
# (``cli.add_command(module.command)``); such modules import nothing heavy at the top.
from .fit import fit as _fit_command  # noqa: E402
from .predict import predict as _predict  # noqa: E402
from .cea import cea as _cea  # noqa: E402  (costs and QALYs)
from .sweep import sweep as _sweep  # noqa: E402  (parameter sweeps, PSA)
from .trial import trial as _trial  # noqa: E402  (small trials)
from .validate import validate as _validate  # noqa: E402  (published survival figures)

cli.add_command(_fit_command)
cli.add_command(_predict)
cli.add_command(_cea)
cli.add_command(_sweep)
cli.add_command(_trial)
cli.add_command(_validate)


def main():
    """Entry point of the ``hsctsim`` console script (see :mod:`hsctsim.apps.entry`)."""
    from .entry import main as entry_main

    entry_main()
