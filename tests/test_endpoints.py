"""Landmark summaries from counts agree with the Kaplan-Meier and Aalen-Johansen estimators."""

import numpy as np
import pytest

import hsctsim
from hsctsim.endpoints import ENDPOINTS, Tally, competing_day, endpoint_day, summarize
from hsctsim.estimators import aalen_johansen, kaplan_meier

DAYS = (30, 100, 180, 365, 730)


@pytest.fixture(scope="module")
def cohort():
    return hsctsim.simulate("haplo_nk", 30_000, seed=12)


@pytest.mark.parametrize("name", [n for n, (k, _) in ENDPOINTS.items() if k != "prevalence"])
def test_counts_equal_the_estimators(cohort, name):
    kind = ENDPOINTS[name][0]
    est, low, high = Tally(DAYS).add(cohort).estimates(name)
    time = np.minimum(endpoint_day(cohort, name), cohort.horizon_days)
    if kind == "survival":
        curve = kaplan_meier(time, np.isfinite(endpoint_day(cohort, name)))
    else:
        event, other = endpoint_day(cohort, name), competing_day(cohort, name)
        cause = np.where(event <= other, 1, 2) * np.isfinite(np.minimum(event, other))
        time = np.minimum(np.minimum(event, other), cohort.horizon_days)
        curve = aalen_johansen(time, cause, causes=[1, 2])[1]
    np.testing.assert_allclose(est, curve.at(np.array(DAYS, float)), atol=1e-12)
    lo, hi = curve.ci(np.array(DAYS, float))
    np.testing.assert_allclose(low, lo, atol=1e-9)
    np.testing.assert_allclose(high, hi, atol=1e-9)


def test_chunks_add_up_to_the_whole(cohort):
    whole = summarize(cohort)
    tally = Tally(DAYS)
    for chunk in hsctsim.iter_chunks("haplo_nk", 30_000, 7_000, seed=12):
        tally.add(chunk)
    assert tally.summary() == whole


def test_prevalence_among_living_engrafted(cohort):
    est, low, high = Tally((100,)).add(cohort).estimates("full_chimerism")
    state = cohort.chimerism((100,))[:, 0]
    living_engrafted = (cohort.death_day > 100) & (cohort.day("engraftment") <= 100)
    assert est[0] == pytest.approx((state == 1).sum() / living_engrafted.sum())
    assert low[0] < est[0] < high[0]
