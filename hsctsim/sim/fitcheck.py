"""A fitted multi-state model checked against its data.

The Aalen-Johansen estimate of state occupation from the data (everyone in the
initial state at time 0; :func:`hsctsim.analysis.estimators.state_occupation`), with
95% percentile intervals from resampling patients, beside the occupation of a cohort
simulated from the fitted scenario; the largest gap between the two says whether the
fitted families follow the data (``hsctsim fit`` prints it, ``--plot`` draws it).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.estimators import state_occupation
from .cohorts import simulate

__all__ = ["aalen_johansen", "aalen_johansen_ci", "Check", "check_days", "check_fit",
           "CHECK_YEARS", "plot_check", "stays", "YEAR"]

YEAR = 365.25
CHECK_YEARS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


def stays(data):
    """One row per stay: ``patient, from_state, to_state (-1 censored), start, stop``."""
    to = np.where(data.status == 1, data.to_state, -1)
    key = np.lexsort((-to, data.tstart, data.patient))   # the event row first in a stay
    pid, start = data.patient[key], data.tstart[key]
    first = key[np.r_[True, (pid[1:] != pid[:-1]) | (start[1:] != start[:-1])]]
    return {"patient": data.patient[first], "from_state": data.from_state[first],
            "to_state": to[first], "start": data.tstart[first], "stop": data.tstop[first]}


def aalen_johansen(data, days):
    """Aalen-Johansen state occupation at ``days``, shape (len(days), states)."""
    return state_occupation(stays(data), np.arange(len(data.states)), data.initial,
                            times_days=days, method="aj")


def aalen_johansen_ci(data, days, replicates=200, seed=1, level=0.95):
    """``(estimate, low, high)``: percentile intervals from resampling patients."""
    table = stays(data)
    est = aalen_johansen(data, days)
    rng = np.random.default_rng(seed)
    n = len(data.patient_ids)
    order = np.argsort(table["patient"], kind="stable")
    table = {k: v[order] for k, v in table.items()}
    begin = np.searchsorted(table["patient"], np.arange(n), "left")
    end = np.searchsorted(table["patient"], np.arange(n), "right")
    boot = np.empty((replicates, *est.shape))
    states = np.arange(len(data.states))
    for r in range(replicates):
        pick = rng.integers(0, n, n)
        size = end[pick] - begin[pick]
        copy = np.repeat(np.arange(n), size)       # each draw a patient of its own
        rows = begin[pick][copy] + np.arange(copy.size) - np.repeat(np.cumsum(size) - size, size)
        rep = {k: v[rows] for k, v in table.items()}
        rep["patient"] = copy
        boot[r] = state_occupation(rep, states, data.initial, times_days=days, method="aj")
    a = (1.0 - level) / 2.0
    return est, np.quantile(boot, a, axis=0), np.quantile(boot, 1.0 - a, axis=0)


@dataclass(frozen=True, eq=False)
class Check:
    """Occupation from the data (AJ with interval) and from the simulated fit."""

    states: tuple
    days: np.ndarray
    aj: np.ndarray
    low: np.ndarray
    high: np.ndarray
    simulated: np.ndarray
    n_patients: int
    curve_days: np.ndarray = None     # a fine grid for the figure (no intervals)
    curve_aj: np.ndarray = None
    curve_simulated: np.ndarray = None

    @property
    def gap(self):
        return np.abs(self.simulated - self.aj)

    @property
    def largest(self):
        """``(gap, day, state)`` of the largest gap."""
        i, j = np.unravel_index(int(np.argmax(self.gap)), self.gap.shape)
        return float(self.gap[i, j]), float(self.days[i]), self.states[j]

    @property
    def outside(self):
        """How many (day, state) cells fall outside the data's interval."""
        return int(np.sum((self.simulated < self.low) | (self.simulated > self.high)))

    def report(self):
        names = [s[:12] for s in self.states]
        lines = [f"check against the data: state occupation, Aalen-Johansen (95% interval, "
                 f"patients resampled) vs {self.n_patients} patients simulated from the fit",
                 f"  {'day':>7} {'state':<13} {'data':>7} {'interval':>15} {'fit':>7} "
                 f"{'gap':>7}"]
        for i, d in enumerate(self.days):
            for j, name in enumerate(names):
                flag = "" if self.low[i, j] <= self.simulated[i, j] <= self.high[i, j] else " !"
                lines.append(f"  {d:>7.0f} {name:<13} {self.aj[i, j]:>7.3f} "
                             f"{self.low[i, j]:>7.3f}-{self.high[i, j]:<7.3f} "
                             f"{self.simulated[i, j]:>7.3f} {self.gap[i, j]:>7.3f}{flag}")
        gap, day, state = self.largest
        lines.append(f"largest gap {gap:.3f} ({state} on day {day:g}); "
                     f"{self.outside} of {self.gap.size} outside the data's 95% interval (!)")
        return "\n".join(lines)

    def to_dict(self):
        gap, day, state = self.largest
        return {"states": list(self.states), "days": self.days.tolist(),
                "aalen_johansen": self.aj.tolist(), "low": self.low.tolist(),
                "high": self.high.tolist(), "simulated": self.simulated.tolist(),
                "simulated_patients": self.n_patients, "largest_gap": gap,
                "largest_gap_day": day, "largest_gap_state": state}


def check_days(data, years=CHECK_YEARS):
    """The check days: ``years`` (in days) up to the last follow-up of the data."""
    days = np.array([y * YEAR for y in years])
    days = days[days <= data.tstop.max()]
    return days if days.size else np.array([float(data.tstop.max())])


def check_fit(scenario, data, days=None, n_patients=20_000, seed=1, replicates=200):
    """Simulate ``scenario`` (the fitted model) and compare with the data's AJ.

    Parameters
    ----------
    scenario : MultistateScenario
        As written by ``MsmFit.to_toml`` and loaded.
    data : MsData
    days : array_like, optional
        Default :func:`check_days`.

    Returns
    -------
    Check
    """
    days = check_days(data) if days is None else np.asarray(days, float)
    est, low, high = aalen_johansen_ci(data, days, replicates=replicates, seed=seed)
    cohort = simulate(scenario, n_patients, seed=seed, horizon_days=float(days.max()) + 1.0)
    index = [list(cohort.layout.states).index(s) for s in data.states]

    def shares(at_days):
        at = cohort.state_at(at_days)
        return np.stack([(at == k).mean(axis=0) for k in index], axis=1)

    grid = np.linspace(0.0, float(days.max()), 121)
    return Check(tuple(data.states), days, est, low, high, shares(days), int(n_patients),
                 grid, aalen_johansen(data, grid), shares(grid))


def plot_check(check, path, title=""):
    """Aalen-Johansen (with interval) and simulated occupation, one panel per state."""
    import matplotlib.pyplot as plt  # matplotlib: imported on use (start-up time)

    from ..analysis.plotting import save_figure  # matplotlib: imported on use

    k = len(check.states)
    cols = min(3, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    years = check.days / YEAR
    for j, state in enumerate(check.states):
        ax = axes[j // cols][j % cols]
        ax.errorbar(years, check.aj[:, j], yerr=[check.aj[:, j] - check.low[:, j],
                                                  check.high[:, j] - check.aj[:, j]],
                    fmt="o", color="C0", capsize=3, label="Aalen-Johansen, 95% interval")
        ax.plot(years, check.simulated[:, j], "s", color="C1", label="fitted, simulated")
        if check.curve_days is not None:
            grid = check.curve_days / YEAR
            ax.step(grid, check.curve_aj[:, j], where="post", color="C0", lw=1)
            ax.plot(grid, check.curve_simulated[:, j], "--", color="C1", lw=1)
        ax.set_title(state)
        ax.set_xlabel("years")
        ax.set_ylabel("probability in state")
    for j in range(k, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or "state occupation: data vs fitted model")
    fig.tight_layout()
    path = Path(path)
    fmt = path.suffix[1:] or "png"
    return save_figure(axes[0][0], path.parent, path.stem, [fmt])[0]
