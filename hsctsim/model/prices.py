"""Costs in one price year: a cost figure's own ``price_year`` and a sourced price index.

A cost figure may say which year's prices it is in (``{ value = ..., source = ...,
price_year = 2013 }``); a price index then brings it to ``costs.price_year``:
``value * level[price_year of the arm] / level[price_year of the figure]``.

The index is the scenario's ``[costs] price_index``: either a table of its own
(``{ value = [[year, level], ...], source = "..." }``) or the name of an index that
ships with hsctsim (:data:`BUNDLED_INDEXES`, files ``hsctsim/model/data/price_index_*.csv``:
comment lines ``#`` saying what the series is and where it was read, then ``year,index,
source`` with each year's source address). Costs in US dollars without a
``price_index`` take :data:`DEFAULT_INDEX` (``us_pce_health``). A bundled index holds
only the years that were read: a price year outside them is refused, naming the
figure and the years the index has.
"""

import csv
import math
from functools import cache
from pathlib import Path

from .econfigures import Figure, fail

__all__ = ["BUNDLED_INDEXES", "bundled_index", "DEFAULT_INDEX", "inflate", "price_index"]

# name -> (file, what it is, in words)
BUNDLED_INDEXES = {
    "us_cpi_medical_care": ("price_index_us_cpi_medical_care.csv",
                            "US CPI-U medical care (BLS CUUR0000SAM, annual averages)"),
    "us_pce_health": ("price_index_us_pce_health.csv",
                      "US PCE price index, health (BEA NIPA Table 2.5.4)"),
}
# US dollars without a price_index: the health PCE index (the one MEPS recommends for
# total health spending), read to 2017 only; a scenario with later years names
# "us_cpi_medical_care" (to 2024), as configs/mac.toml does
DEFAULT_INDEX = {"USD": "us_pce_health"}


@cache
def bundled_index(name):
    """``({year: level}, source)`` of a bundled index (see :data:`BUNDLED_INDEXES`).

    Parameters
    ----------
    name : str
        A key of :data:`BUNDLED_INDEXES`.

    Returns
    -------
    tuple of (dict of int to float, str)
        The levels by year, and a source line naming the series and the addresses its
        years were read at.
    """
    file, what = BUNDLED_INDEXES[name]
    path = Path(__file__).with_name("data") / file
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    levels = {int(r["year"]): float(r["index"]) for r in rows}
    addresses = sorted({r["source"] for r in rows})
    return levels, (f"{what}, {min(levels)}-{max(levels)} (bundled '{name}', read at "
                    f"{'; '.join(addresses)})")


def _years(index):
    """The years of an index, in words (runs of consecutive years as ranges)."""
    years = sorted(index)
    runs, start = [], years[0]
    for a, b in zip(years, years[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}-{a}" if a != start else str(a))
            start = b
    return ", ".join(runs)


def price_index(path, table, currency=None):
    """``({year: level}, source)`` of ``[costs] price_index`` (or the currency's
    bundled default), validated; ``(None, None)`` when there is none."""
    where = "costs.price_index"
    item = table.get("price_index")
    if item is None and currency in DEFAULT_INDEX:
        return bundled_index(DEFAULT_INDEX[currency])
    if isinstance(item, str):
        if item not in BUNDLED_INDEXES:
            fail(path, where, f"'{item}' is not a bundled index (one of "
                  f"{', '.join(sorted(BUNDLED_INDEXES))}), nor a table {{ value = [[year, "
                  "index], ...], source = \"...\" }")
        return bundled_index(item)
    if not isinstance(item, dict) or not str(item.get("source", "")).strip():
        fail(path, where, "missing or without source: { value = [[year, index], ...], "
              "source = \"...\" } (e.g. a consumer price index of medical care), or a "
              f"bundled index: {', '.join(sorted(BUNDLED_INDEXES))}")
    extra = set(item) - {"value", "source"}
    if extra:
        fail(path, f"{where}.{sorted(extra)[0]}", "unknown key; expected value and source")
    pairs = item.get("value")
    if not isinstance(pairs, list) or not pairs or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs):
        fail(path, f"{where}.value", "must be a list of [year, index] pairs")
    index = {}
    for i, (year, level) in enumerate(pairs):
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
            fail(path, f"{where}.value[{i}]", "a year must be a whole number such as 2020")
        if isinstance(level, bool) or not isinstance(level, int | float) or not (
                0 < level < math.inf):
            fail(path, f"{where}.value[{i}]", "an index level must be a number > 0")
        if year in index:
            fail(path, f"{where}.value[{i}]", f"year {year} given twice")
        index[year] = float(level)
    return index, item["source"].strip()


def inflate(path, table, costs, target_year, currency=None):
    """Costs whose figure names another ``price_year`` are brought to ``target_year``.

    ``value * index[target_year] / index[price_year]``, with the index of
    ``[costs] price_index`` (its source required), or the currency's bundled default;
    a range has both ends scaled. Returns ``(costs, {key: (year, factor)}, source)``.
    """
    years = {}
    for key in costs:
        year = table[key].get("price_year", target_year)
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
            fail(path, f"costs.{key}.price_year", "must be a year such as 2016")
        if year != target_year:
            years[key] = year
    if not years:
        if "price_index" in table:
            price_index(path, table)  # checked all the same
        return costs, {}, None
    index, source = price_index(path, table, currency)
    out, inflation = dict(costs), {}
    for key, year in years.items():
        for needed in (year, target_year):
            if needed not in index:
                named = table.get("price_index")
                which = (f"the bundled index '{named or DEFAULT_INDEX.get(currency)}'"
                         if not isinstance(named, dict) else "costs.price_index")
                covering = [n for n in sorted(BUNDLED_INDEXES)
                            if {year, target_year} <= set(bundled_index(n)[0])]
                other = (f"costs.price_index = \"{covering[0]}\" (bundled, it has both), or "
                         if covering else "")
                fail(path, f"costs.{key}.price_year", f"{year} to {target_year}: {which} has "
                      f"no {needed} (it has {_years(index)}); give {other}costs.price_index "
                      "a table with both years and its source")
        factor = index[target_year] / index[year]
        fig = costs[key]
        value = (tuple(v * factor for v in fig.value) if isinstance(fig.value, tuple)
                 else fig.value * factor)
        out[key] = Figure(value, fig.source)
        inflation[key] = (year, factor)
    return out, inflation, source
