"""The endpoints an arm's design leaves out (an autologous arm has no GVHD).

A process is absent by design when its incidence is 0 or its cure fraction 1
(:func:`hsctsim.model.whatif.excluded_by_design`); a process the scenario does
not configure (grade III-IV acute GVHD, moderate-severe chronic GVHD) when every
process that opens it is absent; donor chimerism in an autologous arm, which has
no donor cells.  Their rows would read 0.0% for want of the process, not as a
finding: the printed table leaves them out, summary.json flags them.
"""

from ..model import process_table
from ..model.whatif import excluded_by_design
from .endpoints import ENDPOINTS

__all__ = ["absent_endpoints", "absent_processes", "DONOR_CHIMERISM_ENDPOINTS"]

# endpoints read on donor cells: none in an autologous arm
DONOR_CHIMERISM_ENDPOINTS = ("full_chimerism", "microchimerism")


def absent_processes(scenario):
    """Names of the processes ``scenario``'s design excludes (a frozenset).

    Empty for a multi-state scenario: its states are given, none is excluded.
    """
    if getattr(scenario, "kind", None) == "multistate":
        return frozenset()
    absent = {name for name in scenario.processes if excluded_by_design(scenario, name)}
    for spec in process_table.registered():
        openers = [p.name for p in process_table.registered() if spec.name in p.opens]
        if not spec.configured and openers and all(o in absent for o in openers):
            absent.add(spec.name)
    return frozenset(absent)


def absent_endpoints(scenario):
    """Endpoints of :data:`~hsctsim.analysis.endpoints.ENDPOINTS` that ``scenario``'s
    design leaves out, in their order (a tuple)."""
    absent = absent_processes(scenario)
    autologous = getattr(scenario, "chimerism", None) == "autologous"
    return tuple(name for name in ENDPOINTS
                 if name in absent or (autologous and name in DONOR_CHIMERISM_ENDPOINTS))
