"""Multi-state data in mstate's msprep layout, simulated with numpy from known hazards.

For the fitting tests and the manual's example (``python tests/msm_data.py`` writes
``tests/data/illness_death.csv``). Independent of the engine: each stay draws one
latent time per transition out of the state by inverting its cumulative hazard,
``H0(T) = H0(s) + E / exp(x beta)`` with ``E ~ Exp(1)`` (clock forward, ``s`` the time
the stay began, which also conditions on no event before a delayed entry) or
``H0(D) = E / exp(x beta)`` for the sojourn ``D`` (clock reset, after the first stay,
which began at time 0); the first latent time wins unless censoring comes first.
"""

from pathlib import Path

import numpy as np

from hsctsim.analysis.hazard_families import Family


def simulate_msprep(transitions, n, seed, *, clock="reset", covariate_share=0.0,
                    censor_day=(np.inf, np.inf), entry_day=(0.0, 0.0), entry_share=0.0):
    """Simulate patients through a multi-state model; return msprep columns.

    Parameters
    ----------
    transitions : list of (from, to, Family, theta, beta)
        Integer states (1 is where everyone starts), the baseline hazard with its
        parameters (days) and the log hazard ratio of the binary covariate ``x``.
        Numbered 1, 2, ... in this order (mstate's ``trans``).
    n : int
    seed : int
    clock : {"reset", "forward"}
    covariate_share : float
        P(x = 1).
    censor_day : (low, high)
        Censoring uniform on (low, high) days since time 0 (inf: none).
    entry_day : (low, high)
        Delayed entry uniform on (low, high) for a share ``entry_share`` of patients:
        they are observed from then on, given no event before (in the initial state,
        entered at time 0, whatever the clock).

    Returns
    -------
    dict of str to ndarray
        ``id, from, to, trans, Tstart, Tstop, status, x``.
    """
    rng = np.random.default_rng(seed)
    x = (rng.random(n) < covariate_share).astype(float)
    censor = rng.uniform(*censor_day, n) if np.isfinite(censor_day[1]) else np.full(n, np.inf)
    late = rng.random(n) < entry_share
    start = np.where(late, rng.uniform(*entry_day, n), 0.0)
    first = np.ones(n, dtype=bool)   # in the first stay (the initial state, entered at 0)
    state = np.ones(n, dtype=int)
    alive = np.ones(n, dtype=bool)   # still moving and not censored
    cols = {k: [] for k in ("id", "from", "to", "trans", "Tstart", "Tstop", "status", "x")}
    while alive.any():
        idx = np.flatnonzero(alive)
        best = np.full(idx.size, np.inf)
        chosen = np.zeros(idx.size, dtype=int)
        outgoing = [(k, tr) for k, tr in enumerate(transitions, 1)]
        for k, (frm, to, fam, theta, beta) in outgoing:
            here = state[idx] == frm
            if not here.any():
                continue
            e = rng.exponential(size=idx.size) * np.exp(-beta * x[idx])
            theta = np.asarray(theta, float)
            since_zero = fam.inverse_cumhaz(theta, fam.cumhaz(theta, start[idx]) + e)
            t = np.where((clock == "forward") | first[idx], since_zero,
                         start[idx] + fam.inverse_cumhaz(theta, e))
            win = here & (t < best)
            best[win], chosen[win] = t[win], k
        has_out = np.isin(state[idx], [tr[0] for tr in transitions])
        stop = np.minimum(best, censor[idx])
        event = best <= censor[idx]
        for k, (frm, to, *_rest) in outgoing:
            rows = has_out & (state[idx] == frm)
            r = idx[rows]
            cols["id"].append(r + 1)
            cols["from"].append(np.full(r.size, frm))
            cols["to"].append(np.full(r.size, to))
            cols["trans"].append(np.full(r.size, k))
            cols["Tstart"].append(start[r])
            cols["Tstop"].append(stop[rows])
            cols["status"].append((event[rows] & (chosen[rows] == k)).astype(int))
            cols["x"].append(x[r])
        moved = has_out & event
        new_state = state.copy()
        new_state[idx[moved]] = [transitions[k - 1][1] for k in chosen[moved]]
        state = new_state
        start[idx[moved]] = stop[moved]
        first[idx[moved]] = False
        alive[idx[~moved]] = False
    out = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((out["trans"], out["Tstart"], out["id"]))
    return {k: v[order] for k, v in out.items()}


def write_csv(table, path, state_names=None):
    """Write msprep columns to CSV (states by name when ``state_names`` is given)."""
    keys = list(table)
    with open(path, "w") as fh:
        fh.write(",".join(keys) + "\n")
        for row in zip(*(table[k] for k in keys)):
            cells = []
            for key, value in zip(keys, row):
                if key in ("from", "to") and state_names:
                    cells.append(state_names[int(value) - 1])
                elif key in ("Tstart", "Tstop"):
                    cells.append(f"{float(value):.6g}")
                else:
                    cells.append(str(int(value)) if float(value).is_integer() else repr(value))
            fh.write(",".join(cells) + "\n")


# The manual's example (docs/tasks/fit-predict.md): an illness-death model after transplant, clock reset.
# transplant -> relapse: Weibull shape 0.8, scale 900 days, log HR 0.5 for x = 1
# transplant -> death: Gompertz shape -0.004/day, rate 0.0008/day, log HR 0.3
# relapse -> death: Weibull shape 1.3, scale 250 days (time since relapse), log HR 0
# 400 patients, x = 1 for 40%, censored uniformly between 1 and 5 years.
EXAMPLE = [
    (1, 2, Family("weibull"), [np.log(0.8), np.log(900.0)], 0.5),
    (1, 3, Family("gompertz"), [-0.004, np.log(0.0008)], 0.3),
    (2, 3, Family("weibull"), [np.log(1.3), np.log(250.0)], 0.0),
]


def main():
    table = simulate_msprep(EXAMPLE, 400, seed=2026, clock="reset", covariate_share=0.4,
                            censor_day=(365.0, 1825.0))
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    write_csv(table, folder / "illness_death.csv", ["transplant", "relapse", "death"])


if __name__ == "__main__":
    main()


def illness_death_model(healthy_to_sick_per_day, horizon_days):
    """An illness-death scenario (healthy -> sick -> dead, exponential, clock reset) for
    tests: ``NAME`` and the sick -> dead ``RATE`` are left for the test to fill in."""
    return f"""
kind = "multistate"
name = "NAME"
title = "illness-death test model"
horizon_days = {horizon_days:g}
clock = "reset"

[states]
names = ["healthy", "sick", "dead"]
absorbing = ["dead"]
initial = "healthy"

[[transitions]]
from = "healthy"
to = "sick"
timing = {{ family = "exponential", rate_per_day = {healthy_to_sick_per_day} }}
source = "test"

[[transitions]]
from = "sick"
to = "dead"
timing = {{ family = "exponential", rate_per_day = RATE }}
source = "test"
"""


def relapse_cycle_model(name, horizon_days, clock, relapse, recovery, death_after_relapse,
                        death_in_remission):
    """remission <-> relapse -> dead (and remission -> dead), states re-entered up to 4
    times: a scenario for tests of re-entered states. The four timings are TOML inline
    tables (a ``cure_fraction = ...`` line may follow the last)."""
    return f"""kind = "multistate"
name = "{name}"
horizon_days = {horizon_days}
clock = "{clock}"
[states]
names = ["remission", "relapse", "dead"]
absorbing = ["dead"]
max_visits = 4
[[transitions]]
from = "remission"
to = "relapse"
timing = {relapse}
source = "test"
[[transitions]]
from = "relapse"
to = "remission"
timing = {recovery}
source = "test"
[[transitions]]
from = "relapse"
to = "dead"
timing = {death_after_relapse}
source = "test"
[[transitions]]
from = "remission"
to = "dead"
timing = {death_in_remission}
source = "test"
"""


# a multi-state model with covariates (tests of strata, prediction)
COVARIATE_MODEL = """
kind = "multistate"
name = "cov"
horizon_days = 200
[states]
names = ["alive", "dead"]
absorbing = ["dead"]
[covariates.high_risk]
levels = [0, 1]
shares = [0.7, 0.3]
source = "assumption"
[covariates.age_decades]
levels = [3, 5, 7]
shares = [0.2, 0.5, 0.3]
source = "assumption"
[[transitions]]
from = "alive"
to = "dead"
timing = { family = "exponential", rate_per_day = 0.002 }
log_hr = { high_risk = 0.7, age_decades = 0.1 }
source = "test"
"""
