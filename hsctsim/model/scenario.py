"""Scenarios: TOML files read into frozen, validated objects.

A scenario names its population and, for each process of the post-transplant
course, a cumulative incidence at a landmark day (a point or a reported range
``[low, high]``) with a timing shape, or a distribution given directly; the
effect sizes that tie the processes together; and optional interventions.  A
scenario may name a ``base`` scenario and override only some of its keys.  Every
problem raises :class:`ScenarioError` naming the file, the key and what is wrong.
"""

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .hints import did_you_mean
from .timing import TIMING_KEYS, Timing, parse_timing

PROCESSES = ("engraftment", "graft_failure", "agvhd", "cgvhd", "cmv",
             "mixed_chimerism", "rejection", "relapse", "trm", "death_after_relapse")
CALIBRATED = ("engraftment", "agvhd", "cgvhd", "cmv", "mixed_chimerism", "rejection",
              "relapse", "trm")
EFFECTS = {
    "agvhd_on_relapse": "acute GVHD (II-IV) multiplies the relapse hazard",
    "cgvhd_on_relapse": "chronic GVHD multiplies the relapse hazard",
    "agvhd_3_4_on_trm": "grade III-IV acute GVHD multiplies the non-relapse death hazard",
    "cgvhd_on_trm": "chronic GVHD multiplies the non-relapse death hazard",
    "cmv_on_trm": "CMV reactivation multiplies the non-relapse death hazard",
    "gvhd_on_cmv": "acute or chronic GVHD (and its treatment) multiplies the CMV hazard",
    "mixed_on_relapse": "mixed chimerism multiplies the relapse hazard",
    "mixed_on_rejection": "mixed chimerism multiplies the rejection hazard",
    "graft_loss_on_relapse": "primary graft failure or rejection (no donor GVT) multiplies relapse",
    "graft_loss_on_trm": "primary graft failure or rejection multiplies non-relapse death",
}
CHIMERISM_KINDS = ("donor", "micro", "autologous")
RANGE_DISTRIBUTIONS = ("uniform", "triangular")
# sections read by hsctsim.model.extensions (solid tumours, covariates, autologous rescue)
EXTENSION_KEYS = ("tumour", "covariates", "recovery", "msc")
# where a source gives a distribution: beta for an incidence (a probability),
# log-normal for a hazard ratio; the range is then read as its 95% interval
INCIDENCE_DISTRIBUTIONS = (*RANGE_DISTRIBUTIONS, "beta")
HR_DISTRIBUTIONS = (*RANGE_DISTRIBUTIONS, "lognormal")
Z95 = 1.959963984540054  # a 95% interval is mean +- Z95 standard deviations
TOP_KEYS = {"name", "base", "title", "population", "horizon_days", "chimerism", "notes",
            "effects", "nk_cells", "dli", *PROCESSES, *EXTENSION_KEYS,
            "costs", "utilities", "durations", "lifetime"}  # read by model/economics.py
PROCESS_KEYS = {"incidence", "landmark_day", "timing", "cure_fraction", "source",
                "timing_source", "range_distribution"}
EXTRA_KEYS = {
    "agvhd": {"share_3_4", "share_3_4_source"},
    "death_after_relapse": {"by_relapse_day", "by_relapse_day_source"},
}
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


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the population, its processes, ties and interventions."""

    name: str
    title: str
    population: str
    path: str
    horizon_days: float
    chimerism: str
    processes: dict
    effects: dict
    share_3_4: Range
    share_3_4_source: str
    by_relapse_day: tuple
    nk_cells: NKCells | None
    dli: DLI | None
    notes: str = ""
    raw: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    extensions: dict = dataclasses.field(default_factory=dict)  # see model.extensions
    settings: tuple = ()  # the ``--set KEY=VALUE`` changes applied to the file, in order

    @property
    def origin(self):
        """What to blame in an error: the file, or the ``--set`` changes made to it."""
        if not self.settings:
            return self.path
        return " ".join(f"--set {item}" for item in self.settings)

    def ranges(self):
        """Every ranged quantity as ``(dotted key, Range)`` pairs, in a fixed order."""
        items = [(f"{n}.incidence", p.incidence) for n, p in self.processes.items()
                 if p.incidence is not None]
        items.append(("agvhd.share_3_4", self.share_3_4))
        items += [(f"effects.{n}.hr", e.hr) for n, e in self.effects.items()]
        for name, iv in (("nk_cells", self.nk_cells), ("dli", self.dli)):
            if iv is not None:
                items += [(f"{name}.{f.name}", getattr(iv, f.name))
                          for f in dataclasses.fields(iv)
                          if isinstance(getattr(iv, f.name), Range)]
        from .extensions import ranges as extension_ranges

        return items + extension_ranges(self.extensions)

    def with_values(self, values):
        """A copy with the given dotted keys replaced by points (floats or Ranges)."""
        def as_range(v):
            return v if isinstance(v, Range) else Range(float(v), float(v))

        processes = dict(self.processes)
        effects = dict(self.effects)
        changes = {}
        ivs = {"nk_cells": self.nk_cells, "dli": self.dli}
        for key, value in values.items():
            parts = key.split(".")
            if parts[0] in processes and parts[1:] == ["incidence"]:
                processes[parts[0]] = dataclasses.replace(processes[parts[0]],
                                                          incidence=as_range(value))
            elif key == "agvhd.share_3_4":
                changes["share_3_4"] = as_range(value)
            elif parts[0] == "effects" and parts[1] in effects:
                effects[parts[1]] = dataclasses.replace(effects[parts[1]], hr=as_range(value))
            elif parts[0] in self.extensions:
                from .extensions import with_value

                changes["extensions"] = with_value(changes.get("extensions", self.extensions),
                                                   key, as_range(value))
            elif parts[0] in ivs and ivs[parts[0]] is not None:
                ivs[parts[0]] = dataclasses.replace(ivs[parts[0]], **{parts[1]: as_range(value)})
            else:
                raise KeyError(key)
        return dataclasses.replace(self, processes=processes, effects=effects, **changes,
                                   nk_cells=ivs["nk_cells"], dli=ivs["dli"])

    def at_midpoints(self):
        """Every range replaced by its midpoint (the default point estimate)."""
        return self.with_values({k: r.mid for k, r in self.ranges()})

    def draw(self, rng):
        """Every range replaced by a draw from it (one replicate of the literature)."""
        return self.with_values({k: r.draw(rng) for k, r in self.ranges()})

    def to_dict(self):
        """The resolved scenario as a TOML-like dict (base scenarios merged in)."""
        return self.raw


# -- reading ---------------------------------------------------------------------


def bundled_dir():
    """Folder of the bundled scenario TOML files.

    Installed, they sit in ``hsctsim/configs``; in a source checkout (also an
    editable install) in ``configs/`` beside the package.
    """
    here = Path(__file__).resolve().parents[1]  # the hsctsim package
    for folder in (here / "configs", here.parent / "configs"):
        if any(folder.glob("*.toml")):
            return folder
    return here / "configs"


BUNDLED_ORDER = ("mac", "ric", "mst", "haplo_ptcy", "haplo_nk")


def bundled_names(kind="hsct"):
    """Names of the bundled scenarios: the arms with the comparator first.

    ``kind``: ``"hsct"`` (the transplant arms), ``"multistate"`` (plain multi-state
    models) or ``"all"``.
    """
    paths = {p.stem: p for p in bundled_dir().glob("*.toml")}
    if kind != "all":
        paths = {n: p for n, p in paths.items() if _kind_of(p) == kind}
    names = set(paths)
    return [n for n in BUNDLED_ORDER if n in names] + sorted(names - set(BUNDLED_ORDER))


def _kind_of(path):
    try:
        return read_toml(path).get("kind", "hsct")
    except ScenarioError:
        return "hsct"


def looks_like_path(text):
    """Whether a scenario argument is a path (a suffix or a folder separator)."""
    text = str(text)
    return bool(Path(text).suffix) or "/" in text or (os.sep in text) or (
        os.altsep is not None and os.altsep in text)


def resolve_path(name_or_path):
    """Path of a bundled scenario name or of a TOML file.

    A bundled name wins over a file or folder of the same name in the working
    directory (``run ric`` after ``run ric --out ric``); write ``./ric`` for the
    file.  A bare name that is not bundled may still name a file.
    """
    text = str(name_or_path)
    path = Path(text)
    if not looks_like_path(text):
        candidate = bundled_dir() / f"{text}.toml"
        if candidate.is_file():
            return candidate
    if looks_like_path(text) or path.exists():
        if not path.is_file():
            raise ScenarioError(text, None, "no such file" if not path.exists()
                                else "not a file")
        return path
    raise ScenarioError(text, None, "unknown scenario"
                        + did_you_mean(text, bundled_names("all")) +
                        f"; bundled: {', '.join(bundled_names('all'))}")


def shadowed_note(name_or_path):
    """A note when a bundled name is also a file or folder here (the bundled one is used)."""
    text = str(name_or_path)
    if (not looks_like_path(text) and (bundled_dir() / f"{text}.toml").is_file()
            and Path(text).exists()):
        kind = "folder" if Path(text).is_dir() else "file"
        return (f"{text}: using the bundled scenario; to use the {kind} '{text}' here, "
                f"write ./{text}")
    return None


def read_toml(path):
    """The TOML file at ``path`` as a dict, or a :class:`ScenarioError` naming it.

    A UTF-8 byte-order mark (Windows editors write one) is accepted.
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.loads(fh.read().decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, None, f"not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, None, f"not a text file in UTF-8 (byte {exc.start}: "
                            f"{exc.reason})") from None
    except RecursionError:
        raise ScenarioError(path, None, "not a scenario: arrays or tables nested too "
                            "deeply") from None
    except OSError as exc:
        raise ScenarioError(path, None, f"cannot be read ({exc.strerror})") from None


def _merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "timing":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_raw(name_or_path, _seen=()):
    """The scenario's TOML merged over its base chain; returns (dict, path)."""
    path = resolve_path(name_or_path)
    data = read_toml(path)
    base = data.get("base")
    if base is None:
        return data, path
    if not isinstance(base, str):
        raise ScenarioError(path, "base", "must be a scenario name or path")
    if path.resolve() in _seen:
        raise ScenarioError(path, "base", "scenarios name each other as base (a cycle)")
    if len(_seen) >= MAX_BASE_CHAIN:
        raise ScenarioError(path, "base", f"more than {MAX_BASE_CHAIN} base scenarios in a "
                            "chain")
    base_ref = base if "/" not in base and not base.endswith(".toml") else str(
        (path.parent / base).resolve())
    try:
        base_data, _ = read_raw(base_ref, (*_seen, path.resolve()))
    except ScenarioError as exc:
        if exc.key is None and exc.file == base_ref:
            raise ScenarioError(path, "base", exc.problem + f": '{base}'") from None
        if not _seen and exc.file != str(path):  # name the file the user gave too
            raise ScenarioError(path, "base", f"in its chain of base scenarios, {exc}"
                                ) from None
        raise
    try:
        merged = _merge(base_data, {k: v for k, v in data.items() if k != "base"})
    except RecursionError:
        raise ScenarioError(path, None, "tables nested too deeply") from None
    for key in ("name", "title"):  # a derived scenario is not its base
        if key not in data:
            merged.pop(key, None)
    merged["base"] = base
    return merged, path


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
            self.fail("name", f"{name!r} cannot name an arm: use ASCII letters (A-Z, a-z), digits, _ and - "
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


def _parse_core_process(reader, data, name):
    return parse_process(reader, reader.table(data, name), name, name,
                         calibrated=name in CALIBRATED or name == "death_after_relapse",
                         extra_keys=EXTRA_KEYS.get(name, ()),
                         distributions=INCIDENCE_DISTRIBUTIONS)


def _parse_effect(reader, effects, name):
    table = reader.table(effects, name, "effects")
    reader.check_keys(table, {"hr", "source", "range_distribution"}, f"effects.{name}")
    distribution = reader.text(table, "range_distribution", f"effects.{name}.range_distribution",
                               "uniform", HR_DISTRIBUTIONS)
    hr = reader.range(table, "hr", f"effects.{name}.hr", 1e-6, 1e6, distribution)
    source = reader.text(table, "source", f"effects.{name}.source")
    return Effect(hr, source)


def _parse_nk(reader, table):
    reader.check_keys(table, INTERVENTION_KEYS["nk_cells"], "nk_cells")
    w = "nk_cells."
    # of both hazard ratios, as for an effect (a published ratio's interval is log-normal)
    distribution = reader.text(table, "range_distribution", w + "range_distribution",
                               "uniform", HR_DISTRIBUTIONS)
    return NKCells(
        day=reader.number(table, "day", w + "day", 0.0, MAX_HORIZON_DAYS),
        relapse_hr=reader.range(table, "relapse_hr", w + "relapse_hr", 1e-6, 1e6,
                                distribution),
        agvhd_hr=reader.range(table, "agvhd_hr", w + "agvhd_hr", 1e-6, 1e6, distribution),
        duration_days=reader.number(table, "duration_days", w + "duration_days", 0.0,
                                    MAX_HORIZON_DAYS),
        source=reader.text(table, "source", w + "source"),
    )


def _parse_dli(reader, table):
    reader.check_keys(table, INTERVENTION_KEYS["dli"], "dli")

    def hr(key):
        return reader.range(table, key, f"dli.{key}", 1e-6, 1e6) if key in table else Range(1, 1)

    return DLI(
        trigger=reader.text(table, "trigger", "dli.trigger", choices=DLI_TRIGGERS),
        delay_days=reader.number(table, "delay_days", "dli.delay_days", 0.0, MAX_HORIZON_DAYS),
        agvhd_hr=hr("agvhd_hr"), cgvhd_hr=hr("cgvhd_hr"), relapse_hr=hr("relapse_hr"),
        rejection_hr=hr("rejection_hr"), death_after_relapse_hr=hr("death_after_relapse_hr"),
        source=reader.text(table, "source", "dli.source"),
    )


def _parse_by_relapse_day(reader, table):
    key = "death_after_relapse.by_relapse_day"
    pieces = table.get("by_relapse_day", [[0.0, 1.0]])
    if not isinstance(pieces, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in pieces) or not pieces:
        reader.fail(key, "must be a list of [from_day, hazard_ratio] pairs")
    if len(pieces) > 4:
        reader.fail(key, "at most 4 pieces")
    out = []
    for i, (day, hr) in enumerate(pieces):
        day = reader.number({"v": day}, "v", f"{key}[{i}]", 0.0, MAX_HORIZON_DAYS)
        hr = reader.number({"v": hr}, "v", f"{key}[{i}]", 1e-6, 1e6)
        if out and day <= out[-1][0]:
            reader.fail(f"{key}[{i}]", "days must increase")
        out.append((day, hr))
    if out[0][0] != 0.0:
        reader.fail(f"{key}[0]", "the first piece must start at day 0")
    return tuple(out)


def parse(data, path):
    """Validate a merged TOML dict into a :class:`Scenario` (or, with ``kind =
    "multistate"``, a :class:`~hsctsim.model.multistate.MultistateScenario`)."""
    if data.get("kind") == "multistate":
        from .multistate import parse_multistate

        return parse_multistate(data, path)
    reader = Reader(path)
    reader.check_keys(data, TOP_KEYS, "")
    name = reader.arm_name(data)
    processes = {p: _parse_core_process(reader, data, p) for p in PROCESSES}
    effects_table = reader.table(data, "effects")
    reader.check_keys(effects_table, set(EFFECTS), "effects")
    effects = {e: _parse_effect(reader, effects_table, e) for e in EFFECTS}
    relapse, trm = processes["relapse"].incidence, processes["trm"].incidence
    if relapse is not None and trm is not None and relapse.high + trm.high > 1.0:
        reader.fail("trm.incidence", f"relapse ({relapse.high:g}) and non-relapse death "
                    f"({trm.high:g}) exclude each other but add up to more than 1")
    agvhd = data["agvhd"]
    dar = data["death_after_relapse"]
    return Scenario(
        name=name,
        title=reader.text(data, "title", "title", name),
        population=reader.text(data, "population", "population"),
        path=str(path),
        horizon_days=reader.number(data, "horizon_days", "horizon_days", 1.0,
                                   MAX_HORIZON_DAYS, 730.0),
        chimerism=reader.text(data, "chimerism", "chimerism", "donor", CHIMERISM_KINDS),
        processes=processes,
        effects=effects,
        share_3_4=reader.range(agvhd, "share_3_4", "agvhd.share_3_4"),
        share_3_4_source=reader.text(agvhd, "share_3_4_source", "agvhd.share_3_4_source"),
        by_relapse_day=_parse_by_relapse_day(reader, dar),
        nk_cells=_parse_nk(reader, reader.table(data, "nk_cells")) if "nk_cells" in data
        else None,
        dli=_parse_dli(reader, reader.table(data, "dli")) if "dli" in data else None,
        notes=reader.text(data, "notes", "notes", ""),
        raw=data,
        extensions=_parse_extensions(reader, data, processes, effects),
    )


def _parse_extensions(reader, data, processes, effects):
    from .extensions import parse as parse_extensions

    return parse_extensions(reader, data, processes, effects)


def load_scenario(name_or_path):
    """Load a bundled scenario by name, or a scenario TOML file by path.

    Parameters
    ----------
    name_or_path : str or Path
        ``"mac"``, ``"ric"``, ... (see :func:`bundled_names`) or a ``.toml`` path.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        The message names the file, the key and the problem.
    """
    data, path = read_raw(name_or_path)
    return parse(data, path)


def set_value(scenario, key, text, label=None):
    """A scenario with one dotted key changed from a string (``--set`` on the CLI).

    Any key of the TOML but ``base`` may be set; the result is validated like a
    file, and a problem blames the setting (``label``, default ``--set KEY=VALUE``),
    not the file.  The change is recorded in ``settings``.
    """
    item = f"{key}={text}"
    label = label or f"--set {item}"
    parts = key.split(".")
    if not all(parts):
        raise ScenarioError(label, None, f"{key!r} is not a dotted key such as "
                            "agvhd.incidence")
    if parts[0] == "base":
        raise ScenarioError(label, "base", "cannot be changed with --set (base scenarios "
                            "are merged when a file is read); write a scenario file with "
                            "base = ... and the changes instead")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    data = {k: v for k, v in scenario.raw.items()}
    if data.get("kind") == "multistate":
        from .multistate import TOP_KEYS as top_keys
    else:
        top_keys = TOP_KEYS
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, list):
            # an array of tables ([[transitions]]): its items have no dotted key
            raise ScenarioError(label, key, f"{part} is a list of tables, which --set "
                                "cannot change; write a scenario file with base = ... "
                                "and the changed list instead")
        if not isinstance(child, dict):
            if part not in top_keys and node is data:
                raise ScenarioError(label, key, "unknown key" + did_you_mean(part, top_keys))
            child = {}
        node[part] = dict(child)
        node = node[part]
    node[parts[-1]] = value
    try:
        changed = parse(data, scenario.path)
    except ScenarioError as exc:
        raise ScenarioError(label, exc.key, exc.problem) from None
    return dataclasses.replace(changed, settings=scenario.settings + (item,))


def replicate_rng(seed, replicate):
    """The generator that draws replicate ``replicate``'s parameters from the ranges."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) % 2**63,
                                                                         int(replicate)])))
