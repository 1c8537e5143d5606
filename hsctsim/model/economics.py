"""Costs, life years and QALYs of simulated courses, discounted, over a chosen horizon.

A scenario's economic figures live in four TOML tables, every number with its
source (``{ value = ..., source = "..." }``):

- ``[costs]``: ``currency``, ``price_year``; costs per day while a condition lasts
  (``engrafted_per_day``, ``agvhd_per_day``, ``cgvhd_per_day``, ``cmv_per_day``,
  ``relapse_per_day``) and one-off costs on the day of an event (``transplant`` on
  day 0, ``agvhd_onset``, ``cgvhd_onset``, ``cmv_onset``, ``salvage`` at relapse,
  ``nk_infusion``, ``dli_infusion``);
- ``[utilities]``: weights of the states (``early`` while recovering from the
  transplant, ``disease_free`` afterwards, ``relapse`` after relapse) and decrements
  while GVHD is active (``agvhd_decrement``, ``cgvhd_decrement``);
- ``[durations]``: how long a condition lasts once it starts, in days
  (``agvhd_active_days``, ``cgvhd_active_days``, ``cmv_treatment_days``,
  ``relapse_treatment_days``), ``early_recovery_days`` and ``follow_up_from_day``
  (the day the per-day cost of engrafted follow-up starts);
- ``[lifetime]``: ``age_years``, ``male_fraction``, ``excess_mortality`` (pieces
  ``[years since transplant, relative mortality]``) and ``life_table``, for
  horizons beyond the simulated window.

A source that opens with ``assumption`` (no published size) or ``proxy`` (another
product's published figure) marks a figure that is not a published figure of its
own; :func:`comparison_caveats` names those that make arms differ.

The simulator has no background mortality, so a lifetime horizon is made of two
parts: the simulated window, patient by patient, and after it, for those alive at
its end, the expected discounted time left under the life table's mortality times
the excess relative mortality of long-term HSCT survivors (an expectation, not a
draw: it adds no Monte Carlo noise).

All per-patient values are closed forms over the event days: the discounted length
of an interval ``[a, b)`` is ``G(b) - G(a)`` with ``G`` the integral of the discount
factor, so a cohort of 10^6 is a handful of numpy operations per chunk.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import process_table
from .econfigures import (
    DAYS_PER_YEAR,
    MAX_COST,
    UNPUBLISHED_LABELS,
    Economics,
    Figure,
    check_keys,
    fail,
    read_figure,
)
from .mseconomics import multistate_values, parse_multistate_economics
from .prices import inflate
from .schema import ScenarioError

__all__ = ["cohort_values", "comparison_caveats", "DAYS_PER_YEAR", "DECREMENTS", "Discount",
           "DISCOUNT_METHODS", "DURATIONS", "Economics", "economics_of", "economics_tail",
           "Figure", "LIFE_TABLES", "MAX_AGE_YEARS", "MAX_COST", "NEEDED_PROCESSES", "ONE_OFF",
           "ONE_OFF_EVENT", "OPTIONAL_DURATIONS", "parse_economics", "patient_values", "PER_DAY",
           "read_life_table", "SECTIONS", "STATE_WEIGHTS", "Tail", "tail", "UNPUBLISHED_LABELS"]

PER_DAY = ("engrafted", "agvhd", "cgvhd", "cmv", "relapse")
ONE_OFF = ("transplant", "agvhd_onset", "cgvhd_onset", "cmv_onset", "salvage", "nk_infusion",
           "dli_infusion")
# the process whose event day a one-off cost falls on (transplant: day 0)
ONE_OFF_EVENT = {"agvhd_onset": "agvhd", "cgvhd_onset": "cgvhd", "cmv_onset": "cmv",
                 "salvage": "relapse", "nk_infusion": "nk_cells", "dli_infusion": "dli"}
STATE_WEIGHTS = ("early", "disease_free", "relapse")
DECREMENTS = ("agvhd_decrement", "cgvhd_decrement")
DURATIONS = ("agvhd_active_days", "cgvhd_active_days", "cmv_treatment_days",
             "relapse_treatment_days", "early_recovery_days", "follow_up_from_day")
# windows needed only by a per-day cost of their condition
OPTIONAL_DURATIONS = {"cmv": "cmv_treatment_days", "relapse": "relapse_treatment_days"}
LIFE_TABLES = {"us_ssa_2021": "life_table_us_ssa_2021.csv"}
DISCOUNT_METHODS = ("continuous", "annual")
SECTIONS = ("costs", "utilities", "durations", "lifetime")
MAX_AGE_YEARS = 120
# how a source says its figure is not a published figure of its own (its first word)
def comparison_caveats(econs):
    """Figures that make arms differ and are not published figures of their own.

    A figure of an arm is listed when another arm lacks it or has another value
    (so it shapes the comparison, not only the levels) and either its source opens
    with ``assumption`` or ``proxy`` (see :data:`UNPUBLISHED_LABELS`), or it is a
    cost of 0 (what it prices is then not costed).  A figure the arms share is not
    listed: it moves every arm alike.

    Parameters
    ----------
    econs : dict of str to Economics
        The arms, in order.

    Returns
    -------
    list of dict
        ``arm``, ``figure`` (``section.key``), ``value``, ``label`` (or None),
        ``text`` (one line), in arm and figure order.
    """
    out = []
    for arm, econ in econs.items():
        others = [e for a, e in econs.items() if a != arm]
        for section in ("costs", "utilities", "durations"):
            for key, fig in getattr(econ, section).items():
                if all(key in getattr(e, section) and getattr(e, section)[key].value == fig.value
                       for e in others):
                    continue
                zero_cost = section == "costs" and fig.point == 0
                if not (fig.label or zero_cost):
                    continue
                where = f"{section}.{key}"
                text = f"{arm}: {where} = {_shown(fig.value)}"
                if fig.label == "assumption":
                    text += " is an assumption, not a published figure"
                elif fig.label == "proxy":
                    text += " is a proxy (a comparable product's published figure)"
                if zero_cost:
                    text += ": what it prices is not costed"
                out.append({"arm": arm, "figure": where, "value": fig.value,
                            "label": fig.label, "text": text})
    return out


def _shown(value):
    if isinstance(value, tuple):
        return "-".join(_shown(v) for v in value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


# A cost per event or per day above ten billion is a typo; 1e308 made every sum inf and
# the printed costs, increments and ICERs inf and NaN
def _excess_mortality(path, table):
    where = "lifetime.excess_mortality"
    item = table.get("excess_mortality")
    if not isinstance(item, dict) or not str(item.get("source", "")).strip():
        fail(path, where, "missing or without source: { value = [[years, rr], ...], "
              "source = \"...\" }")
    pieces = item.get("value")
    if not isinstance(pieces, list) or not pieces or not all(
            isinstance(p, list) and len(p) == 2 for p in pieces):
        fail(path, f"{where}.value", "must be a list of [years_since_transplant, "
              "relative_mortality] pairs")
    out = []
    for i, (years, rr) in enumerate(pieces):
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (years, rr)):
            fail(path, f"{where}.value[{i}]", "must be numbers")
        if not (0 <= years <= 120 and 0 < rr <= 1000):  # NaN fails too
            fail(path, f"{where}.value[{i}]", "years must be in [0, 120] and relative "
                  "mortality in (0, 1000]")
        if out and years <= out[-1][0]:
            fail(path, f"{where}.value[{i}]", "years must increase")
        out.append((float(years), float(rr)))
    return Figure(tuple(out), item["source"])


def parse_economics(data, path):
    """The economic figures of a (merged) scenario TOML dict, validated.

    Returns None when the scenario has no ``[costs]`` or ``[utilities]`` table.
    Raises :class:`ScenarioError` naming the file, the key and the problem.
    """
    if "costs" not in data and "utilities" not in data:
        return None
    for section in ("costs", "utilities", "durations"):
        if section not in data:
            fail(path, section, "missing: costs and QALYs need [costs], [utilities] and "
                  "[durations]")
    costs_table = data["costs"]
    cost_keys = {f"{c}_per_day" for c in PER_DAY} | set(ONE_OFF)
    check_keys(path, costs_table, "costs", cost_keys | {"currency", "price_year",
                                                         "price_index"})
    currency = costs_table.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        fail(path, "costs.currency", "missing (e.g. \"USD\")")
    price_year = costs_table.get("price_year")
    if isinstance(price_year, bool) or not isinstance(price_year, int) or not (
            1900 <= price_year <= 2200):
        fail(path, "costs.price_year", "must be a year such as 2020")
    costs = {k: f for k in sorted(cost_keys, key=_cost_order)
             if (f := read_figure(path, costs_table, "costs", k, high=MAX_COST,
                              required=False, extra_keys=("price_year",))) is not None}

    costs, inflation, index_source = inflate(path, costs_table, costs, price_year,
                                             currency.strip())
    util_table = data["utilities"]
    check_keys(path, util_table, "utilities", set(STATE_WEIGHTS) | set(DECREMENTS))
    utilities = {k: read_figure(path, util_table, "utilities", k, -1.0, 1.0)
                 for k in STATE_WEIGHTS}
    utilities.update({k: f for k in DECREMENTS
                      if (f := read_figure(path, util_table, "utilities", k, 0.0, 2.0,
                                       required=False)) is not None})
    _check_utility_range(path, utilities)
    dur_table = data["durations"]
    check_keys(path, dur_table, "durations", set(DURATIONS))
    durations = {k: f for k in DURATIONS
                 if (f := read_figure(path, dur_table, "durations", k, 0.0, 36500.0,
                                  required=k not in OPTIONAL_DURATIONS.values())) is not None}
    for name, window in OPTIONAL_DURATIONS.items():
        if f"{name}_per_day" in costs and window not in durations:
            fail(path, f"durations.{window}", f"missing: costs.{name}_per_day needs it")
    lifetime = None
    if "lifetime" in data:
        table = data["lifetime"]
        check_keys(path, table, "lifetime", {"age_years", "male_fraction", "excess_mortality",
                                              "life_table"})
        name = table.get("life_table")
        if not isinstance(name, str) or name not in LIFE_TABLES:  # a list: unhashable
            fail(path, "lifetime.life_table", f"'{name}' is not one of {sorted(LIFE_TABLES)}")
        lifetime = {"age_years": read_figure(path, table, "lifetime", "age_years", 0.0, 110.0,
                                         ranged=False),
                    "male_fraction": read_figure(path, table, "lifetime", "male_fraction", 0.0, 1.0,
                                             ranged=False),
                    "excess_mortality": _excess_mortality(path, table),
                    "life_table": name}
    return Economics(currency.strip(), price_year, costs, utilities, durations, lifetime,
                     inflation, index_source)



def _ends(figure):
    value = figure.value
    return value if isinstance(value, tuple) else (value, value)


def _check_utility_range(path, utilities):
    """Every utility a patient can have (a state's weight less the decrements of the
    GVHD active then, both at once included) must stay within [-1, 1]."""
    worst_state = min(STATE_WEIGHTS, key=lambda k: _ends(utilities[k])[0])
    weight = _ends(utilities[worst_state])[0]
    active = [k for k in DECREMENTS if k in utilities]
    for keys in [[k] for k in active] + ([active] if len(active) > 1 else []):
        lowest = weight - sum(_ends(utilities[k])[1] for k in keys)
        if lowest < -1.0:
            during = " and ".join(k.replace("_decrement", "").replace("agvhd", "acute GVHD")
                                  .replace("cgvhd", "chronic GVHD") for k in keys)
            minus = " - ".join(f"{_ends(utilities[k])[1]:g}" for k in keys)
            fail(path, f"utilities.{keys[-1]}", f"the utility during {during} would be "
                  f"{lowest:g} ({worst_state} {weight:g} - {minus}), below -1: a decrement "
                  "may take a utility down to -1 at most")


def _cost_order(key):
    names = [f"{c}_per_day" for c in PER_DAY] + list(ONE_OFF)
    return names.index(key)


def economics_of(scenario):
    """:class:`Economics` of a loaded Scenario; ScenarioError if it has none."""
    if getattr(scenario, "kind", None) == "multistate":
        econ = parse_multistate_economics(scenario.to_dict(), scenario.path, scenario)
    else:
        econ = parse_economics(scenario.to_dict(), scenario.path)
    if econ is None:
        fail(scenario.path, "costs", "missing: this scenario has no [costs] and [utilities] "
              "(see configs/mac.toml for a sourced example)")
    return econ


# -- discounting -------------------------------------------------------------------


@dataclass(frozen=True)
class Discount:
    """Discounting at ``rate`` per year, continuously or in whole years.

    ``continuous``: factor ``(1 + rate) ** -t`` at ``t`` years (force of interest
    ``ln(1 + rate)``); ``annual``: ``(1 + rate) ** -k`` through year ``k`` (a
    step each anniversary of the transplant, as year-cycle models do).
    """

    rate: float = 0.03
    method: str = "continuous"

    def __post_init__(self):
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"discount rate must be in [0, 1), got {self.rate}")
        if self.method not in DISCOUNT_METHODS:
            raise ValueError(f"discounting must be one of {DISCOUNT_METHODS}")

    @property
    def force_per_day(self):
        return math.log1p(self.rate) / DAYS_PER_YEAR

    def factor(self, day):
        """Discount factor on ``day`` (array or float; inf gives 0)."""
        day = np.asarray(day, float)
        if self.method == "continuous":
            return np.exp(-self.force_per_day * day)
        return (1.0 + self.rate) ** -np.floor(day / DAYS_PER_YEAR)

    def integral(self, day):
        """Discounted days from 0 to ``day``: ``G(day) = integral of factor``."""
        day = np.asarray(day, float)
        if self.rate == 0.0:
            return day.copy()
        if self.method == "continuous":
            delta = self.force_per_day
            return -np.expm1(-delta * day) / delta
        v = 1.0 / (1.0 + self.rate)
        years = day / DAYS_PER_YEAR
        k = np.floor(years)
        with np.errstate(invalid="ignore"):
            whole = (1.0 - v ** k) / (1.0 - v) + np.where(np.isfinite(years), years - k, 0.0) \
                * v ** k
        return DAYS_PER_YEAR * np.where(np.isfinite(years), whole, 1.0 / (1.0 - v))


# -- after the simulated window: life table and excess mortality ------------------------


def read_life_table(name):
    """``(male_qx, female_qx)`` by single year of age 0..119 of a bundled life table."""
    path = Path(__file__).with_name("data") / LIFE_TABLES[name]
    rows = np.loadtxt(path, delimiter=",", comments="#", skiprows=4)
    return rows[:, 1], rows[:, 2]


@dataclass(frozen=True)
class Tail:
    """Expected discounted time alive after the window, for those alive at its end.

    ``weighted(a, b)`` is the survival-weighted, discounted number of days in
    ``[a, b)`` (``a, b >= horizon``) per survivor at the horizon; ``a``, ``b`` may be
    arrays and ``b`` may be ``inf``.  Built on a daily grid up to age 120 (the
    hazard is constant within each year of age and each piece of excess mortality,
    so the grid's midpoint rule is accurate to a fraction of a day).
    """

    horizon_days: float
    grid_days: np.ndarray      # day since transplant of each grid point (starts at horizon)
    cumulative_days: np.ndarray  # survival-weighted discounted days from horizon to grid

    def weighted(self, start_day, stop_day):
        start = np.clip(np.asarray(start_day, float), self.horizon_days, None)
        stop = np.maximum(np.asarray(stop_day, float), start)
        total = self.cumulative_days[-1]
        a = np.interp(start, self.grid_days, self.cumulative_days, right=total)
        b = np.interp(np.minimum(stop, self.grid_days[-1]), self.grid_days, self.cumulative_days)
        return np.maximum(b - a, 0.0)

    @property
    def total_days(self):
        return float(self.cumulative_days[-1])


def tail(horizon_days, discount, age_years, male_fraction, excess_mortality, life_table,
         step_days=1.0):
    """A :class:`Tail` after ``horizon_days`` (see :class:`Economics` ``lifetime``).

    Parameters
    ----------
    horizon_days : float
        End of the simulated window.
    discount : Discount
    age_years : float
        Age at transplant.
    male_fraction : float
        Share of men; the survival curves of men and women are mixed in this
        proportion.
    excess_mortality : sequence of (years since transplant, relative mortality)
        Multiplies the life table's hazard from each piece's start; before the
        first piece, the first piece's value.
    life_table : str or (male_qx, female_qx)
        A bundled life table name or the q_x arrays themselves.
    """
    male_qx, female_qx = read_life_table(life_table) if isinstance(life_table, str) \
        else life_table
    end_day = max(horizon_days, (MAX_AGE_YEARS - age_years) * DAYS_PER_YEAR)
    n = max(int(math.ceil((end_day - horizon_days) / step_days)), 1)
    edges = horizon_days + step_days * np.arange(n + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    age = np.minimum(age_years + mid / DAYS_PER_YEAR, len(male_qx) - 1).astype(int)
    starts = np.array([p[0] for p in excess_mortality]) * DAYS_PER_YEAR
    rrs = np.array([p[1] for p in excess_mortality])
    rr = rrs[np.clip(np.searchsorted(starts, mid, side="right") - 1, 0, None)]
    survival = 0.0
    for share, qx in ((male_fraction, male_qx), (1.0 - male_fraction, female_qx)):
        hazard_per_day = -np.log1p(-np.minimum(qx, 1 - 1e-12))[age] / DAYS_PER_YEAR * rr
        cum = np.concatenate([[0.0], np.cumsum(hazard_per_day * step_days)])
        survival = survival + share * np.exp(-cum)
    # exact within each step for the discount, midpoint for survival
    s_mid = np.sqrt(survival[:-1] * survival[1:])
    disc = np.diff(discount.integral(edges))
    cumulative = np.concatenate([[0.0], np.cumsum(s_mid * disc)])
    return Tail(float(horizon_days), edges, cumulative)


def economics_tail(econ, horizon_days, discount):
    """The :class:`Tail` of an :class:`Economics` with a ``[lifetime]`` table."""
    if econ.lifetime is None:
        raise ScenarioError("", "lifetime", "a lifetime horizon needs a [lifetime] table")
    lt = econ.lifetime
    return tail(horizon_days, discount, lt["age_years"].value, lt["male_fraction"].value,
                lt["excess_mortality"].value, lt["life_table"])


# -- per patient -------------------------------------------------------------------


def patient_values(days, horizon_days, econ, discount, tail_=None):
    """Discounted costs, life years and QALYs of each patient.

    Parameters
    ----------
    days : mapping of process name to float array
        Event days (``inf`` where none), e.g. ``{name: cohort.day(name)}``; needs
        ``engraftment, agvhd, cgvhd, cmv, rejection, relapse, trm,
        death_after_relapse``, and ``nk_cells``, ``dli`` when those cost anything.
    horizon_days : float
        End of the simulated window.
    econ : Economics
    discount : Discount
    tail_ : Tail, optional
        Lifetime extension after the window for those alive at its end; None stops
        at the window.

    Returns
    -------
    dict of float arrays
        ``costs`` (currency units), ``life_years``, ``qalys``.
    """
    g = discount.integral
    death = np.minimum.reduce([days[n] for n in process_table.DEATHS if n in days])
    alive_at_end = ~(death <= horizon_days)
    window_end = np.minimum(death, horizon_days)
    # with a tail, intervals of survivors run on past the window (to their own end)
    open_end = np.where(alive_at_end, np.inf, window_end) if tail_ is not None else window_end

    def span(start, stop):
        """Discounted days in [start, stop) within the window, plus the tail's share."""
        start = np.asarray(start, float)
        stop = np.minimum(np.asarray(stop, float), open_end)
        a = np.minimum(start, window_end)
        b = np.clip(stop, a, window_end)
        inside = g(b) - g(a)
        if tail_ is None:
            return inside
        return inside + np.where(alive_at_end & (stop > horizon_days),
                                 tail_.weighted(np.maximum(start, horizon_days), stop), 0.0)

    d = econ.duration
    gvhd_end = days["rejection"]  # losing the graft ends donor GVHD
    agvhd = (days["agvhd"], np.minimum(days["agvhd"] + d("agvhd_active_days"), gvhd_end))
    cgvhd = (days["cgvhd"], np.minimum(days["cgvhd"] + d("cgvhd_active_days"), gvhd_end))
    periods = {
        "engrafted": (np.maximum(days["engraftment"], d("follow_up_from_day")), np.inf),
        "agvhd": agvhd,
        "cgvhd": cgvhd,
        "cmv": (days["cmv"], days["cmv"] + d("cmv_treatment_days")),
        "relapse": (days["relapse"], days["relapse"] + d("relapse_treatment_days")),
    }
    zero = np.zeros_like(death)
    costs = zero.copy()
    for name in PER_DAY:
        rate = econ.cost(f"{name}_per_day")
        if rate:
            costs += rate * span(*periods[name])
    for name in ONE_OFF:
        amount = econ.cost(name)
        if not amount:
            continue
        if name == "transplant":
            costs += amount
            continue
        day = days[ONE_OFF_EVENT[name]]
        happened = (day <= window_end) & np.isfinite(day)
        costs += np.where(happened, amount * discount.factor(np.where(happened, day, 0.0)), 0.0)
    alive_days = span(zero, np.inf)
    u = econ.utility
    early_end = d("early_recovery_days")
    relapse = days["relapse"]
    qaly_days = (u("early") * span(zero, np.minimum(early_end, relapse))
                 + u("disease_free") * span(np.full_like(death, early_end), relapse)
                 + u("relapse") * span(relapse, np.inf)
                 - u("agvhd_decrement") * span(*agvhd)
                 - u("cgvhd_decrement") * span(*cgvhd))
    return {"costs": costs, "life_years": alive_days / DAYS_PER_YEAR,
            "qalys": qaly_days / DAYS_PER_YEAR}


NEEDED_PROCESSES = process_table.economic()  # the processes declared with economic=True


def cohort_values(cohort, econ, discount, tail_=None):
    """:func:`patient_values` of a :class:`~hsctsim.model.cohort.Cohort` (of a multi-state
    cohort: :func:`~hsctsim.model.mseconomics.multistate_values`)."""
    if hasattr(cohort, "layout"):
        return multistate_values(cohort, econ, discount)
    days = {name: cohort.day(name) for name in NEEDED_PROCESSES}
    # late death, where the scenario has [late_mortality], ends life as the others do
    days.update({n: cohort.day(n) for n in process_table.DEATHS if n in cohort.process_names})
    # a late relapse ([late_relapse]) is the patient's relapse: its costs and utilities
    days["relapse"] = cohort.first_day(process_table.RELAPSES)
    return patient_values(days, cohort.horizon_days, econ, discount, tail_)
