"""Scenario + seed -> cohort: the one pipeline of fresh, resumed and multi-state runs.

Everything that simulates goes through here; the backend object
(:mod:`hsctsim.engine.backend`) is resolved by the caller and passed down.
"""

from .cohorts import (
                      DEFAULT_SEED,
                      MAX_SEED,
                      check_size,
                      count,
                      iter_chunks,
                      prepare,
                      scenario_point,
                      simulate,
                      stream_seed,
)
from .resume import parse_history, predict

__all__ = ["DEFAULT_SEED", "MAX_SEED", "check_size", "count", "iter_chunks", "parse_history",
           "predict", "prepare", "scenario_point", "simulate", "stream_seed"]
