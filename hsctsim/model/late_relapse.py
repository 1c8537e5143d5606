"""Late relapse: relapses after the arm's relapse evidence ends.

Each arm's relapse timing is a parametric law fitted to an early landmark (after
MAC: 13.5% by 18 months, median 200 days, 90% by 540), so its tail says almost
nothing happens after year 2, while long-term registry follow-up of 2-year
leukaemia-free survivors shows a steady trickle of relapses for years.
``[late_relapse]`` takes over on ``from_day``: a marker (``late_relapse_phase``)
closes the calibrated relapse process, whose tail beyond its landmark would
otherwise be extrapolated, and opens ``late_relapse``, a piecewise-constant hazard
by year since transplant taken from that follow-up::

    [late_relapse]
    from_day = 730
    rate_per_year = [[2, 0.0395], [4, 0.0153], [10, 0.0]]   # [years since HCT, rate]
    source = "..."                       # and one *_source per figure

The first piece starts on ``from_day`` (its year within a day of it); each rate
holds until the next piece, the last one for good.  ``from_day`` may not come
before the landmark of the arm's relapse figure: the process it closes must reach
its published figure first.

A late relapse is a relapse: it has every consequence the calibrated relapse has
(it closes non-relapse death and late death, opens death after relapse, whose
stratum of relapse day is the late relapse's day, late death after relapse, and
DLI where relapse triggers it), and whatever reads "the relapse" of a patient
reads the earliest of :data:`~hsctsim.model.process_table.RELAPSES`.  The hazard
is the registry's marginal rate among 2-year survivors, who already carry their
mix of GVHD and chimerism: the hazard ratios that act on the calibrated relapse
(GVHD, mixed chimerism, NK cells) do not act on it, or they would count that mix
twice.
"""

import dataclasses
import math
from dataclasses import dataclass

from ..engine.processes import Process
from .economics import DAYS_PER_YEAR
from .late_mortality import refuse_early_start

__all__ = ["check", "extend", "hazard_pieces", "KEYS", "LateRelapse", "parse", "ranges",
           "with_value"]

FIGURES = ("from_day", "rate_per_year")
KEYS = {*FIGURES, *(f"{k}_source" for k in FIGURES), "source"}
MAX_RATE_PER_YEAR = 10.0  # a yearly relapse hazard above this is a typo, not a figure


@dataclass(frozen=True)
class LateRelapse:
    """The figures of ``[late_relapse]`` (see the module docstring)."""

    from_day: float
    rate_per_year: tuple  # ((years since transplant, rate per year), ...) ascending
    sources: dict  # figure -> source


def parse(reader, data, key, parsed):
    """Read ``[late_relapse]`` (see :class:`LateRelapse`)."""
    table = reader.table(data, key)
    reader.check_keys(table, KEYS, key)
    from_day = reader.number(table, "from_day", f"{key}.from_day", 0.0, 36500.0)
    where = f"{key}.rate_per_year"
    pieces = table.get("rate_per_year")
    if not isinstance(pieces, list) or not pieces:
        reader.fail(where, "must be a list of [years since transplant, rate per year] pairs")
    rates = []
    for item in pieces:
        if (not isinstance(item, list) or len(item) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in item)
                or not all(math.isfinite(v) for v in item)
                or not (0.0 <= item[0] <= 100.0 and 0.0 <= item[1] <= MAX_RATE_PER_YEAR)):
            reader.fail(where, f"{item!r} is not a [years 0-100, rate 0-{MAX_RATE_PER_YEAR:g} "
                               "per year] pair")
        rates.append((float(item[0]), float(item[1])))
    years = [y for y, _ in rates]
    if years != sorted(set(years)):
        reader.fail(where, "the years must be strictly increasing")
    if abs(years[0] * DAYS_PER_YEAR - from_day) > 1.0:
        reader.fail(where, f"the first piece starts at year {years[0]:g} (day "
                           f"{years[0] * DAYS_PER_YEAR:g}), not on from_day {from_day:g}")
    return LateRelapse(
        from_day=from_day, rate_per_year=tuple(rates),
        sources={k: reader.source(table, f"{k}_source", f"{key}.{k}_source",
                                  table.get("source")) for k in FIGURES})


def check(reader, late, relapse_day):
    """``from_day`` must not come before ``relapse_day``, the landmark of the arm's
    relapse figure (see :func:`~hsctsim.model.late_mortality.refuse_early_start`)."""
    refuse_early_start(reader, "late_relapse", late.from_day, relapse_day, "relapse")


def ranges(key, late):
    """No ranged figures (each is a published or derived value)."""
    return []


def with_value(late, key, value):
    """No ranged figure to replace (see :func:`ranges`)."""
    raise KeyError(key)


def hazard_pieces(late):
    """``(starts, rates)`` per day of ``late_relapse``, days from transplant.

    Zero before ``from_day``; the first piece from ``from_day``, the others from
    their year since transplant.
    """
    starts = [0.0, late.from_day]
    rates = [0.0, late.rate_per_year[0][1] / DAYS_PER_YEAR]
    for year, rate in late.rate_per_year[1:]:
        starts.append(year * DAYS_PER_YEAR)
        rates.append(rate / DAYS_PER_YEAR)
    return tuple(starts), tuple(rates)


def extend(scenario, susceptible, procs):
    """Add ``late_relapse_phase`` (on ``from_day``: closes relapse, opens late relapse)
    and ``late_relapse``, with every consequence of the calibrated relapse."""
    late = scenario.extensions["late_relapse"]
    relapse = next(p for p in procs if p.name == "relapse")
    # an early relapse is the patient's relapse: no late one after it
    procs = [dataclasses.replace(p, closes=p.closes + ("late_relapse",))
             if p.name == "relapse" else p for p in procs]
    return procs + [
        Process("late_relapse_phase", "fixed", (late.from_day,), 1.0, closes=("relapse",),
                opens=("late_relapse",)),
        # what relapse closes and opens (late death, DLI where the scenario has them,
        # added by the sections before this one), and relapse itself
        Process("late_relapse", "piecewise", hazard_pieces(late), 1.0, at_start=False,
                closes=(*relapse.closes, "relapse"), opens=relapse.opens),
    ]
