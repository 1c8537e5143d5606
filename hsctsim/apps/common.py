"""What every command shares: the user's errors, the arms as loaded, the backend.

Public helpers of the command modules (they import this module, never
:mod:`hsctsim.apps.cli`, which only registers them).
"""

import functools

import click

from ..analysis.endpoints import LANDMARK_DAYS
from ..api import BackendError, Tabled, check_fits_device, resolve_backend as resolve
from ..model.economics import parse_economics
from ..model.hints import did_you_mean
from ..model.scenario import (
    ScenarioError,
    bundled_names,
    load_scenario,
    one_line,
    set_value,
    shadowed_note,
)
from ..model.whatif import excluded_by_design, what_if
from ..sim.posterior import load_posterior

__all__ = ["DRAWS", "DRAWS_HELP", "HAZARD_TABLES_HELP", "UserError", "complete_scenarios",
           "load_arms", "parse_settings", "posteriors_if_all", "replicate_posteriors",
           "resolve_backend", "user_errors"]

# what replicates draw: auto (the default) is the posterior where every arm has one
DRAWS = ("auto", "ranges", "posterior")
DRAWS_HELP = ("What replicates draw: posterior sets of `hsctsim calibrate ARM` (shipped for "
              "mac and ric), jointly, with their stored calibrations; or every figure "
              "independently from its range (each draw re-solved).  auto: the posterior "
              "when every arm has one that applies (not after --set), else ranges.")


class UserError(click.ClickException):
    """A problem the user can fix: one line on stderr, exit status 2."""

    exit_code = 2

    def __init__(self, message):
        super().__init__(one_line(message))


def user_errors(func):
    """Turn the errors a user can cause into :class:`UserError`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ScenarioError as exc:
            raise UserError(str(exc)) from None
        except BrokenPipeError:
            raise  # the reader went away (`| head`): not the user's mistake
        except (FileExistsError, FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            # a failed write (a full disk) names no file: name the --out being written
            where = exc.filename or (kwargs.get("out_dir") or kwargs.get("out_path")
                                      or kwargs.get("run_dir") or "")
            raise UserError(f"{where}: {exc.strerror or exc}" if where else
                            f"{exc.strerror or exc}") from None

    return wrapper


def complete_scenarios(ctx, param, incomplete):
    """Shell completion of a scenario argument: bundled names, then TOML paths."""
    from click.shell_completion import CompletionItem  # only when completing

    names = [CompletionItem(n) for n in bundled_names() if n.startswith(incomplete)]
    return names + [CompletionItem(incomplete, type="file")]


def parse_settings(settings):
    """``(arm or None, key, value, text)`` of each ``--set [ARM:]KEY=VALUE``."""
    out = []
    for item in settings:
        key, sep, value = item.partition("=")
        arm, colon, dotted = key.partition(":")
        if not colon:
            arm, dotted = None, key
        if not sep or not dotted.strip() or (colon and not arm.strip()):
            raise UserError(f"--set {item!r}: expected KEY=VALUE or ARM:KEY=VALUE, "
                            "e.g. agvhd.incidence=0.45 or mst:relapse.incidence=0.5")
        out.append((arm.strip() if colon else None, dotted.strip(), value.strip(), item))
        # the same key set twice (for the same arm): the last one silently won
        twice = next((text for a, k, _, text in out[:-1]
                      if (a, k) == out[-1][:2]), None)
        if twice is not None:
            raise UserError(f"--set {item!r}: {dotted.strip()} is already set by "
                            f"--set {twice!r}; give each key once")
    return out


def resolve_backend(backend, hazard_tables=False):
    """``--backend`` as it will run (a backend object, ``auto`` decided), or one line
    saying why it cannot; with ``--hazard-tables``, the CPU kernels with hazard tables."""
    if hazard_tables and backend == "cuda":  # said before looking for a GPU
        raise UserError("--hazard-tables runs on the cpu backend, not cuda")
    try:
        resolved = resolve(backend)
    except BackendError as exc:
        raise UserError(f"--backend {backend}: {exc}") from None
    if not hazard_tables:
        return resolved
    if resolved != "cpu":  # auto found a GPU
        raise UserError(f"--hazard-tables runs on the cpu backend, not {resolved}")
    return Tabled()


HAZARD_TABLES_HELP = ("CPU: evaluate hazards from tables of polynomials, about 1.8x as fast "
                      "on the full model; event days within about 1e-13 of the exact ones, "
                      "relative, not bit for bit (recorded in the results).")


def load_arms(names, settings=(), recalibrate=False, backend="cpu"):
    """Every arm as ``run``, ``show`` and ``check`` see it: loaded, changed, validated.

    A plain ``--set`` changes every arm (with a warning where the arm's design
    excludes what it changes); ``--set ARM:KEY=VALUE`` one arm, named as given or
    by its scenario name.  Returns ``{arm: WhatIf}``; a held what-if is calibrated on
    ``backend`` (``cuda``: an arm too big for the GPU kernel is refused).
    """
    parsed = parse_settings(settings)
    bases = {}
    for name in names:
        if note := shadowed_note(name):
            click.echo(f"note: {note}", err=True)
        scenario = load_scenario(name)
        if scenario.name in bases:
            raise UserError(f"{name}: arm '{scenario.name}' given twice")
        if scenario.horizon_days < LANDMARK_DAYS[0]:
            raise ScenarioError(scenario.path, "horizon_days",
                                f"{scenario.horizon_days:g} is shorter than the first "
                                f"landmark day ({LANDMARK_DAYS[0]}): nothing to report")
        if backend == "cuda":
            try:
                check_fits_device(scenario, backend)
            except BackendError as exc:
                raise UserError(f"--backend cuda: {exc}") from None
        bases[scenario.name] = (name, scenario)
    for target, _, _, item in parsed:
        if target is not None and not any(target in (arm, given)
                                          for arm, (given, _) in bases.items()):
            raise UserError(f"--set {item}: no arm '{target}' here (arms: "
                            f"{', '.join(bases)}){did_you_mean(target, bases)}")
    arms = {}
    for arm, (given, base) in bases.items():
        changed = base
        for target, key, value, item in parsed:
            if target is not None and target not in (arm, given):
                continue
            if target is None and (why := excluded_by_design(base, key)):
                click.echo(f"warning: --set {item} changes {arm}, which {why}" +
                           ("; use ARM:KEY=VALUE to change one arm" if len(bases) > 1
                            else ""), err=True)
            label = f"--set {item}" + (f" (arm {arm})" if len(bases) > 1 else "")
            changed = set_value(changed, key, value, label=label)
            if key.partition(".")[0] in ("costs", "utilities", "durations", "lifetime"):
                parse_economics(changed.to_dict(), f"--set {item}")  # as `check`, `cea` do
        arms[arm] = what_if(base, changed, recalibrate, backend=backend)
        for line in arms[arm].warnings:
            click.echo(f"warning: {arm}: {line}", err=True)
    return arms


def posteriors_if_all(loaded):
    """Each arm's stored posterior when every arm has one that applies, else None
    (``--draws auto``: a multi-state arm, an arm without one or a what-if that changed
    its figures falls back to independent draws from the ranges)."""
    out = {}
    for arm, scenario in loaded.items():
        if getattr(scenario, "kind", None) == "multistate":
            return None
        try:
            out[arm] = load_posterior(scenario)
        except ScenarioError:
            return None
    return out


def replicate_posteriors(loaded, replicates, draws):
    """Each arm's stored posterior for ``--draws posterior`` (and ``auto`` where every
    arm has one; None otherwise)."""
    if draws == "auto":
        return posteriors_if_all(loaded) if replicates else None
    if draws != "posterior":
        return None
    if not replicates:
        raise UserError("--draws posterior: the posterior is what --replicates draw from; "
                        "give --replicates N")
    if any(getattr(s, "kind", None) == "multistate" for s in loaded.values()):
        raise UserError("--draws posterior: a multi-state scenario has no calibration "
                        "to sample")
    return {arm: load_posterior(s) for arm, s in loaded.items()}
