"""Shared readers of the optional sections: a process given by timing or incidence,
a hazard ratio with its source, and a figure's point value."""

from .schema import RANGE_DISTRIBUTIONS, Range, parse_process

__all__ = ["hazard_ratio", "point", "process_spec"]


def process_spec(reader, table, where, name, calibrated=False):
    """A :class:`ProcessSpec` of an optional section (``where`` is its dotted key).

    Read as a core process is (:func:`~hsctsim.model.scenario.parse_process`),
    with the section's choices: with ``calibrated`` the process may be given by an
    incidence at a landmark (solved jointly with the core ones), otherwise by its
    timing and a ``cure_fraction``; an incidence's range is uniform or triangular.
    """
    return parse_process(reader, table, where, name, calibrated=calibrated,
                         distributions=RANGE_DISTRIBUTIONS)


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
    return hr, reader.source(item, "source", f"{where}.{key}.source")


def point(value):
    """A Range's midpoint (a float passes through)."""
    return value.mid if isinstance(value, Range) else float(value)
