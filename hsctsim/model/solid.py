"""Solid tumours after non-myeloablative allogeneic HSCT (NMHCT): tumour response.

The core course (engraftment, GVHD, CMV, rejection, TRM) is the HSCT model's; its
``relapse`` process is tumour progression (the patients enter with measurable,
refractory disease) and ``death_after_relapse`` is death from progression.  The
``[tumour]`` section adds, after Alqasim's review (Iraqi J Cancer Med Genet
9(1):68-73, after Childs & Srinivasan 2004) and the series it cites:

- ``chemo_response``: an early response to the conditioning that does not last
  (melanoma: "early ... short-lived ... chemotherapy effects"); it lowers the
  progression hazard until ``chemo_response_loss``, which takes it back;
- ``ciclosporin_taper``: on a fixed day; only then can the graft-versus-tumour
  response start ("did not occur until CSP was tapered");
- ``gvt_response``: partial response or better, opened by the taper, its clock
  from transplant (delayed: median 129 days in Childs et al., NEJM 2000), raised
  by acute and chronic GVHD, ended by loss of the graft (graft failure, rejection);
  it may follow an early progression (NIH withdrew ciclosporin on progression and
  regression followed) and lowers the hazards of progression and of death from it;
- ``complete_response``: a share of GVT responders deepen to complete response,
  measured from the partial response; it lowers the progression hazard further.

Stable disease is not a process: a patient's best response is stable when neither
response nor progression (nor death) happened by ``stable_min_day`` (RECIST's
minimum interval), see :mod:`hsctsim.analysis.response`.
"""

import dataclasses
from dataclasses import dataclass

from ..engine.processes import Process
from .schema import MAX_HORIZON_DAYS, ProcessSpec, Range
from .specs import hazard_ratio, process_spec

__all__ = ["calibration_targets", "extend", "KEYS", "parse", "ranges", "RESPONSES", "Tumour",
           "TUMOUR_EFFECTS", "TUMOUR_PROCESSES", "with_value"]

TUMOUR_PROCESSES = ("chemo_response", "chemo_response_loss", "ciclosporin_taper",
                    "gvt_response", "complete_response")
RESPONSES = ("chemo_response", "gvt_response")  # partial response or better
TUMOUR_EFFECTS = {
    "agvhd_on_gvt": "acute GVHD (II-IV) multiplies the GVT response hazard",
    "cgvhd_on_gvt": "chronic GVHD multiplies the GVT response hazard",
    "response_on_progression": "a GVT response (PR or better) multiplies progression",
    "complete_on_progression": "a complete response multiplies progression further",
    "chemo_response_on_progression": "an early chemotherapy response multiplies "
                                     "progression while it lasts",
}
KEYS = {"site", "taper_day", "taper_source", "complete_share", "complete_share_source",
        "stable_min_day", "stable_min_day_source", "gvt_response", "complete_response",
        "chemo_response", "chemo_response_loss", "effects"}


@dataclass(frozen=True)
class Tumour:
    """A solid tumour's response processes and their ties."""

    site: str
    taper_day: float
    taper_source: str
    gvt_response: ProcessSpec
    complete_response: ProcessSpec
    complete_share: Range
    complete_share_source: str
    chemo_response: ProcessSpec
    chemo_response_loss: ProcessSpec
    stable_min_day: float
    stable_min_day_source: str
    effects: dict  # name -> (Range, source)


def parse(reader, data, key, parsed):
    table = reader.table(data, key)
    reader.check_keys(table, KEYS, key)

    def spec(name, calibrated=False):
        return process_spec(reader, reader.table(table, name, key), f"{key}.{name}", name,
                            calibrated)

    def sourced(name):
        return reader.source(table, name, f"{key}.{name}")

    if "cure_fraction" in table.get("complete_response", {}):
        reader.fail(f"{key}.complete_response.cure_fraction",
                    "the share of responders who reach it is tumour.complete_share")
    gvt = spec("gvt_response", calibrated=True)
    if gvt.incidence is None:
        reader.fail(f"{key}.gvt_response.incidence", "missing: the reported response rate")
    effects_table = reader.table(table, "effects", key)
    reader.check_keys(effects_table, set(TUMOUR_EFFECTS), f"{key}.effects")
    effects = {name: hazard_ratio(reader, effects_table, name, f"{key}.effects")
               for name in TUMOUR_EFFECTS}
    return Tumour(
        site=reader.text(table, "site", f"{key}.site"),
        taper_day=reader.number(table, "taper_day", f"{key}.taper_day", 0.0, MAX_HORIZON_DAYS),
        taper_source=sourced("taper_source"),
        gvt_response=gvt,
        complete_response=spec("complete_response"),
        complete_share=reader.range(table, "complete_share", f"{key}.complete_share"),
        complete_share_source=sourced("complete_share_source"),
        chemo_response=spec("chemo_response"),
        chemo_response_loss=spec("chemo_response_loss"),
        stable_min_day=reader.number(table, "stable_min_day", f"{key}.stable_min_day", 0.0,
                                     MAX_HORIZON_DAYS),
        stable_min_day_source=sourced("stable_min_day_source"),
        effects=effects,
    )


def ranges(key, tumour):
    items = []
    if tumour.gvt_response.incidence is not None:
        items.append((f"{key}.gvt_response.incidence", tumour.gvt_response.incidence))
    items.append((f"{key}.complete_share", tumour.complete_share))
    items += [(f"{key}.effects.{name}.hr", hr) for name, (hr, _) in tumour.effects.items()]
    return items


def with_value(tumour, key, value):
    parts = key.split(".")[1:]
    if parts == ["gvt_response", "incidence"]:
        return dataclasses.replace(tumour, gvt_response=dataclasses.replace(
            tumour.gvt_response, incidence=value))
    if parts == ["complete_share"]:
        return dataclasses.replace(tumour, complete_share=value)
    if len(parts) == 3 and parts[0] == "effects" and parts[1] in tumour.effects:
        effects = dict(tumour.effects)
        effects[parts[1]] = (value, effects[parts[1]][1])
        return dataclasses.replace(tumour, effects=effects)
    raise KeyError(key)


def calibration_targets(scenario):
    gvt = scenario.extensions["tumour"].gvt_response
    return [("gvt_response", gvt.incidence, gvt.landmark_day)]


def extend(scenario, susceptible, procs):
    """Add the response processes and tie them to GVHD, graft loss and progression."""
    t = scenario.extensions["tumour"]
    hr = {name: r.mid for name, (r, _) in t.effects.items()}
    ties = {  # core process -> (closes, multiplies) added
        "agvhd": ((), {"gvt_response": hr["agvhd_on_gvt"]}),
        "cgvhd": ((), {"gvt_response": hr["cgvhd_on_gvt"]}),
        "graft_failure": (("gvt_response",), {}),
        "rejection": (("gvt_response",), {}),
        # an early (chemotherapy) response cannot follow progression; a GVT response
        # can (NIH: ciclosporin was withdrawn on progression, regression followed)
        "relapse": (("chemo_response", "chemo_response_loss"), {}),
    }
    out = []
    for p in procs:
        if p.name in ties:
            closes, mult = ties[p.name]
            p = dataclasses.replace(p, closes=p.closes + closes,
                                    multiplies={**p.multiplies, **mult})
        out.append(p)

    def given(spec, **kw):
        return Process(spec.name, spec.timing.family, spec.timing.params,
                       1.0 - spec.cure_fraction, **kw)

    gvt = t.gvt_response
    chemo_hr = hr["chemo_response_on_progression"]
    out += [
        given(t.chemo_response, opens=("chemo_response_loss",),
              multiplies={"relapse": chemo_hr}),
        given(t.chemo_response_loss, at_start=False, clock_reset=True,
              multiplies={"relapse": 1.0 / chemo_hr}),
        Process("ciclosporin_taper", "fixed", (t.taper_day,), 1.0, opens=("gvt_response",)),
        Process("gvt_response", gvt.timing.family, gvt.timing.params,
                susceptible.get("gvt_response", 1.0 - gvt.cure_fraction), at_start=False,
                opens=("complete_response",),
                multiplies={"relapse": hr["response_on_progression"],
                            "death_after_relapse": hr["response_on_progression"]}),
        Process("complete_response", t.complete_response.timing.family,
                t.complete_response.timing.params, t.complete_share.mid, at_start=False,
                clock_reset=True,
                multiplies={"relapse": hr["complete_on_progression"],
                            "death_after_relapse": hr["complete_on_progression"]}),
    ]
    return out
