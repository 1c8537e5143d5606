"""``hsctsim sweep``: parameter sweeps and PSA, on dask.distributed or in this process."""

import dataclasses
import os
import sys

import click
import numpy as np

from .._version import __version__
from ..api import DEFAULT_SEED, BackendError, describe_backend
from ..analysis.occupation import multistate_days
from ..model.econfigures import DEFAULT_ECONOMIC_DRAWS, ECONOMIC_DISTRIBUTIONS, economic_draws_text
from ..model.late_mortality import lifetime_horizon
from ..model.multistate import is_multistate
from ..sim.posterior import load_posterior
from . import sweeps
from .cea import DEFAULT_WTP
from .common import (
    DRAWS,
    HAZARD_TABLES_HELP,
    UserError,
    complete_scenarios,
    load_arms,
    posteriors_if_all,
    resolve_backend,
    user_errors,
)
from .options import SEED, FiniteFloatRange, OutPath, wtp_list
from .output import csv_text
from .runner import landmark_days
from .signals import Interrupted
from .sweepecon import arm_economics, economic_columns, format_economics, is_economic
from .sweepfolder import check_out

__all__ = ["DASK_HINT", "EXAMPLES", "sweep"]

DASK_HINT = ("needs dask.distributed: pip install 'hsctsim[dask]' "
             "(or run a small sweep here with --local)")


def _require_dask():
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise UserError(f"sweep {DASK_HINT}") from None


def _client(workers, scheduler):
    """A dask client: on ``scheduler``, or on a LocalCluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster  # dask: an optional dependency

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except Exception as exc:  # a malformed address raises ValueError, TypeError...
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"--scheduler {scheduler}: cannot connect ({said})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return Client(cluster), cluster


EXAMPLES = """\b
Examples:
  hsctsim sweep ric --grid relapse.incidence=0.35:0.60:3 -n 20000 --out sweep-ric
  hsctsim sweep ric --grid agvhd.incidence=0.35:0.55:3 --grid relapse.incidence=0.35:0.6:3 \\
      --factorial -n 20000 --local --out grid-ric --plot
  hsctsim sweep ric --psa 40 -n 20000 --workers 2 --out psa-ric --plot
  hsctsim sweep ric --psa 40 -n 20000 --workers 2 --out psa-ric --resume   # after Ctrl-C
  hsctsim sweep ric --psa 1000 -n 100000 --backend cuda --local --out psa-gpu
  hsctsim sweep mac ric --grid costs.transplant=150000:350000:3 -n 20000 --local \\
      --out sweep-costs                     # ICER and NMB of ric against mac per point
  hsctsim sweep mac ric --psa 40 --cea -n 20000 --out psa-cea   # costs drawn too
  hsctsim sweep illness_death.toml --psa 20 -n 20000 --local --out psa-ms   # a model
                                              # written by `hsctsim fit`: its fits drawn
"""


@click.command(epilog=EXAMPLES)
@click.argument("arms", nargs=-1, required=True, shell_complete=complete_scenarios)
@click.option("--grid", "grids", multiple=True, metavar="[ARM:]KEY=LOW:HIGH:STEPS",
              help="Sweep a ranged figure, or a cost, utility or duration, over STEPS values "
                   "from LOW to HIGH, e.g. relapse.incidence=0.2:0.4:5 or "
                   "costs.transplant=150000:350000:3 (repeatable: one-way over each key; "
                   "ARM: moves one arm's figure).")
@click.option("--factorial", is_flag=True, help="Every combination of the --grid values "
              "(a two-key grid gives a heat map) instead of one key at a time.")
@click.option("--psa", "psa", type=click.IntRange(1), metavar="N",
              help="Probabilistic sensitivity analysis: N draws of every ranged figure "
                   "from its range (draw r is replicate r of `run --replicates`).")
@click.option("--draws", type=click.Choice(DRAWS), default="auto",
              show_default=True,
              help="With --psa: take the sets of `hsctsim calibrate SCENARIO`'s "
                   "posterior, jointly, with their stored calibrations (no solve), or draw "
                   "every figure independently from its range (each draw re-solved).  "
                   "auto: the posterior when every arm has one that applies, else ranges.  "
                   "With several arms each arm takes its own posterior's set r in draw r.")
@click.option("--out", "out_dir", type=OutPath(file_okay=False), required=True,
              help="Folder for sweep.csv (and sweep.parquet with pyarrow), the per-point "
                   "results and the figures.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in --out.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@click.option("-n", "--patients", type=click.IntRange(1), default=100_000, show_default=True,
              help="Patients per point.")
@click.option("--seed", type=SEED, default=DEFAULT_SEED, show_default=True,
              help="Random seed; the same seed gives the same table however it is run.")
@click.option("--horizon", "horizon_days", type=FiniteFloatRange(1, 36500),
              help="Follow-up in days (default: the scenario's).")
@click.option("--lifetime", is_flag=True,
              help="Follow every patient to death (each arm's [late_mortality]; as "
                   "`cea --lifetime`): life years and QALYs over a lifetime.")
@click.option("--calibration-patients", type=click.IntRange(1000),
              help="Patients per calibration step of a point (default: 100,000 for grid "
                   "points, 10,000 for PSA draws).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change one figure before sweeping (as for `run`; recalibrated, as "
                   "every point is).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local dask cluster (default: the cores).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Use the dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786) instead.")
@click.option("--local", "local", is_flag=True,
              help="No dask: run the points one after another in this process.")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True,
              help="Retries of a point whose task fails.")
@click.option("--plot", is_flag=True, help="Also figures, per arm: tornado plot (one-way), "
              "heat map (two-key --factorial), distributions (--psa); with costs and two "
              "arms or more the ICER and net benefit at each point, a tornado (one-way) or "
              "heat map of the net benefit, the PSA's cost-effectiveness plane.")
@click.option("--cea", "economics", is_flag=True,
              help="Also costs, life years and QALYs of each arm at each point and, against "
                   "the first arm, the ICER and net monetary benefit (implied by a --grid "
                   "of a cost, utility or duration, or by --wtp); a --psa draws the ranged "
                   "costs, utilities and durations too.")
@click.option("--wtp", callback=wtp_list, metavar="AMOUNTS",
              help="Willingness-to-pay per QALY for the net monetary benefit, "
                   f"comma-separated (default, as cea: {','.join(map(str, DEFAULT_WTP))}).")
@click.option("--economic-draws", type=click.Choice(ECONOMIC_DISTRIBUTIONS),
              default=DEFAULT_ECONOMIC_DRAWS, show_default=True,
              help="How --psa draws ranged costs, utilities and durations (as cea "
                   "--economic-draws): gamma (costs, durations) and beta (utilities) with "
                   "the range as the 95% spread, or uniformly.")
@click.option("--discount", type=FiniteFloatRange(0, 0.5, max_open=True), default=0.03,
              show_default=True, help="Discount rate per year of costs and QALYs (as cea).")
@click.option("--discounting", type=click.Choice(["continuous", "annual"]),
              default="continuous", show_default=True, help="As cea's --discounting.")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
              show_default=True,
              help="Calibrate, simulate and count each point on the CPU or a CUDA GPU "
                   "(needs numba-cuda); auto: the GPU when there is one.  With the GPU the "
                   "local cluster has one worker unless --workers says otherwise.")
@click.option("--hazard-tables", is_flag=True, help=HAZARD_TABLES_HELP)
@user_errors
def sweep(arms, grids, factorial, psa, out_dir, resume, overwrite, patients, seed,
          horizon_days, lifetime, calibration_patients, settings, workers, scheduler, local,
          retries, plot, backend, draws, economics, wtp, economic_draws, discount,
          discounting, hazard_tables):
    """Sweep the figures of ARMS (one scenario, or several: the first is the reference
    of the ICERs) over grids, or draw them for a PSA; each point is calibrated,
    simulated and summarised at the landmark days (a multi-state model: state
    occupation, time in state, transition incidences)."""

    if bool(grids) == bool(psa):
        raise UserError("give --grid KEY=LOW:HIGH:STEPS (one or more) or --psa N")
    if draws == "posterior" and not psa:
        raise UserError("--draws posterior: only with --psa (grid points are solved)")
    if factorial and not grids:
        raise UserError("--factorial needs --grid")
    if local and (scheduler or workers):
        raise UserError("--local runs here: no --workers or --scheduler")
    if not local:
        _require_dask()
    backend = resolve_backend(backend, hazard_tables)

    # every point is calibrated afresh, so a --set here is recalibrated too
    arm_scenarios = {a: w.scenario for a, w in load_arms(arms, settings, True,
                                                          backend).items()}
    kinds = {is_multistate(s) for s in arm_scenarios.values()}
    if len(kinds) > 1:
        raise UserError("multi-state scenarios (kind = \"multistate\") and transplant arms "
                        "cannot share a sweep: sweep them apart")
    multistate = kinds == {True}
    # one arm: the scenario itself, as a sweep always took it
    loaded = (next(iter(arm_scenarios.values())) if len(arm_scenarios) == 1
              else arm_scenarios)
    first = next(iter(arm_scenarios.values()))
    if draws == "posterior" and multistate:
        raise UserError("--draws posterior: a multi-state model's --psa draws its fitted "
                        "transitions (as run --replicates); leave out --draws")
    priced = [g for g in grids if is_economic(g.partition("=")[0])]
    asked = "--cea" if economics else "--wtp" if wtp else f"--grid {priced[0]}" if priced \
        else None
    economics = asked is not None
    if economics:  # every arm needs its costs: the ICERs are against the first
        try:
            econ = arm_economics(arm_scenarios)
        except ValueError as exc:
            raise UserError(f"{asked}: {exc}") from None
    horizon = float(horizon_days or max(s.horizon_days for s in arm_scenarios.values()))
    if lifetime:
        if horizon_days:
            raise UserError("--lifetime and --horizon: give one (the lifetime is the horizon)")
        horizon, missing = lifetime_horizon(arm_scenarios)
        if missing:
            raise UserError(f"--lifetime: {', '.join(missing)} has no [late_mortality], so "
                            "its patients are not followed to death (cea --lifetime adds a "
                            "life-table tail instead)")
    if grids:
        axes = [sweeps.parse_axis(loaded, g) for g in grids]
        if len({a.key for a in axes}) < len(axes):
            raise UserError("--grid: a key is given twice")
        sizes = [len(a.values) for a in axes]
        total = int(np.prod(sizes)) if factorial else 1 + sum(sizes)
        if total > sweeps.MAX_POINTS:
            raise UserError(f"--grid: {total:,} points; at most {sweeps.MAX_POINTS:,}")
        points, mode = sweeps.grid_points(axes, factorial), ("factorial" if factorial
                                                             else "one-way")
    else:
        if psa > sweeps.MAX_POINTS:
            raise UserError(f"--psa {psa}: at most {sweeps.MAX_POINTS:,} draws")
        # each arm its own posterior (draw r: each arm's set r); one arm: the sample
        # itself, its keys bare as they always were
        posteriors = ({a: load_posterior(s) for a, s in arm_scenarios.items()}
                      if draws == "posterior" else
                      posteriors_if_all(arm_scenarios) if draws == "auto" else None)
        posterior = (None if not posteriors else next(iter(posteriors.values()))
                     if len(posteriors) == 1 else posteriors)
        if multistate and not (any(t.fit for s in arm_scenarios.values()
                                   for t in s.transitions)
                               or economics and economic_columns(econ, (), True)):
            raise UserError(f"--psa: {', '.join(arm_scenarios)} has nothing to draw: no "
                            "transition with a fit table (written by `hsctsim fit`) and no "
                            "ranged cost or utility (with --cea)")
        points, mode = sweeps.psa_points(psa, posterior), "psa"
    days = multistate_days(horizon) if multistate else landmark_days(horizon)
    config = sweeps.Settings(patients, seed, horizon, days, calibration_patients)
    if economics:
        config = dataclasses.replace(
            config, wtp=tuple(wtp or DEFAULT_WTP), economic_draws=economic_draws,
            economic=economic_columns(econ, [a.key for a in axes] if grids else (), bool(psa)),
            discount=discount, discounting=discounting)
    document = sweeps.manifest(loaded, points, config, mode, backend)
    if psa:  # how the PSA drew its points (sweep.json)
        document["draws"] = ({"from": "ranges", "joint": False} if posterior is None else
                             {"from": "posterior", "joint": True, "file": posterior.path,
                              "sets": len(posterior.values)} if len(posteriors) == 1 else
                             {"from": "posterior", "joint": True,
                              "files": {a: p.path for a, p in posteriors.items()},
                              "sets": {a: len(p.values) for a, p in posteriors.items()}})
    folder, results = None, {}
    if resume:
        folder = sweeps.SweepFolder(out_dir, document, resume=True)
        by_index = {p.index: p for p in points}

        def expected(index):
            point = by_index.get(index)
            if point is None:
                return None
            return (point.design, "+".join(k for k, _ in point.values),
                    sweeps.parameters(loaded, point, seed, config))

        results = folder.done(expected, say=lambda m: click.echo(f"note: {m}", err=True))
    else:
        check_out(out_dir, overwrite)  # before connecting to a cluster
    todo = [p for p in points if p.index not in results]
    client = cluster = n_workers = None
    try:
        if todo and not local:
            # one process drives the GPU: more would only queue on it
            n_workers = workers or (1 if backend == "cuda" else os.cpu_count() or 1)
            # connected before the folder is made: a bad --scheduler leaves nothing
            client, cluster = _client(n_workers, scheduler)
        if folder is None:
            folder = sweeps.SweepFolder(out_dir, document, resume, overwrite)
        with folder:
            _run(folder, loaded, points, todo, results, config, client, scheduler, n_workers,
                 retries, backend, out_dir)
            said = _write_table(folder, results, first, mode, plot, seed, document, points,
                                todo, out_dir, next(iter(econ.values())) if economics else None)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    click.echo(said)  # once the folder is in place
    if economics:
        rows = sweeps.table_rows(results.values(), first.name)
        for line in format_economics(rows, list(arm_scenarios), config.wtp, mode):
            click.echo(line)
    if psa:
        click.echo("PSA draws: " + (
            "jointly from the posterior of `hsctsim calibrate` ("
            + ", ".join(f"{a}: {len(p.values)} sets" for a, p in posteriors.items())
            + "; draw r takes each arm's set r, with its stored calibration)"
            if posterior is not None else
            "the parameters of each fitted transition from its fit's asymptotic normal "
            "(as run --replicates)" if multistate else
            "every ranged figure independently from its range, each draw re-solved")
            + ("" if not economics else "; " + economic_draws_text(economic_draws)))


def _run(folder, loaded, points, todo, results, config, client, scheduler, n_workers,
         retries, backend, out_dir):
    """Run the points still to do, saving each as it comes in."""
    show = sys.stderr.isatty()
    with click.progressbar(length=len(points), label="points", file=sys.stderr,
                           hidden=not show) as bar:
        bar.update(len(results))

        def on_result(result):
            folder.save_point(result)
            results[result["index"]] = result
            bar.update(1)
            if not show:
                click.echo(f"point {result['index']} done ({len(results)} of {len(points)})",
                           err=True)

        try:
            if client is None:
                sweeps.run_local(loaded, todo, config, on_result, backend=backend)
            else:
                # numba threads per task: the cores shared out among local workers
                threads = None if scheduler else max(1, (os.cpu_count() or 1) // n_workers)
                sweeps.run_dask(client, loaded, todo, config, on_result, retries, threads,
                                backend=backend)
        except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl-C, SIGTERM, SIGHUP
            if folder.replacing:
                click.echo(f"\ninterrupted: the new sweep was discarded; {out_dir} is as "
                           "it was", err=True)
            else:
                click.echo(f"\ninterrupted: {len(results)} of {len(points)} points saved "
                           f"in {out_dir}; --resume continues", err=True)
            sys.exit(getattr(exc, "exit_code", 130))
        except BackendError as exc:  # a worker of a --scheduler cluster without the GPU
            kept = (f"{out_dir} is as it was" if folder.replacing else
                    f"{len(results)} of {len(points)} points saved; --resume continues")
            raise UserError(f"--backend {backend}: on a worker: {exc} ({kept})") from None


def _write_table(folder, results, loaded, mode, plot, seed, document, points, todo, out_dir,
                 economics=None):
    """sweep.csv (and .parquet), the PSA summary and the figures; one line on stdout."""
    rows = sweeps.table_rows(results.values(), loaded.name)
    folder.write_text("sweep.csv", csv_text(rows))
    parquet = sweeps.parquet_bytes(rows)
    if parquet is not None:
        folder.write_bytes("sweep.parquet", parquet)
    written = ["sweep.csv"] + (["sweep.parquet"] if parquet is not None else [])
    if mode == "psa":
        folder.write_text("psa_summary.csv", csv_text(sweeps.psa_summary_rows(rows)))
        written.append("psa_summary.csv")
    if plot:
        from ..analysis.sweep_plots import write_sweep_figures  # matplotlib: on use

        s = document["settings"]
        money = f"{economics.currency} {economics.price_year}" if economics else ""
        caption = (f"hsctsim {__version__}; {s['patients']:,} patients per arm and point; "
                   f"{len(points)} points ({mode}); seed {seed}; horizon "
                   f"{s['horizon_days']:g} days"
                   + (f"; discount {100 * s['discount']:g}% ({s['discounting']}); {money}"
                      if economics else ""))
        written += [f"figures/{p.name}" for p in
                    write_sweep_figures(rows, mode, folder.path / "figures", caption=caption,
                                        money=money)]
    names = document.get("arms", [loaded.name])
    return (f"hsctsim {__version__} sweep of {' and '.join(names)}, seed {seed}, "
            f"{describe_backend(document)}: {len(points)} points "
            f"({len(points) - len(todo)} resumed), {len(rows)} rows: "
            + ", ".join(f"{out_dir}/{w}" for w in written))
