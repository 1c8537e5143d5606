"""The page's work, apart from HTTP: an arm's controls, what a request asks for, the
simulation it runs, and what it shows and gives to download.

Every function here takes and returns plain data (dicts, strings, bytes), so that the
request handlers of :mod:`hsctsim.apps.app.server` are thin and the whole of the
page's logic is tested without a browser or a socket.
"""

import csv
import functools
import io
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..._version import __version__
from ...analysis.endpoints import ENDPOINTS, LANDMARK_DAYS, Tally, competing_day, endpoint_day
from ...analysis.estimators import aalen_johansen, kaplan_meier
from ...analysis.trials import TrialDesign, spread, trial_statistics
from ...analysis.validation import load_figures
from ...api import DEFAULT_SEED, MAX_SEED, simulate
from ...model.economics import economics_of
from ...model.scenario import ScenarioError, bundled_names, load_scenario, set_value
from ...model.tomlwrite import dumps
from ...model.whatif import what_if

__all__ = ["BadInput", "MAX_ARMS", "MAX_PATIENTS", "MIN_PATIENTS", "PANELS", "PATIENT_CHOICES",
           "Request", "Result", "arm_catalogue", "arm_names", "compute", "controls",
           "cea_csv", "cea_figure_bytes", "cea_rows", "cea_view", "costed_arms",
           "endpoint_label", "figure_bytes", "page_data", "parse_request", "pilot_figure_bytes",
           "scenario_toml", "table_csv"]

# the five outcomes the page draws, as the trials report them (aGVHD and cGVHD both)
PANELS = (("relapse", "Relapse"), ("trm", "Non-relapse mortality (TRM)"),
          ("agvhd", "Acute GVHD grade II-IV"), ("cgvhd", "Chronic GVHD"),
          ("os", "Overall survival"), ("grfs", "GVHD-free, relapse-free survival (GRFS)"))
# published figures of these endpoints are set beside the simulated ones
PUBLISHED_ENDPOINTS = ("relapse", "trm", "agvhd", "cgvhd", "os", "rfs", "grfs", "agvhd_3_4",
                       "cgvhd_mod_sev")
# acute GVHD happens in the first months: a two-year axis would squash it to the left
EARLY_AXIS_DAYS = {"agvhd": 180.0}
GRID_POINTS = 300
MIN_PATIENTS, MAX_PATIENTS = 1_000, 1_000_000
PATIENT_CHOICES = (10_000, 100_000, 1_000_000)
DEFAULT_PATIENTS = 100_000
MAX_ARMS = 5
# the small-trial view: what a pilot of this many patients would see, over many pilots
DEFAULT_PILOT, MIN_PILOT, MAX_PILOT = 20, 2, 200
MAX_PILOTS = 2_000  # trials of the pilot's size cut from the cohort (at most)
PILOT_COUNTS = (("agvhd", "acute GVHD grade II-IV"), ("agvhd_3_4", "acute GVHD grade III-IV"),
                ("cgvhd", "chronic GVHD"), ("relapse", "relapse"),
                ("trm", "non-relapse death"), ("deaths", "deaths"),
                ("relapse_or_death", "relapse or death"))
# Okabe-Ito: told apart by readers with colour-vision deficiency
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


class BadInput(Exception):
    """Input the page must refuse: ``errors`` maps a control's id to its message."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Request:
    """What the page asks for, checked.

    Attributes
    ----------
    arms : tuple of str
        Bundled arm names, side by side.
    what_if : dict of str to tuple
        ``{arm: ((key, value), ...)}``: the figures moved away from their midpoints.
    patients, seed : int
    recalibrate : bool
        Solve every incidence again (as ``run --recalibrate``) instead of holding the
        arm's calibration (as ``run --set``).
    pilot : int
        Patients of the small trial whose spread the pilot view shows.
    """

    arms: tuple
    what_if: dict
    patients: int = DEFAULT_PATIENTS
    seed: int = DEFAULT_SEED
    recalibrate: bool = False
    pilot: int = DEFAULT_PILOT

    @property
    def pilots(self):
        """How many pilots of ``pilot`` patients the cohort is cut into."""
        return min(MAX_PILOTS, self.patients // self.pilot)

    def settings(self, arm):
        """``KEY=VALUE`` texts of an arm's what-if, as ``--set`` takes them."""
        # repr: the shortest text that reads back as the same float (the page ran it)
        return [f"{key}={value!r}" for key, value in self.what_if.get(arm, ())]

    def trial_cli(self, arm, horizon_days):
        """The ``hsctsim trial`` command of this arm's pilot view (the same counts), or
        None where it has none: ``trial`` holds the calibration and follows the arm to
        its own horizon."""
        sets = "".join(f" --set {s}" for s in self.settings(arm))
        if (sets and self.recalibrate) or _scenario(arm).horizon_days != horizon_days:
            return None
        return (f"hsctsim trial {arm}{sets} --size {self.pilot} --trials {self.pilots} "
                f"--seed {self.seed}")

    def cli(self, arm):
        """The command line that repeats this arm's columns."""
        sets = "".join(f" --set {s}" for s in self.settings(arm))
        return (f"hsctsim run {arm}{sets}" + (" --recalibrate" if self.recalibrate and sets
                                               else "")
                + f" -n {self.patients} --seed {self.seed}")


@dataclass
class Column:
    """One simulated cohort as the page shows it: an arm, or an arm's what-if."""

    arm: str
    label: str
    what_if: bool
    curves: dict = field(default_factory=dict)  # endpoint: (grid, y, low, high)
    at: dict = field(default_factory=dict)  # endpoint: {day: (estimate, low, high)}
    pilot: dict = field(default_factory=dict)  # count: spread over the pilots


@dataclass
class Result:
    """Everything one request produced (a few kB: no patient-level arrays)."""

    request: Request
    columns: list
    published: list  # rows: dict(arm, endpoint, day, estimate, low, high, use, source)
    horizon_days: float
    notes: list
    seconds: float = 0.0


# ----------------------------------------------------------------- the arms


def _is_page_arm(scenario):
    # the page draws the allogeneic outcomes; solid-tumour arms (tumour response) and
    # multi-state models have other endpoints: the CLI runs them
    return (getattr(scenario, "kind", None) != "multistate"
            and "tumour" not in scenario.extensions)


@functools.cache
def arm_names():
    """The bundled arms the page offers (allogeneic and autologous, in the CLI's order)."""
    return tuple(n for n in bundled_names("all") if _is_page_arm(load_scenario(n)))


@functools.cache
def _scenario(arm):
    return load_scenario(arm)


def _source(raw, key):
    """The source written beside ``key`` in a scenario's TOML (``KEY_source`` or the
    table's ``source``), or ''."""
    *tables, last = key.split(".")
    node, found = raw, ""
    for part in tables:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        found = node.get("source", found)
    else:
        found = node.get(f"{last}_source", node.get("source", found))
    return found or ""


# the short names of the TOML keys as a reader of the page says them
WORDS = {"agvhd": "acute GVHD", "agvhd_3_4": "grade III-IV acute GVHD", "cgvhd": "chronic GVHD",
         "trm": "TRM", "cmv": "CMV", "gvhd": "GVHD", "mixed": "mixed chimerism",
         "graft_loss": "graft loss", "nk_cells": "NK cells", "dli": "DLI", "msc": "MSCs"}


def _words(name):
    return WORDS.get(name, name.replace("_", " "))


def endpoint_label(name):
    """An endpoint as the page names it: ``non-relapse (transplant-related) death``."""
    text = ENDPOINTS.get(name, ("", _words(name)))[1]
    return text.split(" (competing")[0].split("; competing")[0].split(" (NIH")[0]


def _label(scenario, key):
    parts = key.split(".")
    if parts[-1] == "incidence" and parts[0] in scenario.processes:
        what = endpoint_label(parts[0])
        return f"{what}: incidence by day {scenario.processes[parts[0]].landmark_day:g}"
    if parts[0] == "effects":
        cause, _, effect = parts[1].partition("_on_")
        return f"hazard ratio of {_words(cause)} on {_words(effect)}"
    if key == "agvhd.share_3_4":
        return "share of acute GVHD that is grade III-IV"
    if key == "cgvhd.share_moderate_severe":
        return "share of chronic GVHD that is moderate or severe"
    if parts[-1].endswith("_hr"):
        return f"{_words(parts[0])}: hazard ratio on {_words(parts[-1][:-3])}"
    return ": ".join(_words(p) for p in parts)


@functools.cache
def controls(arm):
    """The sliders of an arm: every figure reported as a range.

    Returns
    -------
    tuple of dict
        ``key`` (as ``--set`` takes it), ``label``, ``low``, ``high``, ``mid`` (the
        value the arm is calibrated at), ``source``, ``kind`` (``share`` for a
        proportion, ``ratio`` for a hazard ratio).
    """
    scenario = _scenario(arm)
    out = []
    for key, r in scenario.ranges():
        if not r.high > r.low:
            continue  # a point: nothing to move
        out.append({"key": key, "label": _label(scenario, key), "low": r.low, "high": r.high,
                    "mid": r.mid, "source": _source(scenario.raw, key),
                    "kind": "share" if key.endswith(("incidence", "share_3_4",
                                                     "share_moderate_severe")) else "ratio"})
    return tuple(out)


def arm_catalogue():
    """What the page needs to lay out its controls: every arm with its sliders."""
    return {"arms": [{"name": n, "title": _scenario(n).title,
                      "population": _scenario(n).population, "controls": list(controls(n))}
                     for n in arm_names()],
            "defaults": {"arms": [n for n in ("mac", "ric") if n in arm_names()],
                         "patients": DEFAULT_PATIENTS, "seed": DEFAULT_SEED,
                         "pilot": DEFAULT_PILOT},
            "patient_choices": list(PATIENT_CHOICES),
            "limits": {"patients": [MIN_PATIENTS, MAX_PATIENTS], "seed": [0, MAX_SEED],
                       "pilot": [MIN_PILOT, MAX_PILOT],
                       "arms": MAX_ARMS},
            "version": __version__}


# ----------------------------------------------------------------- the request


def _number(text):
    if isinstance(text, bool):
        raise ValueError
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


def _whole(value, name, low, high, errors):
    # int() first: a seed near 2^63 would lose its last digits as a float
    try:
        number = value if isinstance(value, int) and not isinstance(value, bool) else int(
            str(value).strip())
    except ValueError:
        try:
            number = _number(value)
        except (TypeError, ValueError):
            errors[name] = f"{value!r} is not a number"
            return None
    if number != int(number) or not low <= number <= high:
        errors[name] = f"{value} is not a whole number from {low:,} to {high:,}"
        return None
    return int(number)


def parse_request(data):
    """Check what the page sent; raise :class:`BadInput` naming each bad control.

    Parameters
    ----------
    data : dict
        ``{"arms": [...], "what_if": {arm: {key: value}}, "patients": n, "seed": s,
        "recalibrate": bool}``; values may be numbers or the text typed.

    Returns
    -------
    Request
    """
    if not isinstance(data, dict):
        raise BadInput({"form": "the request is not a JSON object"})
    errors = {}
    arms = data.get("arms", [])
    if not isinstance(arms, list) or not all(isinstance(a, str) for a in arms):
        raise BadInput({"arms": "arms must be a list of arm names"})
    unknown = [a for a in arms if a not in arm_names()]
    if unknown:
        errors["arms"] = (f"no arm {', '.join(map(repr, unknown))} (arms: "
                          f"{', '.join(arm_names())})")
    elif not arms:
        errors["arms"] = "pick at least one arm"
    elif len(arms) > MAX_ARMS:
        errors["arms"] = f"at most {MAX_ARMS} arms side by side"
    elif len(set(arms)) < len(arms):
        errors["arms"] = "an arm is picked twice"
    patients = _whole(data.get("patients", DEFAULT_PATIENTS), "patients", MIN_PATIENTS,
                      MAX_PATIENTS, errors)
    seed = _whole(data.get("seed", DEFAULT_SEED), "seed", 0, MAX_SEED, errors)
    pilot = _whole(data.get("pilot", DEFAULT_PILOT), "pilot", MIN_PILOT, MAX_PILOT, errors)
    if pilot is not None and patients is not None and patients // pilot < 10:
        errors["pilot"] = (f"{pilot} patients a pilot leave fewer than 10 pilots in "
                           f"{patients:,} patients; more patients per arm, or a smaller pilot")
    recalibrate = data.get("recalibrate", False)
    if not isinstance(recalibrate, bool):
        errors["recalibrate"] = "recalibrate is true or false"
    what = data.get("what_if", {}) or {}
    if not isinstance(what, dict):
        errors["form"] = "what_if must map arms to {figure: value}"
        what = {}
    moved = {}
    for arm, values in what.items():
        if arm not in arms or not values:
            continue  # the sliders of an arm no longer shown
        if not isinstance(values, dict):
            errors[f"{arm}:"] = "expected {figure: value}"
            continue
        known = {c["key"]: c for c in controls(arm)} if arm in arm_names() else {}
        pairs = []
        for key, text in values.items():
            name = f"{arm}:{key}"
            control = known.get(key)
            if control is None:
                errors[name] = f"{arm} has no ranged figure {key}"
                continue
            try:
                value = _number(text)
            except (TypeError, ValueError):
                errors[name] = f"{text!r} is not a number"
                continue
            low, high = control["low"], control["high"]
            slack = 1e-9 * (high - low)
            if not low - slack <= value <= high + slack:
                errors[name] = (f"{value:g} is outside the reported range {low:g} to "
                                f"{high:g}; the page moves a figure only within what its "
                                "source reports")
                continue
            pairs.append((key, min(max(value, low), high)))  # the slack: not outside
        if pairs:
            moved[arm] = tuple(pairs)
    if errors:
        raise BadInput(errors)
    return Request(tuple(arms), moved, patients, seed, recalibrate, pilot)


# ----------------------------------------------------------------- the simulation


def _changed(request, arm):
    """The arm with its what-if applied, and the WhatIf; or BadInput naming the slider."""
    base = _scenario(arm)
    changed = base
    for key, value in request.what_if.get(arm, ()):
        try:
            changed = set_value(changed, key, repr(float(value)), label=f"{arm}: {key}")
        except ScenarioError as exc:
            raise BadInput({f"{arm}:{key}": exc.problem}) from None
    try:
        return what_if(base, changed, request.recalibrate)
    except ScenarioError as exc:
        # the calibration could not reach the incidences asked for together
        moved = [k for k, _ in request.what_if.get(arm, ())]
        target = exc.key if exc.key in moved else (moved[0] if moved else None)
        raise BadInput({f"{arm}:{target}" if target else "form":
                        f"the calibration cannot reach this combination: {exc.problem}"}
                       ) from None


def _curves(cohort, grids):
    out = {}
    for endpoint, _ in PANELS:
        grid = grids[endpoint]
        day = endpoint_day(cohort, endpoint)
        horizon = cohort.horizon_days
        if ENDPOINTS[endpoint][0] == "survival":
            curve = kaplan_meier(np.minimum(day, horizon), day <= horizon)
        else:
            competing = competing_day(cohort, endpoint)
            t = np.minimum.reduce([day, competing, np.full_like(day, horizon)])
            cause = np.where(day <= np.minimum(competing, horizon), 1,
                             np.where(competing <= horizon, 2, 0))
            curve = aalen_johansen(t, cause, causes=(1, 2))[1]
        low, high = curve.ci(grid)
        out[endpoint] = (grid, curve.at(grid), low, high)
    return out


def _published(arm, scenario, horizon):
    """The arm's published figures of the page's endpoints: its calibration targets
    (each reported incidence at its landmark day) and the figures of validation.toml."""
    rows = []
    for name, spec in scenario.processes.items():
        if (name in PUBLISHED_ENDPOINTS and spec.incidence is not None
                and spec.incidence.high > 0 and spec.landmark_day <= horizon):
            r = spec.incidence
            rows.append({"arm": arm, "endpoint": name, "day": spec.landmark_day,
                         "estimate": r.mid, "low": r.low, "high": r.high,
                         "use": "calibration target", "source": spec.source})
    for fig in _figures():
        if (fig.arm == arm and fig.endpoint in PUBLISHED_ENDPOINTS and fig.among is None
                and fig.check and fig.landmark_day <= horizon):
            low, high = fig.interval or (None, None)
            rows.append({"arm": arm, "endpoint": fig.endpoint, "day": fig.landmark_day,
                         "estimate": fig.estimate, "low": low, "high": high,
                         "use": f"{fig.use} figure ({fig.measure})", "source": fig.citation})
    return rows


@functools.cache
def _figures():
    return tuple(load_figures())


def compute(request):
    """Simulate every arm of a request (and each what-if beside its arm).

    The what-if holds the arm's calibration (``--set``) unless ``recalibrate``; the
    what-if cohort has the baseline's seed, so the two differ by the change and not
    by chance (common random numbers).

    Returns
    -------
    Result

    Raises
    ------
    BadInput
        A slider combination the calibration cannot reach.
    """
    start = time.perf_counter()
    horizon = max(_scenario(a).horizon_days for a in request.arms)
    grids = {e: np.linspace(0.0, min(horizon, EARLY_AXIS_DAYS.get(e, horizon)), GRID_POINTS)
             for e, _ in PANELS}
    published = [row for arm in request.arms
                 for row in _published(arm, _scenario(arm), horizon)]
    days = sorted({*(d for d in LANDMARK_DAYS if d <= horizon),
                   *(row["day"] for row in published)})
    columns, notes = [], []
    for arm in request.arms:
        runs = [(arm, False, _scenario(arm), None)]
        if request.what_if.get(arm):
            w = _changed(request, arm)
            runs.append((f"{arm} what-if", True, w.scenario, w.susceptible))
            notes.append(f"{arm} what-if: {w.describe().replace('--set ', '')}")
            notes += [f"{arm} what-if: {line}" for line in w.warnings]
        for label, is_what_if, scenario, susceptible in runs:
            cohort = simulate(scenario, request.patients, request.seed, horizon_days=horizon,
                              susceptible=susceptible)
            tally = Tally(tuple(days)).add(cohort)
            at = {}
            for endpoint in {*(e for e, _ in PANELS), *PUBLISHED_ENDPOINTS}:
                est, low, high = tally.estimates(endpoint)
                at[endpoint] = {d: (float(e), float(lo), float(hi))
                                for d, e, lo, hi in zip(days, est, low, high)}
            design = TrialDesign(request.pilot, request.pilots)
            counts = trial_statistics(cohort, design, [n for n, _ in PILOT_COUNTS],
                                      request.seed)
            pilot = {n: spread(v) for n, v in counts.items()}
            columns.append(Column(arm, label, is_what_if, _curves(cohort, grids), at, pilot))
    return Result(request, columns, published, horizon, notes,
                  time.perf_counter() - start)


# ----------------------------------------------------------------- what it shows


def _pct(x):
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _cell(value):
    est, low, high = value
    if not math.isfinite(est):
        return "-"
    return f"{100 * est:.1f}% ({100 * low:.1f}-{100 * high:.1f})"


def _baseline(result, column):
    return next(c for c in result.columns if c.arm == column.arm and not c.what_if)


def page_data(result):
    """The JSON the page draws its tables from (the figure comes separately)."""
    days = [d for d in LANDMARK_DAYS if d <= result.horizon_days]
    rows = []
    for endpoint, title in PANELS:
        for day in days:
            cells = []
            for c in result.columns:
                text = _cell(c.at[endpoint][day])
                if c.what_if:  # paired with its arm: the difference is the change's
                    diff = c.at[endpoint][day][0] - _baseline(result, c).at[endpoint][day][0]
                    text += f" [{round(100 * diff, 1) + 0.0:+.1f}]"  # + 0.0: no "-0.0"
                cells.append(text)
            rows.append({"endpoint": title, "day": day, "cells": cells})
    published = []
    for row in result.published:
        cols = [c for c in result.columns if c.arm == row["arm"]]
        reported = _pct(row["estimate"]) + (
            f" ({_pct(row['low'])}-{_pct(row['high'])})" if row["low"] is not None
            and row["low"] != row["high"] else "")
        published.append({
            "arm": row["arm"], "key": row["endpoint"],
            "endpoint": endpoint_label(row["endpoint"]),
            "day": row["day"], "published": reported, "use": row["use"],
            "source": row["source"],
            "simulated": [{"label": c.label, "text": _cell(c.at[row["endpoint"]][row["day"]])}
                          for c in cols]})
    request = result.request

    def count(value):
        return "-" if value is None else f"{value:g}"

    pilot = {"size": request.pilot, "pilots": request.pilots, "rows": [
        {"label": label, "cells": [f"{count(c.pilot[n]['median'])} "
                                   f"({count(c.pilot[n]['range95'][0])}-"
                                   f"{count(c.pilot[n]['range95'][1])})"
                                   for c in result.columns]}
        for n, label in PILOT_COUNTS]}
    return {"columns": [c.label for c in result.columns], "rows": rows, "pilot": pilot,
            "published": published, "notes": result.notes,
            "commands": {a: result.request.cli(a) for a in result.request.arms},
            "trial_commands": {a: command for a in result.request.arms
                               if (command := result.request.trial_cli(
                                   a, result.horizon_days))},
            "seconds": round(result.seconds, 3), "patients": result.request.patients,
            "seed": result.request.seed}


def figure_bytes(result, fmt="svg"):
    """The six panels as ``svg`` or ``png`` bytes: each arm a colour, its what-if
    dashed; the band the 95% CI of the simulated cohort; black bars the published
    range (a calibration target or a published figure) at its day."""
    # matplotlib's object API, no pyplot: pyplot keeps global state across threads
    from matplotlib import rc_context  # figures only: the page's start needs none
    from matplotlib.figure import Figure  # (as above)
    from matplotlib.lines import Line2D  # (as above)
    from matplotlib.ticker import PercentFormatter  # (as above)

    with rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(12, 6.8))
        # fixed margins: the constrained layout took half of the figure's time (the
        # page redraws it after every change), and the panels' labels do not vary
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.09, top=0.9, wspace=0.2,
                            hspace=0.33)
        axes = fig.subplots(2, 3).ravel()
        colours = {arm: COLOURS[i % len(COLOURS)] for i, arm in enumerate(result.request.arms)}
        for ax, (endpoint, title) in zip(axes, PANELS):
            for c in result.columns:
                grid, y, low, high = c.curves[endpoint]
                ax.plot(grid, y, drawstyle="steps-post", lw=1.8, color=colours[c.arm],
                        ls="--" if c.what_if else "-")
                ax.fill_between(grid, low, high, step="post", color=colours[c.arm],
                                alpha=0.15, lw=0)
            right = c.curves[endpoint][0][-1]
            for row in result.published:
                if row["endpoint"] == endpoint and row["day"] <= right:
                    # arms' markers at the same day side by side, not on top of each other
                    shift = (result.request.arms.index(row["arm"])
                             - (len(result.request.arms) - 1) / 2) * right * 0.012
                    low = row["low"] if row["low"] is not None else row["estimate"]
                    high = row["high"] if row["high"] is not None else row["estimate"]
                    ax.errorbar([row["day"] + shift], [row["estimate"]],
                                yerr=[[row["estimate"] - low], [high - row["estimate"]]],
                                fmt="D", ms=4, color="black", mfc=colours[row["arm"]],
                                capsize=3, lw=1.2, zorder=5)
            ax.set_title(title, fontsize=10)
            ax.set_xlim(0, right * 1.025)
            ax.set_ylim(0, 1.0 if ENDPOINTS[endpoint][0] == "survival" else None)
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
            ax.set_xlabel("days after transplant")
            ax.grid(alpha=0.3)
        handles = [Line2D([], [], color=colours[c.arm], ls="--" if c.what_if else "-", lw=1.8)
                   for c in result.columns]
        labels = [c.label for c in result.columns]
        handles.append(Line2D([], [], color="black", marker="D", ls="", ms=4))
        labels.append("published (range)")
        fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6),
                   frameon=False)
        fig.text(0.005, 0.005, f"hsctsim {__version__}; {result.request.patients:,} patients "
                 f"per cohort; seed {result.request.seed}; bands: 95% CI (Monte Carlo)",
                 fontsize=7, color="0.35", va="bottom")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None)
    return buffer.getvalue()


def pilot_figure_bytes(result, fmt="svg"):
    """The pilot view as ``svg`` or ``png`` bytes: for each count, each cohort's median
    number of patients (dot) and the central 95% of the pilots (line)."""
    # matplotlib's object API, no pyplot (see figure_bytes)
    from matplotlib import rc_context  # figures only: the page's start needs none
    from matplotlib.figure import Figure  # (as above)
    from matplotlib.lines import Line2D  # (as above)
    from matplotlib.ticker import MaxNLocator  # (as above)

    request = result.request
    with rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(9, 0.5 + 0.42 * len(PILOT_COUNTS) * max(1, len(result.columns)
                                                                        / 2.5)),
                     layout="constrained")
        ax = fig.subplots()
        colours = {arm: COLOURS[i % len(COLOURS)] for i, arm in enumerate(request.arms)}
        n = len(result.columns)
        for row, (name, _) in enumerate(PILOT_COUNTS):
            for i, c in enumerate(result.columns):
                value = c.pilot[name]
                if value["median"] is None:
                    continue
                y = row + (i - (n - 1) / 2) * min(0.8 / n, 0.2)
                low, high = value["range95"]
                ax.plot([low, high], [y, y], color=colours[c.arm], lw=2.2,
                        ls="--" if c.what_if else "-")
                ax.plot([value["median"]], [y], "o", color=colours[c.arm],
                        mfc="white" if c.what_if else colours[c.arm], ms=5)
        ax.set_yticks(range(len(PILOT_COUNTS)), [label for _, label in PILOT_COUNTS])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of patients
        ax.invert_yaxis()
        ax.set_xlim(-0.5, request.pilot + 0.5)
        ax.set_xlabel(f"patients of {request.pilot} (everyone followed to day "
                      f"{result.horizon_days:g})")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(f"What a pilot of {request.pilot} patients would see: median and "
                     f"95% of {request.pilots:,} simulated pilots", fontsize=10)
        handles = [Line2D([], [], color=colours[c.arm], ls="--" if c.what_if else "-",
                          marker="o", mfc="white" if c.what_if else colours[c.arm], lw=2)
                   for c in result.columns]
        fig.legend(handles, [c.label for c in result.columns], loc="outside right upper",
                   frameon=False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None)
    return buffer.getvalue()


def table_csv(result):
    """The landmark table and the published figures as one long CSV (one row per
    cohort, endpoint and day)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "arm", "cohort", "what_if", "endpoint", "day", "estimate",
                     "ci95_low", "ci95_high", "published_estimate", "published_low",
                     "published_high", "published_use", "published_source", "pilot_size",
                     "pilots"])
    days = [d for d in LANDMARK_DAYS if d <= result.horizon_days]

    def num(x):
        return "" if x is None or not math.isfinite(x) else f"{x:.6f}"

    for c in result.columns:
        settings = " ".join(result.request.settings(c.arm)) if c.what_if else ""
        for endpoint, _ in PANELS:
            for day in days:
                est, low, high = c.at[endpoint][day]
                writer.writerow(["landmark", c.arm, c.label, settings, endpoint, day, num(est),
                                 num(low), num(high), "", "", "", "", "", "", ""])
        for row in result.published:
            if row["arm"] != c.arm:
                continue
            est, low, high = c.at[row["endpoint"]][row["day"]]
            writer.writerow(["published", c.arm, c.label, settings, row["endpoint"],
                             f"{row['day']:g}", num(est), num(low), num(high),
                             num(row["estimate"]), num(row["low"]), num(row["high"]),
                             row["use"], row["source"], "", ""])
        # the pilot view: the median count of patients and the central 95% of the pilots
        for name, _ in PILOT_COUNTS:
            value = c.pilot[name]
            writer.writerow(["pilot", c.arm, c.label, settings, name,
                             f"{result.horizon_days:g}", num(value["median"]),
                             num(value["range95"][0]), num(value["range95"][1]), "", "", "",
                             "", "", result.request.pilot, result.request.pilots])
    return out.getvalue()


def scenario_toml(request, arm):
    """The arm as the page ran it, one self-contained TOML file that ``hsctsim run``,
    ``show`` and ``check`` accept (bases merged in, the what-if's figures written in).

    Returns
    -------
    str
    """
    if arm not in request.arms:
        raise BadInput({"arm": f"{arm!r} is not on the page (arms: "
                                f"{', '.join(request.arms)})"})
    scenario = _changed(request, arm).scenario if request.what_if.get(arm) else _scenario(arm)
    data = {k: v for k, v in scenario.to_dict().items() if k != "base"}
    data = {"name": scenario.name, **{k: v for k, v in data.items() if k != "name"}}
    data["horizon_days"] = max(_scenario(a).horizon_days for a in request.arms)
    settings = request.settings(arm)
    lines = [f"Scenario '{arm}' as shown by `hsctsim app` (hsctsim {__version__}); base "
             "scenarios merged in" + (", the page's what-if written in:" if settings else ".")]
    lines += [f"  {s}" for s in settings]
    if not settings:
        lines.append(f"Repeat the page's {arm} column: hsctsim run THIS_FILE.toml "
                     f"-n {request.patients} --seed {request.seed}")
    elif request.recalibrate:
        lines.append("The page recalibrated every incidence, as this file is when run:")
        lines.append(f"  hsctsim run THIS_FILE.toml -n {request.patients} --seed {request.seed}")
    else:
        lines.append(f"The page held {arm}'s calibration (its baseline hazards); this file is")
        lines.append("calibrated afresh when run (as --recalibrate would be). The page's "
                     "what-if column exactly:")
        lines.append(f"  {request.cli(arm)}")
    return dumps(data, "\n".join(lines))


# ----------------------------------------------------------------- cost-effectiveness


@functools.cache
def _has_costs(arm):
    try:
        economics_of(_scenario(arm))
    except ScenarioError:
        return False
    return True


def costed_arms(arms=None):
    """The arms (of ``arms``, default all the page offers) with costs and utilities."""
    return tuple(a for a in (arms or arm_names()) if _has_costs(a))


def cea_view(request):
    """The cost-effectiveness of the request's arms that have costs, as ``hsctsim cea``
    computes it: each arm's costs, life years and QALYs; every other costed arm against
    the first, and each costed arm's what-if against the arm (held as the page holds
    it), paired on the same patients.

    Returns
    -------
    dict
        ``available`` False (with ``message``) when no arm on the page has costs;
        otherwise ``currency``, ``price_year``, ``wtp``, ``arms`` (rows),
        ``comparisons`` (rows), ``caveats`` and ``commands``.
    """
    # hsctsim cea's driver: only when the page's cost-effectiveness view is opened
    from ..cea import run_cea  # (its decision tools are heavy to import)

    costed = costed_arms(request.arms)
    if not costed:
        return {"available": False,
                "message": "none of the arms on the page has costs and utilities; "
                           f"{', '.join(costed_arms())} have"}
    horizon = max(_scenario(a).horizon_days for a in request.arms)
    runs = []
    if len(costed) > 1:
        runs.append(({a: _scenario(a) for a in costed}, {}))
    for arm in costed:
        if request.what_if.get(arm):
            w = _changed(request, arm)
            runs.append(({arm: _scenario(arm), f"{arm} what-if": w.scenario},
                         {f"{arm} what-if": w.susceptible}))
    if not runs:  # one costed arm, no what-if: its own figures
        runs.append(({costed[0]: _scenario(costed[0])}, {}))
    arms, comparisons, caveats, document = {}, [], [], None
    for scenarios, susceptible in runs:
        document = run_cea(scenarios, request.patients, request.seed, horizon_days=horizon,
                           susceptible=susceptible)
        for name, values in document["arms"].items():
            arms.setdefault(name, values)
        for name, inc in document["increments"].items():
            comparisons.append({"label": f"{name} vs {inc['versus']}", "arm": name, **inc})
        caveats += [c["text"] for c in document.get("caveats", ()) if c["text"] not in caveats]
    commands = []
    if len(costed) > 1 or not any(request.what_if.get(a) for a in costed):
        commands.append(f"hsctsim cea {' '.join(costed)} -n {request.patients} "
                        f"--seed {request.seed}")
    return {"available": True, "currency": document["currency"],
            "price_year": document["price_year"], "wtp": document["wtp"],
            "horizon_days": horizon, "discount": document["discount"], "arms": arms,
            "comparisons": comparisons, "caveats": caveats, "commands": commands,
            "order": list(request.arms)}


def _money(x):
    return f"{x:,.0f}"


def cea_rows(view):
    """The view's two tables as text cells: the cohorts, and the comparisons."""
    def interval(v, digits=None):
        f = _money if digits is None else (lambda x: f"{x:.{digits}f}")
        return f"{f(v['mean'])} ({f(v['ci95'][0])} to {f(v['ci95'][1])})"

    arms = [{"cohort": name, "costs": interval(v["costs"]),
             "life_years": interval(v["life_years"], 3), "qalys": interval(v["qalys"], 3)}
            for name, v in view["arms"].items()]
    comparisons = []
    for c in view["comparisons"]:
        icer = c["icer"] if isinstance(c["icer"], str) else f"{_money(c['icer'])} per QALY"
        comparisons.append({"comparison": c["label"], "costs": interval(c["costs"]),
                            "qalys": interval(c["qalys"], 3), "icer": icer,
                            "nmb": {w: interval(v) for w, v in c["nmb"].items()}})
    return arms, comparisons


def cea_figure_bytes(view, fmt="svg"):
    """The cost-effectiveness plane as ``svg`` or ``png`` bytes: each comparison's
    incremental QALYs and costs with their 95% CIs, and a line for each willingness to
    pay; or, with nothing to compare, each arm's QALYs and costs."""
    # matplotlib's object API, no pyplot (see figure_bytes)
    from matplotlib import rc_context  # figures only: the page's start needs none
    from matplotlib.figure import Figure  # (as above)

    with rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        points = view["comparisons"] or [
            {"label": name, "arm": name, "qalys": v["qalys"], "costs": v["costs"]}
            for name, v in view["arms"].items()]
        for c in points:
            q, k = c["qalys"], c["costs"]
            # the arm's colour, as in the curves; its what-if hollow
            arm, _, what = c["arm"].partition(" ")
            colour = COLOURS[view["order"].index(arm) % len(COLOURS)]
            ax.errorbar([q["mean"]], [k["mean"]],
                        xerr=[[q["mean"] - q["ci95"][0]], [q["ci95"][1] - q["mean"]]],
                        yerr=[[k["mean"] - k["ci95"][0]], [k["ci95"][1] - k["mean"]]],
                        fmt="o", ms=6, capsize=3, color=colour,
                        mfc="white" if what else colour, label=c["label"])
        if view["comparisons"]:
            ax.axhline(0, color="0.4", lw=0.8)
            ax.axvline(0, color="0.4", lw=0.8)
            span = max(abs(x) for x in ax.get_xlim())
            bottom, top = ax.get_ylim()
            ax.set_xlim(-span, span)
            for w in view["wtp"]:  # ICER = w: above it, not cost-effective at w
                ax.plot([-span, span], [-span * w, span * w], color="0.6", lw=0.8, ls=":")
                if bottom <= span * w <= top:
                    ax.annotate(f"{_money(w)}/QALY", (span, span * w), fontsize=7,
                                color="0.4", ha="right", va="bottom")
            ax.set_ylim(min(bottom, 0), max(top, 0))
            ax.set_xlabel("incremental QALYs")
            ax.set_ylabel(f"incremental costs ({view['currency']} {view['price_year']})")
            ax.set_title("Cost-effectiveness plane (95% CIs of the simulated cohorts)",
                         fontsize=10)
        else:
            ax.set_xlabel("QALYs")
            ax.set_ylabel(f"costs ({view['currency']} {view['price_year']})")
            ax.set_title("Costs and QALYs (95% CIs of the simulated cohort)", fontsize=10)
        ax.yaxis.set_major_formatter(lambda y, _: _money(y))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None)
    return buffer.getvalue()


def cea_csv(view):
    """The cost-effectiveness view as CSV: one row per cohort and per comparison."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "name", "versus", "measure", "mean", "ci95_low", "ci95_high",
                     "currency", "price_year"])
    for name, v in view.get("arms", {}).items():
        for m in ("costs", "life_years", "qalys"):
            writer.writerow(["cohort", name, "", m, v[m]["mean"], *v[m]["ci95"],
                             view["currency"], view["price_year"]])
    for c in view.get("comparisons", ()):
        for m in ("costs", "life_years", "qalys"):
            writer.writerow(["increment", c["arm"], c["versus"], m, c[m]["mean"],
                             *c[m]["ci95"], view["currency"], view["price_year"]])
        for w, v in c["nmb"].items():
            writer.writerow(["increment", c["arm"], c["versus"], f"nmb_at_{w}", v["mean"],
                             *v["ci95"], view["currency"], view["price_year"]])
        if not isinstance(c["icer"], str):
            writer.writerow(["increment", c["arm"], c["versus"], "icer", c["icer"], "", "",
                             view["currency"], view["price_year"]])
    return out.getvalue()
