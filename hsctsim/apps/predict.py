"""``hsctsim predict``: outcomes for a patient alive on a given day with a given history."""

import json

import click

from .cli import UserError, _load_arms, user_errors

HSCT_ENDPOINTS = ("relapse", "trm", "os")


def _days(text):
    try:
        days = tuple(float(d) for d in text.split(",") if d.strip())
    except ValueError:
        raise UserError(f"--horizons {text!r}: expected days, e.g. 365,730") from None
    if not days or any(d <= 0 for d in days):
        raise UserError(f"--horizons {text!r}: expected positive days, e.g. 365,730")
    return days


def prediction_summary(cohort, at_day, horizons):
    """``{"at_day", "history", "endpoints"}``: landmark estimates of a predicted cohort."""
    horizons = tuple(d for d in horizons if at_day < d <= cohort.horizon_days)
    if getattr(cohort.scenario, "kind", None) == "multistate":
        from ..analysis.occupation import MultistateTally

        endpoints = MultistateTally(horizons, cohort.horizon_days).add(cohort).summary()
        endpoints = {k: v for k, v in endpoints.items() if k.startswith("occupation:")}
    else:
        from ..analysis.endpoints import Tally

        summary = Tally(horizons).add(cohort).summary()
        endpoints = {k: summary[k] for k in HSCT_ENDPOINTS}
    return endpoints


def format_prediction(document):
    """Plain text: one row per endpoint, one column per horizon day."""
    endpoints = document["endpoints"]
    days = list(next(iter(endpoints.values()))["at"]) if endpoints else []
    rows = [["endpoint", *days]]
    for name, ep in endpoints.items():
        cells = []
        for day in days:
            v = ep["at"][day]
            cells.append("-" if v["estimate"] is None else
                         f"{100 * v['estimate']:.1f}% ({100 * v['ci95'][0]:.1f}-"
                         f"{100 * v['ci95'][1]:.1f})")
        rows.append([f"{name.split(':')[-1]} ({ep['kind']})", *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    history = ", ".join(f"{k} day {v:g}" for k, v in document["history"]) or "no events"
    head = (f"hsctsim {document['hsctsim_version']}: {document['scenario']}, "
            f"{document['patients']:,} patients alive on day {document['at_day']:g} after "
            f"{history}; seed {document['seed']}\nestimate (95% CI), from day 0\n")
    return head + "\n" + "\n".join(lines) + "\n"


@click.command()
@click.argument("scenario")
@click.option("--at", "at_day", type=click.FloatRange(0, 36500), required=True,
              help="Day on which the patient is known to be alive.")
@click.option("--history", default="", metavar="EVENT=DAY,...",
              help="Events before that day, e.g. engraftment=15,agvhd=30 (HSCT), or the "
                   "states entered, e.g. recovery=20 (multi-state).")
@click.option("--horizons", default="100,180,365,730", show_default=True,
              help="Days to report (those after --at and within the horizon).")
@click.option("-n", "--patients", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed (default: run's).")
@click.option("--horizon", "horizon_days", type=click.FloatRange(1, 36500),
              help="Follow-up in days (default: the scenario's).")
@click.option("--threads", type=click.IntRange(1), help="Threads (default: all cores).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change one figure first (as for `run`; the calibration is held).")
@user_errors
def predict(scenario, at_day, history, horizons, patients, seed, horizon_days, threads, fmt,
            settings):
    """Outcomes of patients alive on day --at with --history behind them.

    Every process still open on that day is drawn from its law given that it has
    not happened by then. HSCT arms: relapse and TRM incidence and overall survival;
    multi-state scenarios: state occupation.
    """
    from .. import __version__
    from ..api import DEFAULT_SEED
    from ..engine.resume import HistoryError
    from ..model.predict import parse_history, predict as run_prediction

    (what,) = _load_arms([scenario], settings).values()
    loaded = what.scenario
    seed = DEFAULT_SEED if seed is None else seed
    days = _days(horizons)
    try:
        events = parse_history(history)
        cohort = run_prediction(loaded, at_day, events, patients, seed, horizon_days, threads,
                                susceptible=what.susceptible)
    except HistoryError as exc:
        raise UserError(f"--history: {exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    endpoints = prediction_summary(cohort, at_day, days)
    if not endpoints or not next(iter(endpoints.values()))["at"]:
        raise UserError(f"--horizons: no day after --at {at_day:g} within the horizon "
                        f"{cohort.horizon_days:g}")
    document = {"hsctsim_version": __version__, "scenario": loaded.name, "seed": seed,
                "patients": patients, "at_day": at_day, "history": events,
                "horizon_days": cohort.horizon_days, "endpoints": endpoints}
    if fmt == "json":
        click.echo(json.dumps(document, indent=1))
    else:
        click.echo(format_prediction(document), nl=False)
