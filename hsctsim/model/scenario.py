"""Scenarios: TOML files read into frozen, validated objects.

A scenario names its population and, for each process of the post-transplant
course, a cumulative incidence at a landmark day (a point or a reported range
``[low, high]``) with a timing shape, or a distribution given directly; the
effect sizes that tie the processes together; and optional interventions.  A
scenario may name a ``base`` scenario and override only some of its keys.  Every
problem raises :class:`ScenarioError` naming the file, the key and what is wrong.
"""

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import extensions, process_table
from .hints import did_you_mean
from .multistate import TOP_KEYS as MULTISTATE_TOP_KEYS, parse_multistate
from .schema import (
    CHIMERISM_KINDS,
    DLI,
    DLI_TRIGGERS,
    EXTRA_KEYS,
    HR_DISTRIBUTIONS,
    INCIDENCE_DISTRIBUTIONS,
    INTERVENTION_KEYS,
    MAX_BASE_CHAIN,
    MAX_HORIZON_DAYS,
    Effect,
    NKCells,
    ProcessSpec,
    Range,
    Reader,
    ScenarioError,
    one_line,
    parse_process,
    top_keys,
)

__all__ = ["BUNDLED_ORDER", "MAX_HORIZON_DAYS", "ProcessSpec", "Range", "Reader", "Scenario",
           "ScenarioError", "bundled_dir", "bundled_names", "load_scenario", "looks_like_path",
           "one_line", "parse", "read_raw", "read_toml", "replicate_rng", "resolve_path",
           "set_value", "shadowed_note"]


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
    # NIH moderate-severe share of chronic GVHD onsets (cgvhd.share_moderate_severe)
    share_moderate_severe: Range = Range(0.0, 0.0)
    share_moderate_severe_source: str = ""
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
        # appended last, so that the draws of the older keys keep their order
        return (items + extensions.ranges(self.extensions)
                + [("cgvhd.share_moderate_severe", self.share_moderate_severe)])

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
            elif key == "cgvhd.share_moderate_severe":
                changes["share_moderate_severe"] = as_range(value)
            elif parts[0] == "effects" and parts[1] in effects:
                effects[parts[1]] = dataclasses.replace(effects[parts[1]], hr=as_range(value))
            elif parts[0] in self.extensions:
                changes["extensions"] = extensions.with_value(changes.get("extensions", self.extensions),
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


def _parse_core_process(reader, data, name):
    return parse_process(reader, reader.table(data, name), name, name,
                         calibrated=name in process_table.calibrated(),
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
        return parse_multistate(data, path)
    reader = Reader(path)
    reader.check_keys(data, top_keys(), "")
    name = reader.arm_name(data)
    processes = {p: _parse_core_process(reader, data, p) for p in process_table.configured()}
    effects_table = reader.table(data, "effects")
    tie_names = [t.name for t in process_table.ties()]
    reader.check_keys(effects_table, set(tie_names), "effects")
    effects = {e: _parse_effect(reader, effects_table, e) for e in tie_names}
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
        share_moderate_severe=reader.range(data["cgvhd"], "share_moderate_severe",
                                           "cgvhd.share_moderate_severe"),
        share_moderate_severe_source=reader.text(data["cgvhd"], "share_moderate_severe_source",
                                                 "cgvhd.share_moderate_severe_source"),
        raw=data,
        extensions=_parse_extensions(reader, data, processes, effects),
    )


def _parse_extensions(reader, data, processes, effects):
    return extensions.parse(reader, data, processes, effects)


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
    allowed = MULTISTATE_TOP_KEYS if data.get("kind") == "multistate" else top_keys()
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, list):
            # an array of tables ([[transitions]]): its items have no dotted key
            raise ScenarioError(label, key, f"{part} is a list of tables, which --set "
                                "cannot change; write a scenario file with base = ... "
                                "and the changed list instead")
        if not isinstance(child, dict):
            if part not in allowed and node is data:
                raise ScenarioError(label, key, "unknown key" + did_you_mean(part, allowed))
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
