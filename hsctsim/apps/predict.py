"""``hsctsim predict``: outcomes for a patient alive on a given day with a given history."""

import click

from .._version import __version__
from ..analysis.endpoints import Tally
from ..analysis.occupation import MultistateTally
from ..api import DEFAULT_SEED
from ..engine.resume import HistoryError
from ..model.multistate import is_multistate
from ..model.process_table import MARKERS, RELAPSES
from ..model.profiles import ProfileError, with_profile
from ..sim import parse_history, predict as run_prediction
from .common import UserError, load_arms, user_errors
from .limits import check_cohort_memory
from .options import SEED, FiniteFloatRange, check_threads
from .output import emit

__all__ = ["DEFAULT_HORIZONS", "EXAMPLES", "format_prediction", "HSCT_ENDPOINTS", "predict",
           "prediction_summary"]

HSCT_ENDPOINTS = ("relapse", "trm", "os")
DEFAULT_HORIZONS = "100,180,365,730"


def _days(text):
    try:
        days = tuple(float(d) for d in text.split(",") if d.strip())
    except ValueError:
        raise UserError(f"--horizons {text!r}: expected days, e.g. 365,730") from None
    if not days or not all(0 < d < float("inf") for d in days):  # NaN fails too
        raise UserError(f"--horizons {text!r}: expected positive days, e.g. 365,730")
    return days


def prediction_summary(cohort, at_day, horizons):
    """``{"at_day", "history", "endpoints"}``: landmark estimates of a predicted cohort."""
    horizons = tuple(d for d in horizons if at_day < d <= cohort.horizon_days)
    if getattr(cohort.scenario, "kind", None) == "multistate":
        endpoints = MultistateTally(horizons, cohort.horizon_days).add(cohort).summary()
        endpoints = {k: v for k, v in endpoints.items() if k.startswith("occupation:")}
    else:
        summary = Tally(horizons).add(cohort).summary()
        endpoints = {k: summary[k] for k in HSCT_ENDPOINTS}
    return endpoints


def _scheduled(cohort, history, at_day):
    """``[(event, day)]`` the model added to ``history`` by day ``at_day``, in day order.

    Scheduled events fire by themselves on their day (an NK-cell infusion; primary
    graft failure, declared on a fixed day in a patient not engrafted by then): a
    history without them is not the patients predicted for, so they are said.
    """
    names = getattr(cohort, "process_names", None)
    if getattr(cohort.scenario, "kind", None) == "multistate" or not names:
        return []
    given = {name for name, _ in history}
    if "relapse" in given:  # a relapse given after late relapse takes over is the late one
        given |= set(RELAPSES)
    days = cohort.event_day[0]  # the course up to at_day is the same for every patient
    # markers (the day late mortality or late relapse takes over) are not events
    return sorted(((name, float(day)) for name, day in zip(names, days)
                   if day <= at_day and name not in given and name not in MARKERS),
                  key=lambda item: item[1])


def _absent_covariates(scenario, history):
    """Adverse covariate levels (``[covariates.*]``, e.g. ``ecog_2_4``) not in ``history``.

    A covariate's adverse level is an event on day 0: left out of the history it is
    an event that did not happen, so the prediction is for patients without it (the
    best case, not the cohort's mix). Said, so that it is not taken for the mix; not
    for a characteristic every patient of the scenario has (share 1, e.g. the trial's
    era of survival after relapse), whose absent adverse level is the mix itself.
    """
    covariates = (getattr(scenario, "extensions", None) or {}).get("covariates") or {}
    given = {name for name, _ in history}
    return [c.adverse for c in covariates.values()
            if c.adverse not in given and c.share.low < 1.0]


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
    # with the events the model's schedule added (e.g. graft failure when no engraftment)
    history = ", ".join([f"{k} day {v:g}" for k, v in document["history"]] +
                        [f"{k} day {v:g} (scheduled by the model)"
                         for k, v in document.get("scheduled", ())]) or "no events"
    head = (f"hsctsim {document['hsctsim_version']}: {document['scenario']}, "
            f"{document['patients']:,} patients alive on day {document['at_day']:g} after "
            f"{history}; seed {document['seed']}\nestimate (95% CI), from day 0\n")
    if document.get("covariates_absent"):
        absent = document["covariates_absent"]
        head += (f"patients without {', '.join(absent)}: a covariate not in --history is taken "
                 f"as absent, not drawn from the mix (give those present on day 0, e.g. "
                 f"{absent[0]}=0)\n")
    what = document.get("what_if")
    tail = f"\nwhat-if: {what['text']}\n" if what else ""
    return head + "\n" + "\n".join(lines) + "\n" + tail


EXAMPLES = """\b
Examples:
  hsctsim predict ric --at 100 --history engraftment=15,agvhd=30
  hsctsim predict ric --at 180 --history engraftment=15,relapse=150 --format json
  hsctsim predict ebmt4 --at 100 --history recovery=20     # multi-state: states entered
  hsctsim predict ric --at 100 --history engraftment=15 --set effects.cgvhd_on_relapse.hr=0.5
"""


@click.command(epilog=EXAMPLES)
@click.argument("scenario")
@click.option("--at", "at_day", type=FiniteFloatRange(0, 36500), required=True,
              help="Day on which the patient is known to be alive.")
@click.option("--history", default="", metavar="EVENT=DAY,...",
              help="Events before that day, e.g. engraftment=15,agvhd=30 (HSCT), or the "
                   "states entered, e.g. recovery=20 (multi-state).")
@click.option("--horizons", default=DEFAULT_HORIZONS, show_default=True,
              help="Days to report (those after --at and within the horizon).")
@click.option("-n", "--patients", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--seed", type=SEED, default=None, help="Random seed (default: run's).")
@click.option("--horizon", "horizon_days", type=FiniteFloatRange(1, 36500),
              help="Follow-up in days (default: the scenario's).")
@click.option("--threads", type=click.IntRange(1), help="Threads (default: all cores).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change one figure first (as for `run`; the calibration is held).")
@click.option("--covariates", "profile", metavar="COLUMN=VALUE,...",
              help="Multi-state: a covariate profile, e.g. year=1995-1998,agecl=20-40 "
                   "(factor levels as in the data); covariates left out keep their mix "
                   "among the scenario's patients of that profile.")
@user_errors
def predict(scenario, at_day, history, horizons, patients, seed, horizon_days, threads, fmt,
            settings, profile):
    """Outcomes of patients alive on day --at with --history behind them.

    Every process still open on that day is drawn from its law given that it has
    not happened by then. HSCT arms: relapse and TRM incidence and overall survival;
    multi-state scenarios: state occupation.
    """


    check_threads(threads)
    (what,) = load_arms([scenario], settings).values()
    loaded = what.scenario
    if profile is not None:

        if not is_multistate(loaded):
            raise UserError("--covariates: only for multi-state scenarios (HSCT arms take "
                            "covariates as --history events on day 0)")
        try:
            loaded = with_profile(loaded, profile)
        except ProfileError as exc:
            raise UserError(f"--covariates: {exc}") from None
    seed = DEFAULT_SEED if seed is None else seed
    days = _days(horizons)
    horizon = float(horizon_days if horizon_days is not None else loaded.horizon_days)
    if at_day < horizon and not any(at_day < d <= horizon for d in days):  # before simulating
        longer = " (--horizon DAYS follows longer)" if any(d > horizon for d in days) else ""
        raise UserError(f"--horizons {horizons}: no day after --at {at_day:g} within the "
                        f"horizon {horizon:g}{longer}")
    # the predicted cohort is held whole: one column per process (or transition)
    check_cohort_memory(patients, len(getattr(loaded, "transitions", None) or
                                      getattr(loaded, "processes", None) or ()) + 8)
    try:
        events = parse_history(history)
        cohort = run_prediction(loaded, at_day, events, patients, seed, horizon_days, threads,
                                susceptible=what.susceptible)
    except HistoryError as exc:
        raise UserError(f"--history: {exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    endpoints = prediction_summary(cohort, at_day, days)
    dropped = [d for d in days if not at_day < d <= cohort.horizon_days]
    if dropped and horizons != DEFAULT_HORIZONS:  # days the user asked for by name
        click.echo(f"note: --horizons {','.join(f'{d:g}' for d in dropped)} left out: not "
                   f"after --at {at_day:g} and within the horizon {cohort.horizon_days:g} "
                   "(--horizon DAYS follows longer)", err=True)
    if not endpoints or not next(iter(endpoints.values()))["at"]:
        raise UserError(f"--horizons: no day after --at {at_day:g} within the horizon "
                        f"{cohort.horizon_days:g}")
    document = {"hsctsim_version": __version__, "scenario": loaded.name, "seed": seed,
                "patients": patients, "at_day": at_day, "history": events,
                "scheduled": _scheduled(cohort, events, at_day),
                "horizon_days": cohort.horizon_days, "endpoints": endpoints}
    if profile is not None:
        document["covariates"] = profile
    if absent := _absent_covariates(loaded, events):
        document["covariates_absent"] = absent
    if what.settings:  # say that these are not the configured arm's outcomes
        document["what_if"] = what.to_dict()
    emit(document, fmt, format_prediction)
