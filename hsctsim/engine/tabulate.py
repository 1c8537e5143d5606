"""Building the hazard tables of :mod:`hsctsim.engine.tables`: fitted, then checked.

A cell's polynomial interpolates the exact function (the kernels' own
:func:`hsctsim.engine.kernel.process_values_into`) at the Chebyshev nodes of the
cell, turned into monomial coefficients by one fixed matrix for every cell at once;
then the kernels' evaluation of the finished table is compared with the exact
function at :data:`~hsctsim.engine.tables.CHECK_POINTS` points a cell, and a cell
that misses by more than half of :data:`~hsctsim.engine.tables.TABLE_TOLERANCE`
anywhere is left out (its arguments go to the exact function).
"""

import functools

import numpy as np

from .hazards import EXPONENTIAL, FIXED, PIECEWISE
from .kernel import process_values_into
from .tables import (
    CELL_BITS,
    CHECK_POINTS,
    CUMHAZ,
    DEGREE,
    DRAW_OCTAVES,
    IN_CELL_MASK,
    INVERSE,
    OCTAVES,
    ROW,
    TABLE_TOLERANCE,
    X_SCALE,
    no_tables,
)

__all__ = ["with_tables"]


def _interpolation_matrix():
    """Chebyshev nodes on [-1, 1] and the matrix from values there to monomial coefficients."""
    k = np.arange(DEGREE + 1)
    nodes = np.cos(np.pi * (k + 0.5) / (DEGREE + 1))
    # Chebyshev coefficients by the discrete cosine sum, then the monomial form
    to_cheb = (2.0 / (DEGREE + 1)) * np.polynomial.chebyshev.chebvander(nodes, DEGREE).T
    to_cheb[0] /= 2.0
    cheb = np.polynomial.chebyshev
    to_mono = np.zeros((DEGREE + 1, DEGREE + 1))
    for j in range(DEGREE + 1):
        mono = cheb.cheb2poly(np.eye(DEGREE + 1)[j])
        to_mono[: len(mono), j] = mono
    return nodes, to_mono @ to_cheb


def _cells(octaves):
    """Lower and upper ends of the cells of ``octaves`` (2^lo to 2^hi)."""
    per = 1 << CELL_BITS
    e = np.arange(*octaves)[:, None]
    j = np.arange(per)[None, :]
    lo = (np.ldexp(1.0, e) * (1.0 + j / per)).ravel()
    return lo, (np.ldexp(1.0, e) * (1.0 + (j + 1) / per)).ravel()


def _tabled(eng, q):
    """Which of process ``q``'s functions are worth a table: ``(CUMHAZ, INVERSE)``, or fewer."""
    family, pi = int(eng.family[q]), float(eng.susceptible[q])
    if family == FIXED and 0.0 < pi < 1.0:
        # its inverse is its day below the cure bound, but the exact path finds that
        # through the cure transform (expm1, log1p); its H is never needed for a draw
        return (INVERSE,)
    if family in (PIECEWISE, FIXED) or pi <= 0.0 or (family == EXPONENTIAL and pi == 1.0):
        return ()
    return (CUMHAZ, INVERSE)


def with_tables(eng):
    """``eng`` with hazard tables for its parametric processes (see the module docstring).

    Tables depend only on the processes' families, parameters and susceptible
    fractions; the last few engines' tables are kept, so a scenario simulated again
    (chunks, strata, replicates on a grid) does not build them again (13 ms for the
    full HSCT model on 2 cores; the exact evaluations run in parallel).
    """
    key = b"".join(np.ascontiguousarray(a).tobytes()
                   for a in (eng.family, eng.par, eng.susceptible))
    if key not in _BUILT:
        if len(_BUILT) >= _KEEP:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = _build(eng)
    cells, first, coef = _BUILT[key]
    return eng._replace(tab_cells=cells, tab_first=first, tab_coef=coef,
                        tab_draw=_draw_table())


_BUILT = {}
_KEEP = 64


@functools.lru_cache(maxsize=1)
def _draw_table():
    """Rows of ``-log(u)`` for the draws' uniforms (see :func:`table_neglog`).

    Checked as the hazards' cells are, against NumPy's ``log``; the top cell, where
    ``-log(u)`` falls to 0 at ``u = 1`` and no polynomial keeps its relative digits,
    is left out (libm's ``log`` then, for 1.6% of the draws).
    """
    lo, hi = _cells(DRAW_OCTAVES)
    nodes, to_mono = _interpolation_matrix()
    rows = _aligned(lo.size)
    rows[:] = -np.log(_node_points(lo, hi, nodes)) @ to_mono.T
    points = _check_points(lo, hi)
    x = (points.view(np.uint64) & IN_CELL_MASK).astype(np.int64) * X_SCALE - 1.0  # as _poly
    value = np.zeros_like(x)
    for j in range(DEGREE, -1, -1):  # Horner's here: rounding differs from Estrin's by ulps
        value = value * x + rows[:, j:j + 1]
    err = np.abs(value + np.log(points)) / -np.log(points)
    rows[~(err.max(axis=1) <= 0.25 * TABLE_TOLERANCE)] = np.nan
    rows.flags.writeable = False
    return rows


def _aligned(n_rows):
    """An (n_rows, ROW) float64 array whose rows start on 64-byte cache lines."""
    buf = np.empty(n_rows * ROW + 8)
    skip = (-buf.ctypes.data // 8) % 8
    return buf[skip:skip + n_rows * ROW].reshape(n_rows, ROW)


def _node_points(lo, hi, nodes):
    """Each cell's interpolation points: ``(cells, DEGREE + 1)``."""
    return 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * nodes


def _check_points(lo, hi):
    """Each cell's points checked when it is built, ends included: ``(cells, CHECK_POINTS)``."""
    points = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * np.linspace(-1.0, 1.0,
                                                                                CHECK_POINTS)
    return np.clip(points, lo[:, None], np.nextafter(hi, 0.0)[:, None])


def _build(eng):
    """The table fields ``(cells, first, coef)`` of ``eng`` (see :func:`with_tables`)."""
    n_proc = len(eng.family)
    cells, first, *_ = no_tables(n_proc)
    nodes, to_mono = _interpolation_matrix()
    rows = []
    n_rows = 0
    for q in range(n_proc):
        for which in _tabled(eng, q):
            lo, hi = _cells(OCTAVES[which])
            if which == INVERSE:  # targets at or past the cure bound are never inverted
                keep = lo < eng.max_cumhaz[q]
                lo, hi = lo[keep], hi[keep]
            if lo.size == 0:  # a cure bound below the first cell: nothing to table
                continue
            row = np.empty((lo.size, ROW))
            if eng.family[q] == FIXED:  # a constant: exactly the day, no rounding
                row[:, 0], row[:, 1:] = eng.par[q, 0], 0.0
            else:
                values = np.empty((lo.size, DEGREE + 1))
                process_values_into(eng, q, which, _node_points(lo, hi, nodes).ravel(),
                                    values.reshape(-1))
                with np.errstate(invalid="ignore"):
                    row[:] = values @ to_mono.T
            bad = ~np.isfinite(row).all(axis=1) | (hi > eng.max_cumhaz[q] if which == INVERSE
                                                   else False)
            row[bad] = np.nan
            rows.append(row)
            cells[q, which] = lo.size
            first[q, which] = n_rows
            n_rows += lo.size
    coef = _aligned(n_rows)
    if rows:
        coef[:] = np.concatenate(rows)
    exact_eng = eng
    eng = eng._replace(tab_cells=cells, tab_first=first, tab_coef=coef)
    # every cell checked by the evaluation the kernels use; a cell that misses is left out
    for q in range(n_proc):
        for which in _tabled(eng, q):
            n = int(cells[q, which])
            if n == 0:
                continue
            lo, hi = _cells(OCTAVES[which])
            points = _check_points(lo[:n], hi[:n]).ravel()
            exact = np.empty(points.size)
            process_values_into(exact_eng, q, which, points, exact)
            tabled = np.empty(points.size)
            process_values_into(eng, q, which, points, tabled)
            with np.errstate(invalid="ignore", divide="ignore"):
                err = np.where(tabled == exact, 0.0, np.abs(tabled - exact) / np.abs(exact))
            # half the tolerance at the points checked, so that it holds between them too
            # (at random points the error was found up to 20% above the largest checked
            # with 65 points a cell, 33 now); NaN (0/0, inf) misses
            miss = ~(err <= 0.5 * TABLE_TOLERANCE)
            bad = miss.reshape(n, CHECK_POINTS).any(axis=1)
            r0 = int(first[q, which])
            coef[r0:r0 + n][bad] = np.nan
    coef.flags.writeable = False  # shared by every engine with these processes
    return cells, first, coef


