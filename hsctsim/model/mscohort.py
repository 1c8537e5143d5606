"""The result of simulating a plain multi-state model: paths through the states."""

from dataclasses import dataclass

import numpy as np

from .msexport import on_grid
from .multistate import layout as _layout

__all__ = ["CENSORED", "MultistateCohort"]

CENSORED = -1  # to-state of a row that ends at the horizon (still in the state)


@dataclass(frozen=True, eq=False)
class MultistateCohort:
    """A simulated cohort of a :class:`~hsctsim.model.multistate.MultistateScenario`.

    Attributes
    ----------
    event_day : float64 array (n_patients, n_processes)
        Day of each transition process (one per transition and visit of its
        from-state, see :func:`hsctsim.model.multistate.unroll`), ``inf`` where it
        did not happen by ``horizon_days``.
    scenario : MultistateScenario
    seed : int
    horizon_days : float
    hsctsim_version : str
    covariates : dict of str to float array (n_patients,)
        Each patient's covariate levels.
    first_patient : int
        Global index of the first patient (non-zero for a chunk of a larger run).
    """

    event_day: np.ndarray
    scenario: object
    seed: int
    horizon_days: float
    hsctsim_version: str
    covariates: dict
    first_patient: int = 0
    replicate: int | None = None

    @property
    def layout(self):
        return _layout(self.scenario)

    @property
    def n_patients(self):
        return self.event_day.shape[0]

    def __len__(self):
        return self.n_patients

    @property
    def process_names(self):
        return self.layout.process_names

    def day(self, name):
        """Event days of one transition process (see ``process_names``), ``inf`` where none."""
        return self.event_day[:, self.process_names.index(name)]

    @property
    def states(self):
        return self.scenario.states

    def _chain(self):
        """Fired processes in order: ``(order, sorted days, number of events)``."""
        # stable: a process out of a later visit has a higher index, so ties keep the path
        order = np.argsort(self.event_day, axis=1, kind="stable")
        days = np.take_along_axis(self.event_day, order, axis=1)
        return order, days, np.isfinite(days).sum(axis=1)

    def state_at(self, days):
        """Index into ``states`` of each patient's state on each day, shape (n, len(days))."""
        lay = self.layout
        order, sorted_days, _ = self._chain()
        to_state = lay.proc_to_state[order]
        d = np.atleast_1d(np.asarray(days, float))
        out = np.empty((self.n_patients, d.size), np.int64)
        rows = np.arange(self.n_patients)
        for j, day in enumerate(d):
            k = (sorted_days <= day).sum(axis=1)
            out[:, j] = np.where(k > 0, to_state[rows, np.maximum(k - 1, 0)], lay.initial)
        return out

    def time_in_states(self, horizon_days=None):
        """Days each patient spends in each state up to the horizon, shape (n, S).

        Rows add up to the horizon; absorbing states count from their entry on.
        """
        h = float(self.horizon_days if horizon_days is None else horizon_days)
        lay = self.layout
        order, sorted_days, _ = self._chain()
        n = self.n_patients
        times = np.concatenate([np.zeros((n, 1)), np.minimum(sorted_days, h),
                                np.full((n, 1), h)], axis=1)
        spent = np.diff(times, axis=1)  # (n, P + 1): time in each state of the path
        chain = np.concatenate([np.full((n, 1), lay.initial), lay.proc_to_state[order]], axis=1)
        out = np.zeros((n, len(lay.states)))
        for s in range(len(lay.states)):
            out[:, s] = np.where(chain == s, spent, 0.0).sum(axis=1)
        return out

    def transition_day(self):
        """Day of each transition of the scenario (its first time), shape (n, T)."""
        lay = self.layout
        out = np.full((self.n_patients, len(self.scenario.transitions)), np.inf)
        for t in range(out.shape[1]):
            cols = np.flatnonzero(lay.proc_transition == t)
            if cols.size:
                out[:, t] = self.event_day[:, cols].min(axis=1)
        return out

    def event_table(self):
        """The paths as a long table, one row per stay in a state.

        Each transition ends a row (``from_state -> to_state``, entered at
        ``start_day``, left at ``stop_day``); a patient still in a transient state
        at the horizon has a last row with ``to_state = -1`` (censored).  The
        layout :func:`hsctsim.analysis.estimators.state_occupation` reads.

        Returns
        -------
        dict of numpy arrays
            ``patient`` (global index), ``from_state``, ``to_state`` (indices into
            ``states``, -1 censored), ``start_day``, ``stop_day``.
        """
        lay = self.layout
        order, sorted_days, n_events = self._chain()
        n, p = sorted_days.shape
        rows = np.arange(n)
        from_s = np.concatenate([np.full((n, 1), lay.initial), lay.proc_to_state[order]], axis=1)
        to_s = np.concatenate([lay.proc_to_state[order], np.full((n, 1), CENSORED)], axis=1)
        start = np.concatenate([np.zeros((n, 1)), sorted_days], axis=1)
        stop = np.concatenate([sorted_days, np.full((n, 1), np.inf)], axis=1)
        last = from_s[rows, n_events]
        open_end = ~lay.absorbing[last]  # alive in a transient state at the horizon
        stop[rows[open_end], n_events[open_end]] = self.horizon_days
        to_s[rows, n_events] = CENSORED
        keep = np.isfinite(stop) & (np.arange(p + 1)[None, :] <= n_events[:, None])
        patient = np.broadcast_to((rows + self.first_patient)[:, None], keep.shape)
        return {"patient": patient[keep].astype(np.int64),
                "from_state": from_s[keep].astype(np.int16),
                "to_state": to_s[keep].astype(np.int16),
                "start_day": start[keep], "stop_day": stop[keep]}

    def transition_numbers(self):
        """mstate's numbering of the transitions: by from-state, then to-state (1-based).

        Returns
        -------
        numbers : int64 array (T,)
            The number of each transition of the scenario.
        matrix : int64 array (S, S)
            The transition matrix, 0 where no transition (NA in mstate).
        """
        idx = {s: i for i, s in enumerate(self.states)}
        pairs = [(idx[t.from_state], idx[t.to_state]) for t in self.scenario.transitions]
        rank = sorted(range(len(pairs)), key=lambda k: pairs[k])
        numbers = np.empty(len(pairs), np.int64)
        numbers[rank] = np.arange(1, len(pairs) + 1)
        matrix = np.zeros((len(self.states), len(self.states)), np.int64)
        for k, (a, b) in enumerate(pairs):
            matrix[a, b] = numbers[k]
        return numbers, matrix

    def mstate_table(self):
        """The long counting-process layout of mstate's ``msprep``.

        One row per stay in a transient state and transition possible from it:
        ``id`` (global patient index), ``from`` and ``to`` (1-based state numbers),
        ``trans`` (see :meth:`transition_numbers`), ``Tstart`` and ``Tstop`` (days
        since day 0: entry into and exit from the state, or the horizon, on the grid
        of :func:`hsctsim.model.msexport.on_grid`, so that every stay is at least
        0.001 day long), ``time`` (``Tstop - Tstart``, as msprep writes it),
        ``status`` (1 for the transition taken, else 0), plus the covariates.

        Returns
        -------
        dict of numpy arrays
        """
        lay = self.layout
        numbers, matrix = self.transition_numbers()

        table = self.event_table()
        # days on a grid that R's survival takes as distinct (see model.msexport)
        start, stop, kept = on_grid(table["patient"], table["start_day"], table["stop_day"],
                                    table["to_state"] >= 0)
        table = {k: v[kept] for k, v in (table | {"start_day": start,
                                                  "stop_day": stop}).items()}
        stay_from = table["from_state"].astype(np.int64)
        transient = ~lay.absorbing[stay_from]
        stay = {k: v[transient] for k, v in table.items()}
        stay_from = stay_from[transient]
        taken = np.zeros(stay_from.size, np.int64)  # the mstate number of the exit, 0 none
        moved = stay["to_state"] >= 0
        taken[moved] = matrix[stay_from[moved], stay["to_state"][moved].astype(np.int64)]
        # the transitions out of each state, in mstate order
        outs = [np.sort(matrix[s][matrix[s] > 0]) for s in range(len(self.states))]
        to_of = {int(matrix[a, b]): b for a in range(matrix.shape[0])
                 for b in range(matrix.shape[1]) if matrix[a, b]}
        count = np.array([len(o) for o in outs], np.int64)[stay_from]
        rep = np.repeat(np.arange(stay_from.size), count)
        first = np.repeat(np.cumsum(count) - count, count)
        within = np.arange(rep.size) - first
        flat = np.concatenate(outs + [np.zeros(0, np.int64)])
        ptr = np.concatenate([[0], np.cumsum([len(o) for o in outs])])
        trans = flat[ptr[stay_from[rep]] + within]
        to_state = np.array([to_of[int(t)] for t in range(1, len(numbers) + 1)], np.int64)
        out = {"id": stay["patient"][rep], "from": stay_from[rep] + 1,
               "to": to_state[trans - 1] + 1, "trans": trans,
               "Tstart": stay["start_day"][rep], "Tstop": stay["stop_day"][rep],
               "time": stay["stop_day"][rep] - stay["start_day"][rep],   # as msprep writes
               "status": (trans == taken[rep]).astype(np.int64)}
        for name, values in self.covariates.items():
            out[name] = values[out["id"] - self.first_patient]
        return out

    def metadata(self):
        """Provenance: version, scenario, seed, patients, horizon."""
        return {"hsctsim_version": self.hsctsim_version, "scenario": self.scenario.name,
                "scenario_path": self.scenario.path, "seed": self.seed,
                "replicate": self.replicate, "patients": self.n_patients,
                "first_patient": self.first_patient, "horizon_days": self.horizon_days}
