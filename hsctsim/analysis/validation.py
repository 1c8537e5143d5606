"""Published figures (validation and calibration figures, told apart) against a simulation.

The figures live in ``hsctsim/model/validation.toml``, each with its citation,
population and uncertainty.  :func:`load_figures` reads and checks them,
:func:`simulated` estimates the same quantity from simulated cohorts, and
:func:`compare` says whether the two agree: a probability within
``max(published 95% CI half-width, 5 points)``, a hazard ratio inside the
published 95% CI.  Cohorts are followed completely to their horizon, so the
estimates are proportions with binomial variance (as in
:mod:`hsctsim.analysis.endpoints`).

Every figure says how it was used (``use``): ``"calibration"`` when it informed
any parameter, timing, range or structural choice of the model (even when it is
not a formal calibration target), ``"validation"`` when it did not.  Only the
validation figures test what the model predicts beyond what it was built from;
the calibration figures check that it still reproduces what it was built from.
A figure added later carries ``predicted``: what the model simulated for it when
it was added, before it could inform anything (value, version, date), and, if it
was then used, ``used_after`` saying for what (it is then a calibration figure).

A published median survival (``os_median``, ``pfs_median``, in days) is checked
where it is exact: at the published median day the published curve stands at
50%, with the binomial uncertainty of a proportion of one half among the
paper's ``n`` patients (a Wilson interval; censoring before the median only
widens it).  The simulated survival at that day must lie within
``max(half that interval, 5 points)`` of 50%: the same rule as a landmark,
applied on the probability scale, where the published uncertainty is known.
The simulated median in days is shown beside it, with its order-statistic
interval.

A landmark or median figure may be for a subgroup (``among``): the patients in
whom an event (chronic GVHD, say) occurred by a day, those in whom it did not, or
those whose best tumour response by a day was one of a list.  The simulated
subgroup is defined the same way, so a paper's grouping by a later event is
reproduced with its immortal time; ``n`` is then the subgroup's size.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtri

from ..model import process_table
from ..model.scenario import ScenarioError, read_toml
from .endpoints import ENDPOINTS as KINDS, endpoint_day, rounded, wilson
from .estimators import loglog_ci
from .response import BEST_RESPONSES, best_response

__all__ = ["Among", "AMONG_KEYS", "compare", "Comparison", "ENDPOINTS", "Figure", "FIGURE_KEYS",
           "FIGURES_FILE", "PREDICTED_KEYS", "Predicted", "USES", "horizon_days",
           "LANDMARK_ENDPOINTS", "load_figures", "median_days", "MEDIAN_ENDPOINTS",
           "MEDIAN_MARGIN", "MIN_TOLERANCE", "POST_RELAPSE_MARGIN_DAYS", "RESPONSES", "SAME_AS",
           "simulated", "survival_at", "tally_by_use", "TOLERANCE_RULE", "VALIDATION_TARGET",
           "verdict"]

FIGURES_FILE = Path(__file__).resolve().parents[1] / "model" / "validation.toml"
LANDMARK_ENDPOINTS = ("os", "rfs", "pfs", "grfs", "relapse", "trm", "progression_death",
                      "agvhd", "agvhd_3_4", "cgvhd", "cgvhd_mod_sev")
MEDIAN_ENDPOINTS = ("os_median", "pfs_median")
ENDPOINTS = (*LANDMARK_ENDPOINTS, *MEDIAN_ENDPOINTS, "best_response", "post_relapse_os",
             "os_hazard_ratio")
# progression-free survival of a solid tumour is the HSCT model's relapse-free survival
# (`relapse` is progression); death from progression is `death_after_relapse`
SAME_AS = {"pfs": "rfs", "os_median": "os", "pfs_median": "rfs"}
RESPONSES = ("CR", "PR", "SD", "PD")
MEDIAN_MARGIN = 2.0  # follow a median figure to twice the published median
MIN_TOLERANCE = 0.05  # 5 percentage points: a published figure is rarely more exact
POST_RELAPSE_MARGIN_DAYS = 730  # room for an open relapse window (">= 3 years")
FIGURE_KEYS = {"arm", "endpoint", "measure", "landmark_day", "estimate", "ci95", "n", "se",
               "citation", "population", "note", "check", "relapse_from_day",
               "relapse_to_day", "reference_arm", "response", "among", "use", "predicted",
               "used_after"}
AMONG_KEYS = {"event", "no_event", "best_response", "by_day", "age_years"}
USES = ("validation", "calibration")  # the order of the report: validation first
PREDICTED_KEYS = {"value", "version", "date", "patients", "seed", "note"}


@dataclass(frozen=True)
class Predicted:
    """What the model simulated for a figure when the figure was added (before any use)."""

    value: float
    version: str
    date: str
    patients: int | None = None
    seed: int | None = None
    note: str = ""

    def to_dict(self):
        return {"value": self.value, "version": self.version, "date": self.date,
                "patients": self.patients, "seed": self.seed, "note": self.note or None}


@dataclass(frozen=True)
class Among:
    """A subgroup of patients: ``event`` occurred (or not) by ``by_day``, or best
    response; optionally only those aged ``age_years = (low, high)`` at transplant
    (``low <= age < high``; arms with ``[late_mortality]``, whose patients have an age)."""

    by_day: float
    event: str | None = None
    occurred: bool = True
    responses: tuple = ()
    age_years: tuple | None = None

    @property
    def label(self):
        """A short name for tables: ``cgvhd``, ``no cgvhd``, ``CR+PR+SD``, ``age 65-75``."""
        if self.responses:
            label = "+".join(self.responses)
        elif self.event:
            label = ("" if self.occurred else "no ") + self.event
        else:
            label = ""
        if self.age_years:
            label += (", " if label else "") + "age {:g}-{:g}".format(*self.age_years)
        return label

    def mask(self, cohort):
        """Which of the cohort's patients belong to the subgroup."""
        if self.responses:
            wanted = [BEST_RESPONSES.index(r) for r in self.responses]
            keep = np.isin(best_response(cohort, by_day=self.by_day), wanted)
        elif self.event:
            hit = endpoint_day(cohort, self.event) <= self.by_day
            keep = hit if self.occurred else ~hit
        else:
            keep = np.ones(cohort.n_patients, bool)
        if self.age_years:
            covariates = cohort.age_sex()
            if covariates is None:
                raise ValueError(f"arm '{cohort.scenario.name}' has no [late_mortality], "
                                 "so its patients have no age: among.age_years needs one")
            age = covariates["age_years"]
            keep &= (age >= self.age_years[0]) & (age < self.age_years[1])
        return keep

    def to_dict(self):
        if self.responses:
            out = {"best_response": list(self.responses), "by_day": self.by_day}
        elif self.event:
            out = {"event" if self.occurred else "no_event": self.event, "by_day": self.by_day}
        else:
            out = {}
        if self.age_years:
            out["age_years"] = list(self.age_years)
        return out


@dataclass(frozen=True)
class Figure:
    """One published figure and how uncertain it is."""

    arm: str
    endpoint: str
    measure: str
    landmark_day: float
    estimate: float
    citation: str
    population: str
    ci95: tuple | None = None
    n: int | None = None
    se: float | None = None
    note: str = ""
    check: bool = True
    relapse_from_day: float = 0.0
    relapse_to_day: float = math.inf
    reference_arm: str | None = None
    response: tuple = ()
    among: Among | None = None
    use: str = "validation"
    predicted: Predicted | None = None
    used_after: str = ""

    @property
    def is_ratio(self):
        return self.endpoint == "os_hazard_ratio"

    @property
    def is_median(self):
        return self.endpoint in MEDIAN_ENDPOINTS

    @property
    def compared(self):
        """The probability that is compared: the estimate, or 1/2 at a published median."""
        return 0.5 if self.is_median else self.estimate

    @property
    def interval(self):
        """The published 95% interval: given, from ``n`` (Wilson) or from ``se``; or None.

        For a median, the interval of the survival at the published median day.
        """
        if self.ci95 is not None:
            return self.ci95
        if self.n is not None:
            low, high = wilson(self.compared * self.n, self.n)
            return float(low), float(high)
        if self.se is not None:
            z = ndtri(0.975)
            return (max(0.0, self.estimate - z * self.se), min(1.0, self.estimate + z * self.se))
        return None

    @property
    def tolerance(self):
        """Largest distance still within: half the published interval, at least 5 points."""
        if self.is_ratio:
            return None
        interval = self.interval
        half = 0.0 if interval is None else 0.5 * (interval[1] - interval[0])
        return max(half, MIN_TOLERANCE)

    @property
    def horizon_days(self):
        """Follow-up that estimates this figure well (open relapse windows get 2 years)."""
        if self.endpoint == "post_relapse_os":
            end = (self.relapse_to_day if math.isfinite(self.relapse_to_day)
                   else self.relapse_from_day + POST_RELAPSE_MARGIN_DAYS)
            return end + self.landmark_day
        own = MEDIAN_MARGIN * self.landmark_day if self.is_median else self.landmark_day
        return max(own, self.among.by_day) if self.among else own

    @property
    def label(self):
        """A short name for tables: the endpoint, its qualifier and subgroup."""
        return self._name + (f", {self.among.label}" if self.among else "")

    @property
    def _name(self):
        if self.endpoint == "post_relapse_os":
            if self.relapse_from_day == 0 and not math.isfinite(self.relapse_to_day):
                return "os after relapse"
            end = (f"{self.relapse_to_day:g}" if math.isfinite(self.relapse_to_day) else "")
            return f"os after relapse d{self.relapse_from_day:g}-{end}"
        if self.is_ratio:
            return f"os HR vs {self.reference_arm}"
        if self.is_median:
            return self.endpoint.replace("_", " ")
        if self.endpoint == "best_response":
            return "best response " + "+".join(self.response)
        if self.endpoint == "progression_death":
            return "death from progression"
        return self.endpoint


def load_figures(path=FIGURES_FILE):
    """Read and check a validation file.

    Parameters
    ----------
    path : str or Path
        A TOML file of ``[[figure]]`` tables (default: the bundled one).

    Returns
    -------
    list of Figure

    Raises
    ------
    ScenarioError
        Naming the file, the figure's key and the problem.
    """
    data = read_toml(path)
    tables = data.get("figure")
    if not isinstance(tables, list) or not tables:
        raise ScenarioError(path, "figure", "expected one or more [[figure]] tables")
    return [_figure(path, f"figure[{i}]", t) for i, t in enumerate(tables)]


def _figure(path, where, table):
    def fail(key, problem):
        raise ScenarioError(path, f"{where}.{key}" if key else where, problem)

    def number(key, low=0.0, high=math.inf, default=None):
        value = table.get(key, default)
        if value is None:
            fail(key, "missing")
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(key, f"must be a number, not {value!r}")
        if not low <= value <= high:
            fail(key, f"{value:g} is outside [{low:g}, {high:g}]")
        return float(value)

    def text(key, default=None):
        value = table.get(key, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            fail(key, "must be a non-empty string")
        return value

    if not isinstance(table, dict):
        fail(None, "must be a table")
    for key in table:
        if key not in FIGURE_KEYS:
            fail(key, f"unknown key; expected one of {sorted(FIGURE_KEYS)}")
    endpoint = text("endpoint")
    if endpoint not in ENDPOINTS:
        fail("endpoint", f"'{endpoint}' is not one of {list(ENDPOINTS)}")
    ratio = endpoint == "os_hazard_ratio"
    median = endpoint in MEDIAN_ENDPOINTS
    estimate = number("estimate", 0.0, math.inf if ratio else 36500.0 if median else 1.0)
    if median:
        if estimate <= 0:
            fail("estimate", "a median survival must be a positive number of days")
        if "ci95" in table or "se" in table:
            fail("ci95" if "ci95" in table else "se",
                 "a median is checked from its number of patients n (survival 1/2 there)")
        if table.get("landmark_day", estimate) != estimate:
            fail("landmark_day", "a median is checked at the published median day; leave it out")
    response = table.get("response")
    if endpoint == "best_response":
        if (not isinstance(response, list) or not response
                or any(r not in RESPONSES for r in response)
                or len(set(response)) != len(response)):
            fail("response", f"must list one or more of {list(RESPONSES)}")
        response = tuple(r for r in RESPONSES if r in response)
    elif response is not None:
        fail("response", "only for best_response")
    else:
        response = ()
    ci95 = table.get("ci95")
    if ci95 is not None:
        if (not isinstance(ci95, list) or len(ci95) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in ci95)
                or not ci95[0] <= estimate <= ci95[1]):
            fail("ci95", "must be [low, high] around the estimate")
        ci95 = (float(ci95[0]), float(ci95[1]))
    elif ratio:
        fail("ci95", "a hazard ratio needs its published 95% CI")
    n = table.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        fail("n", "must be a positive whole number of patients")
    check = table.get("check", True)
    if not isinstance(check, bool):
        fail("check", "must be true or false")
    reference = table.get("reference_arm")
    if ratio and not isinstance(reference, str):
        fail("reference_arm", "a hazard ratio needs the arm it is against")
    post = endpoint == "post_relapse_os"
    if not post and ("relapse_from_day" in table or "relapse_to_day" in table):
        fail("relapse_from_day", "only for post_relapse_os")
    relapse_from = number("relapse_from_day", 0.0, 36500.0, 0.0)
    relapse_to = number("relapse_to_day", 0.0, math.inf, math.inf)
    if relapse_to <= relapse_from:
        fail("relapse_to_day", "must be after relapse_from_day")
    among = table.get("among")
    if among is not None:
        if endpoint not in LANDMARK_ENDPOINTS + MEDIAN_ENDPOINTS:
            fail("among", "only for landmark and median figures")
        among = _among(among, lambda key, problem: fail(f"among.{key}" if key else "among",
                                                        problem))
    use = table.get("use")
    if use not in USES:
        fail("use", f"must be one of {list(USES)} (calibration: the figure informed a "
                    f"parameter, timing, range or structural choice), not {use!r}")
    predicted = table.get("predicted")
    if predicted is not None:
        predicted = _predicted(predicted, ratio, median,
                               lambda key, problem: fail(f"predicted.{key}" if key
                                                         else "predicted", problem))
    used_after = text("used_after", "")
    if used_after:
        if predicted is None:
            fail("used_after", "a figure used after it was added needs its prediction "
                               "(predicted = { value, version, date })")
        if use != "calibration":
            fail("used_after", "a figure that was then used is a calibration figure "
                               "(use = \"calibration\")")
    elif "used_after" in table:
        fail("used_after", "must say what the figure then informed")
    return Figure(
        use=use, predicted=predicted, used_after=used_after,
        arm=text("arm"), endpoint=endpoint, measure=text("measure"),
        landmark_day=estimate if median else number("landmark_day", 1.0, 36500.0),
        estimate=estimate, response=response,
        citation=text("citation"), population=text("population"), ci95=ci95, n=n,
        se=number("se", 0.0, 1.0) if "se" in table else None, note=text("note", ""),
        check=check, relapse_from_day=relapse_from, relapse_to_day=relapse_to,
        reference_arm=reference if ratio else None, among=among)


def _predicted(table, ratio, median, fail):
    if not isinstance(table, dict):
        fail(None, "must be a table such as { value = 0.42, version = \"0.1.0\", "
                   "date = \"2026-12-07\" }")
    for key in table:
        if key not in PREDICTED_KEYS:
            fail(key, f"unknown key; expected one of {sorted(PREDICTED_KEYS)}")
    value = table.get("value")
    high = math.inf if ratio else 36500.0 if median else 1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        fail("value", f"must be the simulated value, a number in [0, {high:g}]")
    for key in ("version", "date"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            fail(key, "must be a non-empty string (the model's version and the day the "
                      "figure was added)")
    for key in ("patients", "seed"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            fail(key, "must be a whole number")
    note = table.get("note", "")
    if not isinstance(note, str):
        fail("note", "must be a string")
    return Predicted(float(value), table["version"], table["date"], table.get("patients"),
                     table.get("seed"), note)


def _among(table, fail):
    if not isinstance(table, dict):
        fail(None, "must be a table such as { event = \"cgvhd\", by_day = 730 }")
    for key in table:
        if key not in AMONG_KEYS:
            fail(key, f"unknown key; expected one of {sorted(AMONG_KEYS)}")
    chosen = [k for k in ("event", "no_event", "best_response") if k in table]
    age = table.get("age_years")
    if age is not None:
        if (not isinstance(age, list) or len(age) != 2
                or any(isinstance(a, bool) or not isinstance(a, int | float) for a in age)
                or not 0 <= age[0] < age[1] <= 130):
            fail("age_years", "must be [low, high] ages in years, 0 <= low < high <= 130 "
                              "(low <= age < high)")
        age = (float(age[0]), float(age[1]))
    if len(chosen) > 1 or (not chosen and age is None):
        fail(None, "give exactly one of event, no_event, best_response, or age_years alone")
    if not chosen:
        if "by_day" in table:
            fail("by_day", "only with event, no_event or best_response")
        return Among(0.0, age_years=age)
    by_day = table.get("by_day")
    if isinstance(by_day, bool) or not isinstance(by_day, int | float) or not 0 < by_day <= 36500:
        fail("by_day", "must be a day in (0, 36500]: the subgroup is formed by then")
    key = chosen[0]
    value = table[key]
    if key == "best_response":
        if (not isinstance(value, list) or not value or any(r not in RESPONSES for r in value)
                or len(set(value)) != len(value)):
            fail(key, f"must list one or more of {list(RESPONSES)}")
        return Among(float(by_day), responses=tuple(r for r in RESPONSES if r in value),
                     age_years=age)
    if value not in KINDS or KINDS[value][0] == "prevalence":
        fail(key, f"'{value}' is not an event; expected one of "
                  f"{[k for k, v in KINDS.items() if v[0] != 'prevalence']}")
    return Among(float(by_day), event=value, occurred=key == "event", age_years=age)


def horizon_days(figures):
    """Follow-up that every figure of ``figures`` needs."""
    return max(f.horizon_days for f in figures)


def simulated(figure, cohorts, level=0.95):
    """The figure's quantity in simulated cohorts: ``(estimate, low, high)``.

    Parameters
    ----------
    figure : Figure
    cohorts : dict of str to Cohort
        Holding ``figure.arm`` (and its ``reference_arm`` for a hazard ratio),
        followed at least ``figure.horizon_days``.
    level : float
        Of the Monte Carlo interval.
    """
    cohort = cohorts[figure.arm]
    least = figure.landmark_day + (figure.relapse_from_day
                                   if figure.endpoint == "post_relapse_os" else 0.0)
    if cohort.horizon_days < least:
        raise ValueError(f"{figure.label}: needs more than {least:g} days of follow-up, "
                         f"the cohort has {cohort.horizon_days:g}")
    day = figure.landmark_day
    if figure.endpoint == "progression_death":
        return _proportion(_days(figure, cohort, "death_after_relapse") <= day, level)
    if figure.endpoint in LANDMARK_ENDPOINTS:
        name = SAME_AS.get(figure.endpoint, figure.endpoint)
        return _landmark(_days(figure, cohort, name), KINDS[name][0], day, level)
    if figure.is_median:
        days = _days(figure, cohort, SAME_AS[figure.endpoint])
        return median_days(days, level) if days.size else (math.nan,) * 3
    if figure.endpoint == "best_response":
        return _proportion(Among(day, responses=figure.response).mask(cohort), level)
    if figure.endpoint == "post_relapse_os":
        return _post_relapse(figure, cohort, level)
    return _hazard_ratio(figure, cohort, cohorts[figure.reference_arm], level)


def _days(figure, cohort, name):
    # the endpoint's day for each patient of the figure's subgroup (all, without one)
    days = endpoint_day(cohort, name)
    return days[figure.among.mask(cohort)] if figure.among else days


def _landmark(days, kind, day, level):
    # complete follow-up: the proportion reached by `day`, as Tally.estimates has it
    if days.size == 0:
        return (math.nan,) * 3
    p = float(np.count_nonzero(days <= day)) / days.size
    est = 1.0 - p if kind == "survival" else p
    low, high = loglog_ci(np.array([est]), np.array([p * (1 - p) / days.size]), level)
    return est, float(low[0]), float(high[0])


def _proportion(hits, level):
    # a share of the patients (complete follow-up): Wilson interval
    n, k = hits.size, int(np.count_nonzero(hits))
    if n == 0:
        return (math.nan,) * 3
    low, high = wilson(k, n, level)
    return k / n, float(low), float(high)


def median_days(days, level=0.95):
    """Median of event days followed completely (``inf``: no event by the horizon).

    The Kaplan-Meier median without censoring, the smallest day at which at
    most half are event-free: the ``ceil(n/2)``-th smallest day.  Its interval
    is the distribution-free one from order statistics (the binomial count of
    days below the median; Conover, Practical Nonparametric Statistics): ranks
    ``floor(n/2 - z sqrt(n)/2)`` and ``ceil(1 + n/2 + z sqrt(n)/2)``.  ``inf``
    where not reached.

    Returns
    -------
    (median, low, high) : floats, in days
    """
    x = np.sort(np.asarray(days, float))
    n = x.size
    z = float(ndtri(0.5 + level / 2))
    half = 0.5 * z * math.sqrt(n)
    lo = max(int(math.floor(n / 2 - half)), 1)
    hi = min(int(math.ceil(n / 2 + half)) + 1, n)
    return float(x[math.ceil(n / 2) - 1]), float(x[lo - 1]), float(x[hi - 1])


def survival_at(figure, cohorts):
    """Simulated survival at a median figure's published median day (in its subgroup)."""
    days = _days(figure, cohorts[figure.arm], SAME_AS[figure.endpoint])
    if days.size == 0:
        return math.nan
    return float(np.count_nonzero(days > figure.landmark_day)) / days.size


def _post_relapse(figure, cohort, level):
    # only relapses whose landmark falls within follow-up: complete follow-up, no censoring
    relapse, death = cohort.first_day(process_table.RELAPSES), cohort.death_day
    last = min(figure.relapse_to_day, cohort.horizon_days - figure.landmark_day)
    window = (relapse >= figure.relapse_from_day) & (relapse < last)
    n = int(window.sum())
    if n == 0:
        return math.nan, math.nan, math.nan
    alive = int((death[window] - relapse[window] > figure.landmark_day).sum())
    low, high = wilson(alive, n, level)
    return alive / n, float(low), float(high)


def _hazard_ratio(figure, cohort, reference, level):
    # proportional hazards: the ratio of cumulative hazards -log S is the hazard ratio
    def survival(c):
        est = _landmark(endpoint_day(c, "os"), "survival", figure.landmark_day, level)[0]
        return est, c.n_patients

    (s_a, n_a), (s_r, n_r) = survival(cohort), survival(reference)
    if not (0 < s_a < 1 and 0 < s_r < 1):
        return math.nan, math.nan, math.nan
    ratio = math.log(s_a) / math.log(s_r)
    # delta method on log(-log S); arms taken as independent (conservative: the
    # same seed pairs their patients, which only narrows the interval)
    var = sum((1 - s) / (n * s * math.log(s) ** 2) for s, n in ((s_a, n_a), (s_r, n_r)))
    z = float(ndtri(0.5 + level / 2)) * math.sqrt(var)
    return ratio, ratio * math.exp(-z), ratio * math.exp(z)


@dataclass(frozen=True)
class Comparison:
    """A published figure beside its simulated counterpart."""

    figure: Figure
    estimate: float
    low: float
    high: float
    compared: float = math.nan  # the simulated probability that is compared (medians)
    share: float = math.nan  # the simulated subgroup's share of the cohort (``among``)

    @property
    def simulated_compared(self):
        """The simulated probability set against :attr:`Figure.compared`."""
        return self.compared if self.figure.is_median else self.estimate

    @property
    def within(self):
        """Within tolerance (False when the simulation cannot estimate it)."""
        if self.figure.is_ratio:
            if not math.isfinite(self.estimate):
                return False
            low, high = self.figure.ci95
            return bool(low <= self.estimate <= high)
        value = self.simulated_compared
        if not math.isfinite(value):
            return False
        return bool(abs(value - self.figure.compared) <= self.figure.tolerance + 1e-12)

    def to_dict(self):
        f = self.figure
        interval = f.interval
        return {"arm": f.arm, "endpoint": f.endpoint, "label": f.label, "measure": f.measure,
                "landmark_day": f.landmark_day,
                "relapse_window_days": ([f.relapse_from_day, rounded(f.relapse_to_day)]
                                        if f.endpoint == "post_relapse_os" else None),
                "reference_arm": f.reference_arm,
                "response": list(f.response) or None,
                "among": (dict(f.among.to_dict(), simulated_share=rounded(self.share))
                          if f.among else None),
                "compared": ({"what": "survival at the published median day",
                              "published": 0.5,
                              "ci95": None if interval is None else [rounded(v) for v in interval],
                              "simulated": rounded(self.compared)}
                             if f.is_median else None),
                "published": {"estimate": f.estimate,
                              "ci95": (None if interval is None or f.is_median
                                       else [rounded(v) for v in interval]),
                              "n": f.n, "se": f.se},
                "simulated": {"estimate": rounded(self.estimate),
                              "ci95": [rounded(self.low), rounded(self.high)]},
                "tolerance": rounded(f.tolerance), "within": self.within, "counted": f.check,
                "use": f.use,
                "predicted": f.predicted.to_dict() if f.predicted else None,
                "used_after": f.used_after or None,
                "citation": f.citation, "population": f.population, "note": f.note}


TOLERANCE_RULE = ("within: |simulated - published| <= max(half the published 95% CI, 5 points); "
                  "a hazard ratio inside the published 95% CI")


# issue 20: the share of counted validation figures within tolerance that `validate`
# requires; calibration figures must all be within (they informed the model, so a miss
# is an inconsistency, not a failed prediction)
VALIDATION_TARGET = 0.80


def verdict(results, target=VALIDATION_TARGET, judge_share=True):
    """Whether a comparison passes, and why.

    Parameters
    ----------
    results : list of Comparison
        From :func:`compare`.
    target : float
        The least share of counted validation figures that must be within tolerance.
    judge_share : bool
        Whether the share is judged against ``target``: the target is set for every
        figure together, so a selection of arms reports its share without judging it.

    Returns
    -------
    dict
        ``calibration_all_within`` (every counted calibration figure within tolerance),
        ``validation_share`` (within / counted among validation figures; None when none
        is counted, which fails nothing), ``validation_target`` (None when the share
        is not judged) and ``passed`` (both rules hold).
    """
    counts = tally_by_use(results)
    cal, val = counts["calibration"], counts["validation"]
    share = val["within"] / val["counted"] if val["counted"] else None
    calibration_ok = cal["within"] == cal["counted"]
    share_ok = not judge_share or share is None or share >= target
    return {"calibration_all_within": calibration_ok, "validation_share": share,
            "validation_target": target if judge_share else None,
            "passed": calibration_ok and share_ok}


def tally_by_use(results):
    """``{use: {"within", "counted", "shown"}}``: of the counted figures of each use, how
    many are within tolerance; ``shown`` adds those shown but not counted."""
    out = {}
    for use in USES:
        mine = [r for r in results if r.figure.use == use]
        counted = [r for r in mine if r.figure.check]
        out[use] = {"within": sum(r.within for r in counted), "counted": len(counted),
                    "shown": len(mine)}
    return out


def compare(figures, cohorts, level=0.95):
    """:class:`Comparison` of each figure with the cohorts (see :func:`simulated`)."""
    return [Comparison(f, *simulated(f, cohorts, level),
                       survival_at(f, cohorts) if f.is_median else math.nan,
                       float(f.among.mask(cohorts[f.arm]).mean()) if f.among else math.nan)
            for f in figures]
