"""Economic figures: a number with its source, read from a scenario's tables.

The value types (:class:`Figure`, :class:`Economics`) and the readers that check a
figure names its source and lies in range; below :mod:`hsctsim.model.economics`
(the costs and QALYs of a cohort), :mod:`hsctsim.model.mseconomics` and
:mod:`hsctsim.model.prices`, which all read them.
"""

import dataclasses
import math
import zlib
from dataclasses import dataclass

import numpy as np

from .schema import ScenarioError

__all__ = ["check_keys", "DAYS_PER_YEAR", "DEFAULT_ECONOMIC_DRAWS", "ECONOMIC_DISTRIBUTIONS",
           "economic_draws_text", "Economics", "fail", "Figure", "figure_moments", "MAX_COST",
           "read_figure", "UNPUBLISHED_LABELS", "Z95_WIDTH"]

DAYS_PER_YEAR = 365.25

UNPUBLISHED_LABELS = ("assumption", "proxy")


# -- the figures -------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A number (or a reported range ``(low, high)``) and where it comes from."""

    value: object
    source: str

    @property
    def point(self):
        """The number, or the midpoint of a range."""
        if isinstance(self.value, tuple) and len(self.value) == 2 and not isinstance(
                self.value[0], tuple):
            return 0.5 * (self.value[0] + self.value[1])
        return self.value

    @property
    def is_range(self):
        return isinstance(self.value, tuple) and self.point != self.value

    @property
    def label(self):
        """``"assumption"`` or ``"proxy"`` when the source opens with that word, else None."""
        opening = self.source.lstrip().lower()
        return next((w for w in UNPUBLISHED_LABELS if opening.startswith(w)), None)


@dataclass(frozen=True)
class Economics:
    """A scenario's costs, utilities, durations and lifetime figures."""

    currency: str
    price_year: int
    costs: dict          # name -> Figure (per day or one-off, see PER_DAY, ONE_OFF)
    utilities: dict      # name -> Figure (STATE_WEIGHTS, DECREMENTS)
    durations: dict      # name -> Figure (DURATIONS)
    lifetime: dict | None  # age_years, male_fraction, excess_mortality -> Figure; life_table
    # costs inflated from their own price year: name -> (from year, factor); and the
    # index's source (see hsctsim.model.prices)
    inflation: dict = dataclasses.field(default_factory=dict)
    price_index_source: str | None = None

    def cost(self, name):
        return float(self.costs[name].point) if name in self.costs else 0.0

    def utility(self, name):
        return float(self.utilities[name].point) if name in self.utilities else 0.0

    def duration(self, name):
        return float(self.durations[name].point) if name in self.durations else 0.0

    def draw(self, seed, replicate, distributions="gamma-beta"):
        """A copy with every ranged figure drawn from its range.

        Each figure has its own stream keyed by (seed, replicate, section.key), so
        arms that share a figure draw the same value in a replicate (the arms differ
        only where their figures differ, as a probabilistic analysis needs).

        ``distributions``: ``"gamma-beta"`` (the default), the field's usual choice
        (Briggs, Claxton, Sculpher, *Decision Modelling for Health Economic
        Evaluation*, 2006, ch. 4): costs and durations gamma,
        utilities beta (a weight outside [0, 1], or a decrement, whose range leaves
        [0, 1], stays uniform), each with the range's midpoint as its mean and the
        range as its 95% spread (standard deviation ``(high - low) / 3.92``), by the
        method of moments; or ``"uniform"`` over the range.
        """
        if distributions not in ECONOMIC_DISTRIBUTIONS:
            raise ValueError(f"distributions must be one of {ECONOMIC_DISTRIBUTIONS}")

        def drawn(section, table):
            out = {}
            for key, fig in table.items():
                if fig.is_range:
                    tag = zlib.crc32(f"{section}.{key}".encode())
                    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                        [int(seed) % 2**63, int(replicate), tag])))
                    fig = Figure(_draw_figure(rng, section, fig.value, distributions),
                                 fig.source)
                out[key] = fig
            return out

        return dataclasses.replace(self, costs=drawn("costs", self.costs),
                                   utilities=drawn("utilities", self.utilities),
                                   durations=drawn("durations", self.durations))

    def sources(self):
        """``(section.key, value, source)`` of every figure, in order."""
        out = []
        for section in ("costs", "utilities", "durations"):
            out += [(f"{section}.{k}", f.value, f.source) for k, f in getattr(self, section).items()]
        if self.lifetime:
            out += [(f"lifetime.{k}", f.value, f.source) for k, f in self.lifetime.items()
                    if isinstance(f, Figure)]
        return out


ECONOMIC_DISTRIBUTIONS = ("uniform", "gamma-beta")
# one default for every command that draws costs (cea --replicates, sweep --psa): gamma for
# costs, beta for utilities, as the field does (Briggs et al. 2006, ch. 4)
DEFAULT_ECONOMIC_DRAWS = "gamma-beta"


def economic_draws_text(distributions):
    """How ranged costs, utilities and durations were drawn, in words.

    Parameters
    ----------
    distributions : {"gamma-beta", "uniform"}
        As for :meth:`Economics.draw`.

    Returns
    -------
    str
        A phrase for the printed tables and summaries.
    """
    if distributions == "uniform":
        return "ranged costs, utilities and durations uniformly over their ranges"
    return ("ranged costs and durations from gamma and utilities from beta distributions, "
            "the range as the 95% spread")


Z95_WIDTH = 2 * 1.959963984540054  # a 95% interval spans this many standard deviations


def figure_moments(low, high):
    """Mean and standard deviation of a ranged figure drawn as gamma or beta."""
    return 0.5 * (low + high), (high - low) / Z95_WIDTH


def _draw_figure(rng, section, value, distributions):
    low, high = value
    if distributions == "gamma-beta":
        mean, sd = figure_moments(low, high)
        if section in ("costs", "durations") and mean > 0:
            shape = (mean / sd) ** 2
            return float(rng.gamma(shape, sd * sd / mean))
        if section == "utilities" and 0 <= low and high <= 1 and 0 < mean < 1:
            k = mean * (1 - mean) / sd**2 - 1  # > 0: sd <= 1/3.92 < sqrt(mean (1-mean))
            if k > 0:
                return float(rng.beta(mean * k, (1 - mean) * k))
    return float(rng.uniform(low, high))


MAX_COST = 1e10


def fail(path, key, problem):
    raise ScenarioError(path, key, problem)


def read_figure(path, table, section, key, low=0.0, high=math.inf, required=True,
            ranged=True, extra_keys=()):
    where = f"{section}.{key}"
    item = table.get(key)
    if item is None:
        if required:
            fail(path, where, "missing (a table { value = ..., source = \"...\" })")
        return None
    if not isinstance(item, dict):
        fail(path, where, "must be a table { value = ..., source = \"...\" } so that the "
              "number carries its source")
    extra = set(item) - {"value", "source", *extra_keys}
    if extra:
        fail(path, f"{where}.{sorted(extra)[0]}", "unknown key; expected value and source"
              + "".join(f" (or {k})" for k in extra_keys))
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        fail(path, f"{where}.source", "every number needs its source")
    value = item.get("value")
    if ranged and isinstance(value, list):
        if len(value) != 2:
            fail(path, f"{where}.value", f"a range is [low, high], got {len(value)} values")
        lo, hi = (_number(path, f"{where}.value", v, low, high) for v in value)
        if lo > hi:
            fail(path, f"{where}.value", f"range low {lo:g} is above its high {hi:g}")
        return Figure((lo, hi), source)
    return Figure(_number(path, f"{where}.value", value, low, high), source)


def _number(path, where, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, where, f"must be a number, not {type(value).__name__}")
    if not low <= value <= high or math.isnan(value):
        fail(path, where, f"{value:g} is outside [{low:g}, {high:g}]")
    return float(value)


def check_keys(path, table, section, allowed):
    if not isinstance(table, dict):
        fail(path, section, f"must be a table, not {type(table).__name__}")
    for key in table:
        if key not in allowed:
            fail(path, f"{section}.{key}", f"unknown key; expected one of {sorted(allowed)}")
