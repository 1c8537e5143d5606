"""Start from where a patient is now: simulate the course after a given day and history.

A patient alive on day ``at_day`` with some events behind them (engrafted on day
15, acute GVHD on day 30, no relapse) is simulated onwards: the course up to
``at_day`` is replayed (:func:`hsctsim.engine.resume.course_until`), and every
process still open then is drawn from its law given that it has not fired by
``at_day``.  For a plain multi-state scenario the history is the states entered
and their days (the last is the state the patient is in).
"""

import numpy as np

from .._version import __version__
from ..engine.backend import Cpu
from ..engine.kernel import seed_key
from ..engine.resume import HistoryError, course_until
from ..model.cohort import Cohort
from ..model.hsct import process_names
from ..model.mscohort import MultistateCohort
from ..model.multistate import draw_covariates, layout, stratum_engines
from ..model.scenario import Scenario, load_scenario
from .cohorts import DEFAULT_SEED, check_size, prepare

__all__ = ["multistate_events", "parse_history", "predict"]

CPU = Cpu()


def parse_history(text):
    """``"engraftment=15,agvhd=30"`` -> ``[("engraftment", 15.0), ("agvhd", 30.0)]``."""
    out = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, day = item.partition("=")
        try:
            value = float(day)
        except ValueError:
            value = None
        if not sep or not name.strip() or value is None:
            raise HistoryError(f"'{item}': expected EVENT=DAY, e.g. engraftment=15")
        out.append((name.strip(), value))
    return out


def predict(scenario, at_day, history=(), n_patients=100_000, seed=None, horizon_days=None,
            threads=None, susceptible=None, backend=CPU):
    """Simulate patients alive on ``at_day`` with ``history`` behind them.

    Parameters
    ----------
    scenario : Scenario, MultistateScenario, str or Path
    at_day : float
        The day the patients are known to be alive (0: from the start, the same
        cohort as :func:`hsctsim.simulate`).
    history : sequence of (str, float) or dict
        Events before ``at_day`` and their days: HSCT process names
        (``engraftment``, ``agvhd``, ``cgvhd``, ``cmv``, ``relapse``, ...), or, for a
        multi-state scenario, the states entered.
    n_patients, seed, horizon_days, threads, susceptible
        As for :func:`hsctsim.simulate` (``susceptible``: HSCT arms only).
    backend : Cpu
        A resolved backend (resuming runs on the CPU).

    Returns
    -------
    Cohort or MultistateCohort
        Event days include the history; every patient is alive on ``at_day``.

    Raises
    ------
    HistoryError
        An unknown event, one after ``at_day``, a death, or events in an order the
        model cannot produce.
    """
    seed = DEFAULT_SEED if seed is None else seed
    if not hasattr(scenario, "kind") and not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    history = list(history.items()) if isinstance(history, dict) else list(history)
    at_day = float(at_day)
    if at_day < 0:
        raise HistoryError(f"--at {at_day:g}: the day must be >= 0")
    horizon = float(scenario.horizon_days if horizon_days is None else horizon_days)
    check_size(n_patients, horizon)
    if at_day >= horizon:
        raise HistoryError(f"--at {at_day:g}: the day must be before the horizon {horizon:g}")
    if getattr(scenario, "kind", None) == "multistate":
        return _predict_multistate(scenario, at_day, history, int(n_patients), seed, horizon,
                                   threads, backend)
    return _predict_hsct(scenario, at_day, history, int(n_patients), seed, horizon, threads,
                         susceptible, backend)


def _indices(names, history):
    index = {n: i for i, n in enumerate(names)}
    out = []
    for name, day in history:
        if name not in index:
            raise HistoryError(f"'{name}' is not an event of this model "
                               f"(events: {', '.join(names)})")
        out.append((index[name], float(day)))
    return out


def _run(backend, eng, names, events, at_day, patients, seed, horizon, out):
    key = seed_key(seed)
    if at_day == 0.0 and not events and np.array_equal(
            patients, np.arange(patients[0], patients[0] + patients.size)):
        backend.simulate(eng, key, int(patients[0]), horizon, out)  # what `run` does
        return
    # the kernel resumes only after day 0; just after it, the course is a fresh one.
    # The replay runs to that same day, so that an event scheduled on day 0 (NK cells
    # from day 0) has fired in it, as in a fresh course.
    start_day = max(at_day, 1e-300)
    state, origin, m, days = course_until(eng, names, events, start_day)
    backend.simulate_from(eng, key, patients, horizon, start_day, state, origin, m, days, out)


def _predict_hsct(scenario, at_day, history, n, seed, horizon, threads, susceptible, backend):
    point, horizon, susceptible, eng, _ = prepare(scenario, n, seed, horizon, None, True, None,
                                                  susceptible, backend)
    names = process_names(point)  # optional sections (tumour, recovery) add processes
    late = point.extensions.get("late_relapse")
    if late is not None:  # a relapse after the calibrated one is closed is a late relapse
        history = [("late_relapse" if name == "relapse" and day > late.from_day else name, day)
                   for name, day in history]
    events = _indices(names, history)
    out = np.empty((n, len(names)))
    with backend.threads(threads):
        _run(backend, eng, names, events, at_day, np.arange(n, dtype=np.int64), seed, horizon,
             out)
    return Cohort(out, point, int(seed), horizon, susceptible, __version__,
                  process_names=names)


def multistate_events(scenario, history):
    """The engine processes a path of state entries fires: ``[(process, day)]``.

    ``history`` lists the states entered after the initial one, with their days,
    in order; each must be reachable from the state before by one transition.
    """
    lay = layout(scenario)
    node, last_day, events = 0, 0.0, []
    for name, day in sorted(history, key=lambda item: item[1]):
        if name not in scenario.states:
            raise HistoryError(f"'{name}' is not a state of this model "
                               f"(states: {', '.join(scenario.states)})")
        if day < last_day:
            raise HistoryError(f"{name}={day:g}: states must be entered in order")
        target = scenario.states.index(name)
        step = [k for k in range(len(lay.proc_from_node))
                if lay.proc_from_node[k] == node and lay.proc_to_state[k] == target]
        if not step:
            here = scenario.states[lay.node_state[node]]
            raise HistoryError(f"{name}={day:g} is not possible: no transition "
                               f"{here}->{name}" + (" (within max_visits)" if any(
                                   t.from_state == here and t.to_state == name
                                   for t in scenario.transitions) else ""))
        events.append((step[0], float(day)))
        node, last_day = int(lay.proc_to_node[step[0]]), day
    return events


def _predict_multistate(scenario, at_day, history, n, seed, horizon, threads, backend):
    names = layout(scenario).process_names
    events = multistate_events(scenario, history)
    patients = np.arange(n, dtype=np.int64)
    covariates = draw_covariates(scenario, seed, patients)
    out = np.empty((n, len(names)))
    with backend.threads(threads):
        for rows, eng in stratum_engines(scenario, covariates, n):
            part = np.empty((rows.size, len(names)))
            _run(backend, eng, names, events, at_day, patients[rows], seed, horizon, part)
            out[rows] = part
    return MultistateCohort(out, scenario, int(seed), horizon, __version__, covariates)
