"""Hazard tables: each process's ``H`` and ``H^-1``, and the draws' ``-log``, as polynomials.

An option for speed (``hsctsim.simulate(..., tables=True)``, ``hsctsim run
--hazard-tables``), not the default.  The exact kernels evaluate a log-normal
cumulative hazard with a cure fraction through libm's ``log``, ``erfc`` and
``log1p``, and its inverse through ``expm1``, a normal quantile and ``exp``: about
30 ns each, about half of a full HSCT patient's time.  Here each parametric process
gets, for ``H`` on its clock and for ``H^-1`` of a target, a table of cells a 32nd
of an octave wide: the cell is found from the argument's bits (its exponent and
the top five bits of its mantissa), the position in it from the mantissa bits
below, and the cell's eight coefficients (one cache line) give a polynomial of
degree 7 interpolated at the Chebyshev nodes of the exact function, evaluated in
Estrin's order: 3 to 7 ns, no libm call.  A fixed-day process with a cure
fraction, whose inverse is its day below the cure bound, gets a table of that
constant (the exact path reaches it through ``expm1`` and ``log1p``).  The draws'
``-log(u)`` comes from one more table, of the uniforms; a fixed-day process
without a cure fraction, whose day does not depend on its variate, only advances
the stream.

Every cell is checked when the table is built (:mod:`hsctsim.engine.tabulate`),
by the kernels' own evaluation, at 33 points against the exact function: a cell
whose relative error exceeds half of :data:`TABLE_TOLERANCE` at any of them (the
far tails: ``H^-1`` is singular at the cure bound, ``H`` far left is a few ulps of
nothing, ``-log(u)`` falls to 0 at ``u = 1``) is left out, and an argument outside
the tables or in a cell left out is evaluated exactly.  So an evaluation is the
exact one, or within 1e-13 of it, relative.  The uniforms are the exact path's;
in the bundled arms every patient has the same course as on the exact path, with
event days typically within 1e-13 of the exact ones and at most about 1e-9
(where a hazard flattens under its cure bound, a small change of target moves
the day most).  Piecewise, other fixed-day and exponential processes without a
cure fraction are cheap and keep their exact functions.

The tables are fields of :class:`hsctsim.engine.processes.EngineArrays`, so every
kernel (general, plain, counted) reads them without another argument.  An engine
without tables holds float32 placeholders, which :func:`has_tables` reads when a
kernel is compiled: its kernels have no table code at all (the exact path as it
was, in speed too).  Calibration builds its own engines and never sees tables.
"""

import struct

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from .jitcache import key_on_engine

__all__ = ["CELL_BITS", "CELL_SHIFT", "CHECK_POINTS", "CUMHAZ", "CUMHAZ_OCTAVES", "DEGREE",
           "DRAW_OCTAVES", "float_bits", "has_tables", "IN_CELL_MASK", "INVERSE",
           "INVERSE_OCTAVES", "no_tables", "OCTAVES", "ROW", "table_neglog", "table_value",
           "TABLE_TOLERANCE", "X_SCALE"]

CELL_BITS = 5  # a cell is 2**-5 of an octave
DEGREE = 7  # higher degrees lost digits to rounding in the monomial form (measured)
TABLE_TOLERANCE = 1e-13  # relative error allowed in a tabled cell
CUMHAZ_OCTAVES = (-6, 15)  # H tabled on days 2^-6 (22 minutes) .. 2^15 (90 years)
INVERSE_OCTAVES = (-20, 5)  # H^-1 tabled on targets 2^-20 .. 2^5 (below: 1 draw in 10^6)
DRAW_OCTAVES = (-55, 0)  # -log(u) tabled on the uniforms, (k + 0.5) 2^-53 >= 2^-54
CHECK_POINTS = 33  # per cell, when it is built
ROW = DEGREE + 1  # a cell's coefficients of x^0 .. x^7: 64 bytes, one cache line
CELL_SHIFT = np.uint64(52 - CELL_BITS)
IN_CELL_MASK = np.uint64((1 << (52 - CELL_BITS)) - 1)  # mantissa bits below the cell's number
X_SCALE = 2.0 ** -(51 - CELL_BITS)  # those bits to [0, 2)
CUMHAZ, INVERSE = 0, 1
OCTAVES = {CUMHAZ: CUMHAZ_OCTAVES, INVERSE: INVERSE_OCTAVES}


def float_bits(x):
    """The IEEE-754 bits of the double ``x`` as an unsigned integer."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _first_cell(octaves):
    """The number, from its bits, of the first cell of tables over ``octaves``."""
    return float_bits(2.0 ** octaves[0]) >> (52 - CELL_BITS)


# every process's tables start at the same octaves: one first cell per function
_FIRST_CELL = np.array([_first_cell(CUMHAZ_OCTAVES), _first_cell(INVERSE_OCTAVES)], np.uint64)
_DRAW_FIRST_CELL = np.uint64(_first_cell(DRAW_OCTAVES))


@intrinsic
def _bitcast_u64(typingctx, x):
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.uint64))

    return sig, codegen


@overload(float_bits)
def _float_bits_jit(x):
    # compiled: a bitcast (no instruction); the Python version above serves the CUDA
    # simulator, which runs the kernels' code as Python
    return lambda x: _bitcast_u64(x)


def has_tables(table):
    """Whether an engine's table array holds tables (float64) or stands for none (float32)."""
    return table.dtype == np.float64


@overload(has_tables)
def _has_tables_jit(table):
    # decided when the kernel is compiled: an engine without tables gets a kernel with no
    # table code at all (the exact path as it was, in speed too); one with tables another
    held = table.dtype == types.float64
    return lambda table: held


@njit(cache=True, inline="always")
def table_value(eng, q, which, v):
    """``H`` (``which`` 0) or ``H^-1`` (1) of process ``q`` at ``v`` from its table.

    NaN where the table has no cell for ``v`` (the caller then evaluates exactly).
    """
    if not has_tables(eng.tab_coef):
        return np.nan
    n_cells = eng.tab_cells[q, which]
    if n_cells == 0:  # not tabled: the bits are not even read
        return np.nan
    cell = (float_bits(v) >> CELL_SHIFT) - _FIRST_CELL[which]
    if cell >= n_cells:  # unsigned: below the first cell wraps round to above
        return np.nan
    return _poly(eng.tab_coef, eng.tab_first[q, which] + cell, v)


@njit(cache=True, inline="always")
def table_neglog(eng, u):
    """``-log(u)`` from the engine's table of it, for ``0 < u < 1``; NaN where it has none."""
    if not has_tables(eng.tab_draw):
        return np.nan
    cell = (float_bits(u) >> CELL_SHIFT) - _DRAW_FIRST_CELL
    if cell >= np.uint64(eng.tab_draw.shape[0]):  # u beyond the table
        return np.nan
    return _poly(eng.tab_draw, cell, u)


@njit(cache=True, inline="always")
def _poly(c, r, v):
    """Row ``r``'s polynomial at ``v``, in ``x`` in [-1, 1) across ``v``'s cell."""
    # x from the mantissa bits below the cell's number: exact, and nothing stored
    x = float(np.int64(float_bits(v) & IN_CELL_MASK)) * X_SCALE - 1.0  # signed: one instruction
    x2 = x * x
    x4 = x2 * x2
    # Estrin's order: three short chains instead of one of seven multiply-adds
    return ((c[r, 0] + c[r, 1] * x) + x2 * (c[r, 2] + c[r, 3] * x)
            + x4 * ((c[r, 4] + c[r, 5] * x) + x2 * (c[r, 6] + c[r, 7] * x)))


def no_tables(n_proc):
    """The table fields of an engine without tables: ``(cells, first, coef, draw)``.

    ``coef`` and ``draw`` are float32, which :func:`has_tables` reads as "none".
    """
    zeros = np.zeros((n_proc, 2), np.uint64)
    return (zeros, zeros.copy(), np.zeros((0, ROW), np.float32),
            np.zeros((0, ROW), np.float32))


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
