"""From reported incidences to hazards, jointly, under competing risks.

For each process given as an incidence ``p_k`` at a landmark day ``L_k``, find its
susceptible fraction ``pi_k`` (``1 - cure``) such that the full model, with every
competing and modifying process on (interventions off: the configured figures
describe the course without them), gives ``P(T_k <= L_k) = p_k``.

The estimate uses conditional Monte Carlo.  Simulating a patient with process
``k`` silent (it never fires) gives the course as it runs until ``T_k``; the
probability that ``k`` fires by ``L_k`` given everything else is then
``1 - exp(-A_k)``, with ``A_k`` the hazard ``k`` accrued along that course.  The
estimate is smooth in ``pi_k`` with an exact derivative, has far less variance than
counting events, and with common random numbers each Newton step is a cheap,
deterministic function of the parameters.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..engine.processes import DERIVED_FIELDS
from ..engine.kernel import accrued_hazard_into, seed_key
from .hsct import INDEX, calibration_targets, engine_arrays, isolated_susceptible
from .scenario import ScenarioError

CALIBRATION_PATIENTS = 100_000
BUNDLED_PATIENTS = 1_000_000
CALIBRATION_SEED = 20_240_601
TOLERANCE = 0.005  # solve to 0.5% of a Monte Carlo standard error: see tolerance()
MAX_ITERATIONS = 40
BUNDLED_FILE = Path(__file__).with_name("calibrations.json")

_memory = {}


def _cache_dir():
    root = os.environ.get("HSCTSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hsctsim")
    return Path(root) / "calibration"


def cache_key(scenario, seed=CALIBRATION_SEED):
    """Key of a scenario point's calibration: its model arrays, targets and version."""
    names, targets, landmarks = calibration_targets(scenario)
    digest = hashlib.sha256()
    eng = engine_arrays(scenario, {}, interventions=False)
    for name in eng._fields:
        if name not in DERIVED_FIELDS:  # functions of the rest
            digest.update(np.ascontiguousarray(getattr(eng, name)).tobytes())
    dar = scenario.processes["death_after_relapse"]  # solved alone, not in the arrays above
    isolated = None if dar.incidence is None else [dar.incidence.mid, dar.landmark_day]
    digest.update(json.dumps([names, targets.tolist(), landmarks.tolist(), seed,
                              __version__, isolated]).encode())
    return digest.hexdigest()[:32]


def _bundled():
    try:
        return json.loads(BUNDLED_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _load(key, n_patients):
    """A stored result from at least ``n_patients`` patients, or None."""
    candidates = [_memory.get(key), _bundled().get(key)]
    try:
        candidates.append(json.loads((_cache_dir() / f"{key}.json").read_text()))
    except (OSError, ValueError):
        pass
    for entry in candidates:
        if entry and entry.get("n_patients", 0) >= n_patients:
            _memory[key] = entry
            return entry["susceptible"]
    return None


def _store(key, n_patients, susceptible):
    entry = {"n_patients": n_patients, "susceptible": susceptible}
    _memory[key] = entry
    folder = _cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


def tolerance(n_patients):
    """How close the solve gets: far below the Monte Carlo error of ``n_patients``."""
    return TOLERANCE / np.sqrt(n_patients)


def incidences(scenario, susceptible, names, landmarks, n_patients, seed):
    """Conditional-MC incidences and their derivatives in each target's ``pi``."""
    eng = engine_arrays(scenario, susceptible, interventions=False)
    targets = np.array([INDEX[n] for n in names], np.int64)
    acc = np.empty((n_patients, len(names)))
    dacc = np.empty_like(acc)
    accrued_hazard_into(eng, seed_key(seed), targets, np.asarray(landmarks, float), acc, dacc)
    surv = np.exp(-acc)
    return 1.0 - surv.mean(axis=0), (surv * dacc).mean(axis=0)


def calibrate(scenario, n_patients=CALIBRATION_PATIENTS, seed=CALIBRATION_SEED,
              use_cache=True, start=None):
    """Susceptible fractions that make the model reproduce the configured incidences.

    Parameters
    ----------
    scenario : Scenario
        A scenario point (ranges collapsed); a range's midpoint is used otherwise.
    n_patients : int
        Patients per conditional Monte Carlo evaluation.
    seed : int
        Seed of the common random numbers used throughout the solve.
    use_cache : bool
        Reuse (and store) a result for the same parameters from at least as many
        patients: in memory, shipped with the package for the bundled scenarios
        (``calibrations.json``), or in the user's cache folder
        (``$HSCTSIM_CACHE_DIR``, default ``~/.cache/hsctsim``).
    start : dict of str to float, optional
        Susceptible fractions to start from (a nearby point's solution, e.g. the
        midpoints' for a replicate), which saves most of the Newton steps.

    Returns
    -------
    dict of str to float
        ``pi`` for every process given by an incidence.

    Raises
    ------
    ScenarioError
        When the incidences cannot be reached together.
    """
    names, targets, landmarks = calibration_targets(scenario)
    key = cache_key(scenario, seed)
    if use_cache and (cached := _load(key, n_patients)) is not None:
        return dict(cached)
    result = _solve(scenario, names, targets, landmarks, n_patients, seed, start)
    if use_cache:
        _store(key, n_patients, result)
    return dict(result)


def _solve(scenario, names, targets, landmarks, n_patients, seed, start=None):
    dar = scenario.processes["death_after_relapse"]
    fixed = {}
    if dar.incidence is not None:
        fixed["death_after_relapse"] = isolated_susceptible(dar)
        if fixed["death_after_relapse"] > 1.0:
            raise ScenarioError(scenario.path, "death_after_relapse.incidence",
                                f"{dar.incidence.mid:g} by day {dar.landmark_day:g} cannot "
                                "be reached with this timing")
    pi = np.clip(targets * 1.2 + 0.01, 0.0, 1.0)
    if start:
        pi = np.array([start.get(n, p) for n, p in zip(names, pi)])
    pi[targets == 0.0] = 0.0
    # coarse steps on a subset of the same patients, then the full set
    for n, tol in ((max(n_patients // 8, 1000), 1e-3), (n_patients, tolerance(n_patients))):
        pi = _newton(scenario, names, targets, landmarks, n, seed, fixed, pi, tol)
    return dict(fixed, **dict(zip(names, pi.tolist())))


def _newton(scenario, names, targets, landmarks, n_patients, seed, fixed, pi, tol):
    """Damped Newton steps on each ``pi`` until every incidence is within ``tol``."""
    active = targets > 0.0
    stuck_for = 0
    for _ in range(MAX_ITERATIONS):
        susceptible = dict(fixed, **dict(zip(names, pi.tolist())))
        p, dp = incidences(scenario, susceptible, names, landmarks, n_patients, seed)
        resid = np.where(active, p - targets, 0.0)
        if np.all(np.abs(resid) < tol):
            return pi
        # a target still short with pi at 1 may yet be reached as the others move;
        # three such steps in a row mean it cannot
        stuck = active & (pi >= 1.0) & (resid < -tol)
        stuck_for = stuck_for + 1 if np.any(stuck) else 0
        if stuck_for >= 3:
            k = int(np.argmax(stuck))
            raise ScenarioError(
                scenario.path, f"{names[k]}.incidence",
                f"{targets[k]:g} by day {landmarks[k]:g} cannot be reached together with the "
                f"competing processes (at most {p[k]:.3f} with this timing)")
        step = np.where(dp > 0, -resid / np.where(dp > 0, dp, 1.0), 0.0)
        # at most halve or double pi, and never past 1
        pi = np.where(active, np.clip(pi + step, 0.5 * pi, np.minimum(1.0, 2.0 * pi + 1e-3)),
                      0.0)
    worst = int(np.argmax(np.abs(resid)))
    raise ScenarioError(scenario.path, f"{names[worst]}.incidence",
                        f"calibration did not converge (off by {resid[worst]:.2e})")


def update_bundled(names=None, n_patients=BUNDLED_PATIENTS):
    """Recalibrate the bundled scenarios at their midpoints into ``calibrations.json``.

    Run ``python -m hsctsim.model.calibrate`` after changing a bundled scenario or the model.
    """
    from .scenario import bundled_names, load_scenario

    entries = {}
    for name in names or bundled_names():
        point = load_scenario(name).at_midpoints()
        susceptible = _solve(point, *calibration_targets(point), n_patients, CALIBRATION_SEED)
        entries[cache_key(point)] = {"scenario": name, "n_patients": n_patients,
                                     "susceptible": susceptible}
        print(f"{name}: {susceptible}", flush=True)
    tmp = BUNDLED_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, BUNDLED_FILE)


if __name__ == "__main__":
    update_bundled()
