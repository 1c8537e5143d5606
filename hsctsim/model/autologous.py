"""Graft failure and its course: count recovery, infection, bleeding, MSC rescue.

Graft failure after autologous HSCT (2-9.5%, seed 004) leaves the patient aplastic:
infections and bleeding, and death through them (the core model's
``graft_loss_on_trm`` multiplier on non-relapse death).  Sections:

- ``[recovery]``: late count recovery after primary graft failure (or rejection),
  measured from the graft-failure day, with ``[recovery.infection]`` and
  ``[recovery.bleeding]``, events of the aplastic period.  Recovery ends that
  period: it closes infection and bleeding and takes back the excess hazard of
  non-relapse death (it multiplies it by ``1 / graft_loss_on_trm``).
- ``[msc]``: an intervention on graft failure (ex vivo-expanded third-party
  bone-marrow MSCs, alone or with cord blood, as in the trial of seed 004), given
  ``delay_days`` after graft failure to those not yet recovered, multiplying the
  recovery and non-relapse death hazards.

An autologous scenario (``chimerism = "autologous"``) has no donor: the checks
here refuse donor effects in it (GVHD, mixed chimerism, rejection, GVT lost on
graft failure, NK cells, DLI, a tumour's GVT response).
"""

import dataclasses
from dataclasses import dataclass

from ..engine.processes import Process
from . import process_table
from .schema import MAX_HORIZON_DAYS, ProcessSpec, Range
from .specs import point, process_spec

__all__ = ["check", "DONOR_ONLY", "extend", "GRAFT_LOSS", "MSC", "parse", "ranges", "Recovery",
           "RECOVERY_PROCESSES", "with_value"]

# processes that need donor cells (configured ones, from the process table)
DONOR_ONLY = tuple(p.name for p in process_table.PROCESS_TABLE if p.donor_only and p.configured)
GRAFT_LOSS = ("graft_failure", "rejection")
RECOVERY_PROCESSES = ("count_recovery", "infection", "bleeding")


@dataclass(frozen=True)
class Recovery:
    """Count recovery after graft failure and the events of the aplastic period."""

    recovery: ProcessSpec
    infection: ProcessSpec
    bleeding: ProcessSpec


@dataclass(frozen=True)
class MSC:
    """Third-party MSCs (with or without cord blood) given on graft failure."""

    delay_days: float
    recovery_hr: Range
    trm_hr: Range
    with_cord_blood: bool
    source: str


def parse(reader, data, key, parsed):
    table = reader.table(data, key)
    if key == "recovery":
        reader.check_keys(table, {"timing", "cure_fraction", "source", "timing_source",
                                  "infection", "bleeding"}, key)
        main = {k: v for k, v in table.items() if k not in ("infection", "bleeding")}
        return Recovery(
            recovery=process_spec(reader, main, key, "count_recovery"),
            infection=process_spec(reader, reader.table(table, "infection", key),
                                   f"{key}.infection", "infection"),
            bleeding=process_spec(reader, reader.table(table, "bleeding", key),
                                  f"{key}.bleeding", "bleeding"))
    reader.check_keys(table, {"delay_days", "recovery_hr", "trm_hr", "with_cord_blood",
                              "source"}, key)
    if "recovery" not in data:
        reader.fail(key, "MSCs act on count recovery: give a [recovery] section too")
    cord = table.get("with_cord_blood", False)
    if not isinstance(cord, bool):
        reader.fail(f"{key}.with_cord_blood", "must be true or false")
    source = reader.source(table, "source", f"{key}.source")
    return MSC(delay_days=reader.number(table, "delay_days", f"{key}.delay_days", 0.0,
                                        MAX_HORIZON_DAYS),
               recovery_hr=reader.range(table, "recovery_hr", f"{key}.recovery_hr", 1e-6, 1e6),
               trm_hr=reader.range(table, "trm_hr", f"{key}.trm_hr", 1e-6, 1e6),
               with_cord_blood=cord, source=source)


def check(reader, data, processes, effects, extensions):
    """Refuse donor effects in an autologous scenario."""
    if data.get("chimerism") != "autologous":
        return
    for name in DONOR_ONLY:
        spec = processes[name]
        none = (spec.incidence is not None and spec.incidence.high == 0.0) or (
            spec.incidence is None and spec.cure_fraction == 1.0)
        if not none:
            reader.fail(f"{name}.incidence", "an autologous graft has no donor cells: "
                        "give incidence = 0 (or cure_fraction = 1)")
    hr = effects["graft_loss_on_relapse"].hr
    if hr.low != 1.0 or hr.high != 1.0:
        reader.fail("effects.graft_loss_on_relapse.hr", "an autologous graft has no donor "
                    "graft-versus-tumour effect to lose: give hr = 1")
    for key in ("nk_cells", "dli", "tumour"):
        if key in data:
            reader.fail(key, "needs donor cells, which an autologous scenario has none of")


def ranges(key, section):
    if key == "msc":
        return [("msc.recovery_hr", section.recovery_hr), ("msc.trm_hr", section.trm_hr)]
    return []


def with_value(section, key, value):
    field = key.split(".", 1)[1]
    if isinstance(section, MSC) and field in ("recovery_hr", "trm_hr"):
        return dataclasses.replace(section, **{field: value})
    raise KeyError(key)


def _given(spec, **kw):
    return Process(spec.name, spec.timing.family, spec.timing.params,
                   1.0 - spec.cure_fraction, **kw)


def extend(scenario, susceptible, procs):
    """Add the recovery processes (``[recovery]``) or the MSC intervention (``[msc]``)."""
    ext = scenario.extensions
    if "count_recovery" not in [p.name for p in procs]:
        rec = ext["recovery"]
        loss_on_trm = point(scenario.effects["graft_loss_on_trm"].hr)
        procs = _also_opens(procs, GRAFT_LOSS, RECOVERY_PROCESSES)
        procs += [
            _given(rec.recovery, at_start=False, clock_reset=True,
                   closes=("infection", "bleeding"), multiplies={"trm": 1.0 / loss_on_trm}),
            _given(rec.infection, at_start=False, clock_reset=True),
            _given(rec.bleeding, at_start=False, clock_reset=True),
        ]
    if "msc" in ext and "msc" not in [p.name for p in procs]:
        msc = ext["msc"]
        procs = _also_opens(procs, GRAFT_LOSS, ("msc",))
        procs = [dataclasses.replace(p, closes=p.closes + ("msc",))
                 if p.name == "count_recovery" else p for p in procs]
        procs.append(Process("msc", "fixed", (msc.delay_days,), 1.0, at_start=False,
                             clock_reset=True, intervention=True,
                             multiplies={"count_recovery": msc.recovery_hr.mid,
                                         "trm": msc.trm_hr.mid}))
    return procs


def _also_opens(procs, sources, targets):
    return [dataclasses.replace(p, opens=p.opens + tuple(targets)) if p.name in sources
            else p for p in procs]
