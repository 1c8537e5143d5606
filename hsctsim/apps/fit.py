"""``hsctsim fit``: fit a multi-state model to transition data, write a scenario."""

import math
import os
import re
import tempfile
from pathlib import Path

import click

from ..analysis.flexible import parse_family
from ..analysis.msdata import DataError
from ..model.scenario import ScenarioError, bundled_dir, load_scenario
from ..sim.fitcheck import check_fit, plot_check
from .common import UserError, load_arms, user_errors
from .options import OutPath

__all__ = ["EXAMPLES", "FAMILY_NAMES", "fit"]

FAMILY_NAMES = ("auto", "exponential", "weibull", "gompertz", "lognormal", "loglogistic",
                "piecewise", "gengamma", "spline<m>", "<family>-cure")


def _split(text):
    return [s.strip() for s in text.split(",") if s.strip()] if text else []


def _families(items):
    """``--family`` values: one family for all, or TRANS=FAMILY (number or from->to)."""
    every, per = None, {}
    for item in items:
        key, sep, value = item.rpartition("=")
        value = value.strip()
        for part in value.split("+"):
            if part == "auto" and value.startswith("auto"):
                continue
            try:
                parse_family(part)
            except ValueError:
                raise UserError(f"--family {item!r}: {value!r} is not one of "
                                f"{', '.join(FAMILY_NAMES)}") from None
        if not sep:
            if every is not None:  # the last one silently won
                raise UserError(f"--family {item!r}: a family for every transition is "
                                f"already given ({every}); give it once")
            every = value
        elif not key.strip():
            raise UserError(f"--family {item!r}: expected FAMILY or TRANS=FAMILY")
        else:
            trans = key.strip().replace(" ", "")
            if trans in per:
                raise UserError(f"--family {item!r}: transition {trans} already has a "
                                f"family ({per[trans]}); give it once")
            per[trans] = value
    if not per:
        return every
    return per | {"*": every} if every else per


def _transitions(text):
    pairs = []
    for item in _split(text):
        a, sep, b = item.partition(">")
        if not sep or not a.strip() or not b.strip():
            raise UserError(f"--transitions {item!r}: expected FROM>TO, e.g. transplant>relapse")
        pairs.append((a.strip().rstrip("-"), b.strip()))
    return pairs or None


def _numbers(text, option):
    try:
        numbers = [float(v) for v in _split(text)]
    except ValueError:
        raise UserError(f"{option} {text!r}: expected numbers separated by commas") from None
    if not all(math.isfinite(v) for v in numbers):  # nan reached the fit
        raise UserError(f"{option} {text!r}: expected finite numbers of days")
    return numbers


def _references(items):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"--reference {item!r}: expected COLUMN=LEVEL, e.g. "
                            "agecl=<=20")
        out[key.strip()] = value.strip()
    return out


def _clocks(items):
    """``--clock`` values: CLOCK for every transition, or TRANS=CLOCK."""
    every, per = "forward", {}
    for item in items:
        key, sep, value = item.rpartition("=")
        value = value.strip()
        if value not in ("forward", "reset"):
            raise UserError(f"--clock {item!r}: {value!r} is not forward or reset")
        if not sep:
            every = value
        elif not key.strip():
            raise UserError(f"--clock {item!r}: expected CLOCK or TRANS=CLOCK")
        else:
            per[key.strip().replace(" ", "")] = value
    return per | {"*": every} if per else every


def _breaks(items):
    """``--breaks`` values: DAYS for every transition, or TRANS=DAYS."""
    every, per = None, {}
    for item in items:
        key, sep, value = item.rpartition("=")
        days = _numbers(value, "--breaks")
        if not days:
            raise UserError(f"--breaks {item!r}: expected piece starts such as 0,30,100")
        if not sep:
            every = days
        elif not key.strip():
            raise UserError(f"--breaks {item!r}: expected DAYS or TRANS=DAYS")
        else:
            per[key.strip().replace(" ", "")] = days
    if not per:
        return every
    return per | {"*": every}


def _check_out(path, overwrite):
    """Refuse an --out that cannot be written, before the fit rather than after it."""
    path = Path(path)
    package = Path(__file__).resolve().parents[1]
    where = path.resolve().parent
    if where == bundled_dir().resolve() or where.is_relative_to(package):
        # a fitted model there becomes (or replaces) a bundled scenario of that name
        raise UserError(f"{path}: inside hsctsim's bundled scenarios or package; write the "
                        "fitted scenario elsewhere")
    if os.path.lexists(path) and not overwrite:  # a dangling link too: it was replaced
        raise UserError(f"{path}: exists (add --overwrite to replace it)")
    if not path.parent.is_dir():
        if os.path.lexists(path.parent):  # `--out afile/x.toml`
            raise UserError(f"{path}: {path.parent} is not a folder (a file holds that name)")
        raise UserError(f"{path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"{path}: the folder {path.parent} is not writable")


def _accepted(tmp, path):
    """Refuse to write a fitted scenario that `hsctsim check` would refuse."""

    try:
        load_arms([str(tmp)])  # what `check` and `run` load and validate
    except (ScenarioError, click.ClickException) as exc:
        said = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        raise UserError(f"{path}: not written: the fitted model is not a scenario hsctsim "
                        f"accepts ({said.replace(str(tmp), str(path))})") from None


def _write_atomic(path, text, overwrite, validate=False):
    path = Path(path)
    _check_out(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if validate:
            _accepted(tmp, path)
        # mkstemp makes the file 0600: give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


EXAMPLES = """\b
Examples:
  hsctsim fit tests/data/illness_death.csv --clock reset --covariates x
  hsctsim fit tests/data/illness_death.csv --clock reset --covariates x --out illness_death.toml
  hsctsim fit tests/data/illness_death.csv --family weibull --family 3=gompertz
  hsctsim fit tests/data/illness_death.csv --family piecewise --breaks 0,100,365
  hsctsim fit tests/data/illness_death.csv --family spline2 --family 2=weibull-cure
  hsctsim fit tests/data/illness_death.csv --criterion bic --no-check
  hsctsim run illness_death.toml --replicates 20 -n 20000    # simulate the fit
"""


@click.command(epilog=EXAMPLES)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", type=OutPath(dir_okay=False),
              help="Write the fitted multi-state scenario (TOML) here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out or --plot file.")
@click.option("--clock", "clocks", multiple=True, metavar="CLOCK|TRANS=CLOCK",
              help="forward (default): hazards in time since time 0 (Markov; Tstart > 0 is "
                   "delayed entry); reset: since entering the state (semi-Markov); for "
                   "every transition, or one (TRANS=CLOCK, repeatable: mixed clocks).")
@click.option("--family", "families", multiple=True, metavar="FAMILY|TRANS=FAMILY",
              help="Hazard family for every transition, or for one (its number or "
                   "from->to); repeatable: exponential, weibull, gompertz, lognormal, "
                   "loglogistic, gengamma, spline<m> (Royston-Parmar, m internal knots), "
                   "piecewise, any of them with -cure (mixture cure). Default auto: the "
                   "lowest --criterion among them (splines 1-3 knots; cure for weibull "
                   "and lognormal); auto+gengamma adds the (slow) generalized gamma.")
@click.option("--criterion", type=click.Choice(["aic", "bic"]), default="aic",
              show_default=True, help="How auto chooses a family per transition.")
@click.option("--breaks", "breaks", multiple=True, metavar="DAYS|TRANS=DAYS",
              help="Piece starts for the piecewise family, e.g. 0,30,100, for every "
                   "transition or one (repeatable). Default: from the event times.")
@click.option("--empty-pieces", type=click.Choice(["zero", "pool"]), default="zero",
              show_default=True,
              help="A piece without events: rate 0, or pooled with the piece before.")
@click.option("--covariates", metavar="A,B",
              help="Covariate columns (log hazard ratios); a text column is a factor.")
@click.option("--reference", "references", multiple=True, metavar="COLUMN=LEVEL",
              help="Reference level of a factor column (default: first in sorted order).")
@click.option("--covariate-mix", "mix", type=click.Choice(["joint", "independent"]),
              default="joint", show_default=True,
              help="Simulated patients: the data's rows (joint mix) or each covariate on "
                   "its own (independent).")
@click.option("--patients", "patients", type=click.Path(dir_okay=False),
              help="A patient table (CSV, one row per patient, the covariate columns) to "
                   "simulate instead of the data's patients.")
@click.option("--states", metavar="NAMES",
              help="State names: for integer states, names of 1, 2, ...; for named "
                   "states, the order.")
@click.option("--transitions", metavar="FROM>TO,...",
              help="The allowed transitions by name, numbered 1, 2, ... (mstate's trans); "
                   "default: those in the data.")
@click.option("--name", help="Scenario name (default: from the --out file name).")
@click.option("--title", help="Scenario title.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Simulate the fit and compare its state occupation with the data's "
                   "Aalen-Johansen estimate.")
@click.option("--check-patients", type=click.IntRange(1000, 10_000_000), default=20_000,
              show_default=True, help="Patients simulated for the check.")
@click.option("--plot", "plot_path", type=OutPath(dir_okay=False),
              help="Draw the check (data vs fit, per state) to this image (png, pdf, svg).")
@user_errors
def fit(data, out_path, overwrite, clocks, families, criterion, breaks, empty_pieces,
        covariates, references, mix, patients, states, transitions, name, title, check,
        check_patients, plot_path):
    """Fit per-transition hazards to DATA (mstate msprep CSV) by maximum likelihood.

    DATA has columns id, from, to, trans, Tstart, Tstop, status (one row per
    transition at risk per stay, as mstate's msprep writes them) plus covariates.
    Prints each family's AIC and BIC and the chosen fit's estimates with standard
    errors, then (unless --no-check) the Aalen-Johansen state occupation of the data
    beside that of a cohort simulated from the fit, and the largest gap; --out writes
    a scenario that `hsctsim run` simulates.
    """
    from ..analysis.fit import FitError, fit_msm, safe_name  # scipy.optimize: on use

    family = _families(families)
    clock = _clocks(clocks)
    breaks_text = " ".join(breaks)
    breaks = _breaks(breaks)
    if breaks and family is not None:  # otherwise --breaks would be accepted and ignored
        chosen = set(family.values()) if isinstance(family, dict) else {family}
        if isinstance(family, dict) and "*" not in family:
            chosen.add("auto")  # the transitions not named are auto
        if not {c for c in chosen if c} & {"piecewise", "piecewise-cure", "auto"}:
            raise UserError(f"--breaks {breaks_text}: only the piecewise family uses it "
                            "(--family piecewise, or auto)")
    if name is not None and not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", name):
        raise UserError(f"--name {name!r}: an ASCII letter, then ASCII letters, digits, _ and - only")
    if patients is not None and not Path(patients).is_file():
        raise UserError(f"--patients {patients}: no such file")
    if not Path(data).is_file():
        raise UserError(f"{data}: " + ("not a file" if Path(data).exists() else "no such file"))
    if out_path:
        _check_out(out_path, overwrite)
    if plot_path:
        if not check:
            raise UserError("--plot draws the check: drop --no-check")
        _check_out(plot_path, overwrite)
        if Path(plot_path).suffix.lower() not in (".png", ".pdf", ".svg"):
            raise UserError(f"--plot {plot_path}: the name must end in .png, .pdf or .svg")
    try:
        result = fit_msm(data, clock=clock, family=family, covariates=_split(covariates),
                         states=_split(states) or None, transitions=_transitions(transitions),
                         breaks_day=breaks, criterion=criterion, empty_pieces=empty_pieces,
                         references=_references(references))
        if out_path and name is None:
            name = safe_name(Path(out_path).stem)
        text = result.to_toml(name=name, title=title, mix=mix, patients=patients)
    except (DataError, FitError) as exc:
        raise UserError(str(exc)) from None
    click.echo(result.report())
    if check:


        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{name or 'fitted'}.toml"
                path.write_text(text)
                scenario = load_scenario(str(path))
                checked = check_fit(scenario, result.data, n_patients=check_patients)
        except (ScenarioError, ValueError) as exc:   # the fit is printed; say why no check
            if plot_path:
                raise UserError(f"--plot: the fitted model could not be checked ({exc})") \
                    from None
            click.echo(f"note: no check against the data: {exc}", err=True)
            checked = None
        if checked is not None:
            click.echo("")
            click.echo(checked.report())
        if plot_path and checked is not None:
            plot_check(checked, plot_path, title=f"{Path(data).name}: data vs fitted model")
            click.echo(f"check drawn to {plot_path}", err=True)
    if out_path:
        _write_atomic(out_path, text, overwrite, validate=True)
        click.echo(f"scenario written to {out_path}", err=True)
