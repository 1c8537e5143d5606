"""``hsctsim calibrate``: a posterior sample of an arm's ranged figures (see
:mod:`hsctsim.model.posterior` for what it is and :mod:`hsctsim.sim.posterior` for
how it is simulated)."""

import json

import click

from .._version import __version__
from ..api import DEFAULT_SEED
from ..model.posterior import TARGETS_FILE, posterior_folder
from ..model.scenario import load_scenario
from ..sim.posterior import calibrate_arm
from .common import user_errors
from .options import SEED, OutPath, check_threads
from .runfolder import MARKER_KEY, RunFolder, written_whole

__all__ = ["calibrate", "format_report"]


@click.command(epilog="\b\nExamples:\n  hsctsim calibrate ric\n"
                      "  hsctsim calibrate mac --sets 500 -n 10000 --out mac_posterior")
@click.argument("arm")
@click.option("--sets", type=click.IntRange(10), default=1000, show_default=True,
              help="Parameter sets in the posterior sample.")
@click.option("-n", "--patients", type=click.IntRange(100), default=20_000, show_default=True,
              help="Patients simulated per parameter set for its targets.")
@click.option("--calibration-patients", type=click.IntRange(1000), default=5_000,
              show_default=True,
              help="Patients of each set's calibration solve (conditional Monte Carlo).")
@click.option("--seed", type=SEED, default=None, help="Random seed (default: as `run`).")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Threads of the simulation (the posterior does not depend on them).")
@click.option("--targets", "targets_file", type=click.Path(dir_okay=False),
              help="A file of [[figure]] targets (default: the bundled one).")
@click.option("--out", "out_dir", type=OutPath(file_okay=False),
              help="Folder to write (default: the user's cache, "
                   "$HSCTSIM_CACHE_DIR/posterior/ARM, replaced).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
@user_errors
def calibrate(arm, sets, patients, calibration_patients, seed, threads, targets_file,
              out_dir, overwrite):
    """Bayesian calibration of ARM to its published targets.

    The arm's ranged figures (incidences, hazard ratios, shares) get priors from
    their reported ranges; the arm's calibration targets (each with its 95% CI or
    number of patients) the likelihood.  Each parameter set is calibrated and
    simulated; incremental mixture importance sampling gives a posterior sample
    of SETS sets with their calibrated susceptible fractions.  Writes
    posterior.json (the sets), summary.json (diagnostics: effective sample size,
    each target's prior and posterior 90% predictive interval) and
    prior_posterior.png.
    """
    check_threads(threads)
    seed = DEFAULT_SEED if seed is None else seed
    scenario = load_scenario(arm)
    if out_dir is None:
        out_dir = posterior_folder(scenario.name)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        overwrite = True  # the cache keeps the latest posterior of each arm
    folder = RunFolder(out_dir, overwrite)
    with written_whole(folder):
        post = calibrate_arm(scenario, sets, patients, calibration_patients, seed, threads,
                             targets_path=targets_file or TARGETS_FILE)
        summary = {MARKER_KEY: __version__, "command": "calibrate", "arm": post.arm,
                   "method": "incremental mixture importance sampling (IMIS)",
                   "settings": post.settings, "diagnostics": post.diagnostics,
                   "targets": post.targets, "parameters": post.margins()}
        folder.write_text("posterior.json", json.dumps(post.to_dict()) + "\n")
        folder.write_text("summary.json", json.dumps(summary, indent=1) + "\n")
        from ..analysis.posterior_plots import plot_prior_posterior  # matplotlib: on use

        fig = plot_prior_posterior(post.keys, post.ranges, post.values,
                                   f"{post.arm}: priors (lines) and posterior (bars)")
        try:
            fig.savefig(folder.tmp / "prior_posterior.png")
        finally:
            fig.clf()
    click.echo(format_report(summary), nl=False)
    click.echo(f"written to {out_dir}")


def format_report(summary):
    """The text ``hsctsim calibrate`` prints: diagnostics, targets, moved figures."""
    d = summary["diagnostics"]
    lines = [f"{summary['arm']}: {d['resampled']} posterior sets from {d['evaluations']} "
             f"evaluated (IMIS, {d['iterations']} mixture components"
             f"{'' if d['converged'] else ', NOT converged'}); effective sample size "
             f"{d['ess']:.0f} ({100 * d['ess_share']:.0f}% of evaluations), "
             f"{d['unique_resampled']} distinct sets",
             "", f"{'target':<16}{'published':>10}  {'prior 90% PI':>15}  "
                 f"{'posterior 90% PI':>17}  note"]
    for t in summary["targets"]:
        pl, ph = t["prior_predictive"]
        ql, qh = t["posterior_predictive"]
        note = "held by calibration" if t["held_by_calibration"] else (
            "inside" if t["inside_posterior_predictive"] else "OUTSIDE")
        lines.append(f"{t['label']:<16}{t['estimate']:>10.3f}  {pl:>7.3f}-{ph:<7.3f}  "
                     f"{ql:>8.3f}-{qh:<8.3f}  {note}")
    lines += ["", f"{'figure':<34}{'prior 90%':>17}  {'posterior 90%':>17}"]
    for m in summary["parameters"]:
        (a, b), (c, e) = m["prior_interval"], m["posterior_interval"]
        lines.append(f"{m['key']:<34}{a:>8.3f}-{b:<8.3f}  {c:>8.3f}-{e:<8.3f}")
    return "\n".join(lines) + "\n"
