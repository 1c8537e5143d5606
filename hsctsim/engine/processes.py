"""A general event-process engine: the description a kernel can read.

An engine is a set of event processes.  Each process has a parametric baseline
hazard (see :mod:`hsctsim.hazards`), a susceptible fraction, and rules: it is open
from day 0 or opened by another event, its clock runs from transplant or restarts
when it opens, and when it fires it may end the course, close other processes,
open others, or multiply their hazards from then on.  Every process fires at
most once.  :class:`Process` is the readable form; :func:`build` turns a list of
them into :class:`EngineArrays`, a NamedTuple of contiguous arrays that numba
kernels take.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .hazards import FAMILY_CODES, FIXED, PIECEWISE, inverse_grid
from .tables import no_tables

__all__ = ["BOUND_CAP", "BOUND_MARGIN", "BOUND_STEPS", "build", "day_bounds", "DERIVED_FIELDS",
           "EngineArrays", "ENTRY_SLOTS", "Process", "queue_length"]

ENTRY_SLOTS = 4  # pieces of the opening-day multiplier (e.g. time to relapse)
BOUND_STEPS = 64  # cells of the table of lower bounds on event days
BOUND_CAP = 16.0  # without a cure bound, targets above this share the last cell
# below the exact inverse by far more than its rounding, so a bound is never above it
BOUND_MARGIN = 1e-9


@dataclass(frozen=True)
class Process:
    """One event process of an engine.

    Parameters
    ----------
    name : str
        Identifier, unique within the engine.
    family : str
        One of ``exponential, weibull, lognormal, gompertz, loglogistic, piecewise, fixed``.
    params : tuple of float
        Family parameters (see :mod:`hsctsim.hazards`); for ``piecewise`` the
        piece start days and the rates per day, as ``(starts, rates)``.
    susceptible : float
        ``1 - cure fraction``, in [0, 1].
    at_start : bool
        Open from day 0 (else only when another process opens it).
    clock_reset : bool
        The clock starts when the process opens (else it runs from day 0).
    terminal : bool
        Firing ends the course (death).
    closes, opens : tuple of str
        Processes that this event closes / opens.
    multiplies : dict of str to float
        Hazard multipliers this event applies to other processes from then on.
    entry_multiplier : tuple of (float, float)
        ``(from_day, multiplier)`` pieces: a hazard multiplier that depends on the
        day the process opened (e.g. death after relapse by time to relapse).
    intervention : bool
        A scheduled or triggered treatment; switched off during calibration.
    """

    name: str
    family: str
    params: tuple
    susceptible: float = 1.0
    at_start: bool = True
    clock_reset: bool = False
    terminal: bool = False
    closes: tuple = ()
    opens: tuple = ()
    multiplies: dict = field(default_factory=dict)
    entry_multiplier: tuple = ((0.0, 1.0),)
    intervention: bool = False


class EngineArrays(NamedTuple):
    """Arrays that describe an engine to the numba kernels (P processes)."""

    family: np.ndarray  # int64 (P,)
    par: np.ndarray  # float64 (P, 2)
    susceptible: np.ndarray  # float64 (P,)
    max_cumhaz: np.ndarray  # float64 (P,): -log(1 - susceptible), the cure bound
    at_start: np.ndarray  # bool (P,)
    clock_reset: np.ndarray  # bool (P,)
    terminal: np.ndarray  # bool (P,)
    enabled: np.ndarray  # bool (P,)
    closes: np.ndarray  # bool (P, P): closes[e, q]
    opens: np.ndarray  # bool (P, P): opens[e, q]
    mult: np.ndarray  # float64 (P, P): mult[e, q]
    entry_day: np.ndarray  # float64 (P, ENTRY_SLOTS), inf-padded
    entry_mult: np.ndarray  # float64 (P, ENTRY_SLOTS)
    pw_start: np.ndarray  # float64 (K,) piece start days, all piecewise processes
    pw_rate: np.ndarray  # float64 (K,) rates per day
    # derived, so the kernel visits only what an event touches (CSR lists):
    open_ptr: np.ndarray  # int64 (P + 2,): row e < P, what event e opens; row P, day 0
    open_idx: np.ndarray  # int64: enabled processes with susceptible > 0, per row
    touch_ptr: np.ndarray  # int64 (P + 1,)
    touch_idx: np.ndarray  # int64: processes event e closes or multiplies
    max_growth: np.ndarray  # float64 (P,): product of every multiplier > 1 aimed at q
    bound_scale: np.ndarray  # float64 (P,): cells per unit of target cumulative hazard
    bound_day: np.ndarray  # float64 (P, BOUND_STEPS + 1): see day_bounds
    # hazard tables (hsctsim.engine.tables), empty unless tabulate.with_tables fills them;
    # column 0 for H, 1 for its inverse
    tab_cells: np.ndarray  # uint64 (P, 2): cells of the table, 0 for none
    tab_first: np.ndarray  # uint64 (P, 2): the first cell's row in tab_coef
    tab_coef: np.ndarray  # float64 (rows, tables.ROW); float32 (0, ROW) stands for no tables
    tab_draw: np.ndarray  # float64 (rows, tables.ROW): -log(u) for the draws; float32: none


DERIVED_FIELDS = ("open_ptr", "open_idx", "touch_ptr", "touch_idx", "max_growth",
                  "bound_scale", "bound_day", "tab_cells", "tab_first", "tab_coef",
                  "tab_draw")


def build(processes, interventions=True):
    """Turn a list of :class:`Process` into :class:`EngineArrays`.

    Parameters
    ----------
    processes : sequence of Process
    interventions : bool
        When False, intervention processes never open.

    Returns
    -------
    EngineArrays
    """
    names = [p.name for p in processes]
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("process names must be unique")
    n = len(processes)
    family = np.empty(n, np.int64)
    par = np.zeros((n, 2))
    closes = np.zeros((n, n), bool)
    opens = np.zeros((n, n), bool)
    mult = np.ones((n, n))
    entry_day = np.full((n, ENTRY_SLOTS), np.inf)
    entry_mult = np.ones((n, ENTRY_SLOTS))
    pw_start, pw_rate = [], []
    for i, p in enumerate(processes):
        family[i] = FAMILY_CODES[p.family]
        if family[i] == PIECEWISE:
            starts, rates = p.params
            par[i] = (len(pw_start), len(starts))
            pw_start.extend(starts)
            pw_rate.extend(rates)
        else:
            par[i, : len(p.params)] = p.params
        for target in p.closes:
            closes[i, index[target]] = True
        for target in p.opens:
            opens[i, index[target]] = True
        for target, factor in p.multiplies.items():
            mult[i, index[target]] = factor
        if len(p.entry_multiplier) > ENTRY_SLOTS:
            raise ValueError(f"{p.name}: at most {ENTRY_SLOTS} entry-multiplier pieces")
        if any(b[0] <= a[0] for a, b in zip(p.entry_multiplier, p.entry_multiplier[1:])):
            raise ValueError(f"{p.name}: entry-multiplier days must increase")
        for j, (day, factor) in enumerate(p.entry_multiplier):
            entry_day[i, j], entry_mult[i, j] = day, factor
    susceptible = np.array([p.susceptible for p in processes], float)
    with np.errstate(divide="ignore"):
        max_cumhaz = -np.log1p(-susceptible)
    enabled = np.array([interventions or not p.intervention for p in processes], bool)
    at_start = np.array([p.at_start for p in processes], bool)
    can_open = enabled & (susceptible > 0)  # a process that cannot fire never opens
    open_rows = [np.flatnonzero(opens[e] & can_open) for e in range(n)]
    open_rows.append(np.flatnonzero(at_start & can_open))
    touched = (closes | (mult != 1.0)) & ~np.eye(n, dtype=bool)
    open_ptr, open_idx = _csr(open_rows)
    touch_ptr, touch_idx = _csr([np.flatnonzero(row) for row in touched])
    pw_start = np.array(pw_start + [0.0], float)
    pw_rate = np.array(pw_rate + [0.0], float)
    bound_scale, bound_day = day_bounds(family, par, susceptible, pw_start, pw_rate)
    tab_cells, tab_first, tab_coef, tab_draw = no_tables(n)
    return EngineArrays(
        family=family,
        par=par,
        susceptible=susceptible,
        max_cumhaz=max_cumhaz,
        at_start=at_start,
        clock_reset=np.array([p.clock_reset for p in processes], bool),
        terminal=np.array([p.terminal for p in processes], bool),
        enabled=enabled,
        closes=closes,
        opens=opens,
        mult=mult,
        entry_day=entry_day,
        entry_mult=entry_mult,
        pw_start=pw_start,
        pw_rate=pw_rate,
        open_ptr=open_ptr,
        open_idx=open_idx,
        touch_ptr=touch_ptr,
        touch_idx=touch_idx,
        max_growth=np.maximum(mult, 1.0).prod(axis=0),
        bound_scale=bound_scale,
        bound_day=bound_day,
        tab_cells=tab_cells,
        tab_first=tab_first,
        tab_coef=tab_coef,
        tab_draw=tab_draw,
    )


def day_bounds(family, par, susceptible, pw_start, pw_rate):
    """Lower bounds on each process's event day, by cell of target cumulative hazard.

    Target ``y`` falls in cell ``k = min(floor(y * scale[q]), BOUND_STEPS)``; its
    event day (on the process's clock, before the cure bound) is at least
    ``day[q, k]``, the exact day of the cell's lowest target less a margin.  The
    kernel ranks processes by these bounds and inverts only the ones that could
    be next.

    Returns
    -------
    scale : float64 (P,)
    day : float64 (P, BOUND_STEPS + 1)
    """
    n = len(family)
    scale = np.zeros(n)
    day = np.full((n, BOUND_STEPS + 1), np.inf)
    for q in range(n):
        pi = float(susceptible[q])
        if pi <= 0.0:
            continue  # never opens
        cured = pi < 1.0
        top = -np.log1p(-pi) if cured else BOUND_CAP
        scale[q] = BOUND_STEPS / top
        # compiled loop: a call from Python per cell cost 10 ms an engine (ebmt4)
        inverse_grid(int(family[q]), float(par[q, 0]), float(par[q, 1]), pi, pw_start, pw_rate,
                     float(top), day[q])
        if cured:  # the top cell holds only targets rounded up to the cure bound
            day[q, BOUND_STEPS] = day[q, BOUND_STEPS - 1]
        if family[q] == FIXED:
            # every target is positive (a unit exponential over a finite multiplier),
            # and a fixed process's day does not depend on it: cell 0 holds the day
            # too, so a fixed process is not inverted before its day could be next
            day[q, 0] = day[q, 1]
    return scale, day * (1.0 - BOUND_MARGIN)


def queue_length(eng):
    """Most rescalings one process of ``eng`` can have queued at once in the kernel.

    Its opening, and one for each event that multiplies its hazard (each fires once).
    """
    multiplies = (np.asarray(eng.mult) != 1.0) & ~np.asarray(eng.closes, bool)
    return 1 + int(multiplies.sum(axis=0).max(initial=0))


def _csr(rows):
    """Index lists as compressed rows: ``idx[ptr[r]:ptr[r + 1]]`` is row ``r``."""
    ptr = np.zeros(len(rows) + 1, np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    idx = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    return ptr, idx
