"""Costs and QALYs of plain multi-state models (``kind = "multistate"``).

A multi-state scenario prices its states and transitions directly, every number
with its source::

    [costs]
    currency = "USD"
    price_year = 2020
    at_start = { value = 300000, source = "..." }          # day 0, every patient
    per_day = { relapse = { value = 400, source = "..." } }   # while in a state
    on_entry = { "recovery->relapse" = { value = 150000, source = "..." } }  # one-off

    [utilities]
    states = { transplant = { value = 0.4, source = "..." }, ... }  # every living state
    dead = ["death"]                                     # states where life has ended

A state's per-day cost and utility weight run from the day a patient enters it to
the day they leave it (or the horizon); a transition's cost falls on its day.  Life
years count the time in states not listed as ``dead``; a dead state needs no
utility (it is 0).  Costs may carry ``price_year`` with ``[costs] price_index`` as
for the HSCT arms, and ranges ``[low, high]`` are drawn by ``cea --replicates``.
The values are closed forms over each patient's path (discounted time in a visit
``G(exit) - G(entry)``), as for the HSCT arms.
"""

from dataclasses import dataclass

import numpy as np

from .econfigures import DAYS_PER_YEAR, MAX_COST, Economics, check_keys, fail, read_figure
from .prices import inflate

__all__ = ["COST_KEYS", "multistate_values", "MultistateEconomics", "parse_multistate_economics",
           "UTILITY_KEYS"]

COST_KEYS = {"currency", "price_year", "price_index", "at_start", "per_day", "on_entry"}
UTILITY_KEYS = {"states", "dead"}


@dataclass(frozen=True)
class MultistateEconomics(Economics):
    """:class:`Economics` of a multi-state scenario.

    ``costs`` keys: ``at_start``, ``per_day.<state>``, ``on_entry.<from>-><to>``;
    ``utilities`` keys: the states; ``durations`` is empty; ``dead``: the states
    in which the patient is dead.
    """

    dead: tuple = ()


def parse_multistate_economics(data, path, scenario):
    """The ``[costs]`` and ``[utilities]`` of a multi-state scenario, validated.

    Returns None when the scenario has neither table.  Raises
    :class:`~hsctsim.model.scenario.ScenarioError` naming the file, key and problem.
    """
    if "costs" not in data and "utilities" not in data:
        return None
    for section in ("costs", "utilities"):
        if section not in data:
            fail(path, section, "missing: costs and QALYs of a multi-state model need "
                  "[costs] and [utilities]")
    table = data["costs"]
    check_keys(path, table, "costs", COST_KEYS)
    currency = table.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        fail(path, "costs.currency", "missing (e.g. \"USD\")")
    price_year = table.get("price_year")
    if isinstance(price_year, bool) or not isinstance(price_year, int) or not (
            1900 <= price_year <= 2200):
        fail(path, "costs.price_year", "must be a year such as 2020")
    states = set(scenario.states)
    labels = {f"{t.from_state}->{t.to_state}" for t in scenario.transitions}
    costs, raw = {}, {}
    if "at_start" in table:
        costs["at_start"] = read_figure(path, table, "costs", "at_start", high=MAX_COST,
                                    extra_keys=("price_year",))
        raw["at_start"] = table["at_start"]
    for group, allowed, what in (("per_day", states, "state"),
                                 ("on_entry", labels, "transition")):
        sub = table.get(group, {})
        check_keys(path, sub, f"costs.{group}", allowed)
        for key in sub:
            costs[f"{group}.{key}"] = read_figure(path, sub, f"costs.{group}", key, high=MAX_COST,
                                              extra_keys=("price_year",))
            raw[f"{group}.{key}"] = sub[key]
    if "price_index" in table:
        raw["price_index"] = table["price_index"]
    costs, inflation, index_source = inflate(path, raw, costs, price_year, currency.strip())
    utable = data["utilities"]
    check_keys(path, utable, "utilities", UTILITY_KEYS)
    dead = utable.get("dead", [])
    if not isinstance(dead, list) or not all(isinstance(d, str) for d in dead):
        fail(path, "utilities.dead", "must be a list of state names, e.g. [\"death\"]")
    for d in dead:
        if d not in states:
            fail(path, "utilities.dead", f"'{d}' is not a state of this model (states: "
                  f"{', '.join(scenario.states)})")
    weights = utable.get("states", {})
    check_keys(path, weights, "utilities.states", states - set(dead))
    utilities = {}
    for state in scenario.states:
        if state in dead:
            continue
        if state not in weights:
            fail(path, f"utilities.states.{state}", "missing: every living state needs a "
                  "utility weight (list the states where life has ended in utilities.dead)")
        utilities[state] = read_figure(path, weights, "utilities.states", state, -1.0, 1.0)
    return MultistateEconomics(currency.strip(), price_year, costs, utilities, {}, None,
                               inflation, index_source, dead=tuple(dead))


def multistate_values(cohort, econ, discount):
    """Discounted costs, life years and QALYs of each patient of a multi-state cohort.

    Parameters
    ----------
    cohort : MultistateCohort
    econ : MultistateEconomics
    discount : Discount

    Returns
    -------
    dict of float arrays ``costs``, ``life_years``, ``qalys``
    """
    lay = cohort.layout
    horizon = float(cohort.horizon_days)
    order = np.argsort(cohort.event_day, axis=1, kind="stable")
    days = np.take_along_axis(cohort.event_day, order, axis=1)
    n, p = days.shape
    states = lay.states
    per_day = np.array([econ.cost(f"per_day.{s}") for s in states])
    weight = np.array([econ.utility(s) for s in states])
    alive = np.array([s not in econ.dead for s in states], float)
    on_entry = np.array([econ.cost(f"on_entry.{states[lay.proc_from_state[j]]}->"
                                   f"{states[lay.proc_to_state[j]]}") for j in range(p)])
    g = discount.integral
    costs = np.full(n, econ.cost("at_start"))
    qaly_days = np.zeros(n)
    alive_days = np.zeros(n)
    state = np.full(n, lay.initial)
    entry = np.zeros(n)
    for k in range(p + 1):
        leave = days[:, k] if k < p else np.full(n, np.inf)
        stop = np.minimum(leave, horizon)
        start = np.minimum(entry, horizon)
        span = g(stop) - g(start)
        costs += per_day[state] * span
        qaly_days += weight[state] * span
        alive_days += alive[state] * span
        if k == p:
            break
        fired = np.isfinite(leave) & (leave <= horizon)
        proc = order[:, k]
        costs += np.where(fired, on_entry[proc] * discount.factor(np.where(fired, leave, 0.0)),
                          0.0)
        state = np.where(fired, lay.proc_to_state[proc], state)
        # the days are sorted: once nothing fires, the rest of the window is counted
        entry = np.where(fired, leave, np.inf)
    return {"costs": costs, "life_years": alive_days / DAYS_PER_YEAR,
            "qalys": qaly_days / DAYS_PER_YEAR}

