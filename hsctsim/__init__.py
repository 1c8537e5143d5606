"""hsctsim: a stochastic post-transplant outcome simulator for HSCT.

>>> import hsctsim
>>> cohort = hsctsim.simulate(hsctsim.load_scenario("ric"), 10_000, seed=1)
"""

__version__ = "0.1.0"

from .analysis import endpoints, estimators  # noqa: E402
from .api import DEFAULT_SEED, iter_chunks, simulate  # noqa: E402
from .model.cohort import Cohort  # noqa: E402
from .model.scenario import (Scenario, ScenarioError, bundled_names, load_scenario,  # noqa: E402
                             set_value)
from .model.whatif import WhatIf, what_if  # noqa: E402
from .model.predict import predict  # noqa: E402

__all__ = ["Cohort", "DEFAULT_SEED", "Scenario", "ScenarioError", "bundled_names", "endpoints",
           "estimators", "iter_chunks", "load_scenario", "predict", "set_value", "simulate",
           "WhatIf", "what_if", "__version__"]
