"""``hsctsim scenarios``, ``show`` and ``check``: what the scenarios say."""

import json
import sys

import click

from ..api import scenario_point
from ..model.calibrate import calibrate
from ..model.economics import parse_economics
from ..model.extensions import describe
from ..model.scenario import ScenarioError, bundled_names, load_scenario
from .common import UserError, complete_scenarios, load_arms, user_errors

__all__ = ["check", "scenarios", "show"]


def _sources(table):
    """Every ``*source`` value of a TOML table, at any depth."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _sources(value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:  # [[transitions]] of a multi-state scenario
                yield from _sources(item)
        elif key.endswith("source") and value:
            yield value


@click.command(epilog="\b\nExamples:\n  hsctsim scenarios\n  hsctsim scenarios --format json")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def scenarios(fmt):
    """List the bundled scenarios with their populations and sources."""
    rows = []
    for name in bundled_names("all"):
        s = load_scenario(name)
        sources = sorted(set(_sources(s.to_dict())))
        rows.append({"name": name, "title": s.title, "population": s.population,
                     "base": s.raw.get("base"), "sources": sources})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        base = f" (based on {row['base']})" if row["base"] else ""
        click.echo(f"{row['name']}{base}: {row['title']}\n  population: {row['population']}\n"
                   "  sources:\n" + "".join(f"    - {s}\n" for s in row["sources"]))


@click.command(epilog="\b\nExamples:\n  hsctsim show haplo_nk\n"
                    "  hsctsim show my_arm.toml --format json\n"
                    "  hsctsim show ric --set agvhd.incidence=0.45")
@click.argument("scenario", shell_complete=complete_scenarios)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--set", "settings", multiple=True, metavar="[ARM:]KEY=VALUE",
              help="Change one figure first (as for `run`).")
@click.option("--recalibrate", is_flag=True,
              help="With --set: solve every incidence again (as for `run`).")
@user_errors
def show(scenario, fmt, settings, recalibrate):
    """Show SCENARIO's resolved parameters, after base scenarios and calibration."""
    (what,) = load_arms([scenario], settings, recalibrate).values()
    loaded = what.scenario
    if getattr(loaded, "kind", None) == "multistate":
        from .msrunner import show_multistate  # multi-state scenarios only

        if recalibrate:
            raise UserError("--recalibrate: a multi-state scenario's hazards are given, "
                            "nothing is calibrated; a --set changes them as written")
        if what.settings and fmt != "json":
            click.echo(f"what-if: {what.describe()}")
        return click.echo(show_multistate(loaded, fmt), nl=False)
    point = scenario_point(loaded)
    susceptible = what.susceptible or calibrate(point)
    if fmt == "json":
        click.echo(json.dumps({"resolved_toml": loaded.to_dict(),
                               "midpoints": {k: r.mid for k, r in loaded.ranges()},
                               "calibrated_susceptible": susceptible,
                               "what_if": what.to_dict()}, indent=1))
        return
    click.echo(f"{loaded.name}: {loaded.title}\npopulation: {loaded.population}\n"
               f"file: {loaded.path}\nhorizon: {loaded.horizon_days:g} days; "
               f"chimerism: {loaded.chimerism}\n" +
               (f"what-if: {what.describe()}\n" if what.settings else "") + "\nprocesses:")
    for name, spec in loaded.processes.items():
        if spec.incidence is not None:
            r = spec.incidence
            given = (f"incidence {r.low:g}" if r.low == r.high
                     else f"incidence [{r.low:g}, {r.high:g}] -> {r.mid:g}")
            given += f" by day {spec.landmark_day:g}"
        else:
            given = f"cure fraction {spec.cure_fraction:g}"
        pi = susceptible.get(name)
        solved = f"; calibrated cure fraction {1 - pi:.4f}" if pi is not None else ""
        click.echo(f"  {name}: {given}{solved}\n    timing: {spec.timing.describe()}\n"
                   f"    source: {spec.source}")
        if spec.timing_source:
            click.echo(f"    timing source: {spec.timing_source}")
    click.echo(f"  agvhd grade III-IV share: {point.share_3_4.mid:g}  "
               f"({loaded.share_3_4_source})")
    click.echo(f"  cgvhd moderate-severe share: {point.share_moderate_severe.mid:g}  "
               f"({loaded.share_moderate_severe_source})\n\neffects (hazard ratios):")
    for name, effect in loaded.effects.items():
        r = effect.hr
        value = f"{r.low:g}" if r.low == r.high else f"[{r.low:g}, {r.high:g}] -> {r.mid:g}"
        click.echo(f"  {name}: {value}\n    source: {effect.source}")
    for name in ("nk_cells", "dli"):
        iv = getattr(loaded, name)
        if iv is None:
            continue
        click.echo(f"\nintervention {name}:")
        for field, value in vars(iv).items():
            if field == "source":
                continue
            if hasattr(value, "mid"):
                value = (f"{value.low:g}" if value.low == value.high
                         else f"[{value.low:g}, {value.high:g}] -> {value.mid:g}")
            click.echo(f"  {field}: {value}")
        click.echo(f"  source: {iv.source}")
    if loaded.extensions:  # solid tumour, covariates, recovery after graft failure, MSCs
        click.echo("\n".join(describe(loaded, susceptible)))


@click.command(epilog="\b\nExamples:\n  hsctsim check my_arm.toml\n"
                    "  hsctsim check configs/*.toml --calibrate")
@click.argument("files", nargs=-1, required=True, shell_complete=complete_scenarios)
@click.option("--calibrate", "do_calibrate", is_flag=True,
              help="Also check that the incidences can be reached together (slower).")
def check(files, do_calibrate):
    """Validate scenario FILES without running them; exit 0 if all are valid, else 2."""
    failed = False
    for name in files:
        try:
            (what,) = load_arms([name]).values()  # exactly what `run` loads and checks
            multistate = getattr(what.scenario, "kind", None) == "multistate"
            if not multistate:
                parse_economics(what.scenario.to_dict(), what.scenario.path)  # [costs], ...
            if do_calibrate and not multistate:
                calibrate(scenario_point(what.scenario))
        except ScenarioError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            failed = True
        else:
            click.echo(f"ok: {name}")
    if failed:
        sys.exit(2)
