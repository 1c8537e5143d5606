"""Late mortality: deaths without relapse among long-term survivors.

The published transplant figures the arms are calibrated to cover the first two to
four years; what comes after them is not in any trial.  ``[late_mortality]`` takes
over on ``from_day`` (the end of the arm's evidence): it closes the calibrated
non-relapse death process (whose parametric tail would otherwise be extrapolated
for decades) and opens ``late_death``, the general population's mortality at the
patients' age and sex (a life table) times the relative mortality of transplant
survivors::

    [late_mortality]
    from_day = 1461
    age_years = [53, 10]                 # mean and standard deviation at transplant
    age_range_years = [18, 65]           # the eligible ages (the normal is cut there)
    male_fraction = 0.49
    life_table = "us_ssa_2021"
    relative_mortality_by_age = [[26, 7.0], [67, 3.2]]
    relative_mortality_cap = [15, 2.2]   # from year 15 since transplant, at most 2.2
    source = "..."                       # and one *_source per figure

Relative mortality falls with age (the same excess is a smaller multiple of an older
person's background), so it is interpolated on the log scale between the ages of the
anchors (held flat outside them).  Relapse closes ``late_death`` and opens
``late_death_after_relapse`` with the same hazard: a patient cured of a relapse
(death after relapse is a cure model) still dies of other causes.

The simulated patients carry no age: every hazard before ``from_day`` describes
the published cohort as a whole.  ``late_death`` therefore has the hazard of the
cohort's mix, ``-d/dt log sum_w S_w(t)`` over ages and sexes (weights ``w``), a
piecewise-constant rate per year that is exact at the year's ends.  That gives the
same distribution of death days as drawing an age per patient, as long as age
changes no other hazard (it does not, in this model).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..engine.processes import Process
from .economics import DAYS_PER_YEAR, LIFE_TABLES, MAX_AGE_YEARS, read_life_table

__all__ = ["check", "KEYS", "LateMortality", "extend", "hazard_pieces", "lifetime_days",
           "lifetime_horizon",
           "parse", "ranges", "refuse_early_start", "relative_mortality", "strata", "with_value"]

FIGURES = ("from_day", "age_years", "age_range_years", "male_fraction", "life_table",
           "relative_mortality_by_age", "relative_mortality_cap")
KEYS = {*FIGURES, *(f"{k}_source" for k in FIGURES if k != "life_table"), "source"}
MAX_PIECES_YEARS = MAX_AGE_YEARS  # yearly pieces until every patient would be 120
MAX_LIFETIME_DAYS = 36_500.0  # the longest horizon a cohort may have (sim.cohorts)


@dataclass(frozen=True)
class LateMortality:
    """The figures of ``[late_mortality]`` (see the module docstring)."""

    from_day: float
    age_mean_years: float
    age_sd_years: float
    age_low_years: float
    age_high_years: float
    male_fraction: float
    life_table: str
    relative_mortality_by_age: tuple  # ((age, ratio), ...) ascending in age
    relative_mortality_cap: tuple  # (years since transplant, ratio)
    sources: dict  # figure -> source


def parse(reader, data, key, parsed):
    """Read ``[late_mortality]`` (see :class:`LateMortality`)."""
    table = reader.table(data, key)
    reader.check_keys(table, KEYS, key)

    def pair(name, low, high):
        value = table.get(name)
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in value)):
            reader.fail(f"{key}.{name}", "must be a pair of numbers [a, b]")
        for v in value:
            if not (math.isfinite(v) and low <= v <= high):
                reader.fail(f"{key}.{name}", f"{v:g} is outside [{low:g}, {high:g}]")
        return float(value[0]), float(value[1])

    def source(name):
        return reader.source(table, f"{name}_source", f"{key}.{name}_source",
                             table.get("source"))

    from_day = reader.number(table, "from_day", f"{key}.from_day", 0.0, 36500.0)
    mean, sd = pair("age_years", 0.0, 110.0)
    low, high = pair("age_range_years", 0.0, 110.0)
    if low > high:
        reader.fail(f"{key}.age_range_years", f"the youngest age {low:g} is above the "
                    f"oldest {high:g}")
    if not low <= mean <= high or sd <= 0.0:
        reader.fail(f"{key}.age_years", f"mean {mean:g} must lie in age_range_years "
                    f"[{low:g}, {high:g}] and the standard deviation {sd:g} be above 0")
    anchors = table.get("relative_mortality_by_age")
    where = f"{key}.relative_mortality_by_age"
    if not isinstance(anchors, list) or not anchors:
        reader.fail(where, "must be a list of [age, relative mortality] pairs")
    rm = []
    for item in anchors:
        if (not isinstance(item, list) or len(item) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in item)
                or not (0.0 <= item[0] <= 110.0 and 0.0 < item[1] <= 1000.0)):
            reader.fail(where, f"{item!r} is not an [age 0-110, ratio > 0] pair")
        rm.append((float(item[0]), float(item[1])))
    if [a for a, _ in rm] != sorted({a for a, _ in rm}):
        reader.fail(where, "the ages must be strictly increasing")
    cap = pair("relative_mortality_cap", 0.0, 1000.0)
    late = LateMortality(
        from_day=from_day, age_mean_years=mean, age_sd_years=sd, age_low_years=low,
        age_high_years=high,
        male_fraction=reader.number(table, "male_fraction", f"{key}.male_fraction", 0.0, 1.0),
        life_table=reader.text(table, "life_table", f"{key}.life_table",
                               choices=sorted(LIFE_TABLES)),
        relative_mortality_by_age=tuple(rm), relative_mortality_cap=cap,
        sources={k: source(k) for k in FIGURES if k != "life_table"})
    return late


def refuse_early_start(reader, section, from_day, landmark_day, figure):
    """Refuse ``[section].from_day`` before ``landmark_day``, the landmark of the arm's
    ``figure`` (None: none): the process the section closes must reach that figure
    first (late mortality closes TRM, late relapse the calibrated relapse)."""
    if landmark_day is not None and from_day < landmark_day:
        reader.fail(f"{section}.from_day",
                    f"{from_day:g} is before day {landmark_day:g}, the landmark of the "
                    f"arm's {figure} figure: {section.replace('_', ' ')} starts where that "
                    "figure ends")


def check(reader, late, trm_day):
    """``from_day`` must not come before ``trm_day``, the landmark of the arm's TRM
    figure (see :func:`refuse_early_start`)."""
    refuse_early_start(reader, "late_mortality", late.from_day, trm_day, "TRM")


def ranges(key, late):
    """No ranged figures (each is a published value)."""
    return []


def with_value(late, key, value):
    """No ranged figure to replace (see :func:`ranges`)."""
    raise KeyError(key)


def relative_mortality(late, age_years, years_since):
    """Relative mortality of a survivor aged ``age_years`` at transplant (arrays)."""
    ages = np.array([a for a, _ in late.relative_mortality_by_age])
    logs = np.log([r for _, r in late.relative_mortality_by_age])
    rm = np.exp(np.interp(age_years, ages, logs))
    cap_years, cap = late.relative_mortality_cap
    return np.where(years_since >= cap_years, np.minimum(rm, cap), rm)


def strata(late):
    """The arm's patients by age and sex, and each stratum's late-death rate.

    Returns
    -------
    ages : float array (n_ages,)
        Whole years at transplant, from the youngest to the oldest eligible age.
    weight : float array (n_ages,)
        Each age's share (the normal of ``age_years`` cut to ``age_range_years``).
    edges : float array (n_pieces + 1,)
        Years since transplant at the ends of the yearly pieces, from ``from_day``.
    by_sex : list of (share, male, rate)
        Per sex present: its share, whether male, and the rate per year of each age
        (rows) in each piece (columns): life table at the attained age at the
        piece's middle times the relative mortality.
    """
    male_qx, female_qx = read_life_table(late.life_table)
    top = len(male_qx) - 1
    ages = np.arange(math.floor(late.age_low_years), math.ceil(late.age_high_years) + 1.0)
    weight = np.exp(-0.5 * ((ages - late.age_mean_years) / late.age_sd_years) ** 2)
    weight /= weight.sum()
    first_year = late.from_day / DAYS_PER_YEAR
    n_years = int(MAX_PIECES_YEARS - ages[0])
    edges = first_year + np.arange(n_years + 1.0)  # years since transplant
    mid = 0.5 * (edges[:-1] + edges[1:])
    by_sex = []
    for share, male, qx in ((late.male_fraction, True, male_qx),
                            (1.0 - late.male_fraction, False, female_qx)):
        if share == 0.0:
            continue
        attained = np.minimum(ages[:, None] + mid[None, :], top).astype(int)
        mu = -np.log1p(-np.minimum(qx[attained], 1.0 - 1e-12))  # per year
        by_sex.append((share, male, mu * relative_mortality(late, ages[:, None], mid[None, :])))
    return ages, weight, edges, by_sex


def hazard_pieces(late):
    """``(starts, rates)`` per day of ``late_death``, days from transplant.

    Zero before ``from_day``; then one piece a year with the rate that carries the
    mix's survival exactly from the year's start to its end.
    """
    ages, weight, edges, by_sex = strata(late)
    survival = np.zeros(len(edges))
    for share, _, rate in by_sex:
        cum = np.concatenate([np.zeros((len(ages), 1)), np.cumsum(rate, axis=1)], axis=1)
        survival += share * (weight[:, None] * np.exp(-cum)).sum(axis=0)
    with np.errstate(divide="ignore"):
        log_s = np.log(survival)
    per_year = np.diff(-log_s)
    per_year = np.where(np.isfinite(per_year), per_year, 50.0)  # everyone past 120
    starts = np.concatenate([[0.0], edges[:-1] * DAYS_PER_YEAR])
    rates = np.concatenate([[0.0], per_year / DAYS_PER_YEAR])
    return tuple(starts.tolist()), tuple(rates.tolist())


def lifetime_days(late):
    """Days until the youngest patient would be 120, at most 36,500 (the simulator's
    longest horizon): a horizon that follows everyone to death (``cea --lifetime`` on
    arms with late mortality)."""
    return min((MAX_AGE_YEARS - late.age_low_years) * DAYS_PER_YEAR, MAX_LIFETIME_DAYS)


def lifetime_horizon(scenarios):
    """``(days, missing)``: the horizon that follows every patient of the arms
    ``scenarios`` (name -> scenario) to death, and the arms without
    ``[late_mortality]`` (then ``days`` is None: their patients are not followed)."""
    late = {arm: getattr(s, "extensions", {}).get("late_mortality")
            for arm, s in scenarios.items()}
    missing = [arm for arm, x in late.items() if x is None]
    return (None if missing else max(lifetime_days(x) for x in late.values())), missing


def extend(scenario, susceptible, procs):
    """Add ``late_phase`` (on ``from_day``: closes TRM, opens late death), ``late_death``
    and ``late_death_after_relapse`` (relapse closes the one and opens the other)."""
    late = scenario.extensions["late_mortality"]
    procs = [dataclasses.replace(p, closes=p.closes + ("late_death",),
                                 opens=p.opens + ("late_death_after_relapse",))
             if p.name == "relapse" else p for p in procs]
    pieces = hazard_pieces(late)  # zero before from_day
    return procs + [
        Process("late_phase", "fixed", (late.from_day,), 1.0, closes=("trm",),
                opens=("late_death",)),
        Process("late_death", "piecewise", pieces, 1.0, at_start=False, terminal=True),
        # a relapsed patient who survives it still dies of other causes, at the same rate
        Process("late_death_after_relapse", "piecewise", pieces, 1.0, at_start=False,
                terminal=True),
    ]
