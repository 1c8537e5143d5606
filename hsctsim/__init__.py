"""hsctsim: a stochastic post-transplant outcome simulator for HSCT.

>>> import hsctsim
>>> cohort = hsctsim.simulate(hsctsim.load_scenario("ric"), 10_000, seed=1)
"""

import importlib

from ._version import __version__

# The public names are imported on first use (PEP 562), so that `import hsctsim`
# costs nothing until numpy and numba are needed: the command line installs its
# signal handlers before the heavy imports (Ctrl-C while importing exits quietly).
_NAMES = {"Cohort": ".model.cohort", "DEFAULT_SEED": ".api", "Scenario": ".model.scenario",
          "ScenarioError": ".model.scenario", "bundled_names": ".model.scenario",
          "endpoints": ".analysis", "estimators": ".analysis", "iter_chunks": ".api",
          "load_scenario": ".model.scenario", "predict": ".sim.resume",
          "set_value": ".model.scenario", "simulate": ".api", "WhatIf": ".model.whatif",
          "what_if": ".model.whatif"}
_SUBPACKAGES = ("analysis", "api", "apps", "engine", "model")

__all__ = ["Cohort", "DEFAULT_SEED", "Scenario", "ScenarioError", "bundled_names", "endpoints",
           "estimators", "iter_chunks", "load_scenario", "predict", "set_value", "simulate",
           "WhatIf", "what_if", "__version__"]


def __getattr__(name):
    if name in _NAMES:
        module = importlib.import_module(_NAMES[name], __name__)
        value = getattr(module, name, None)
        if value is None:  # a submodule of that package (endpoints, estimators)
            value = importlib.import_module(f"{_NAMES[name]}.{name}", __name__)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        if name == "analysis":  # `hsctsim.analysis.endpoints` worked when imports were eager
            importlib.import_module(".analysis.endpoints", __name__)
            importlib.import_module(".analysis.estimators", __name__)
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hsctsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
