"""Landmark summaries from counts agree with the Kaplan-Meier and Aalen-Johansen estimators."""

import numpy as np
import pytest

import hsctsim
from hsctsim.analysis.endpoints import ENDPOINTS, Tally, competing_day, endpoint_day, summarize
from hsctsim.analysis.estimators import aalen_johansen, kaplan_meier

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


def test_paired_contrasts_equal_the_estimators():
    from hsctsim.analysis.endpoints import PairedTally
    from hsctsim.analysis.estimators import landmark_difference, landmark_ratio

    nk = hsctsim.simulate("haplo_nk", 30_000, seed=3)
    ptcy = hsctsim.simulate("haplo_ptcy", 30_000, seed=3)
    paired = PairedTally(DAYS)
    for start in range(0, 30_000, 10_000):  # in chunks: counts add up
        paired.add(_rows(nk, start, 10_000), _rows(ptcy, start, 10_000))
    result = paired.contrasts()
    for name, cause in (("relapse", 1), ("os", None)):
        args = []
        for cohort in (nk, ptcy):
            day = endpoint_day(cohort, name)
            hit = np.isfinite(day)
            args += [np.minimum(day, cohort.horizon_days), hit.astype(int)]
        diff = landmark_difference(*args, DAYS, paired=True, cause=cause)
        ratio = landmark_ratio(*args, DAYS, paired=True, cause=cause)
        got = result[name]["at"]
        np.testing.assert_allclose([got[f"d{d}"]["difference"] for d in DAYS], diff.estimate,
                                   atol=2e-6)
        np.testing.assert_allclose([got[f"d{d}"]["ci95"][0] for d in DAYS], diff.low, atol=2e-6)
        np.testing.assert_allclose([got[f"d{d}"]["ratio_ci95"][1] for d in DAYS], ratio.high,
                                   rtol=1e-5)
    # NK cells: less relapse by day 100, and the paired interval shows it
    assert result["relapse"]["at"]["d100"]["ci95"][1] < 0


def _rows(cohort, start, n):
    from dataclasses import replace

    return replace(cohort, event_day=cohort.event_day[start:start + n], first_patient=start)
