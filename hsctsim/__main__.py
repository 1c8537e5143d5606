"""``python -m hsctsim``: the command line."""

from .apps.entry import main

main()
