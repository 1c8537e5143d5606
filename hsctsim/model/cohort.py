"""The result of a simulation: per-patient event days, states and provenance."""

from dataclasses import dataclass, field

import numpy as np

from . import patient_age
from .hsct import PROCESS_NAMES, TERMINAL
from .process_table import DEATHS, MARKERS, NON_RELAPSE_DEATHS, POST_RELAPSE_DEATHS, RELAPSES

__all__ = ["CHIMERISM_CHECK_DAYS", "CHIMERISM_STATES", "Cohort", "FINAL_STATES", "STATES"]

STATES = ("transplant", *PROCESS_NAMES, "end_of_follow_up")
FINAL_STATES = ("alive_without_relapse", "alive_after_relapse", "dead_trm",
                "dead_after_relapse")
CHIMERISM_STATES = ("not_engrafted", "full", "mixed", "micro", "lost", "dead", "autologous")
CHIMERISM_CHECK_DAYS = (30, 100, 180)


@dataclass(frozen=True, eq=False)
class Cohort:
    """A simulated cohort.

    Attributes
    ----------
    event_day : float64 array (n_patients, n_processes)
        Day of each process's event (day 0 = infusion), ``inf`` where it did not
        happen by ``horizon_days``.  Columns follow ``process_names``.
    scenario : Scenario
        The scenario point that was simulated (ranges collapsed).
    seed : int
    horizon_days : float
    susceptible : dict
        Calibrated susceptible fractions (``1 - cure``) of the processes.
    replicate : int or None
        Which draw from the reported ranges, or None for their midpoints.
    hsctsim_version : str
    first_patient : int
        Global index of the first patient (non-zero for a chunk of a larger run).
    """

    event_day: np.ndarray
    scenario: object
    seed: int
    horizon_days: float
    susceptible: dict
    hsctsim_version: str
    replicate: int | None = None
    first_patient: int = 0
    process_names: tuple = field(default=PROCESS_NAMES)

    @property
    def states(self):
        """States of :meth:`event_table`: transplant, each process, end of follow-up."""
        return ("transplant", *self.process_names, "end_of_follow_up")

    @property
    def n_patients(self):
        return self.event_day.shape[0]

    def __len__(self):
        return self.n_patients

    def day(self, name):
        """Event days of one process, shape (n_patients,), ``inf`` where none."""
        return self.event_day[:, self.process_names.index(name)]

    def first_day(self, names):
        """Earliest event day of the processes ``names`` that the cohort has (``inf``:
        none of them happened, or the cohort has none of them)."""
        columns = [self.process_names.index(n) for n in names if n in self.process_names]
        if not columns:
            return np.full(self.n_patients, np.inf)
        return self.event_day[:, columns].min(axis=1)

    @property
    def death_day(self):
        """Day of death (without or after relapse), ``inf`` if alive at the horizon."""
        return self.first_day(DEATHS)

    def age_sex(self):
        """Each patient's age (whole years) and sex at transplant, drawn from the arm's
        published mix given the patient's late mortality (see
        :mod:`hsctsim.model.patient_age`): ``{"age_years", "male"}`` arrays, or None
        when the arm has no ``[late_mortality]``."""
        return patient_age.draw(self)

    def final_state(self):
        """Index into ``FINAL_STATES`` of each patient's state at the horizon."""
        relapsed = np.isfinite(self.first_day(RELAPSES))
        state = relapsed.astype(np.int8)
        state[np.isfinite(self.first_day(NON_RELAPSE_DEATHS))] = 2
        state[np.isfinite(self.first_day(POST_RELAPSE_DEATHS))] = 3
        return state

    def chimerism(self, days=CHIMERISM_CHECK_DAYS):
        """Chimerism on check days: index into ``CHIMERISM_STATES``, shape (n, len(days)).

        Donor fraction bands: full > 95%, mixed 1-95%, micro < 1% (after
        microtransplantation), lost = rejection or primary graft failure.  Mixed
        chimerism turns full again after a DLI.
        """
        d = np.asarray(days, float)[None, :]

        def by(name):
            return self.day(name)[:, None] <= d

        engrafted = by("engraftment")
        lost = by("rejection") | by("graft_failure")
        out = np.zeros((self.n_patients, d.shape[1]), np.int8)
        if self.scenario.chimerism == "micro":
            out[engrafted] = 3
        elif self.scenario.chimerism == "autologous":  # the patient's own cells
            out[engrafted] = 6
        else:
            out[engrafted] = 1
            out[engrafted & by("mixed_chimerism") & ~by("dli")] = 2
        out[lost] = 4
        out[self.death_day[:, None] <= d] = 5
        return out

    def event_table(self):
        """The course as a long table, one row per transition (multi-state layout).

        Each event moves the patient from the state named by the previous event
        (``transplant`` at first) to the state named by this one; patients alive at
        the horizon get a last row to ``end_of_follow_up`` (censoring).  The layout
        of mstate, hesim and lifelines: patient, from, to, start, stop.

        Returns
        -------
        dict of numpy arrays
            ``patient`` (global index), ``from_state``, ``to_state`` (indices into
            ``self.states``; ``STATES`` without optional sections), ``start_day``,
            ``stop_day``.
        """
        markers = [n in MARKERS for n in self.process_names]
        times = np.where(markers, np.inf, self.event_day) if any(markers) else self.event_day
        n = self.n_patients
        order = np.argsort(times, axis=1, kind="stable")
        sorted_times = np.take_along_axis(times, order, axis=1)
        alive = ~np.isfinite(self.death_day)
        # the end-of-follow-up column takes the place of the first inf of the living
        n_events = np.isfinite(sorted_times).sum(axis=1)
        ext_times = np.concatenate([sorted_times, np.full((n, 1), np.inf)], axis=1)
        last = len(self.states) - 1
        ext_states = np.concatenate([order + 1, np.full((n, 1), last)], axis=1)
        rows = np.arange(n)
        ext_times[rows[alive], n_events[alive]] = self.horizon_days
        ext_states[rows[alive], n_events[alive]] = last
        keep = np.isfinite(ext_times)
        prev_times = np.concatenate([np.zeros((n, 1)), ext_times[:, :-1]], axis=1)
        prev_states = np.concatenate([np.zeros((n, 1), int), ext_states[:, :-1]], axis=1)
        patient = np.broadcast_to((rows + self.first_patient)[:, None], keep.shape)
        return {
            "patient": patient[keep].astype(np.int64),
            "from_state": prev_states[keep].astype(np.int16),
            "to_state": ext_states[keep].astype(np.int16),
            "start_day": prev_times[keep],
            "stop_day": ext_times[keep],
        }

    def to_pandas(self):
        """One row per patient as a pandas DataFrame (pandas is an optional extra).

        Columns: ``patient`` (global index), ``<process>_day`` (NaN where the event
        did not happen by the horizon), ``death_day``, ``final_state`` (a
        categorical of :data:`FINAL_STATES`) and, for arms with ``[late_mortality]``,
        ``age_years`` and ``male`` (:meth:`age_sex`); :meth:`metadata` goes to ``.attrs``.
        """
        import pandas as pd  # pandas: an optional dependency

        def nan_for_none(days):
            return np.where(np.isfinite(days), days, np.nan)

        frame = pd.DataFrame(nan_for_none(self.event_day),
                             columns=[f"{name}_day" for name in self.process_names])
        frame.insert(0, "patient", np.arange(self.n_patients, dtype=np.int64) + self.first_patient)
        frame["death_day"] = nan_for_none(self.death_day)
        frame["final_state"] = pd.Categorical.from_codes(self.final_state(),
                                                         categories=list(FINAL_STATES))
        covariates = self.age_sex()
        if covariates is not None:
            frame["age_years"] = covariates["age_years"]
            frame["male"] = covariates["male"]
        frame.attrs.update(self.metadata())
        return frame

    def events_to_pandas(self):
        """:meth:`event_table` as a DataFrame, states as categoricals of :attr:`states`."""
        import pandas as pd  # pandas: an optional dependency

        table = self.event_table()
        return pd.DataFrame({
            "patient": table["patient"],
            "from": pd.Categorical.from_codes(table["from_state"],
                                              categories=list(self.states)),
            "to": pd.Categorical.from_codes(table["to_state"], categories=list(self.states)),
            "start_day": table["start_day"], "stop_day": table["stop_day"]})

    def metadata(self):
        """Provenance: version, scenario, seed, patients, horizon, replicate."""
        return {
            "hsctsim_version": self.hsctsim_version,
            "scenario": self.scenario.name,
            "scenario_path": self.scenario.path,
            "seed": self.seed,
            "replicate": self.replicate,
            "patients": self.n_patients,
            "first_patient": self.first_patient,
            "horizon_days": self.horizon_days,
            "terminal_events": tuple(n for n in self.process_names
                                     if n in TERMINAL or n in DEATHS),
        }
