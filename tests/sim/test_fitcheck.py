"""The check of a fit against its data: the Aalen-Johansen intervals from resampling
patients against the binomial interval where AJ is a plain proportion (no censoring)."""

import math

import numpy as np
from msm_data import simulate_msprep

from hsctsim.sim.fitcheck import aalen_johansen, aalen_johansen_ci, check_days
from hsctsim.analysis.hazard_families import Family
from hsctsim.analysis.msdata import read_msdata


def test_uncensored_aj_is_the_share_and_its_interval_the_binomial_one():
    model = [(1, 2, Family("exponential"), [math.log(1 / 400)], 0.0),
             (1, 3, Family("exponential"), [math.log(1 / 800)], 0.0)]
    n = 2000
    table = simulate_msprep(model, n, 3, clock="forward")       # no censoring
    data = read_msdata(table)
    days = np.array([100.0, 365.0, 730.0])
    est, low, high = aalen_johansen_ci(data, days, replicates=400, seed=2)
    # followed completely, AJ is the share of patients in each state
    stop = {}
    for i, frm, to, t, s in zip(table["id"], table["from"], table["to"], table["Tstop"],
                                table["status"]):
        if s == 1:
            stop[i] = (to, t)
    for j, d in enumerate(days):
        share = [np.mean([1 if (stop[i][1] > d) == (k == 1) and (k == 1 or stop[i][0] == k)
                          else 0 for i in stop]) for k in (1, 2, 3)]
        np.testing.assert_allclose(est[j], share, atol=1e-12)
        # the percentile interval has the binomial width 2 x 1.96 sqrt(p (1 - p) / n),
        # to the bootstrap's own error (400 resamples: ~10% of the width)
        width = 2 * 1.96 * np.sqrt(np.array(share) * (1 - np.array(share)) / n)
        np.testing.assert_allclose(high[j] - low[j], width, rtol=0.2)
    np.testing.assert_allclose(aalen_johansen(data, days), est)
    assert check_days(data).max() <= data.tstop.max()
