"""Parameter sweeps and probabilistic sensitivity analysis (PSA), point by point.

A sweep is a list of scenario points, each calibrated, simulated and summarised
on its own: one-way sweeps (each key over its grid, the others at their
midpoints, plus the midpoints themselves as point 0), a full-factorial grid, or
PSA draws (every ranged figure drawn from its range, draw ``r`` being replicate
``r`` of ``hsctsim run --replicates``).  A point's result depends only on the
scenario, the settings and the point's index, so points may run in any order, on
any number of processes or machines (:mod:`dask.distributed`), and an interrupted
sweep resumes from the points it saved.

Grid points share the seed, so every point follows the same patients (common
random numbers: the differences between points are the parameters', not noise);
PSA draw ``r`` uses replicate ``r``'s stream.

The results are a tidy table: one row per point, endpoint and landmark day, with
the value of every parameter at that point.
"""

import itertools
import os
from dataclasses import asdict, dataclass

import numpy as np

from .._version import __version__
from ..analysis.endpoints import ENDPOINTS, LANDMARK_DAYS, Tally
from ..api import backend_record, count, scenario_point
from ..model.calibrate import CALIBRATION_PATIENTS, calibrate
from ..model.hints import did_you_mean
from ..model.scenario import ScenarioError, set_value
from .sweepfolder import SweepFolder  # noqa: F401  (sweeps.SweepFolder, as before)

__all__ = ["Axis", "DEFAULT_CHUNK", "GRID_CALIBRATION_PATIENTS", "grid_points", "manifest",
           "MAX_POINTS", "parameters", "parquet_bytes", "parse_axis", "Point", "point_scenario",
           "PSA_CALIBRATION_PATIENTS", "psa_points", "psa_summary_rows", "run_dask", "run_local",
           "run_point", "Settings", "table_rows"]

GRID_CALIBRATION_PATIENTS = CALIBRATION_PATIENTS
PSA_CALIBRATION_PATIENTS = 10_000  # as run --replicates: draw r is its replicate r
DEFAULT_CHUNK = 500_000


@dataclass(frozen=True)
class Axis:
    """One swept key and its values."""

    key: str
    values: tuple


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its index, kind and either set values or a PSA draw."""

    index: int
    design: str  # "baseline", "one-way", "grid" or "psa"
    values: tuple = ()  # ((key, value), ...) set at this point; others at midpoints
    draw: int | None = None
    # ((process, fraction), ...): a posterior set's stored calibration (no solve)
    susceptible: tuple = ()


@dataclass(frozen=True)
class Settings:
    """What a point's result depends on, besides the scenario (kept with the results)."""

    patients: int
    seed: int
    horizon_days: float
    days: tuple = LANDMARK_DAYS
    calibration_patients: int | None = None
    chunk_size: int = DEFAULT_CHUNK


MAX_POINTS = 100_000  # a sweep of more points could not finish; refused up front


def parse_axis(scenario, text):
    """``KEY=LOW:HIGH:STEPS`` into an :class:`Axis`, checked against the scenario.

    KEY is a ranged figure of the scenario (``hsctsim show`` lists them, e.g.
    ``relapse.incidence`` or ``effects.cgvhd_on_relapse.hr``); LOW and HIGH are
    checked as the scenario file would check them.

    Raises
    ------
    ScenarioError
        Naming the scenario file, the key and what is wrong.
    """
    key, sep, spec = text.partition("=")
    key = key.strip()
    parts = spec.split(":")
    if not sep or len(parts) != 3:
        raise ScenarioError(f"--grid {text!r}", None, "expected KEY=LOW:HIGH:STEPS, "
                            "e.g. relapse.incidence=0.2:0.4:5")
    ranged = dict(scenario.ranges())
    if key not in ranged:
        raise ScenarioError(f"--grid {text!r}", key, "not a ranged figure of "
                            f"{scenario.name} (`hsctsim show` lists them)"
                            f"{did_you_mean(key, ranged)}")
    try:
        low, high, steps = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ScenarioError(f"--grid {text!r}", None, "LOW and HIGH must be "
                            "numbers and STEPS a whole number") from None
    if steps < 1 or (steps == 1 and low != high) or low > high:
        raise ScenarioError(f"--grid {text!r}", None, "need LOW <= HIGH and "
                            "STEPS >= 2 (1 when LOW == HIGH)")
    if steps > MAX_POINTS:  # np.linspace would fill memory before anything ran
        raise ScenarioError(f"--grid {text!r}", None, f"at most {MAX_POINTS:,} STEPS")
    for value in (low, high):  # the file's own checks of the value, blaming the --grid
        set_value(scenario, key, repr(value), label=f"--grid {text}")
    return Axis(key, tuple(float(v) for v in np.linspace(low, high, steps)))


def grid_points(axes, factorial=False):
    """The points of a sweep over ``axes``.

    One-way (default): point 0 at the midpoints, then each axis's values in turn
    with the other figures at their midpoints.  ``factorial``: every combination.
    """
    if factorial:
        combos = itertools.product(*(a.values for a in axes))
        return [Point(i, "grid", tuple(zip((a.key for a in axes), combo)))
                for i, combo in enumerate(combos)]
    points = [Point(0, "baseline")]
    for axis in axes:
        points += [Point(len(points) + j, "one-way", ((axis.key, v),))
                   for j, v in enumerate(axis.values)]
    return points


def psa_points(n_draws, posterior=None):
    """``n_draws`` PSA points, draw ``r`` at index ``r``.

    With ``posterior`` (a :class:`hsctsim.sim.posterior.PosteriorSample`), draw
    ``r`` is its set ``r`` (cycling past the last), all figures jointly, with its
    stored calibration; else replicate ``r``'s independent draws from the ranges.
    """
    if posterior is None:
        return [Point(r, "psa", draw=r) for r in range(n_draws)]
    n = len(posterior.values)
    return [Point(r, "psa", values=tuple(zip(posterior.keys, posterior.values[r % n].tolist())),
                  susceptible=tuple(sorted(posterior.susceptible[r % n].items())))
            for r in range(n_draws)]


def point_scenario(scenario, point, seed):
    """The scenario point (ranges collapsed) of a sweep point."""
    if point.draw is not None:
        return scenario_point(scenario, seed, point.draw)
    return scenario.with_values(dict(point.values)).at_midpoints()


def parameters(scenario, point, seed):
    """The value of every ranged figure at ``point`` (dotted key -> float)."""
    return {k: r.mid for k, r in point_scenario(scenario, point, seed).ranges()}


def run_point(scenario, point, settings, threads=None, backend="cpu"):
    """Calibrate, simulate and summarise one point (pure: same inputs, same result).

    ``backend="cuda"`` calibrates the point, simulates its patients and counts them
    on the GPU (only the counts come back); the result equals the CPU's in
    distribution, and to the last bits wherever the device's libm rounds as the
    host's does.

    Returns
    -------
    dict
        ``{"index", "design", "varied", "parameters", "susceptible", "rows"}``,
        JSON-ready (``varied``: the keys set at this point, joined by ``+``);
        ``rows`` as :func:`table_rows` lays them out, without the parameters.
    """
    if threads is not None:
        import numba  # numba: slow to import, only when needed

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    s = settings
    tally = Tally(tuple(s.days))
    if point.draw is not None:  # replicate r: calibrated from the midpoints' solution
        n_cal = s.calibration_patients or PSA_CALIBRATION_PATIENTS
        susceptible = count(scenario, s.patients, tally, s.seed, None, s.horizon_days,
                            point.draw, calibration_patients=n_cal, chunk_size=s.chunk_size,
                            backend=backend)
    else:
        n_cal = s.calibration_patients or GRID_CALIBRATION_PATIENTS
        point_s = point_scenario(scenario, point, s.seed)
        if point.susceptible:  # a posterior set: calibrated when the posterior was made
            susceptible = dict(point.susceptible)
        else:  # a nearby solution: fewer Newton steps
            start = calibrate(scenario_point(scenario), backend=backend)
            susceptible = calibrate(point_s, n_cal, start=start, backend=backend)
        count(point_s, s.patients, tally, s.seed, None, s.horizon_days,
              susceptible=susceptible, chunk_size=s.chunk_size, backend=backend)
    rows = []
    for name, (kind, _) in ENDPOINTS.items():
        est, low, high = tally.estimates(name)
        for day, e, lo, hi in zip(s.days, est, low, high):
            rows.append({"endpoint": name, "kind": kind, "landmark_day": day,
                         "estimate": _num(e), "ci95_low": _num(lo), "ci95_high": _num(hi)})
    return {"index": point.index, "design": point.design,
            "varied": "+".join(k for k, _ in point.values),
            "parameters": parameters(scenario, point, s.seed),
            "susceptible": susceptible, "rows": rows}


def _num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def table_rows(results, arm):
    """The tidy table: one row per point, endpoint and landmark, in point order."""
    rows = []
    for result in sorted(results, key=lambda r: r["index"]):
        for row in result["rows"]:
            rows.append({"point": result["index"], "design": result["design"],
                         "varied": result["varied"], **result["parameters"], "arm": arm,
                         **row})
    return rows


def psa_summary_rows(rows):
    """Per arm, endpoint and day, the PSA draws' mean and 2.5, 50, 97.5 percentiles.

    The percentiles are the uncertainty that the reported ranges carry (each
    draw's own Monte Carlo interval is in its rows); draws without an estimate
    are left out, and counted in ``draws``.
    """
    groups = {}
    for row in rows:
        key = (row["arm"], row["endpoint"], row["kind"], row["landmark_day"])
        groups.setdefault(key, []).append(row["estimate"])
    out = []
    for (arm, endpoint, kind, day), values in groups.items():
        x = np.array([v for v in values if v is not None], float)
        low, median, high = (np.percentile(x, [2.5, 50, 97.5]) if x.size
                             else (np.nan,) * 3)
        out.append({"arm": arm, "endpoint": endpoint, "kind": kind, "landmark_day": day,
                    "draws": x.size, "mean": _num(x.mean()) if x.size else None,
                    "p2_5": _num(low), "median": _num(median), "p97_5": _num(high)})
    return out


def manifest(scenario, points, settings, mode, backend="cpu"):
    """What the sweep is (``sweep.json``): compared on ``--resume``.

    With where it runs: ``backend`` and, on a GPU, ``device`` (a resumed sweep
    must keep the backend, not the device).
    """
    return {"hsctsim_version": __version__, "scenario": scenario.name,
            "scenario_toml": scenario.to_dict(), "mode": mode,
            "points": [asdict(p) for p in points], "settings": asdict(settings),
            **backend_record(backend)}


def parquet_bytes(rows):
    """Rows as Parquet (needs pyarrow), or None without pyarrow."""
    try:
        import pyarrow as pa  # pyarrow: an optional dependency
        import pyarrow.parquet as pq  # pyarrow: an optional dependency
    except ImportError:
        return None
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue().to_pybytes()


def run_local(scenario, points, settings, on_result, threads=None, backend="cpu"):
    """Run the points one after another in this process."""
    for point in points:
        on_result(run_point(scenario, point, settings, threads, backend))


def run_dask(client, scenario, points, settings, on_result, retries=2, threads=1,
             point_function=None, backend="cpu"):
    """Run the points as tasks on a dask.distributed ``client``.

    Each task is retried ``retries`` times if it fails, and rescheduled if its
    worker dies (up to the scheduler's ``allowed-failures``); results arrive in any
    order and go to ``on_result`` in this process, which saves them.
    ``point_function`` (default :func:`run_point`) is called as ``run_point`` is,
    ``backend`` last; with ``backend="cuda"`` every worker drives the GPU.
    """
    from dask.distributed import as_completed  # dask: an optional dependency

    fn = point_function or run_point
    # the scenario (a few kB) travels with each task: scattered once, it was lost with a
    # worker that died holding it, and the tasks that needed it were cancelled
    futures = [client.submit(fn, scenario, p, settings, threads, backend, retries=retries,
                             pure=False, key=f"hsctsim-point-{p.index}-{os.getpid()}")
               for p in points]
    try:
        for future in as_completed(futures):
            on_result(future.result())
            future.release()
    finally:
        for future in futures:
            future.cancel()
