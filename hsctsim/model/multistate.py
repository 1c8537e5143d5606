"""Plain multi-state models: states, transitions with parametric hazards, covariates.

A scenario with ``kind = "multistate"`` describes a model directly (the layout is
in the manual, ``docs/tasks/own-model.md``): named states, which
of them are absorbing, and for each allowed transition a hazard family with a
cure fraction and log hazard ratios of patient covariates; the clock either
restarts on entering a state (``reset``, semi-Markov) or runs from day 0
(``forward``, Markov).

The general engine (:mod:`hsctsim.engine.processes`) runs it: every process fires
at most once, so each transition out of each *visit* of a state is one process,
opened on entering the visit and closed when another transition leaves it.
States that can be re-entered (relapse -> remission -> relapse) are unrolled into
visits, up to ``max_visits`` each; a transition that would make a visit beyond
that is not modelled (the patient stays where they are).

Covariates: each patient draws a level of every covariate from the cohort mix,
from a stream keyed by (seed, patient index), so the cohort is the same bit for
bit whatever the chunking; the hazards of a patient's transitions are multiplied
by ``exp(log_hr . x)``.  Patients of one covariate stratum are simulated with that
stratum's engine and their own random streams.
"""

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..engine.kernel import GOLDEN, seed_key
from ..engine.processes import Process, build
from .schema import MAX_HORIZON_DAYS, Reader
from .timing import Timing

__all__ = ["CLOCKS", "Covariate", "COVARIATE_KEYS", "covariate_uniforms", "draw_covariates",
           "FIT_KEYS", "is_multistate", "KIND", "Layout", "layout", "MAX_LOG_HR", "MAX_PROCESSES",
           "MultistateScenario", "parse_multistate", "processes", "STATE_KEYS", "strata",
           "stratum_engines", "TOP_KEYS", "Transition", "TRANSITION_KEYS", "unroll", "Unrolled"]

KIND = "multistate"
CLOCKS = ("reset", "forward")
TOP_KEYS = {"kind", "name", "base", "title", "population", "source", "horizon_days", "clock",
            "states", "covariates", "transitions", "notes", "patients",
            "costs", "utilities"}  # priced by hsctsim.model.mseconomics
STATE_KEYS = {"names", "absorbing", "initial", "max_visits"}
COVARIATE_KEYS = {"levels", "shares", "source", "factor", "level"}
PATIENT_KEYS = {"columns", "rows", "counts", "source", "references"}
# covariate names: as R names factor levels (``agecl>40``, ``matchgender mismatch``)
_COVARIATE_NAME = re.compile(r"^[A-Za-z][^\"',\\\n\r\t]*$")
TRANSITION_KEYS = {"from", "to", "timing", "cure_fraction", "source", "log_hr", "fit",
                   "timing_source", "clock"}
FIT_KEYS = {"params", "estimate", "covariance", "n_events", "aic", "bic", "family", "clock",
            "spec"}
MAX_PROCESSES = 400  # the engine's arrays are (P, P): unrolling must stay small
_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_COVARIATE_SALT = np.uint64(0xC0FA5A7E5EED1234)


@dataclass(frozen=True)
class Covariate:
    """A patient covariate: numeric levels and the cohort's shares of them."""

    name: str
    levels: tuple
    shares: tuple
    source: str
    factor: str = ""   # the data column of a factor's 0/1 level column
    level: str = ""


@dataclass(frozen=True)
class Transition:
    """One allowed transition ``from_state -> to_state`` and its hazard."""

    from_state: str
    to_state: str
    timing: Timing
    cure_fraction: float = 0.0
    source: str = ""
    log_hr: tuple = ()  # ((covariate, log hazard ratio per unit), ...)
    fit: dict | None = None
    clock: str = ""     # this transition's clock ("reset" or "forward"); "" = the model's

    @property
    def label(self):
        return f"{self.from_state}->{self.to_state}"


@dataclass(frozen=True)
class MultistateScenario:
    """A validated plain multi-state scenario (see the module docstring)."""

    name: str
    title: str
    population: str
    source: str
    path: str
    horizon_days: float
    clock: str
    states: tuple
    absorbing: tuple
    initial: str
    max_visits: int
    covariates: tuple
    transitions: tuple
    notes: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    settings: tuple = ()  # the ``--set KEY=VALUE`` changes applied to the file, in order
    kind: str = KIND
    # the joint covariate mix ([patients]): (names, rows (m, q), weights); () = none,
    # each covariate drawn on its own from its shares
    patients: tuple = field(default=(), compare=False)

    @property
    def origin(self):
        """What to blame in an error: the file, or the ``--set`` changes made to it."""
        return " ".join(f"--set {item}" for item in self.settings) if self.settings else self.path

    def ranges(self):
        """No reported ranges (the interface of :class:`~hsctsim.model.scenario.Scenario`)."""
        return []

    def at_midpoints(self):
        return self

    def to_dict(self):
        """The resolved scenario as a TOML-like dict."""
        return self.raw


def is_multistate(scenario):
    """Whether a loaded scenario is a plain multi-state one."""
    return getattr(scenario, "kind", None) == KIND


# -- reading -----------------------------------------------------------------------


def _names(reader, value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        reader.fail(where, "must be a list of names")
    for v in value:
        if not _SAFE.match(v):
            reader.fail(where, f"'{v}' is not a safe name (an ASCII letter, then ASCII letters, digits, _ -)")
    if len(set(value)) != len(value):
        dup = next(v for v in value if value.count(v) > 1)
        reader.fail(where, f"'{dup}' is given twice")
    return tuple(value)


def _parse_states(reader, data):
    table = reader.table(data, "states")
    reader.check_keys(table, STATE_KEYS, "states")
    if "names" not in table:
        reader.fail("states.names", "missing")
    names = _names(reader, table["names"], "states.names")
    if len(names) < 2:
        reader.fail("states.names", "a model needs two states or more")
    absorbing = _names(reader, table.get("absorbing", []), "states.absorbing")
    for s in absorbing:
        if s not in names:
            reader.fail("states.absorbing", f"'{s}' is not in states.names")
    initial = reader.text(table, "initial", "states.initial", names[0], names)
    if initial in absorbing:
        reader.fail("states.initial", f"'{initial}' is absorbing: nothing would happen")
    visits = table.get("max_visits", 1)
    if isinstance(visits, bool) or not isinstance(visits, int) or not 1 <= visits <= 50:
        reader.fail("states.max_visits", f"must be an integer from 1 to 50, got {visits!r}")
    return names, absorbing, initial, visits


def _parse_covariates(reader, data):
    table = data.get("covariates", {})
    if not isinstance(table, dict):
        reader.fail("covariates", "must be a table of covariate tables")
    out = []
    for name, cov in table.items():
        where = f"covariates.{name}"
        if not _COVARIATE_NAME.match(name):
            reader.fail(where, "not a covariate name (a letter, then no quotes, commas or "
                        "backslashes)")
        if not isinstance(cov, dict):
            reader.fail(where, "must be a table with levels, shares and source")
        reader.check_keys(cov, COVARIATE_KEYS, where)
        levels, shares = cov.get("levels"), cov.get("shares")
        if not isinstance(levels, list) or not levels:
            reader.fail(f"{where}.levels", "must be a non-empty list of numbers")
        levels = [reader.number({"v": v}, "v", f"{where}.levels") for v in levels]
        if len(set(levels)) != len(levels):
            reader.fail(f"{where}.levels", "levels must differ")
        if not isinstance(shares, list) or len(shares) != len(levels):
            reader.fail(f"{where}.shares", f"must be a list of {len(levels)} shares, one per level")
        shares = [reader.number({"v": v}, "v", f"{where}.shares", 0.0, 1.0) for v in shares]
        if abs(sum(shares) - 1.0) > 1e-6:
            reader.fail(f"{where}.shares", f"must add up to 1, not {sum(shares):g}")
        source = reader.source(cov, "source", f"{where}.source")
        factor = reader.text(cov, "factor", f"{where}.factor", "")
        level = reader.text(cov, "level", f"{where}.level", "")
        if bool(factor) != bool(level):
            reader.fail(where, "give both factor and level (the data column and its level) "
                        "or neither")
        out.append(Covariate(name, tuple(levels), tuple(shares), source, factor, level))
    return tuple(out)


def _parse_patients(reader, data, covariates):
    """The ``[patients]`` table: the joint covariate mix, ``(columns, rows, weights)``."""
    if "patients" not in data:
        return ()
    table = reader.table(data, "patients")
    reader.check_keys(table, PATIENT_KEYS, "patients")
    columns, rows, counts = table.get("columns"), table.get("rows"), table.get("counts")
    names = [c.name for c in covariates]
    if not isinstance(columns, list) or sorted(columns) != sorted(names):
        reader.fail("patients.columns", f"must list the covariates {names} (each once)")
    if not isinstance(rows, list) or not rows or any(
            not isinstance(r, list) or len(r) != len(columns) for r in rows):
        reader.fail("patients.rows", f"must be a non-empty list of rows of {len(columns)} "
                    "values, one per column")
    levels = {c.name: c.levels for c in covariates}
    x = np.array([[reader.number({"v": v}, "v", f"patients.rows[{i}]") for v in r]
                  for i, r in enumerate(rows)], float)
    for j, c in enumerate(columns):
        bad = [v for v in x[:, j] if v not in levels[c]]
        if bad:
            reader.fail("patients.rows", f"{c} = {bad[0]:g} is not one of its levels")
    if not isinstance(counts, list) or len(counts) != len(rows):
        reader.fail("patients.counts", f"must be a list of {len(rows)} counts, one per row")
    w = np.array([reader.number({"v": v}, "v", "patients.counts", 0.0) for v in counts])
    if not w.sum() > 0:
        reader.fail("patients.counts", "must not all be 0")
    reader.source(table, "source", "patients.source")
    order = [columns.index(n) for n in names]
    return (tuple(names), x[:, order], w / w.sum())


def _parse_fit(reader, fit, where):
    if not isinstance(fit, dict):
        reader.fail(where, "must be a table (written by `hsctsim fit`)")
    reader.check_keys(fit, FIT_KEYS, where)
    params, estimate = fit.get("params"), fit.get("estimate")
    if not isinstance(params, list) or not isinstance(estimate, list) or \
            len(params) != len(estimate):
        reader.fail(where, "params and estimate must be lists of the same length")
    cov = fit.get("covariance")
    if cov is not None:
        k = len(estimate)
        if not isinstance(cov, list) or len(cov) != k or any(
                not isinstance(r, list) or len(r) != k for r in cov):
            reader.fail(f"{where}.covariance", f"must be a {k} x {k} matrix")
    return fit


MAX_LOG_HR = 100.0  # a hazard ratio of e^100: beyond, the level or the effect is a typo


def _parse_transition(reader, table, i, states, absorbing, covariates):
    where = f"transitions[{i}]"
    if not isinstance(table, dict):
        reader.fail(where, "must be a table ([[transitions]])")
    reader.check_keys(table, TRANSITION_KEYS, where)
    src = reader.text(table, "from", f"{where}.from", choices=states)
    dst = reader.text(table, "to", f"{where}.to", choices=states)
    if src in absorbing:
        reader.fail(f"{where}.from", f"'{src}' is absorbing: no transition leaves it")
    if src == dst:
        reader.fail(f"{where}.to", "a transition must change the state")
    timing = reader.timing(table, where)
    cure = reader.number(table, "cure_fraction", f"{where}.cure_fraction", 0.0, 1.0, 0.0)
    if cure >= 1.0:
        reader.fail(f"{where}.cure_fraction", "1 means the transition never happens: leave it out")
    source = reader.source(table, "source", f"{where}.source", "")
    log_hr = table.get("log_hr", {})
    if not isinstance(log_hr, dict):
        reader.fail(f"{where}.log_hr", "must be a table of covariate = log hazard ratio")
    names = [c.name for c in covariates]
    effects = []
    for cov, value in log_hr.items():
        if cov not in names:
            reader.fail(f"{where}.log_hr.{cov}", "not a covariate of [covariates]"
                        + (f" (known: {', '.join(names)})" if names else " (none defined)"))
        effects.append((cov, reader.number(log_hr, cov, f"{where}.log_hr.{cov}", -50.0, 50.0)))
    # the largest log hazard ratio a patient can get: exp() of it overflowed (a traceback)
    levels = {c.name: c.levels for c in covariates}
    worst = sum(max(abs(b * level) for level in levels[cov]) for cov, b in effects)
    if worst > MAX_LOG_HR:
        reader.fail(f"{where}.log_hr", f"with the covariate levels, a patient's log hazard "
                    f"ratio reaches {worst:.3g}, beyond +-{MAX_LOG_HR:g} (check the levels)")
    fit = _parse_fit(reader, table["fit"], f"{where}.fit") if "fit" in table else None
    clock = reader.text(table, "clock", f"{where}.clock", "", CLOCKS + ("",))
    return Transition(src, dst, timing, cure, source, tuple(effects), fit, clock)


def parse_multistate(data, path):
    """Validate a merged TOML dict with ``kind = "multistate"``.

    Returns
    -------
    MultistateScenario

    Raises
    ------
    ScenarioError
        Naming the file, the key and the problem.
    """
    reader = Reader(path)
    reader.check_keys(data, TOP_KEYS, "")
    name = reader.arm_name(data)
    states, absorbing, initial, max_visits = _parse_states(reader, data)
    covariates = _parse_covariates(reader, data)
    patients = _parse_patients(reader, data, covariates)
    rows = data.get("transitions")
    if not isinstance(rows, list) or not rows:
        reader.fail("transitions", "missing: give one [[transitions]] table per transition")
    transitions = tuple(_parse_transition(reader, t, i, states, absorbing, covariates)
                        for i, t in enumerate(rows))
    seen = set()
    for i, t in enumerate(transitions):
        if (t.from_state, t.to_state) in seen:
            reader.fail(f"transitions[{i}]", f"{t.label} is given twice")
        seen.add((t.from_state, t.to_state))
    for s in states:
        if s not in absorbing and not any(t.from_state == s for t in transitions):
            reader.fail("states.absorbing", f"no transition leaves '{s}': list it as absorbing")
    scenario = MultistateScenario(
        name=name,
        title=reader.text(data, "title", "title", name),
        population=reader.text(data, "population", "population", ""),
        source=reader.text(data, "source", "source", ""),
        path=str(path),
        horizon_days=reader.number(data, "horizon_days", "horizon_days", 1.0, MAX_HORIZON_DAYS,
                                   730.0),
        clock=reader.text(data, "clock", "clock", "reset", CLOCKS),
        states=states, absorbing=absorbing, initial=initial, max_visits=max_visits,
        covariates=covariates, transitions=transitions,
        notes=reader.text(data, "notes", "notes", ""), raw=data, patients=patients)
    cyclic = _cyclic_states(scenario)
    if cyclic and "max_visits" not in data.get("states", {}):
        # with the default of one visit every transition back into a state is dropped:
        # a cycle written without max_visits would silently never be taken
        again = ", ".join(f"'{states[i]}'" for i in cyclic)
        reader.fail("states.max_visits", f"missing: the transitions re-enter {again}; give "
                    "how often a state may be entered (a transition beyond it is not "
                    "modelled), e.g. max_visits = 5")
    try:
        unroll(scenario)
    except ValueError as exc:
        reader.fail("states.max_visits", str(exc))
    return scenario


# -- unrolling into the engine ----------------------------------------------------------


@dataclass(frozen=True)
class Unrolled:
    """The visits of the states and the transition processes between them.

    Node 0 is the first visit of the initial state.  ``edges[k] = (from_node,
    to_node, transition index)`` is engine process ``k``.
    """

    node_state: tuple  # state index of each node
    node_visits: tuple  # visit counts of the re-enterable states on entering the node
    edges: tuple
    states: tuple
    absorbing: tuple

    @property
    def n_processes(self):
        return len(self.edges)

    def process_names(self, scenario):
        """Readable names: ``from->to``, with ``#k`` for the k-th visit of ``from`` (k > 1)."""
        out = []
        cyclic = _cyclic_states(scenario)
        for a, b, t in self.edges:
            tr = scenario.transitions[t]
            name = tr.label
            src = self.states.index(tr.from_state)
            if src in cyclic:
                visits = self.node_visits[a][cyclic.index(src)]
                if visits > 1:
                    name = f"{tr.from_state}#{visits}->{tr.to_state}"
            base, k = name, 2
            while name in out:  # the same visit reached by different paths
                name = f"{base}~{k}"
                k += 1
            out.append(name)
        return tuple(out)

    def arrays(self):
        """``(proc_from_state, proc_to_state, proc_from_node, proc_to_node, node_state)``."""
        a = np.array([e[0] for e in self.edges], np.int64)
        b = np.array([e[1] for e in self.edges], np.int64)
        node_state = np.array(self.node_state, np.int64)
        return node_state[a], node_state[b], a, b, node_state


def _cyclic_states(scenario):
    """Indices of the states on a cycle of the transition graph (those re-entered)."""
    idx = {s: i for i, s in enumerate(scenario.states)}
    succ = {i: set() for i in range(len(scenario.states))}
    for t in scenario.transitions:
        succ[idx[t.from_state]].add(idx[t.to_state])

    def reaches(a, target):
        seen, stack = set(), [a]
        while stack:
            x = stack.pop()
            for y in succ[x]:
                if y == target:
                    return True
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        return False

    return tuple(i for i in range(len(scenario.states)) if reaches(i, i))


def unroll(scenario):
    """The visits reachable from the initial state and the transitions between them.

    A node is a state with the visit counts of the re-enterable states so far;
    only re-enterable states are counted, so a model without cycles has one node
    per reachable state.
    """
    states = scenario.states
    idx = {s: i for i, s in enumerate(states)}
    cyclic = _cyclic_states(scenario)
    out_of = {i: [] for i in range(len(states))}
    for k, t in enumerate(scenario.transitions):
        out_of[idx[t.from_state]].append(k)
    start_state = idx[scenario.initial]
    start_visits = tuple(1 if c == start_state else 0 for c in cyclic)
    nodes = {(start_state, start_visits): 0}
    order = [(start_state, start_visits)]
    edges = []
    i = 0
    while i < len(order):
        state, visits = order[i]
        for k in out_of[state]:
            dst = idx[scenario.transitions[k].to_state]
            new = list(visits)
            if dst in cyclic:
                new[cyclic.index(dst)] += 1
                if new[cyclic.index(dst)] > scenario.max_visits:
                    continue  # beyond max_visits: not modelled
            key = (dst, tuple(new))
            if key not in nodes:
                nodes[key] = len(order)
                order.append(key)
            edges.append((i, nodes[key], k))
            if len(edges) > MAX_PROCESSES:
                raise ValueError(f"unrolling the re-entered states gives more than "
                                 f"{MAX_PROCESSES} transition processes; lower max_visits")
        i += 1
    return Unrolled(tuple(s for s, _ in order), tuple(v for _, v in order), tuple(edges),
                    states, scenario.absorbing)


def processes(scenario, hazard_ratios=None):
    """The engine processes of a multi-state scenario.

    Parameters
    ----------
    scenario : MultistateScenario
    hazard_ratios : sequence of float, optional
        One multiplier per transition of the scenario (a covariate stratum's
        ``exp(log_hr . x)``); default none.

    Returns
    -------
    list of Process
    """
    unrolled = unroll(scenario)
    names = unrolled.process_names(scenario)
    out_edges = {}
    for k, (a, _, _) in enumerate(unrolled.edges):
        out_edges.setdefault(a, []).append(k)
    absorbing = {scenario.states.index(s) for s in scenario.absorbing}
    out = []
    for k, (a, b, t) in enumerate(unrolled.edges):
        tr = scenario.transitions[t]
        hr = 1.0 if hazard_ratios is None else float(hazard_ratios[t])
        siblings = tuple(names[j] for j in out_edges[a] if j != k)
        out.append(Process(
            names[k], tr.timing.family, tr.timing.params, 1.0 - tr.cure_fraction,
            at_start=(a == 0), clock_reset=((tr.clock or scenario.clock) == "reset"),
            terminal=unrolled.node_state[b] in absorbing,
            closes=siblings, opens=tuple(names[j] for j in out_edges.get(b, [])),
            entry_multiplier=((0.0, hr),)))
    return out


# -- covariates ------------------------------------------------------------------------


def _mix64(z):
    """SplitMix64's output function on uint64 arrays (the kernel's, vectorised)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def covariate_uniforms(seed, patients, k):
    """Uniform(0, 1) draw ``k`` of each patient, keyed by (seed, patient index).

    A stream apart from the patients' event streams, so adding a covariate
    leaves the event draws of a stratum as they were.
    """
    key = np.uint64(seed_key(seed)) ^ _COVARIATE_SALT
    with np.errstate(over="ignore"):
        z = key + np.asarray(patients, np.uint64) * GOLDEN + np.uint64(k + 1) * np.uint64(
            0xD1B54A32D192ED03)
        z = _mix64(_mix64(z))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def draw_covariates(scenario, seed, patients):
    """Each patient's covariate levels, ``{name: float array}``, from the cohort mix.

    With a ``[patients]`` table, each patient is one of its rows (drawn with the rows'
    weights), so the joint mix of the data is kept; otherwise each covariate is drawn
    on its own from its shares.
    """
    out = {}
    if scenario.patients:
        names, rows, weights = scenario.patients
        u = covariate_uniforms(seed, patients, 0)
        pick = np.searchsorted(np.cumsum(weights)[:-1], u, side="right")
        return {name: rows[pick, j].copy() for j, name in enumerate(names)}
    for k, cov in enumerate(scenario.covariates):
        u = covariate_uniforms(seed, patients, k)
        edges = np.cumsum(cov.shares)[:-1]
        out[cov.name] = np.asarray(cov.levels, float)[np.searchsorted(edges, u, side="right")]
    return out


def strata(scenario, covariates):
    """Covariate strata: ``(stratum of each patient, hazard ratios per stratum)``.

    Returns
    -------
    index : int64 array (n,)
    ratios : list of tuple
        Per stratum, one hazard multiplier per transition.
    """
    names = [c.name for c in scenario.covariates]
    n = len(next(iter(covariates.values()))) if covariates else 0
    if not names:
        return np.zeros(n, np.int64), [tuple(1.0 for _ in scenario.transitions)]
    x = np.column_stack([covariates[c] for c in names])
    combos, index = np.unique(x, axis=0, return_inverse=True)
    ratios = []
    for combo in combos:
        level = dict(zip(names, combo))
        ratios.append(tuple(math.exp(sum(b * level[c] for c, b in t.log_hr))
                            for t in scenario.transitions))
    return index.reshape(-1).astype(np.int64), ratios


def stratum_engines(scenario, covariates, n_patients):
    """``(rows, engine)`` for each covariate stratum with patients in it.

    ``rows`` index the cohort's patients (all of them where there is one stratum);
    ``engine`` carries the stratum's hazard ratios.  A patient's course depends only
    on the seed and its index, so simulating stratum by stratum keeps every stream.
    """
    index, ratios = strata(scenario, covariates)
    if len(ratios) == 1:
        yield np.arange(n_patients), build(processes(scenario, ratios[0]))
        return
    for s, hr in enumerate(ratios):
        rows = np.flatnonzero(index == s)
        if rows.size:
            yield rows, build(processes(scenario, hr))


# -- simulation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What each engine column means: transition, from/to state, from/to visit."""

    process_names: tuple
    proc_transition: np.ndarray  # int64 (P,): index into scenario.transitions
    proc_from_state: np.ndarray  # int64 (P,)
    proc_to_state: np.ndarray
    proc_from_node: np.ndarray
    proc_to_node: np.ndarray
    node_state: np.ndarray
    states: tuple
    absorbing: np.ndarray  # bool (S,)
    initial: int


def layout(scenario):
    """The :class:`Layout` of a scenario's engine."""
    u = unroll(scenario)
    fs, ts, fn, tn, ns = u.arrays()
    absorbing = np.array([s in scenario.absorbing for s in scenario.states], bool)
    return Layout(u.process_names(scenario), np.array([e[2] for e in u.edges], np.int64),
                  fs, ts, fn, tn, ns, scenario.states, absorbing,
                  scenario.states.index(scenario.initial))
