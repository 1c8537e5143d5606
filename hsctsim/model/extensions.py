"""Optional scenario sections beyond the allogeneic HSCT course.

- ``[tumour]``: a solid tumour after non-myeloablative allogeneic HSCT (NMHCT),
  with early chemotherapy responses that do not last, a ciclosporin taper on a
  fixed day and a graft-versus-tumour (GVT) response opened only by the taper and
  raised by acute and chronic GVHD (see :mod:`hsctsim.model.solid`);
- ``[covariates.<name>]``: patient characteristics of a cohort mix, each a share
  and hazard ratios of its unfavourable level (see :mod:`hsctsim.model.covariates`);
- ``[recovery]`` and ``[msc]``: count recovery after graft failure and its
  consequences, and third-party mesenchymal stromal cells given on graft failure
  (see :mod:`hsctsim.model.autologous`);
- ``[late_mortality]``: deaths without relapse after the arm's evidence ends, from a
  life table and the relative mortality of long-term survivors (see
  :mod:`hsctsim.model.late_mortality`);
- ``[late_relapse]``: relapses after the arm's relapse evidence ends, a hazard by year
  since transplant from long-term registry follow-up (see
  :mod:`hsctsim.model.late_relapse`).

Each section is parsed into frozen objects stored in ``Scenario.extensions``
(name -> object); this module dispatches to the section's own module.  Every
ranged figure is a :class:`~hsctsim.model.scenario.Range`, visited by
``Scenario.ranges`` and replaced by ``Scenario.with_values`` like the core ones.
"""

import dataclasses
from typing import Protocol

from . import autologous, covariates, late_mortality, late_relapse, solid
from .schema import ProcessSpec, Range

__all__ = ["REGISTRY", "SECTIONS", "Section", "calibration_targets", "describe", "parse", "processes",
           "ranges", "reference_point", "with_value"]

class Section(Protocol):
    """What an optional section's module provides (``solid``, ``covariates``,
    ``autologous``): the protocol every section follows.

    ``parse(reader, data, key, parsed)`` reads ``data[key]`` into a frozen object
    (``parsed``: the sections read before it, in registry order);
    ``ranges(key, obj)`` lists its ranged figures as ``(dotted key, Range)``;
    ``with_value(obj, key, value)`` replaces one of them; ``extend(scenario,
    susceptible, processes)`` adds its engine processes (and ties) to the list;
    optionally ``calibration_targets(scenario)`` gives ``(process, Range, day)`` of
    its processes given by an incidence.
    """

    def parse(self, reader, data, key, parsed): ...

    def ranges(self, key, obj): ...

    def with_value(self, obj, key, value): ...

    def extend(self, scenario, susceptible, processes): ...


# The one ordered registry: sections are parsed, and add their engine processes, in
# this order (it is the engine's column order after the core processes, so append
# new sections at the end).  A section's ranged figures are listed by key in
# alphabetical order (the order of the replicate draws).
REGISTRY = (("recovery", autologous), ("msc", autologous), ("tumour", solid),
            ("covariates", covariates), ("late_mortality", late_mortality),
            ("late_relapse", late_relapse))
SECTIONS = dict(REGISTRY)


def parse(reader, data, processes, effects):
    """Parse the optional sections present in ``data`` (a merged TOML dict)."""
    out = {}
    for key, section in REGISTRY:
        if key in data:
            out[key] = section.parse(reader, data, key, out)
    autologous.check(reader, data, processes, effects, out)
    if "late_mortality" in out:
        trm = processes["trm"]
        late_mortality.check(reader, out["late_mortality"],
                             trm.landmark_day if trm.incidence is not None else None)
    if "late_relapse" in out:
        relapse = processes["relapse"]
        late_relapse.check(reader, out["late_relapse"],
                           relapse.landmark_day if relapse.incidence is not None else None)
    return out


def ranges(extensions):
    """Every ranged figure of the sections as ``(dotted key, Range)`` pairs."""
    items = []
    for key in sorted(extensions):
        items += SECTIONS[key].ranges(key, extensions[key])
    return items


def with_value(extensions, key, value):
    """A copy of ``extensions`` with one dotted key replaced by ``value`` (a Range)."""
    section = key.split(".")[0]
    out = dict(extensions)
    out[section] = SECTIONS[section].with_value(extensions[section], key, value)
    return out


def processes(scenario, susceptible, base):
    """The engine processes with the sections' added (and ties to the core ones).

    Parameters
    ----------
    scenario : Scenario
    susceptible : dict of str to float
        Calibrated susceptible fractions (by process name).
    base : list of Process
        The core HSCT processes.

    Returns
    -------
    list of Process
        ``base`` (some with more ties) followed by the sections' processes.
    """
    out = list(base)
    for key, section in REGISTRY:
        if key in scenario.extensions:
            out = section.extend(scenario, susceptible, out)
    return out


def calibration_targets(scenario):
    """``[(process, incidence Range, landmark day)]`` of the sections' processes."""
    out = []
    for key in sorted(scenario.extensions):
        out += getattr(SECTIONS[key], "calibration_targets", lambda s: [])(scenario)
    return out


def reference_point(scenario):
    """The scenario as the published figures describe it (calibration runs on it).

    A covariate mix changed by the user is not the published cohort's: the
    incidences are reached with the reference mix, then the hazards are kept.
    """
    if "covariates" not in scenario.extensions:
        return scenario
    ext = dict(scenario.extensions)
    ext["covariates"] = covariates.reference(ext["covariates"])
    return dataclasses.replace(scenario, extensions=ext)


def describe(scenario, susceptible):
    """Lines for ``hsctsim show``: each optional section's figures, with sources."""
    def value(v):
        if isinstance(v, Range):
            return f"{v.low:g}" if v.low == v.high else f"[{v.low:g}, {v.high:g}] -> {v.mid:g}"
        if isinstance(v, ProcessSpec):
            given = (f"incidence {value(v.incidence)} by day {v.landmark_day:g}"
                     if v.incidence is not None else f"cure fraction {v.cure_fraction:g}")
            pi = susceptible.get(v.name)
            solved = f"; calibrated cure fraction {1 - pi:.4f}" if pi is not None else ""
            return f"{given}{solved}; timing: {v.timing.describe()}; source: {v.source}"
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], Range):
            return f"{value(v[0])} ({v[1]})"
        if isinstance(v, dict):
            return "; ".join(f"{k} {value(x)}" for k, x in v.items())
        return f"{v:g}" if isinstance(v, float) else str(v)

    lines = []
    for key, section in scenario.extensions.items():
        lines.append(f"\n[{key}]")
        items = section.items() if isinstance(section, dict) else [(None, section)]
        for name, obj in items:
            if name is not None:
                lines.append(f"  {name}:")
            indent = "    " if name is not None else "  "
            for field in dataclasses.fields(obj):
                lines.append(f"{indent}{field.name}: {value(getattr(obj, field.name))}")
    return lines
