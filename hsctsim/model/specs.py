"""Shared readers of the optional sections: a process given by timing or incidence,
a hazard ratio with its source, and a figure's point value."""

from .scenario import MAX_HORIZON_DAYS, ProcessSpec, Range
from .timing import TIMING_KEYS, parse_timing

SPEC_KEYS = {"incidence", "landmark_day", "timing", "cure_fraction", "source",
             "timing_source", "range_distribution"}


def process_spec(reader, table, where, name, calibrated=False):
    """A :class:`ProcessSpec` from a sub-table (``where`` is its dotted key).

    With ``calibrated`` the process may be given by an incidence at a landmark
    (solved jointly with the core ones); otherwise by its timing and a
    ``cure_fraction``.
    """
    if not isinstance(table, dict):
        reader.fail(where, f"must be a table, not {type(table).__name__}")
    reader.check_keys(table, SPEC_KEYS, where)
    timing_table = reader.table(table, "timing", where)
    reader.check_keys(timing_table, TIMING_KEYS, f"{where}.timing")
    try:
        timing = parse_timing(timing_table)
    except ValueError as exc:
        reader.fail(f"{where}.timing", str(exc))
    distribution = reader.text(table, "range_distribution", f"{where}.range_distribution",
                               "uniform", ("uniform", "triangular"))
    incidence = landmark = None
    if "incidence" in table:
        if not calibrated:
            reader.fail(f"{where}.incidence", "give this process a timing and cure_fraction")
        if "cure_fraction" in table:
            reader.fail(f"{where}.cure_fraction", "give either incidence or cure_fraction")
        if timing.family == "fixed":
            reader.fail(f"{where}.timing", "a fixed day cannot be calibrated to an incidence")
        incidence = reader.range(table, "incidence", f"{where}.incidence",
                                 distribution=distribution)
        landmark = reader.number(table, "landmark_day", f"{where}.landmark_day", 1.0,
                                 MAX_HORIZON_DAYS)
    elif "landmark_day" in table:
        reader.fail(f"{where}.landmark_day", "given without an incidence")
    cure = reader.number(table, "cure_fraction", f"{where}.cure_fraction", 0.0, 1.0, 0.0)
    source = reader.text(table, "source", f"{where}.source", "")
    if not source.strip():
        reader.fail(f"{where}.source", "every number needs its source")
    return ProcessSpec(name, timing, incidence, landmark, cure, source,
                       reader.text(table, "timing_source", f"{where}.timing_source", ""))


def hazard_ratio(reader, table, key, where, default=None):
    """A hazard ratio ``{hr = x or [lo, hi], source = "..."}``; ``default`` if absent."""
    if key not in table:
        if default is None:
            reader.fail(f"{where}.{key}", "missing")
        return default
    item = table[key]
    if not isinstance(item, dict):
        reader.fail(f"{where}.{key}", "must be a table {hr = ..., source = \"...\"}")
    reader.check_keys(item, {"hr", "source"}, f"{where}.{key}")
    hr = reader.range(item, "hr", f"{where}.{key}.hr", 1e-6, 1e6)
    source = reader.text(item, "source", f"{where}.{key}.source")
    if not source.strip():
        reader.fail(f"{where}.{key}.source", "every number needs its source")
    return hr, source


def point(value):
    """A Range's midpoint (a float passes through)."""
    return value.mid if isinstance(value, Range) else float(value)
