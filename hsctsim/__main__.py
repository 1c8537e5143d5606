"""``python -m hsctsim``: the command line."""

from .apps.cli import main

main()
