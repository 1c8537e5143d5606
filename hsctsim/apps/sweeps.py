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

The results are a tidy table: one row per point, arm, endpoint and landmark day,
with the value of every parameter at that point.

A sweep may have several arms (the same seed: common random numbers); a key
``ARM:KEY`` moves one arm's figure, a plain ``KEY`` every arm's that has it, and
with more than one arm the parameter columns are named ``ARM:KEY``.  Costs,
utilities and durations are swept and drawn too, and with ``Settings.wtp`` each
point has the arms' costs and QALYs and, against the first arm, the ICER and net
monetary benefit (:mod:`hsctsim.apps.sweepecon`).  A plain multi-state arm
(``kind = "multistate"``) reports state occupation, time in state and transition
incidences (as ``run`` does); its PSA draws the parameters of its fitted
transitions, as ``run --replicates`` does.
"""

import itertools
import os
from dataclasses import asdict, dataclass

import numpy as np

from .._version import __version__
from ..analysis.endpoints import ENDPOINTS, LANDMARK_DAYS, Tally
from ..analysis.occupation import MultistateTally
from ..api import backend_record, count, iter_chunks, platform_record, scenario_point
from ..model.calibrate import CALIBRATION_PATIENTS, calibrate
from ..model.econfigures import DEFAULT_ECONOMIC_DRAWS
from ..model.hints import did_you_mean
from ..model.multistate import is_multistate
from ..model.scenario import ScenarioError, replicate_rng, set_value
from ..sim import stream_seed
from .sweepecon import (
    EconomicTally,
    apply_values,
    arm_economics,
    discount_of,
    economic_rows,
    economic_values,
    is_economic,
)
from .sweepfolder import SweepFolder  # noqa: F401  (sweeps.SweepFolder, as before)

__all__ = ["arms_of", "Axis", "DEFAULT_CHUNK", "GRID_CALIBRATION_PATIENTS", "grid_points",
           "manifest", "point_arms",
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
    # economics (none without wtp): WTP per QALY, how a PSA draws the ranged costs,
    # utilities and durations, the economic figures shown as columns, discounting
    wtp: tuple = ()
    economic_draws: str = DEFAULT_ECONOMIC_DRAWS
    economic: tuple = ()
    discount: float = 0.03
    discounting: str = "continuous"


ECONOMIC_SETTINGS = ("wtp", "economic_draws", "economic", "discount", "discounting")


MAX_POINTS = 100_000  # a sweep of more points could not finish; refused up front


def arms_of(scenario):
    """The arms of a sweep, ``{arm: scenario}``: a mapping as given, or one scenario."""
    return dict(scenario) if isinstance(scenario, dict) else {scenario.name: scenario}


def _ranged(scenario):
    return dict(scenario.ranges())


def parse_axis(scenario, text):
    """``[ARM:]KEY=LOW:HIGH:STEPS`` into an :class:`Axis`, checked against the arms.

    KEY is a ranged figure of the scenario (``hsctsim show`` lists them, e.g.
    ``relapse.incidence`` or ``effects.cgvhd_on_relapse.hr``) or a cost, utility or
    duration (``costs.transplant``, ``utilities.relapse``); LOW and HIGH are
    checked as the scenario file would check them.  ``scenario`` is one scenario or
    ``{arm: scenario}``; ``ARM:`` names the one arm the key moves.

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
    arms = arms_of(scenario)
    target, _, bare = key.rpartition(":")
    if target and target not in arms:
        raise ScenarioError(f"--grid {text!r}", key, f"no arm {target!r} here (arms: "
                            f"{', '.join(arms)}){did_you_mean(target, arms)}")
    if len(arms) == 1:  # one arm: its key as the columns name it, without the arm
        key = bare
    if is_economic(key):
        return Axis(key, economic_values(arms, key, spec, text))
    chosen = [a for a in arms if not target or a == target]
    have = [a for a in chosen if bare in _ranged(arms[a])]
    if not have:
        ranged = {k for a in chosen for k in _ranged(arms[a])}
        what = " or ".join(arms[a].name for a in chosen)
        none = (" (a multi-state model has none: sweep its costs and utilities, or "
                "--psa draws its fitted transitions)"
                if all(is_multistate(arms[a]) for a in chosen) else
                " (`hsctsim show` lists them; or a cost, utility or duration: "
                "costs.KEY, utilities.KEY, durations.KEY)")
        raise ScenarioError(f"--grid {text!r}", key, f"not a ranged figure of {what}"
                            f"{none}{did_you_mean(bare, ranged)}")
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
        for a in have:
            set_value(arms[a], bare, repr(value), label=f"--grid {text}")
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
    With several arms, ``posterior`` is ``{arm: PosteriorSample}``: draw ``r`` takes
    each arm's own set ``r`` (as ``cea --replicates`` takes them), its keys
    ``ARM:KEY`` and its ``susceptible`` ``((arm, ((process, fraction), ...)), ...)``.
    """
    if posterior is None:
        return [Point(r, "psa", draw=r) for r in range(n_draws)]
    if isinstance(posterior, dict):
        points = []
        for r in range(n_draws):
            values, given = [], []
            for arm, p in posterior.items():
                i = r % len(p.values)
                values += [(f"{arm}:{k}", v) for k, v in zip(p.keys, p.values[i].tolist())]
                given.append((arm, tuple(sorted(p.susceptible[i].items()))))
            points.append(Point(r, "psa", values=tuple(values), susceptible=tuple(given)))
        return points
    n = len(posterior.values)
    return [Point(r, "psa", values=tuple(zip(posterior.keys, posterior.values[r % n].tolist())),
                  susceptible=tuple(sorted(posterior.susceptible[r % n].items())))
            for r in range(n_draws)]


def _given(point, arm, several):
    """The stored calibration of ``arm`` at a posterior point (see :func:`psa_points`)."""
    return dict(dict(point.susceptible)[arm] if several else point.susceptible)


def _clinical(scenario, arm, point, seed):
    """One arm's scenario point (ranges collapsed) at a sweep point."""
    if is_multistate(scenario):  # no ranges: a PSA draws its fitted transitions
        if point.draw is None:
            return scenario
        from ..analysis.fit import draw_transition  # scipy.optimize: not at the CLI's start
        from .msrunner import replicate_scenario  # imports analysis.fit, likewise

        return replicate_scenario(scenario, replicate_rng(seed, point.draw), draw_transition)
    if point.draw is not None:
        return scenario_point(scenario, seed, point.draw)
    ranged = _ranged(scenario)
    own = {}
    for key, value in point.values:
        target, _, bare = key.rpartition(":")
        if (not target or target == arm) and bare in ranged and not is_economic(key):
            own[bare] = value
    return scenario.with_values(own).at_midpoints()


def point_scenario(scenario, point, seed):
    """The scenario point (ranges collapsed) of a sweep point (of one scenario)."""
    return _clinical(scenario, scenario.name, point, seed)


def point_arms(scenario, point, seed, settings=None):
    """Each arm's scenario point at ``point``, and each arm's economics there.

    Returns
    -------
    points : dict of str to scenario
    econ : dict of str to Economics, or None
        None without ``settings.wtp`` (no economics asked for); else the arms'
        figures with the point's costs, utilities and durations set, or for a PSA
        draw ``r`` drawn as ``cea --replicates`` draws replicate ``r``.
    """
    arms = arms_of(scenario)
    points = {arm: _clinical(s, arm, point, seed) for arm, s in arms.items()}
    if settings is None or not settings.wtp:
        return points, None
    econ = arm_economics(arms)
    if point.design == "psa":  # a posterior set r too: costs drawn as replicate r's
        r = point.index if point.draw is None else point.draw
        econ = {a: e.draw(seed, r, settings.economic_draws) for a, e in econ.items()}
    else:
        econ = apply_values(econ, point.values)
    return points, econ


def parameters(scenario, point, seed, settings=None):
    """The value of every ranged figure at ``point`` (dotted key -> float), and of the
    economic figures ``settings.economic`` names; ``ARM:KEY`` with several arms."""
    arms = arms_of(scenario)
    points, econ = point_arms(scenario, point, seed, settings)
    out = {}
    for arm, p in points.items():
        prefix = f"{arm}:" if len(arms) > 1 else ""
        out.update({prefix + k: r.mid for k, r in p.ranges()})
        if is_multistate(p) and point.draw is not None:
            out.update({prefix + k: v for k, v in _fitted(p)})
        if econ is not None:
            for column in settings.economic:
                section, _, name = column.partition(".")
                fig = getattr(econ[arm], section).get(name)
                if fig is not None:
                    out[prefix + column] = float(fig.point)
    return out


def _fitted(scenario):
    """``(FROM->TO.timing.KEY or .log_hr.COVARIATE, value)`` of each fitted transition of
    a multi-state scenario point: what its PSA draw drew."""
    out = []
    for t in scenario.transitions:
        if not t.fit:
            continue
        out += [(f"{t.label}.timing.{k}", float(v)) for k, v in t.timing.spec
                if isinstance(v, int | float) and not isinstance(v, bool)]
        out += [(f"{t.label}.log_hr.{c}", float(b)) for c, b in t.log_hr]
    return out


def run_point(scenario, point, settings, threads=None, backend="cpu"):
    """Calibrate, simulate and summarise one point (pure: same inputs, same result).

    ``scenario``: one scenario, or ``{arm: scenario}`` (the first arm is the
    reference of the economic increments).  ``backend="cuda"`` calibrates the
    point, simulates its patients and counts them on the GPU (only the counts come
    back, unless the point has economics); the result equals the CPU's in
    distribution, and to the last bits wherever the device's libm rounds as the
    host's does.

    Returns
    -------
    dict
        ``{"index", "design", "varied", "parameters", "susceptible", "rows"}``,
        JSON-ready (``varied``: the keys set at this point, joined by ``+``;
        ``susceptible``: of one arm, or per arm with several);
        ``rows`` as :func:`table_rows` lays them out, without the parameters.
    """
    if threads is not None:
        import numba  # numba: slow to import, only when needed

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    s = settings
    arms = arms_of(scenario)
    points, econ = point_arms(scenario, point, s.seed, s)
    tallies, streams, susceptible = {}, {}, {}
    for arm, base in arms.items():
        if is_multistate(base):
            tallies[arm] = MultistateTally(tuple(s.days), s.horizon_days)
            seed = s.seed if point.draw is None else stream_seed(s.seed, point.draw)
            streams[arm] = iter_chunks(points[arm], s.patients, s.chunk_size, seed,
                                       horizon_days=s.horizon_days, reuse_buffer=True,
                                       backend=backend)
            susceptible[arm] = {}
            continue
        tallies[arm] = tally = Tally(tuple(s.days))
        if point.draw is not None:  # replicate r: calibrated from the midpoints' solution
            n_cal = s.calibration_patients or PSA_CALIBRATION_PATIENTS
            what = dict(scenario=base, replicate=point.draw, calibration_patients=n_cal)
        else:
            n_cal = s.calibration_patients or GRID_CALIBRATION_PATIENTS
            if point.susceptible:  # a posterior set: calibrated when the posterior was made
                given = _given(point, arm, len(arms) > 1)
            else:  # a nearby solution: fewer Newton steps
                start = calibrate(scenario_point(base), backend=backend)
                given = calibrate(points[arm], n_cal, start=start, backend=backend)
            what = dict(scenario=points[arm], susceptible=given)
        if econ is None:
            susceptible[arm] = count(what.pop("scenario"), s.patients, tally, s.seed, None,
                                     s.horizon_days, chunk_size=s.chunk_size, backend=backend,
                                     **what)
        else:  # the patients' event days are valued as well as counted (in the same
            # pass on the CPU; a GPU's chunks are counted here)
            streams[arm] = iter_chunks(what.pop("scenario"), s.patients, s.chunk_size, s.seed,
                                       None, s.horizon_days,
                                       tally=tally if backend == "cpu" else None,
                                       reuse_buffer=True, backend=backend, **what)
    valued = EconomicTally(arms, econ, discount_of(s)) if econ is not None else None
    if streams:
        names = list(streams)
        for chunks in zip(*streams.values()):
            chunks = dict(zip(names, chunks))
            for arm, chunk in chunks.items():
                if is_multistate(arms[arm]) or backend != "cpu":
                    tallies[arm].add(chunk)
                if not is_multistate(arms[arm]):
                    susceptible[arm] = chunk.susceptible
            if valued is not None:
                valued.add(chunks)
    rows = []
    for arm, tally in tallies.items():
        rows += _arm_rows(arm, tally, s)
    if valued is not None:
        rows += economic_rows(valued, s.wtp, s.horizon_days)
    return {"index": point.index, "design": point.design,
            "varied": "+".join(k for k, _ in point.values),
            "parameters": parameters(scenario, point, s.seed, s),
            "susceptible": (susceptible if len(arms) > 1 else next(iter(susceptible.values()))),
            "rows": rows}


def _arm_rows(arm, tally, s):
    rows = []
    if isinstance(tally, MultistateTally):
        for name, ep in tally.summary().items():
            days = [s.horizon_days] if ep["kind"] == "restricted_mean_days" else s.days
            for day, v in zip(days, ep["at"].values()):
                rows.append({"arm": arm, "endpoint": name, "kind": ep["kind"],
                             "landmark_day": day, "estimate": v["estimate"],
                             "ci95_low": v["ci95"][0], "ci95_high": v["ci95"][1]})
        return rows
    for name, (kind, _) in ENDPOINTS.items():
        est, low, high = tally.estimates(name)
        for day, e, lo, hi in zip(s.days, est, low, high):
            rows.append({"arm": arm, "endpoint": name, "kind": kind, "landmark_day": day,
                         "estimate": _num(e), "ci95_low": _num(lo), "ci95_high": _num(hi)})
    return rows


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
                         **row})  # a row's own arm, where it names one
    return rows


def psa_summary_rows(rows):
    """Per arm, endpoint and day, the PSA draws' mean and 2.5, 50, 97.5 percentiles.

    The percentiles are the uncertainty that the reported ranges carry (each
    draw's own Monte Carlo interval is in its rows); draws without an estimate
    are left out, and counted in ``draws``.
    """
    groups = {}
    for row in rows:
        if row["endpoint"] == "icer":  # a ratio per draw: the ratio of the means is the PSA's
            continue
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
    arms = arms_of(scenario)
    first = next(iter(arms.values()))
    config = asdict(settings)
    if not settings.wtp:  # a sweep without economics: its manifest as before they came
        for key in ECONOMIC_SETTINGS:
            config.pop(key)
    out = {"hsctsim_version": __version__, "scenario": first.name,
           "scenario_toml": first.to_dict(), "mode": mode,
           "points": [asdict(p) for p in points], "settings": config,
           **backend_record(backend), "platform": platform_record()}
    if len(arms) > 1:
        out["arms"] = list(arms)
        out["scenario_toml"] = {a: s.to_dict() for a, s in arms.items()}
    if is_multistate(first):
        out["kind"] = "multistate"
    return out


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
