"""What-ifs: a scenario with some figures changed, and what its calibration holds fixed.

Calibration solves each process's susceptible fraction (its baseline hazard) so
that the course reproduces the published incidences.  Solving a changed scenario
again would cancel most what-ifs: a hazard ratio of chronic GVHD on relapse set to
0.1 would be met by a higher relapse baseline that keeps the published relapse
incidence.  So a what-if has two meanings, made explicit here:

- ``held`` (the default): the susceptible fractions of the unmodified scenario are
  kept, so a changed effect, timing, share or intervention changes the outcomes.
  A changed incidence (or its landmark day) is a request for that incidence: that
  process alone is solved again, with every other fraction held.
- ``recalibrated``: every incidence is solved again jointly, keeping the published
  incidences; the change then moves only what the incidences do not pin down.
"""

from dataclasses import dataclass

from . import process_table
from .calibrate import (
    CALIBRATION_PATIENTS,
    CALIBRATION_SEED,
    calibrate,
    expected_names,
    incidences,
    reference_point,
)
from .hsct import calibration_targets

__all__ = ["EFFECT_SOURCES", "excluded_by_design", "INTERVENTION_WORDS", "LOST_SHARE",
           "UNCALIBRATED", "what_if", "WhatIf"]

CALIBRATED, HELD, RECALIBRATED = "calibrated", "held", "recalibrated"
# a multi-state scenario's figures are hazards as given: nothing is calibrated
UNCALIBRATED = "uncalibrated"

# the processes an effect starts from: with all of them absent by design the effect
# has nothing to act on
EFFECT_SOURCES = process_table.effect_sources()  # {tie: the processes that apply it}
INTERVENTION_WORDS = {"nk_cells": "NK cells", "dli": "DLI"}
# a held process whose changed timing leaves less than this share of its published
# incidence has lost its events, not changed them: say so
LOST_SHARE = 0.1


@dataclass(frozen=True)
class WhatIf:
    """A scenario to simulate and the susceptible fractions to simulate it with.

    Attributes
    ----------
    scenario : Scenario
        The changed scenario (ranges intact); pass it to :func:`hsctsim.simulate`.
    susceptible : dict of str to float or None
        Pass as ``susceptible=`` for the midpoint cohort; None means calibrate the
        point as usual (no change, or ``recalibrated``).
    mode : str
        ``calibrated`` (nothing changed), ``held`` or ``recalibrated``;
        ``uncalibrated`` for a changed multi-state scenario.
    settings : tuple of str
        The ``KEY=VALUE`` changes, in order.
    held : tuple of str
        Processes whose susceptible fraction is the unmodified scenario's.
    resolved : tuple of str
        Processes solved again for their (changed) incidence.
    warnings : tuple of str
        Held processes whose changed timing leaves almost none of their incidence.
    """

    scenario: object
    susceptible: dict | None
    mode: str
    settings: tuple = ()
    held: tuple = ()
    resolved: tuple = ()
    warnings: tuple = ()

    def to_dict(self):
        """The ``what_if`` entry of an arm in ``summary.json``."""
        return {"settings": list(self.settings), "calibration": self.mode,
                "held": list(self.held), "resolved": list(self.resolved),
                "warnings": list(self.warnings), "text": self.describe()}

    def describe(self):
        """One line: what was changed and what the calibration held fixed."""
        if self.mode == CALIBRATED:
            return "as configured (calibrated to its incidences)"
        changes = " ".join(f"--set {s}" for s in self.settings)
        if self.mode == UNCALIBRATED:
            return (f"{changes}; multi-state model: simulated as changed (its hazards are "
                    "given, nothing is calibrated)")
        if self.mode == RECALIBRATED:
            return (f"{changes}; recalibrated: every incidence solved again to the "
                    "scenario's figures")
        solved = ", ".join(self.resolved) if self.resolved else "none"
        return (f"{changes}; baseline hazards held at the unmodified arm's calibration; "
                f"solved again for a changed incidence: {solved}")


def what_if(base, changed, recalibrate=False, calibration_patients=CALIBRATION_PATIENTS,
            backend="cpu"):
    """What to simulate for ``changed``, a what-if of ``base``.

    Parameters
    ----------
    base : Scenario
        The scenario as configured.
    changed : Scenario
        ``base`` with changes (:func:`hsctsim.model.scenario.set_value`).
    recalibrate : bool
        Solve every incidence again (``recalibrated``) instead of holding the
        susceptible fractions of ``base`` (``held``).
    calibration_patients : int
        Patients per step when a changed incidence is solved again.
    backend : {"cpu", "cuda"}
        Where a held what-if's calibration runs (see :func:`calibrate`).

    Returns
    -------
    WhatIf
    """
    settings = changed.settings[len(base.settings):]
    if not settings and changed == base:
        return WhatIf(changed, None, CALIBRATED)
    if getattr(changed, "kind", None) == "multistate":  # nothing calibrated: the new model
        return WhatIf(changed, None, UNCALIBRATED, settings)
    if recalibrate:
        return WhatIf(changed, None, RECALIBRATED, settings,
                      resolved=tuple(expected_names(changed)))
    before, after = base.at_midpoints(), changed.at_midpoints()
    reference = calibrate(before, backend=backend)

    def requested(name):
        if name not in before.processes:  # a process of an optional section (tumour)
            return name not in reference or _targets(before).get(name) != _targets(
                after).get(name)
        old, new = before.processes[name], after.processes[name]
        return (name not in reference or old.incidence != new.incidence
                or old.landmark_day != new.landmark_day)

    names = expected_names(after)
    held = {n: reference[n] for n in names if not requested(n)}
    susceptible = calibrate(after, calibration_patients, held=held, backend=backend)
    return WhatIf(changed, susceptible, HELD, settings, tuple(held),
                  tuple(n for n in names if n not in held),
                  _lost(before, after, susceptible, held, calibration_patients, backend))


def _lost(before, after, susceptible, held, n_patients, backend):
    """Warnings for held processes whose changed timing leaves almost no incidence.

    With its susceptible fraction held, a process keeps its events only where the
    new timing places them after the process opens (engraftment for acute GVHD,
    say); one timed before that loses nearly all of them, silently.  (A timing moved
    far past the landmark also leaves little by then: said the same way.)
    """
    targets = _targets(before)
    names = [n for n in held if n in before.processes and targets.get(n, (0.0,))[0] > 0
             and before.processes[n].timing != after.processes[n].timing]
    if not names:
        return ()
    landmarks = [targets[n][1] for n in names]
    got, _ = incidences(reference_point(after), susceptible, names, landmarks, n_patients,
                        CALIBRATION_SEED, backend)
    return tuple(
        f"{n}: {100 * p:.1f}% by day {day:g} with the changed timing, against the "
        f"{100 * targets[n][0]:.1f}% it is calibrated to; events the timing places before "
        f"{n} can start are lost, those after day {day:g} come later (set {n}.incidence "
        "too to ask for an incidence)"
        for n, day, p in zip(names, landmarks, got) if p < LOST_SHARE * targets[n][0])


def _targets(point):
    """``{process: (incidence, landmark day)}`` of a point's calibration targets."""
    names, incidences, landmarks = calibration_targets(point)
    return {n: (float(i), float(d)) for n, i, d in zip(names, incidences, landmarks)}


def excluded_by_design(scenario, key):
    """Why ``scenario``'s design excludes what ``key`` changes, or None.

    A process whose incidence is 0 (or with cure fraction 1), an effect all of whose
    source processes are so, or an intervention the scenario does not give.
    """
    parts = key.split(".")
    if getattr(scenario, "kind", None) == "multistate":
        return None

    def absent(name):
        spec = scenario.processes.get(name)
        if spec is None:
            return False
        if spec.incidence is not None:
            return spec.incidence.high == 0.0
        return spec.cure_fraction >= 1.0

    if parts[0] in scenario.processes and absent(parts[0]):
        return f"has no {parts[0]} by design"
    if parts[0] == "effects" and len(parts) > 1 and parts[1] in EFFECT_SOURCES:
        sources = EFFECT_SOURCES[parts[1]]
        if all(absent(s) for s in sources):
            return f"has no {' or '.join(sources)} by design"
    if parts[0] in INTERVENTION_WORDS and getattr(scenario, parts[0]) is None:
        return f"has no {INTERVENTION_WORDS[parts[0]]}"
    return None
