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

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from .._version import __version__
from ..engine.backend import resolve_backend
from ..engine.kernel import seed_key
from ..engine.processes import DERIVED_FIELDS
from .extensions import reference_point
from .hints import did_you_mean
from .hsct import calibration_targets, engine_arrays, isolated_susceptible, process_names
from .scenario import ScenarioError, bundled_names, load_scenario

__all__ = ["BUNDLED_FILE", "BUNDLED_PATIENTS", "cache_key", "calibrate", "CALIBRATION_PATIENTS",
           "CALIBRATION_RULE", "CALIBRATION_SEED", "expected_names", "fingerprint", "incidences",
           "main", "MAX_ITERATIONS", "rekey_bundled", "TOLERANCE", "tolerance", "update_bundled",
           "valid_entry"]

CALIBRATION_PATIENTS = 100_000
BUNDLED_PATIENTS = 1_000_000
CALIBRATION_SEED = 20_240_601
TOLERANCE = 0.005  # solve to 0.5% of a Monte Carlo standard error: see tolerance()
MAX_ITERATIONS = 40
BUNDLED_FILE = Path(__file__).with_name("calibrations.json")
# how a solution is reached; part of the cache key, change it when the solver changes
CALIBRATION_RULE = ("joint damped Newton on conditional Monte Carlo: n/8 patients to 1e-3, "
                    f"then n patients to {TOLERANCE:g}/sqrt(n); death after relapse alone")
# Scenario fields that never reach the engine: labels, sources, the follow-up (the
# solve runs to each landmark) and what the scenario said before it became parameters
_NOT_IN_ENGINE = frozenset({"name", "title", "population", "path", "notes", "raw",
                            "settings", "horizon_days", "chimerism", "spec",
                            "distribution"})

_memory = {}


def _cache_dir():
    root = os.environ.get("HSCTSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hsctsim")
    return Path(root) / "calibration"


def _describe(value):
    """A scenario point as plain JSON data: every field but those in _NOT_IN_ENGINE.

    Generic over the dataclasses, so a field added to the scenario is in the key
    unless it is listed as not reaching the engine.
    """
    if dataclasses.is_dataclass(value):
        # a scenario without optional sections keeps the key it had before they existed
        return {f.name: _describe(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in _NOT_IN_ENGINE and not f.name.endswith(("source", "sources"))
                and not (f.name == "extensions" and not getattr(value, f.name))}
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_describe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot describe {type(value).__name__} in a calibration key")


def fingerprint(scenario):
    """Digest of everything of a scenario point that reaches the engine.

    The resolved point itself (every process's timing, incidence, landmark day and
    cure fraction, the effects, the grade III-IV share, the death-after-relapse
    pieces, the interventions) and, so that a change to the model's wiring shows
    too, its engine arrays.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(_describe(scenario), sort_keys=True).encode())
    eng = engine_arrays(scenario, {}, interventions=False)
    for name in eng._fields:
        if name not in DERIVED_FIELDS:  # functions of the rest
            digest.update(np.ascontiguousarray(getattr(eng, name)).tobytes())
    return digest.hexdigest()


def cache_key(scenario, seed=CALIBRATION_SEED, held=None, backend="cpu"):
    """Key of a scenario point's calibration.

    From the :func:`fingerprint` of the point, the seed, the solver
    (:data:`CALIBRATION_RULE`), the package version, the susceptible fractions
    held fixed (``held``, see :func:`calibrate`) and, for a solve on the GPU, the
    backend: its incidences can differ from the CPU's in the last bits, so a CPU
    cohort must never start from a GPU's solution (or the reverse).
    """
    document = [fingerprint(scenario), int(seed), CALIBRATION_RULE, __version__,
                sorted((held or {}).items())]
    if backend != "cpu":
        document.append(getattr(backend, "name", backend))
    return hashlib.sha256(json.dumps(document).encode()).hexdigest()[:32]


def expected_names(scenario):
    """The processes a calibration of ``scenario`` gives a susceptible fraction."""
    names = calibration_targets(scenario)[0]
    if scenario.processes["death_after_relapse"].incidence is not None:
        names = [*names, "death_after_relapse"]
    return names


def _fraction(value):
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0)


def valid_entry(entry, names, n_patients=1):
    """Whether a stored calibration can be used: right shape, names and values."""
    return (isinstance(entry, dict)
            and isinstance(entry.get("n_patients"), int)
            and not isinstance(entry["n_patients"], bool)
            and entry["n_patients"] >= n_patients
            and isinstance(entry.get("susceptible"), dict)
            and set(entry["susceptible"]) == set(names)
            and all(_fraction(v) for v in entry["susceptible"].values()))


def _read_json(path):
    """A JSON file's content, or None when it is missing, unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _bundled():
    entries = _read_json(BUNDLED_FILE)
    return entries if isinstance(entries, dict) else {}


def _load(key, names, n_patients, shipped_key=None):
    """A stored, valid result for ``n_patients`` patients, or None.

    The shipped result of a bundled point (solved with more patients) serves any
    request; a result in memory or in the user's cache only a request for the same
    number of patients, so that a cohort never depends on what an earlier, larger
    calibration left behind.  A cache file that is corrupt, of the wrong type or
    from a different point (other names, fractions outside [0, 1]) is ignored, to
    be solved again.
    """
    shipped = _bundled().get(shipped_key or key)
    if valid_entry(shipped, names, n_patients):
        return {k: float(v) for k, v in shipped["susceptible"].items()}
    for entry in (_memory.get(key), _read_json(_cache_dir() / f"{key}.json")):
        if valid_entry(entry, names, n_patients) and entry["n_patients"] == n_patients:
            _memory[key] = entry
            return {k: float(v) for k, v in entry["susceptible"].items()}
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
    """How close the solve gets: far below the Monte Carlo error of ``n_patients``.

    Never below ``1 / n_patients``: another process's solved fraction moves a patient's
    course discretely (an event before or after another), which moves an incidence by
    up to one patient in ``n``, so below that a small solve can cycle without end.
    From 40,000 patients on (every shipped calibration) the first term is the larger.
    """
    return max(TOLERANCE / np.sqrt(n_patients), 1.0 / n_patients)


def incidences(scenario, susceptible, names, landmarks, n_patients, seed, backend="cpu"):
    """Conditional-MC incidences and their derivatives in each target's ``pi``.

    ``backend`` (a name or a backend object) accrues the hazards where it runs
    (:mod:`hsctsim.engine.backend`).
    """
    eng = engine_arrays(scenario, susceptible, interventions=False)
    columns = process_names(scenario)
    targets = np.array([columns.index(n) for n in names], np.int64)
    acc = np.empty((n_patients, len(names)))
    dacc = np.empty_like(acc)
    resolve_backend(backend).accrue(eng, seed_key(seed), targets, np.asarray(landmarks, float),
                                    acc, dacc)
    surv = np.exp(-acc)
    return 1.0 - surv.mean(axis=0), (surv * dacc).mean(axis=0)


def calibrate(scenario, n_patients=CALIBRATION_PATIENTS, seed=CALIBRATION_SEED,
              use_cache=True, start=None, held=None, backend="cpu"):
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
        Reuse (and store) a result for the same point: shipped with the package
        for the bundled scenarios (``calibrations.json``, from more patients), or
        from the same number of patients in memory or in the user's cache folder
        (``$HSCTSIM_CACHE_DIR``, default ``~/.cache/hsctsim``), so the result never
        depends on what ran before.  An entry is checked when read; one that does
        not fit is ignored and solved again.
    start : dict of str to float, optional
        Susceptible fractions to start from (a nearby point's solution, e.g. the
        midpoints' for a replicate), which saves most of the Newton steps.
    held : dict of str to float, optional
        Susceptible fractions to keep as they are (a what-if that holds another
        point's calibration); only the other processes given by an incidence are
        solved, with these fixed.
    backend : {"cpu", "cuda"}
        Where the conditional Monte Carlo runs (the result is the same to rounding;
        cached apart, so that no cohort depends on which backend solved first).

    Returns
    -------
    dict of str to float
        ``pi`` for every process given by an incidence.

    Raises
    ------
    ScenarioError
        When the incidences cannot be reached together.
    """
    scenario = reference_point(scenario)  # a covariate mix is solved at the published one
    names = expected_names(scenario)
    held = {k: float(v) for k, v in (held or {}).items()}
    if set(held) - set(names) or not all(_fraction(v) for v in held.values()):
        raise ValueError(f"held must map some of {names} to fractions in [0, 1]: {held}")
    shipped_key = cache_key(scenario, seed, held)  # the shipped file serves every backend
    key = shipped_key if backend == "cpu" else cache_key(scenario, seed, held, backend)
    if use_cache and (cached := _load(key, names, n_patients, shipped_key)) is not None:
        return cached
    result = _solve(scenario, *calibration_targets(scenario), n_patients, seed, start, held,
                    backend)
    if use_cache:
        _store(key, n_patients, result)
    return dict(result)


def _solve(scenario, names, targets, landmarks, n_patients, seed, start=None, held=None,
           backend="cpu"):
    held = held or {}
    dar = scenario.processes["death_after_relapse"]
    fixed = dict(held)
    if dar.incidence is not None and "death_after_relapse" not in held:
        fixed["death_after_relapse"] = isolated_susceptible(dar)
        if not fixed["death_after_relapse"] <= 1.0:
            raise ScenarioError(scenario.origin, "death_after_relapse.incidence",
                                f"{dar.incidence.mid:g} by day {dar.landmark_day:g} cannot "
                                "be reached with this timing")
    solved = [i for i, n in enumerate(names) if n not in held]
    names = [names[i] for i in solved]
    targets, landmarks = targets[solved], landmarks[solved]
    if not names:
        return fixed
    pi = np.clip(targets * 1.2 + 0.01, 0.0, 1.0)
    if start:
        pi = np.array([start.get(n, p) for n, p in zip(names, pi)])
    pi[targets == 0.0] = 0.0
    # coarse steps on a subset of the same patients, then the full set
    for n, tol in ((max(n_patients // 8, 1000), 1e-3), (n_patients, tolerance(n_patients))):
        pi = _newton(scenario, names, targets, landmarks, n, seed, fixed, pi, tol, backend)
    result = dict(fixed, **dict(zip(names, pi.tolist())))
    if not all(_fraction(v) for v in result.values()):
        raise ScenarioError(scenario.origin, None, "calibration gave susceptible fractions "
                            f"outside [0, 1] ({result}): a numeric blow-up in its figures")
    return result


def _newton(scenario, names, targets, landmarks, n_patients, seed, fixed, pi, tol,
            backend="cpu"):
    """Damped Newton steps on each ``pi`` until every incidence is within ``tol``."""
    active = targets > 0.0
    stuck_for = 0
    for _ in range(MAX_ITERATIONS):
        susceptible = dict(fixed, **dict(zip(names, pi.tolist())))
        p, dp = incidences(scenario, susceptible, names, landmarks, n_patients, seed, backend)
        resid = np.where(active, p - targets, 0.0)
        if np.all(np.abs(resid) < tol):
            return pi
        # a target still short with pi at 1 may yet be reached as the others move;
        # three such steps in a row mean it cannot
        # so does one that no longer responds to its hazard at all (no patient can have
        # it: what it needs first, such as engraftment, does not happen)
        stuck = active & ((pi >= 1.0) | (dp <= 0.0)) & (resid < -tol)
        stuck_for = stuck_for + 1 if np.any(stuck) else 0
        if stuck_for >= 3:
            k = int(np.argmax(stuck))
            if dp[k] <= 0.0 and p[k] <= tol:
                why = (f"cannot be reached: it stays at {p[k]:.3f} whatever its hazard, so no "
                       "patient can have it (what it needs first, such as engraftment, does "
                       "not happen)")
            else:
                why = ("cannot be reached together with the competing processes (at most "
                       f"{p[k]:.3f} with this timing)")
            raise ScenarioError(scenario.origin, f"{names[k]}.incidence",
                                f"{targets[k]:g} by day {landmarks[k]:g} {why}")
        step = np.where(dp > 0, -resid / np.where(dp > 0, dp, 1.0), 0.0)
        # at most halve or double pi, and never past 1
        pi = np.where(active, np.clip(pi + step, 0.5 * pi, np.minimum(1.0, 2.0 * pi + 1e-3)),
                      0.0)
    worst = int(np.argmax(np.abs(resid)))
    raise ScenarioError(scenario.origin, f"{names[worst]}.incidence",
                        f"calibration did not converge (off by {resid[worst]:.2e})")


def update_bundled(names=None, n_patients=BUNDLED_PATIENTS):
    """Recalibrate the bundled scenarios at their midpoints into ``calibrations.json``.

    Run ``python -m hsctsim.model.calibrate`` after changing a bundled scenario or the model.
    """

    # merge: entries of other scenarios stay (a partial update keeps the rest); the
    # file is rewritten after each scenario, so an interrupted update keeps its work
    entries = {} if names is None else {
        k: v for k, v in _bundled().items() if v.get("scenario") not in names}
    for name in names or bundled_names():
        point = reference_point(load_scenario(name).at_midpoints())
        susceptible = _solve(point, *calibration_targets(point), n_patients, CALIBRATION_SEED)
        entries[cache_key(point)] = {"scenario": name, "n_patients": n_patients,
                                     "fingerprint": fingerprint(point),
                                     "susceptible": susceptible}
        print(f"{name}: {susceptible}", flush=True)
        _write_bundled(entries)


def _write_bundled(entries):
    tmp = BUNDLED_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, BUNDLED_FILE)


def rekey_bundled():
    """Give the shipped calibrations the current :func:`cache_key`, without solving.

    For a change of the key alone (how it is computed, the version): the
    susceptible fractions stay as they are.  An entry that records the
    :func:`fingerprint` of the point it was solved for is moved only when the
    bundled scenario still has that fingerprint; one that does not (written before
    fingerprints were recorded) is trusted and given one.  Run as
    ``python -m hsctsim.model.calibrate --rekey``.

    Returns
    -------
    list of str
        Scenarios whose entry changed and need ``python -m hsctsim.model.calibrate``
        (the file is not written then).
    """

    entries, stale = {}, []
    for entry in _bundled().values():
        name = entry["scenario"]
        point = reference_point(load_scenario(name).at_midpoints())
        current = fingerprint(point)
        if (not valid_entry(entry, expected_names(point))
                or entry.get("fingerprint", current) != current):
            stale.append(name)
            continue
        entries[cache_key(point)] = dict(entry, fingerprint=current)
    if not stale:
        _write_bundled(entries)
    return stale


def main(argv=None):
    """``python -m hsctsim.model.calibrate [ARM ...] | --rekey``: refresh the shipped file.

    Returns the exit status: 0 done, 1 entries to re-solve (``--rekey``), 2 bad
    arguments.
    """


    arms = bundled_names()
    parser = argparse.ArgumentParser(
        prog="python -m hsctsim.model.calibrate",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Solve the bundled scenarios at their midpoints into\n"
                    "hsctsim/model/calibrations.json (about 10 minutes for all of them);\n"
                    "the entries of arms not named stay as they are.",
        epilog="examples:\n"
               "  python -m hsctsim.model.calibrate            every arm\n"
               "  python -m hsctsim.model.calibrate rcc auto   these two\n"
               "  python -m hsctsim.model.calibrate --rekey    new keys, no solving")
    parser.add_argument("arms", nargs="*", metavar="ARM",
                        help=f"bundled arms to re-solve (default: all: {', '.join(arms)})")
    parser.add_argument("--rekey", action="store_true",
                        help="after a change of the cache key alone (how it is computed, "
                             "the version): re-key the entries without solving")
    args = parser.parse_args(argv)
    if args.rekey and args.arms:
        parser.error("--rekey re-keys every entry: give no arms with it")
    for arm in args.arms:
        if arm not in arms:
            parser.error(f"{arm}: not a bundled arm{did_you_mean(arm, arms)}")
    try:
        if args.rekey:
            if stale := rekey_bundled():
                print(f"changed since they were solved, not re-keyed: {', '.join(stale)}; "
                      "run python -m hsctsim.model.calibrate", file=sys.stderr)
                return 1
            return 0
        update_bundled(list(dict.fromkeys(args.arms)) or None)
    except ScenarioError as exc:  # a bundled scenario that does not load: one line
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
