"""``hsctsim trial``: the spread of what a small trial would observe."""

import json

import click

from .._version import __version__
from ..analysis.trials import (
    TrialDesign,
    multistate_statistic_names,
    multistate_trial_statistics,
    parse_statistic,
    plot_trial_counts,
    spread,
    statistic_names,
    tail,
    trial_statistics,
)
from ..api import DEFAULT_SEED, simulate
from .common import UserError, load_arms, user_errors
from .options import SEED, FiniteFloatRange, OutPath
from .output import emit
from .progress import Progress
from .runner import RunFolder, written_whole

__all__ = ["DEFAULT_TRIALS", "format_trials", "trial"]

DEFAULT_TRIALS = 2000


def _observed(items, size=None):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.strip() in out:  # the last one silently won
            raise UserError(f"--observed {item!r}: {key.strip()} is given twice")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise UserError(f"--observed {item!r}: expected NAME=NUMBER, e.g. responses=22")
        number = out[key.strip()]
        # a count a trial of --size patients cannot show would get tail probabilities 0/1
        if key.strip() == "median_os_days":
            if not 0 <= number < float("inf"):
                raise UserError(f"--observed {item!r}: a median survival is a day >= 0")
        elif size is not None and not (0 <= number <= size and number == int(number)):
            raise UserError(f"--observed {item!r}: a count of patients is a whole number "
                            f"from 0 to --size {size}")
    return out


def _day_of(name, cohort=None):
    try:
        return parse_statistic(name, cohort)[1]
    except ValueError:
        return None  # unknown names are refused with the statistics


@click.command()
@click.argument("scenario")
@click.option("--size", type=click.IntRange(1, 100_000), required=True,
              help="Patients per trial.")
@click.option("--trials", type=click.IntRange(1, 1_000_000), default=DEFAULT_TRIALS,
              show_default=True, help="Simulated trials.")
@click.option("--accrual-days", type=FiniteFloatRange(0, 36500), default=0.0,
              show_default=True, help="Patients enter uniformly over this many days.")
@click.option("--analysis-day", type=FiniteFloatRange(0, 36500, min_open=True),
              help="Day of the analysis after the first entry (administrative censoring; "
                   "default: everyone followed to the scenario's horizon).")
@click.option("--observed", "observed_items", multiple=True, metavar="NAME=VALUE",
              help="A reported result to place in the spread, e.g. responses=22 or "
                   "relapse_d100=2 (repeatable).")
@click.option("--seed", type=SEED, default=DEFAULT_SEED, show_default=True)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change one figure first (as for `run`).")
@click.option("--out", "out_dir", type=OutPath(file_okay=False),
              help="Write trial.json (and figures with --plot) here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@click.option("--plot", is_flag=True,
              help="With --out: a histogram per observed statistic, the reported value marked.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def trial(scenario, size, trials, accrual_days, analysis_day, observed_items, seed, settings,
          out_dir, overwrite, plot, fmt):
    """Simulate TRIALS trials of SIZE patients from SCENARIO and show what they observe.

    Counts (engraftment, graft_failure, agvhd, relapse, trm, deaths, responses, ...),
    counts by a day after transplant (relapse_d100) and the Kaplan-Meier median
    survival, each as its spread over the trials; with --observed, where a reported
    result falls (the simulated tail probabilities).  Of a multi-state model
    (kind = "multistate"): the patients entering each state and making each
    transition (death, recovery->relapse), and by a day (death_d365).
    """

    if plot and not out_dir:
        raise UserError("--plot needs --out DIR")
    if analysis_day is not None and analysis_day <= accrual_days:
        raise UserError(f"--analysis-day {analysis_day:g} must come after the end of accrual "
                        f"(--accrual-days {accrual_days:g})")
    if size * trials > 20_000_000:
        raise UserError("--size x --trials is above 20,000,000 patients")
    observed = _observed(observed_items, size)
    (what,) = load_arms([scenario], settings).values()
    loaded = what.scenario
    multistate = getattr(loaded, "kind", None) == "multistate"
    design = TrialDesign(size, trials, accrual_days, analysis_day)
    horizon = loaded.horizon_days if analysis_day is None else analysis_day
    folder = RunFolder(out_dir, overwrite) if out_dir else None
    with written_whole(folder), Progress(size * trials) as progress:
        progress.phase("simulating")  # a line every few seconds, in a log too, as run
        cohort = simulate(loaded, size * trials, seed, horizon_days=horizon,
                          susceptible=what.susceptible)
        progress.advance(size * trials)
        progress.phase("counting")
        # a multi-state model counts entries into its states and its transitions
        names = (multistate_statistic_names(cohort) if multistate else statistic_names(cohort))
        names += [n for n in observed if n not in names]
        for n in observed:  # a count by a day past follow-up would be the count at its end
            day = _day_of(n, cohort if multistate else None)
            if day is not None and day > horizon:
                raise UserError(f"--observed {n}: day {day:g} is after the follow-up "
                                f"({horizon:g} days)")
        try:
            values = (multistate_trial_statistics if multistate else trial_statistics)(
                cohort, design, names, seed)
        except ValueError as exc:
            raise UserError(f"--observed: {exc}") from None
        document = {
            "hsctsim_version": __version__, "scenario": loaded.name, "seed": seed,
            "size": size, "trials": trials, "accrual_days": accrual_days,
            "analysis_day": analysis_day, "horizon_days": horizon,
            "statistics": {n: dict(spread(v), **({"observed": observed[n], **tail(
                v, observed[n])} if n in observed else {})) for n, v in values.items()},
        }
        if what.settings:  # say that these are not the configured arm's trials
            document["what_if"] = what.to_dict()
        if folder is not None:
            folder.write_text("trial.json", json.dumps(document, indent=1) + "\n")
            if plot:
                for name in observed or [n for n in names if n != "median_os_days"][:1]:
                    ax = plot_trial_counts(values[name], name, observed.get(name),
                                           title=f"{loaded.title}: {trials:,} trials of "
                                                 f"{size}")
                    # a transition's "a->b": no ">" in a file name
                    stem = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
                    path = folder.tmp / "figures" / f"trial_{stem}.png"
                    path.parent.mkdir(exist_ok=True)
                    ax.figure.savefig(path, dpi=150, bbox_inches="tight")
                    import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)

                    plt.close(ax.figure)
    emit(document, fmt, format_trials, out_dir=out_dir)


def format_trials(document):
    """The trial document as a plain-text table."""
    d = document
    follow = ("everyone followed to day {:g}".format(d["horizon_days"])
              if d["analysis_day"] is None else
              f"analysis on day {d['analysis_day']:g} after the first entry")
    lines = [f"hsctsim {d['hsctsim_version']}: {d['trials']:,} trials of {d['size']} patients "
             f"from {d['scenario']}, seed {d['seed']}",
             f"accrual over {d['accrual_days']:g} days; {follow}", ""]
    header = ("statistic", "mean", "median", "95% range", "observed", "P(X<=obs)", "P(X>=obs)")
    rows, notes = [], []
    # a tail no simulated trial reached is below 1/trials, not zero
    floor = f"<{1 / d['trials']:.2g}"
    for name, s in d["statistics"].items():
        def fmt(x):
            return "not reached" if x is None else f"{x:.0f}" if x >= 100 else f"{x:g}"
        mean = "-" if s["mean"] is None else f"{s['mean']:.2f}"
        row = [name, mean, fmt(s["median"]), f"{fmt(s['range95'][0])}-{fmt(s['range95'][1])}"]
        if "observed" in s:
            row += [f"{s['observed']:g}"] + [f"{p:.3f}" if p > 0 else floor
                                             for p in (s["p_at_most"], s["p_at_least"])]
            if min(s["p_at_most"], s["p_at_least"]) == 0:
                notes.append(f"{name}: no simulated trial was as extreme as {s['observed']:g} "
                             f"(95% of trials {fmt(s['range95'][0])}-{fmt(s['range95'][1])})"
                             f": its tail is below 1 in {d['trials']:,}, not zero; more "
                             "--trials narrow it")
        else:
            row += ["", "", ""]
        rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [list(header)]) for i in range(len(header))]
    for r in [list(header), ["-" * w for w in widths]] + rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    if notes:
        lines += ["", *notes]
    if d.get("what_if"):
        lines += ["", f"what-if: {d['what_if']['text']}"]
    return "\n".join(lines) + "\n"
