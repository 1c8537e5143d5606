"""The scenario schema: what a scenario file may say, and typed reading of it.

Constants (keys, limits, distributions), :class:`ScenarioError`, the value types
(:class:`Range`, :class:`ProcessSpec`, :class:`Effect`, the interventions) and
:class:`Reader` with :func:`parse_process`.  Below the loader
(:mod:`hsctsim.model.scenario`) and every optional section, which all read it.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

from . import process_table
from .hints import did_you_mean
from .timing import TIMING_KEYS, Timing, parse_timing

__all__ = ["CALIBRATED", "CHIMERISM_KINDS", "DLI", "DLI_TRIGGERS", "EFFECTS", "EXTENSION_KEYS",
           "EXTRA_KEYS", "Effect", "HR_DISTRIBUTIONS", "INCIDENCE_DISTRIBUTIONS",
           "INTERVENTION_KEYS", "MAX_BASE_CHAIN", "MAX_HORIZON_DAYS", "NAME_PATTERN", "NKCells",
           "PROCESSES", "PROCESS_KEYS", "ProcessSpec", "RANGE_DISTRIBUTIONS", "Range", "Reader",
           "ScenarioError", "TOP_KEYS", "Z95", "one_line", "parse_process", "top_keys"]

# the built-in processes and ties (see model/process_table.py, which also has the
# functions that include registered ones)
PROCESSES = process_table.configured()
CALIBRATED = process_table.calibrated()
EFFECTS = {t.name: t.description for t in process_table.TIES}
CHIMERISM_KINDS = ("donor", "micro", "autologous")
RANGE_DISTRIBUTIONS = ("uniform", "triangular")
# sections read by hsctsim.model.extensions (solid tumours, covariates, autologous rescue,
# late mortality, late relapse)
EXTENSION_KEYS = ("tumour", "covariates", "recovery", "msc", "late_mortality", "late_relapse")
# where a source gives a distribution: beta for an incidence (a probability),
# log-normal for a hazard ratio; the range is then read as its 95% interval
INCIDENCE_DISTRIBUTIONS = (*RANGE_DISTRIBUTIONS, "beta")
HR_DISTRIBUTIONS = (*RANGE_DISTRIBUTIONS, "lognormal")
Z95 = 1.959963984540054  # a 95% interval is mean +- Z95 standard deviations
TOP_KEYS = {"name", "base", "title", "population", "horizon_days", "chimerism", "notes",
            "effects", "nk_cells", "dli", *PROCESSES, *EXTENSION_KEYS,
            "costs", "utilities", "durations", "lifetime"}  # read by model/economics.py


def top_keys():
    """:data:`TOP_KEYS` with the tables of registered processes."""
    return TOP_KEYS | set(process_table.configured())



PROCESS_KEYS = {"incidence", "landmark_day", "timing", "cure_fraction", "source",
                "timing_source", "range_distribution"}
EXTRA_KEYS = {p.name: set(p.extra_keys) for p in process_table.PROCESS_TABLE if p.extra_keys}
INTERVENTION_KEYS = {
    "nk_cells": {"day", "relapse_hr", "agvhd_hr", "duration_days", "source",
                 "range_distribution"},
    "dli": {"trigger", "delay_days", "agvhd_hr", "cgvhd_hr", "relapse_hr", "rejection_hr",
            "death_after_relapse_hr", "source"},
}
DLI_TRIGGERS = ("mixed_chimerism", "relapse", "either")
MAX_HORIZON_DAYS = 36500
MAX_BASE_CHAIN = 32  # base scenarios named in a row; real chains are 2 or 3 long
# a scenario name becomes file names (scenarios/<name>.json, events/<name>.csv)
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # those str.splitlines breaks at


def one_line(text):
    """``text`` with its line breaks shown escaped (``\\n``): an error is one line,
    whatever the user typed (``--set name=$'a\\nb'``)."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in str(text))


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names file, key and problem."""

    def __init__(self, file, key, problem):
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(one_line(where + problem))


@dataclass(frozen=True)
class Range:
    """A reported value or range ``[low, high]``; a point has ``low == high``."""

    low: float
    high: float
    distribution: str = "uniform"

    @property
    def mid(self):
        """The central value, used where one value is needed (the base case).

        The midpoint; for a ``lognormal`` range its median ``sqrt(low * high)``, the
        value :meth:`draw` centres on (a hazard ratio from a ratio of logs has a
        95% interval symmetric on the log scale, not on the linear one).
        """
        if self.distribution == "lognormal" and self.low > 0.0:
            return math.sqrt(self.low * self.high)
        return 0.5 * (self.low + self.high)

    def draw(self, rng):
        """One draw from the range (a point returns itself).

        ``beta``: mean at the midpoint, standard deviation ``(high - low) / 3.92``
        (the range as a 95% interval), by the method of moments; ``lognormal``:
        median ``sqrt(low * high)``, ``log`` standard deviation
        ``log(high / low) / 3.92``.
        """
        if self.low == self.high:
            return self
        if self.distribution == "triangular":
            value = rng.triangular(self.low, self.mid, self.high)
        elif self.distribution == "beta":
            a, b = self.beta_parameters()
            value = rng.beta(a, b)
        elif self.distribution == "lognormal":
            value = rng.lognormal(0.5 * math.log(self.low * self.high),
                                  math.log(self.high / self.low) / (2 * Z95))
        else:
            value = rng.uniform(self.low, self.high)
        return Range(float(value), float(value), self.distribution)

    def beta_parameters(self):
        """``(a, b)`` of the beta with the range's mean and 95%-interval spread.

        Both are positive for any range within [0, 1]: its standard deviation is at
        most 1 / 3.92, below ``sqrt(mean (1 - mean))`` for every mean in (0, 1).
        """
        mean, sd = self.mid, (self.high - self.low) / (2 * Z95)
        k = mean * (1 - mean) / sd**2 - 1
        return mean * k, (1 - mean) * k

    def to_toml_value(self):
        return self.low if self.low == self.high else [self.low, self.high]


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the course: a calibration target or a given distribution."""

    name: str
    timing: Timing
    incidence: Range | None = None
    landmark_day: float | None = None
    cure_fraction: float = 0.0
    source: str = ""
    timing_source: str = ""


@dataclass(frozen=True)
class Effect:
    """A hazard ratio (point or range) and where it comes from."""

    hr: Range
    source: str


@dataclass(frozen=True)
class NKCells:
    """Donor NK-cell infusion on a fixed day, changing hazards for a while."""

    day: float
    relapse_hr: Range
    agvhd_hr: Range
    duration_days: float
    source: str


@dataclass(frozen=True)
class DLI:
    """Donor lymphocyte infusion triggered by mixed chimerism and/or relapse."""

    trigger: str
    delay_days: float
    agvhd_hr: Range
    cgvhd_hr: Range
    relapse_hr: Range
    rejection_hr: Range
    death_after_relapse_hr: Range
    source: str


class Reader:
    """Typed access to a TOML dict with errors that name the file and dotted key."""

    def __init__(self, path):
        self.path = path

    def fail(self, key, problem):
        raise ScenarioError(self.path, key, problem)

    def check_keys(self, table, allowed, prefix):
        for key in table:
            if key not in allowed:
                where = f"{prefix}.{key}" if prefix else key
                self.fail(where, "unknown key" + (did_you_mean(key, allowed)
                                                  or f"; expected one of {sorted(allowed)}"))

    def table(self, data, key, prefix=""):
        value = data.get(key)
        where = f"{prefix}.{key}" if prefix else key
        if value is None:
            self.fail(where, "missing (give it here or in a base scenario)")
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, not {type(value).__name__}")
        return value

    def number(self, data, key, where, low=-math.inf, high=math.inf, default=None):
        value = data.get(key, default)
        if value is None:
            self.fail(where, "missing")
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"must be a number, not {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            self.fail(where, f"must be a finite number, not {value:g}")
        if not low <= value <= high:
            self.fail(where, f"{value:g} is outside [{low:g}, {high:g}]")
        return value

    def text(self, data, key, where, default=None, choices=None):
        value = data.get(key, default)
        if value is None:
            self.fail(where, "missing")
        if not isinstance(value, str):
            self.fail(where, f"must be a string, not {type(value).__name__}")
        if choices is not None and value not in choices:
            self.fail(where, f"'{value}' is not one of {list(choices)}"
                      + did_you_mean(value, choices))
        return value

    def arm_name(self, data):
        """The scenario's ``name`` (default: the file's stem), usable as an arm's."""
        name = self.text(data, "name", "name", Path(self.path).stem)
        if not NAME_PATTERN.fullmatch(name):
            self.fail("name", f"{name!r} cannot name an arm: use ASCII letters (A-Z, a-z), "
                      "digits, _ and - "
                      "(at most 64, not starting with -)" + (
                          "" if "name" in data else "; give the scenario a name = ..."))
        return name

    def source(self, data, key, where, default=None):
        """A source text: missing (without ``default``) or blank is an error."""
        value = self.text(data, key, where, default)
        if not value.strip():
            self.fail(where, "every number needs its source")
        return value

    def timing(self, table, where):
        """The :class:`Timing` of ``table["timing"]`` (``where`` is the table's key)."""
        timing_table = self.table(table, "timing", where)
        self.check_keys(timing_table, TIMING_KEYS, f"{where}.timing")
        try:
            return parse_timing(timing_table)
        except ValueError as exc:
            self.fail(f"{where}.timing", str(exc))

    def range(self, data, key, where, low=0.0, high=1.0, distribution="uniform"):
        value = data.get(key)
        if isinstance(value, list):
            if len(value) != 2:
                self.fail(where, f"a range is [low, high], got {len(value)} values")
            lo = self.number({"v": value[0]}, "v", where, low, high)
            hi = self.number({"v": value[1]}, "v", where, low, high)
            if lo > hi:
                self.fail(where, f"range low {lo:g} is above its high {hi:g}")
            return Range(lo, hi, distribution)
        v = self.number(data, key, where, low, high)
        return Range(v, v, distribution)


def parse_process(reader, table, where, name, *, calibrated, extra_keys=(),
                  distributions=RANGE_DISTRIBUTIONS):
    """A :class:`ProcessSpec` from its table (``where`` is its dotted key).

    The core processes and those of the optional sections are read alike; what
    differs is passed in.

    Parameters
    ----------
    reader : Reader
        Fails with the file and the dotted key.
    table : dict
        The process's table.
    where : str
        Its dotted key, for messages.
    name : str
        The process's name.
    calibrated : bool
        Whether it may be given by an incidence at a landmark day (solved jointly
        with the others); otherwise only by its timing and a ``cure_fraction``.
    extra_keys : iterable of str
        Keys read elsewhere (e.g. ``agvhd.share_3_4``) that the table may hold.
    distributions : tuple of str
        The allowed ``range_distribution`` values for its incidence.
    """
    if not isinstance(table, dict):
        reader.fail(where, f"must be a table, not {type(table).__name__}")
    reader.check_keys(table, PROCESS_KEYS | set(extra_keys), where)
    timing = reader.timing(table, where)
    distribution = reader.text(table, "range_distribution", f"{where}.range_distribution",
                               "uniform", distributions)
    incidence = landmark = None
    if "incidence" in table:
        if not calibrated:
            reader.fail(f"{where}.incidence", "this process takes its timing directly "
                        "(a distribution with cure_fraction), not an incidence")
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
    source = reader.source(table, "source", f"{where}.source", "")
    return ProcessSpec(name, timing, incidence, landmark, cure, source,
                       reader.text(table, "timing_source", f"{where}.timing_source", ""))
