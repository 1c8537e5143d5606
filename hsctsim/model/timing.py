"""Timing shapes: how a scenario says when an event happens among those who have it.

A timing table names a family and the figures papers report (a median onset day,
the day by which 90% have had it) or the family's own parameters; this module
turns it into the kernel's parameters (see :mod:`hsctsim.hazards`).
"""

import math
from dataclasses import dataclass

from scipy.special import ndtri

__all__ = ["fixed", "parse_timing", "Timing", "TIMING_KEYS"]

TIMING_KEYS = {"family", "median_day", "p90_day", "sigma", "shape", "scale_day",
               "rate_per_day", "day", "breaks_day", "rates_per_day"}
_Z90 = float(ndtri(0.9))
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class Timing:
    """A family and its kernel parameters; ``spec`` keeps what the scenario said."""

    family: str
    params: tuple
    spec: tuple

    def describe(self):
        return ", ".join(f"{k}={v}" for k, v in self.spec)


# exp() of more than this overflows a double: a Gompertz shape * day beyond it has no
# representable hazard
_MAX_EXPONENT = 700.0


def _number(value):
    """``value`` as a finite float, or None (booleans, strings, NaN, inf are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _positive(table, key):
    value = table.get(key)
    if value is None:
        raise ValueError(f"'{key}' is missing")
    number = _number(value)
    if number is None or not number > 0:
        raise ValueError(f"'{key}' must be a finite positive number, got {value!r}")
    return number


def _finite_list(table, key, low):
    """A list of finite numbers ``>= low``; says which element is wrong."""
    values = table.get(key)
    if not isinstance(values, list) or not values:
        raise ValueError(f"'{key}' must be a non-empty list of numbers")
    out = []
    for i, value in enumerate(values):
        number = _number(value)
        if number is None or number < low:
            raise ValueError(f"'{key}'[{i}] must be a finite number >= {low:g}, "
                             f"got {value!r}")
        out.append(number)
    return tuple(out)


def _only(table, allowed):
    extra = sorted(set(table) - set(allowed) - {"family"})
    if extra:
        raise ValueError(f"'{extra[0]}' does not apply to family '{table['family']}'"
                         f" (it takes {sorted(allowed)})")


def _p90_over_median(table):
    median, p90 = _positive(table, "median_day"), _positive(table, "p90_day")
    if p90 <= median:
        raise ValueError(f"p90_day {p90:g} must be after median_day {median:g}")
    return median, p90


def parse_timing(table):
    """Kernel parameters from a timing table.

    Parameters
    ----------
    table : dict
        ``family`` plus its figures, e.g. ``{"family": "lognormal", "median_day": 41,
        "p90_day": 64}``.

    Returns
    -------
    Timing

    Raises
    ------
    ValueError
        With a message that names the offending key.
    """
    try:
        timing = _parse(table)
    except (OverflowError, ZeroDivisionError) as exc:
        raise ValueError(f"its figures overflow ({exc})") from None
    family, params = timing.family, timing.params
    flat = [*params[0], *params[1]] if family == "piecewise" else list(params)
    if not all(math.isfinite(v) for v in flat):
        raise ValueError(f"its figures give non-finite parameters {params!r}")
    return timing


def _parse(table):
    family = table.get("family")
    spec = tuple(sorted(table.items()))
    if family == "exponential":
        _only(table, {"median_day", "rate_per_day"})
        rate = (_positive(table, "rate_per_day") if "rate_per_day" in table
                else _LN2 / _positive(table, "median_day"))
        return Timing(family, (rate,), spec)
    if family == "weibull":
        _only(table, {"median_day", "p90_day", "shape", "scale_day"})
        if "p90_day" in table:
            median, p90 = _p90_over_median(table)
            shape = math.log(math.log(10.0) / _LN2) / math.log(p90 / median)
        else:
            shape = _positive(table, "shape")
        scale = (_positive(table, "scale_day") if "scale_day" in table
                 else _positive(table, "median_day") / _LN2 ** (1.0 / shape))
        return Timing(family, (shape, scale), spec)
    if family == "lognormal":
        _only(table, {"median_day", "p90_day", "sigma"})
        if "p90_day" in table:
            median, p90 = _p90_over_median(table)
            sigma = math.log(p90 / median) / _Z90
        else:
            median, sigma = _positive(table, "median_day"), _positive(table, "sigma")
        return Timing(family, (math.log(median), sigma), spec)
    if family == "gompertz":
        _only(table, {"shape", "median_day", "rate_per_day"})
        b = _number(table.get("shape"))
        if b is None:
            raise ValueError(f"'shape' (per day) must be a finite number, got "
                             f"{table.get('shape')!r}")
        if "rate_per_day" in table:
            a = _positive(table, "rate_per_day")
        else:
            median = _positive(table, "median_day")
            if b * median > _MAX_EXPONENT:
                raise ValueError(f"shape {b:g} with median_day {median:g} overflows "
                                 f"(shape * median_day must be at most {_MAX_EXPONENT:g})")
            a = _LN2 / median if b == 0 else b * _LN2 / math.expm1(b * median)
        if not (math.isfinite(a) and a > 0):
            raise ValueError(f"shape {b:g} gives no usable initial rate ({a!r})")
        return Timing(family, (b, a), spec)
    if family == "loglogistic":
        # S(t) = 1 / (1 + (t / scale)^shape): the scale is the median
        _only(table, {"shape", "scale_day", "median_day"})
        if "scale_day" in table and "median_day" in table:
            raise ValueError("give 'scale_day' or 'median_day' (the same for this family), "
                             "not both")
        scale = _positive(table, "scale_day" if "scale_day" in table else "median_day")
        return Timing(family, (_positive(table, "shape"), scale), spec)
    if family == "piecewise":
        _only(table, {"breaks_day", "rates_per_day"})
        starts = _finite_list(table, "breaks_day", 0.0)
        rates = _finite_list(table, "rates_per_day", 0.0)
        if len(starts) != len(rates):
            raise ValueError("'breaks_day' and 'rates_per_day' must have the same length")
        if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError("'breaks_day' must start at 0 and increase")
        return Timing(family, (starts, rates), spec)
    if family == "fixed":
        _only(table, {"day"})
        day = _number(table.get("day"))
        if day is None or day < 0:
            raise ValueError(f"'day' must be a finite number >= 0, got {table.get('day')!r}")
        return Timing(family, (day,), spec)
    raise ValueError(f"family {family!r} is not one of exponential, weibull, lognormal, "
                     "gompertz, loglogistic, piecewise, fixed")


def fixed(day):
    """A fixed-day timing (scheduled interventions, marks at onset)."""
    return Timing("fixed", (float(day),), (("day", day), ("family", "fixed")))
