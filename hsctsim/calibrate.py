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

from . import __version__
from .kernel import accrued_hazard_into, seed_key
from .model import INDEX, calibration_targets, engine_arrays, isolated_susceptible
from .scenario import ScenarioError

CALIBRATION_PATIENTS = 200_000
CALIBRATION_SEED = 20_240_601
TOLERANCE = 2e-6
MAX_ITERATIONS = 40

_memory = {}


def _cache_dir():
    root = os.environ.get("HSCTSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hsctsim")
    return Path(root) / "calibration"


def _key(scenario, names, targets, landmarks, n_patients, seed):
    digest = hashlib.sha256()
    for array in engine_arrays(scenario, {}, interventions=False):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([names, targets.tolist(), landmarks.tolist(), n_patients, seed,
                              __version__]).encode())
    return digest.hexdigest()[:32]


def _load(key):
    if key in _memory:
        return _memory[key]
    try:
        data = json.loads((_cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    _memory[key] = data
    return data


def _store(key, data):
    _memory[key] = data
    folder = _cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


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
              use_cache=True):
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
        Reuse (and store) a result for the same parameters, on disk and in memory.

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
    key = _key(scenario, names, targets, landmarks, n_patients, seed)
    if use_cache and (cached := _load(key)) is not None:
        return dict(cached)
    result = _solve(scenario, names, targets, landmarks, n_patients, seed)
    if use_cache:
        _store(key, result)
    return dict(result)


def _solve(scenario, names, targets, landmarks, n_patients, seed):
    dar = scenario.processes["death_after_relapse"]
    fixed = {}
    if dar.incidence is not None:
        fixed["death_after_relapse"] = isolated_susceptible(dar)
        if fixed["death_after_relapse"] > 1.0:
            raise ScenarioError(scenario.path, "death_after_relapse.incidence",
                                f"{dar.incidence.mid:g} by day {dar.landmark_day:g} cannot "
                                "be reached with this timing")
    pi = np.clip(targets * 1.2 + 0.01, 0.0, 1.0)
    pi[targets == 0.0] = 0.0
    # coarse steps on a subset of the same patients, then the full set
    for n, tol in ((max(n_patients // 8, 1000), 1e-3), (n_patients, TOLERANCE)):
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
