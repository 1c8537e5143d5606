"""Costs in one price year: a cost figure's own ``price_year`` and a sourced price index.

A cost figure may say which year's prices it is in (``{ value = ..., source = ...,
price_year = 2013 }``); the scenario's ``[costs] price_index = { value = [[year,
level], ...], source = "..." }`` then brings it to ``costs.price_year``:
``value * level[price_year of the arm] / level[price_year of the figure]``.
"""

import math

from .econfigures import Figure, fail

__all__ = ["inflate", "price_index"]


def price_index(path, table):
    """``{year: level}`` and the source of ``[costs] price_index``, validated."""
    where = "costs.price_index"
    item = table.get("price_index")
    if not isinstance(item, dict) or not str(item.get("source", "")).strip():
        fail(path, where, "missing or without source: { value = [[year, index], ...], "
              "source = \"...\" } (e.g. a consumer price index of medical care)")
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


def inflate(path, table, costs, target_year):
    """Costs whose figure names another ``price_year`` are brought to ``target_year``.

    ``value * index[target_year] / index[price_year]``, with the index of
    ``[costs] price_index`` (its source required); a range has both ends scaled.
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
    index, source = price_index(path, table)
    out, inflation = dict(costs), {}
    for key, year in years.items():
        for needed in (year, target_year):
            if needed not in index:
                fail(path, f"costs.{key}.price_year", f"{year}: costs.price_index has no "
                      f"{needed} (it has {', '.join(str(y) for y in sorted(index))})")
        factor = index[target_year] / index[year]
        fig = costs[key]
        value = (tuple(v * factor for v in fig.value) if isinstance(fig.value, tuple)
                 else fig.value * factor)
        out[key] = Figure(value, fig.source)
        inflation[key] = (year, factor)
    return out, inflation, source
