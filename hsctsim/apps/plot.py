"""``hsctsim plot``: the figures of a run folder, its cohorts simulated again."""

import json
import re
from pathlib import Path

import click

from ..api import MAX_SEED, simulate
from ..model.calibrate import valid_entry
from ..model.scenario import ScenarioError, parse
from ..model.schema import MAX_HORIZON_DAYS
from .common import UserError, user_errors
from .limits import check_plot_size
from .runner import replicate_intervals_of

__all__ = ["plot"]


@click.command(epilog="\b\nExamples:\n  hsctsim plot mac-vs-ric\n"
                    "  hsctsim plot mac-vs-ric --format svg --format pdf")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", multiple=True, type=click.Choice(["png", "svg", "pdf"]),
              default=("png",), show_default=True, help="Figure formats (repeatable).")
@click.option("-n", "--patients", type=click.IntRange(1), default=None,
              help="Patients per arm for the curves (default: the run's, at most 100,000).")
@user_errors
def plot(run_dir, formats, patients):
    """Draw the figures of a run folder written by `hsctsim run --out`.

    The cohorts are simulated again from the scenarios and seed the run recorded,
    which gives the same patients.
    """
    from ..analysis.plotting import write_figures  # matplotlib: imported on use

    folder = Path(run_dir)
    document, scenarios = read_run(folder)
    n = patients or min(document["patients"], 100_000)
    check_plot_size(n, len(scenarios))
    cohorts = {}
    for arm, scenario in scenarios.items():
        path = folder / "scenarios" / f"{arm}.json"
        cohorts[arm] = simulate(scenario, n, document["seed"],
                                horizon_days=document["horizon_days"],
                                susceptible=held_susceptible(document["arms"][arm], path))
    if any(getattr(c.scenario, "kind", None) == "multistate" for c in cohorts.values()):
        from .msrunner import write_figures  # noqa: F811 (multi-state runs have their own)
        written = write_figures(cohorts, folder / "figures", formats=formats)
    else:
        written = write_figures(cohorts, folder / "figures", formats=formats,
                                intervals=replicate_intervals_of(document))
    click.echo(f"{len(written)} figures written to {folder / 'figures'}")


def read_run(folder):
    """summary.json and the arms' scenarios of a run folder; one line if tampered."""
    path = folder / "summary.json"
    try:
        document = json.loads(path.read_text())
        problem = None
        if not isinstance(document, dict):
            problem = "not a JSON object"
        elif not isinstance(document.get("arms"), dict) or not document["arms"]:
            problem = "'arms' missing or empty"
        elif not all(isinstance(a, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", a)
                     for a in document["arms"]):
            problem = "an arm name that is not a plain name"
        elif type(document.get("seed")) is not int or not 0 <= document["seed"] <= MAX_SEED:
            problem = "'seed' missing or not an integer from 0 to 2^63-1"
        elif type(document.get("patients")) is not int or document["patients"] < 1:
            problem = "'patients' missing or not a positive integer"
        elif (type(document.get("horizon_days")) not in (int, float)
              or not 0 < document["horizon_days"] <= MAX_HORIZON_DAYS):
            problem = f"'horizon_days' missing or not in (0, {MAX_HORIZON_DAYS}]"
    except (OSError, ValueError, RecursionError) as exc:
        problem = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if problem:
        raise UserError(f"{path}: {problem}; is this a folder written by `hsctsim run --out`?")
    scenarios = {}
    for arm in document["arms"]:
        path = folder / "scenarios" / f"{arm}.json"
        try:
            resolved = json.loads(path.read_text())["resolved_toml"]
            scenarios[arm] = parse(resolved, path)
        except ScenarioError:
            raise
        except (OSError, ValueError, LookupError, TypeError, AttributeError,
                RecursionError) as exc:
            reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
            raise UserError(f"{path}: cannot be read ({reason})") from None
    return document, scenarios


def held_susceptible(arm_entry, path):
    """The fractions a held what-if ran with (recorded beside it), or None to calibrate."""
    if not (isinstance(arm_entry, dict) and isinstance(arm_entry.get("what_if"), dict)
            and arm_entry["what_if"].get("calibration") == "held"):
        return None
    try:
        susceptible = json.loads(path.read_text()).get("calibrated_susceptible")
    except (OSError, ValueError, AttributeError):
        susceptible = None
    if not (isinstance(susceptible, dict)
            and valid_entry({"n_patients": 1, "susceptible": susceptible}, susceptible)):
        raise UserError(f"{path}: calibrated_susceptible: missing or not fractions in [0, 1]")
    return susceptible
