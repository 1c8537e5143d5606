"""The ``hsctsim`` command line: the group and its commands, one module each.

A command module holds the click command and little else (its work lives in the
layers below); the helpers the commands share are in :mod:`hsctsim.apps.common`.
"""

import click

from .._version import __version__
from . import calibrate, cea, fit, plot, predict, run, show, sweep, trial, validate
from .app import command as app_command

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hsctsim")
def cli():
    """Simulate outcomes after hematopoietic stem-cell transplantation.

    Scenarios are TOML files; the bundled ones are listed by `hsctsim scenarios`.
    """


for command in (run.run, show.scenarios, show.show, show.check, plot.plot, fit.fit,
                predict.predict, cea.cea, sweep.sweep, trial.trial, validate.validate,
                calibrate.calibrate, app_command.app):
    cli.add_command(command)
