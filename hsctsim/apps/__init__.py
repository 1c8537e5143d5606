"""What users run: the command line and the scenario runner behind it.
"""

# the submodules (imported by name: ``from hsctsim.apps import kernel``)
__all__ = ["app", "cea", "cli", "common", "entry", "fit", "frames", "limits", "msrunner", "options",
           "output", "plot", "predict", "progress", "run", "runfolder", "runner",
           "show", "signals", "sweep", "sweeps", "trial", "validate"]
