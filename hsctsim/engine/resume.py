"""The course of a patient up to a given day, from the events already behind them.

``predict`` asks about a patient alive on day ``start`` with known events before
it.  Given those, the course up to ``start`` is deterministic: which processes
are open, since when (their clock origin), under which hazard multipliers, and
which have fired or been closed.  :func:`course_until` replays it, the kernel
rules applied in order; certain scheduled events (a fixed day with no cure
fraction, e.g. an NK-cell infusion) fire by themselves when their day comes.
:func:`hsctsim.engine.kernel.simulate_from_into` then draws every open process's
budget on day ``start``: with next-reaction sampling the target starts at
``H(start)``, which is the process's law given that it has not fired by then.
"""

import math

import numpy as np

from .hazards import FIXED
from .kernel import DONE, NOT_OPEN, OPEN, entry_factor

__all__ = ["course_until", "HistoryError"]


class HistoryError(ValueError):
    """A history the engine cannot have produced (the message says which event)."""


def course_until(eng, names, history, start_day):
    """Replay the engine up to ``start_day`` with the given events.

    Parameters
    ----------
    eng : EngineArrays
    names : sequence of str
        Process names (for messages).
    history : sequence of (int, float)
        ``(process index, day)`` of every event before ``start_day`` (besides
        certain scheduled ones, which fire by themselves).
    start_day : float

    Returns
    -------
    state : int8 array (P,)
    origin, m, out : float64 arrays (P,)
        Clock origin, hazard multiplier and event day (``inf`` if none) of each process.

    Raises
    ------
    HistoryError
        An event after ``start_day``, a terminal event (the patient must be alive),
        an event given twice, or one whose process is not open on its day.
    """
    n = len(eng.family)
    state = np.full(n, NOT_OPEN, np.int8)
    origin = np.zeros(n)
    m = np.ones(n)
    out = np.full(n, np.inf)
    given = {}
    for q, day in history:
        if q in given:
            raise HistoryError(f"{names[q]} is given twice")
        if not 0.0 <= day <= start_day:
            raise HistoryError(f"{names[q]}={day:g}: the day must be between 0 and the "
                               f"prediction day {start_day:g}")
        if eng.terminal[q]:
            raise HistoryError(f"{names[q]} ends the course: predictions are for patients "
                               f"alive on day {start_day:g}")
        given[q] = float(day)

    def open_row(row, t):
        for j in range(eng.open_ptr[row], eng.open_ptr[row + 1]):
            q = eng.open_idx[j]
            if state[q] == NOT_OPEN:
                state[q] = OPEN
                origin[q] = t if eng.clock_reset[q] else 0.0
                m[q] *= float(entry_factor(eng, q, t))  # the kernel's own

    open_row(n, 0.0)
    pending = dict(given)
    while True:
        best, t_best = -1, math.inf
        for q, day in pending.items():
            if (day, q) < (t_best, best if best >= 0 else n):
                best, t_best = q, day
        for q in range(n):  # certain scheduled events fire by themselves
            if state[q] == OPEN and eng.family[q] == FIXED and eng.susceptible[q] == 1.0 \
                    and q not in given:
                day = origin[q] + eng.par[q, 0]
                if day < start_day and day < t_best:
                    best, t_best = q, day
        if best < 0:
            break
        pending.pop(best, None)
        if state[best] != OPEN:
            why = "it was closed by an earlier event" if state[best] == DONE else \
                "nothing before it opens it"
            raise HistoryError(f"{names[best]}={t_best:g} is not possible: {why}")
        if eng.family[best] == FIXED:  # a scheduled event has its day (graft failure: 28)
            day = origin[best] + eng.par[best, 0]
            if abs(t_best - day) > 1e-9 * max(1.0, abs(day)):
                raise HistoryError(f"{names[best]}={t_best:g} is not possible: in this model "
                                   f"it happens on day {day:g}")
        out[best] = t_best
        state[best] = DONE
        for q in range(n):
            if q == best:
                continue
            if eng.closes[best, q] and state[q] != DONE:
                state[q] = DONE
            else:
                m[q] *= eng.mult[best, q]
        open_row(best, t_best)
    return state, origin, m, out
