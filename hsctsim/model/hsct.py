"""The HSCT model: the processes of the post-transplant course and their ties.

This is the first user of the general engine (:mod:`hsctsim.engine`).  Day 0 is
stem-cell infusion.  The ties, each an effect size of the scenario:

- engraftment opens acute and chronic GVHD, mixed chimerism and rejection (no
  donor engraftment, no GVHD); primary graft failure (declared when there is no
  engraftment by its day) closes engraftment;
- acute GVHD (II-IV) lowers relapse and raises CMV, and opens the grade III-IV
  mark (a share of onsets), which raises non-relapse death (TRM);
- chronic GVHD lowers relapse and raises TRM and CMV; CMV raises TRM;
- mixed chimerism raises relapse and rejection; rejection or primary graft
  failure (loss of the donor graft) closes GVHD and raises relapse and TRM;
- relapse closes TRM and opens death after relapse, whose hazard depends on the
  day of relapse;
- interventions: NK cells on a fixed day change relapse and acute GVHD hazards
  for a while; DLI on mixed chimerism and/or relapse changes what the scenario
  says and turns mixed chimerism back to full.
"""

import dataclasses

import numpy as np

from ..engine.hazards import FAMILY_CODES, base_cumhaz, piece_cumhaz
from ..engine.processes import Process, build
from . import extensions, process_table
from .timing import fixed

__all__ = ["INDEX", "PROCESS_NAMES", "TERMINAL", "calibration_targets", "engine_arrays",
           "isolated_susceptible", "process_names", "processes"]

PROCESS_NAMES = tuple(p.name for p in process_table.PROCESS_TABLE)
INDEX = {name: i for i, name in enumerate(PROCESS_NAMES)}
TERMINAL = tuple(p.name for p in process_table.PROCESS_TABLE if p.terminal)


def _hr(effect):
    return effect.hr.mid


def _declared(decl, scenario, susceptible, hr, opens=()):
    """The engine process of a declaration from the table alone (its configured law)."""
    spec = scenario.processes[decl.name]
    pi = susceptible.get(decl.name, 1.0 - spec.cure_fraction)
    return Process(decl.name, spec.timing.family, spec.timing.params, pi,
                   at_start=decl.at_start, clock_reset=decl.clock_reset,
                   terminal=decl.terminal, closes=decl.closes, opens=decl.opens + opens,
                   multiplies={target: hr[tie] for target, tie in decl.multiplies})


def _built_by_model(decl, scenario, susceptible, hr):
    """The processes whose law comes from scenario values beyond their table."""
    nk, dli = scenario.nk_cells, scenario.dli
    ties = {target: hr[tie] for target, tie in decl.multiplies}
    # a share of the onsets of the process that opens it, marked on the day of onset
    marked = {"agvhd_3_4": scenario.share_3_4, "cgvhd_mod_sev": scenario.share_moderate_severe}
    if decl.name in marked:
        return Process(decl.name, "fixed", fixed(0.0).params, marked[decl.name].mid,
                       at_start=decl.at_start, clock_reset=decl.clock_reset, multiplies=ties)
    if decl.name == "death_after_relapse":  # its hazard depends on the day of relapse
        return dataclasses.replace(_declared(decl, scenario, susceptible, hr),
                                   entry_multiplier=scenario.by_relapse_day)
    if decl.name == "nk_cells":
        return Process("nk_cells", "fixed", (nk.day if nk else 0.0,), 1.0 if nk else 0.0,
                       opens=("nk_waning",), intervention=True,
                       multiplies={} if nk is None else {"relapse": nk.relapse_hr.mid,
                                                         "agvhd": nk.agvhd_hr.mid})
    if decl.name == "nk_waning":
        return Process("nk_waning", "fixed", (nk.duration_days if nk else 0.0,),
                       1.0 if nk else 0.0, at_start=False, clock_reset=True, intervention=True,
                       multiplies={} if nk is None else {"relapse": 1.0 / nk.relapse_hr.mid,
                                                         "agvhd": 1.0 / nk.agvhd_hr.mid})
    if decl.name == "dli":
        return Process("dli", "fixed", (dli.delay_days if dli else 0.0,), 1.0 if dli else 0.0,
                       at_start=False, clock_reset=True, intervention=True,
                       multiplies={} if dli is None else {
                           "agvhd": dli.agvhd_hr.mid, "cgvhd": dli.cgvhd_hr.mid,
                           "relapse": dli.relapse_hr.mid, "rejection": dli.rejection_hr.mid,
                           "death_after_relapse": dli.death_after_relapse_hr.mid})
    raise ValueError(f"process {decl.name!r} is declared built_by_model but hsct.py "
                     "does not build it")


def processes(scenario, susceptible):
    """The engine processes of a scenario point, one per declaration of the process table.

    Parameters
    ----------
    scenario : Scenario
        With ranges already collapsed (midpoints or a replicate's draw); a range's
        midpoint is used otherwise.
    susceptible : dict of str to float
        Susceptible fraction (``1 - cure``) of each process given by an incidence
        (from calibration); others use their configured cure fraction.

    Returns
    -------
    list of Process
    """
    hr = {name: _hr(effect) for name, effect in scenario.effects.items()}
    dli = scenario.dli
    dli_triggers = () if dli is None else {
        "mixed_chimerism": ("mixed_chimerism",), "relapse": ("relapse",),
        "either": ("mixed_chimerism", "relapse")}[dli.trigger]
    out = []
    for decl in process_table.registered():
        if decl.built_by_model:
            out.append(_built_by_model(decl, scenario, susceptible, hr))
        else:
            opens = ("dli",) if decl.name in dli_triggers else ()
            out.append(_declared(decl, scenario, susceptible, hr, opens))
    if scenario.extensions:  # solid tumour, covariates, recovery after graft failure
        out = extensions.processes(scenario, susceptible, out)
    return out


def process_names(scenario):
    """Names of the engine processes of a scenario, in column order of its cohorts.

    :data:`PROCESS_NAMES` first; optional sections add theirs after them.
    """
    if not scenario.extensions and len(process_table.registered()) == len(PROCESS_NAMES):
        return PROCESS_NAMES
    return tuple(p.name for p in processes(scenario, {}))


def engine_arrays(scenario, susceptible, interventions=True):
    """:class:`~hsctsim.engine.EngineArrays` of a scenario point (see :func:`processes`)."""
    return build(processes(scenario, susceptible), interventions=interventions)


def calibration_targets(scenario):
    """Processes calibrated jointly: ``(names, incidences, landmark days)``.

    Processes whose clock runs from transplant and that are given by an incidence;
    death after relapse, measured from relapse, is solved alone (see
    :func:`isolated_susceptible`).
    """
    given = [(n, p.incidence, p.landmark_day) for n, p in scenario.processes.items()
             if p.incidence is not None and n != "death_after_relapse"]
    if scenario.extensions:
        given += extensions.calibration_targets(scenario)
    names = [n for n, _, _ in given]
    incidence = np.array([r.mid for _, r, _ in given])
    landmark = np.array([day for _, _, day in given])
    return names, incidence, landmark


def isolated_susceptible(spec):
    """Susceptible fraction that gives ``spec``'s incidence at its landmark alone.

    For a process measured from its own opening with nothing competing with it
    (death after relapse, in the reference stratum of relapse day).
    """
    timing, day = spec.timing, spec.landmark_day
    if timing.family == "piecewise":
        starts, rates = timing.params
        h0 = piece_cumhaz(np.array(starts, float), np.array(rates, float), 0, len(starts), day)
    else:
        p0, p1 = (tuple(timing.params) + (0.0,))[:2]
        h0 = base_cumhaz(FAMILY_CODES[timing.family], p0, p1, day)
    f0 = -np.expm1(-h0)
    return spec.incidence.mid / f0 if f0 > 0 else np.inf
