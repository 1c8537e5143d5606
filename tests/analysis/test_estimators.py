"""Tests of hsctsim.analysis.estimators against lifelines, hand calculations and
analytic results. All data use fixed seeds."""

import warnings

import numpy as np
import pytest

from hsctsim.analysis import estimators as est

lifelines = pytest.importorskip("lifelines")
from lifelines import AalenJohansenFitter, KaplanMeierFitter  # noqa: E402
from lifelines.utils import restricted_mean_survival_time  # noqa: E402


# ------------------------------------------------------------------ data
def _km_data(seed, n=400, ties=False, truncated=False):
    """Exponential event and censoring times; ties by rounding to whole days.
    No entry time equals an event time: there lifelines (at risk on
    [entry, time]) and R/this module ((entry, time]) differ."""
    rng = np.random.default_rng(seed)
    t, c = rng.exponential(100, n), rng.exponential(150, n)
    time, event = np.minimum(t, c), t <= c
    if ties:
        time = np.round(time) + 1.0
    entry = None
    if truncated:
        entry = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 20, n))
        entry = np.minimum(entry, time / np.e)  # never on the whole/half-day grid
    return time, event, entry


def _cr_data(seed, n=400, ties=False, truncated=False):
    """Two competing exponential causes plus censoring. With ties, cause 1
    falls on whole days and cause 2 on half days: lifelines only jitters ties
    between different causes, so these ties are left alone and compared."""
    rng = np.random.default_rng(seed)
    t1, t2, c = rng.exponential(100, n), rng.exponential(200, n), rng.exponential(300, n)
    if ties:
        t1, t2, c = np.round(t1) + 1.0, np.round(t2) + 1.5, np.round(c) + 1.0
    time = np.minimum(np.minimum(t1, t2), c)
    cause = np.where(c < np.minimum(t1, t2), 0, np.where(t1 <= t2, 1, 2))
    entry = None
    if truncated:
        entry = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 20, n))
        entry = np.minimum(entry, time / np.e)  # never on the whole/half-day grid
    return time, cause, entry


CASES = [dict(), dict(ties=True), dict(truncated=True), dict(ties=True, truncated=True)]


# ------------------------------------------------------------------ KM vs lifelines
@pytest.mark.parametrize("case", CASES)
def test_kaplan_meier_matches_lifelines(case):
    time, event, entry = _km_data(1, **case)
    kmf = KaplanMeierFitter().fit(time, event, entry=entry)
    curve = est.kaplan_meier(time, event, entry=entry)
    grid = kmf.timeline
    s = kmf.survival_function_.to_numpy()[:, 0]
    np.testing.assert_allclose(curve.at(grid), s, rtol=0, atol=1e-12)
    greenwood = s**2 * kmf._cumulative_sq_.to_numpy()  # lifelines keeps sum d/(Y(Y-d))
    np.testing.assert_allclose(curve.variance_at(grid), greenwood, rtol=1e-10, atol=1e-15)
    low, high = curve.ci(grid)
    np.testing.assert_allclose(low, kmf.confidence_interval_.to_numpy()[:, 0], atol=1e-10)
    np.testing.assert_allclose(high, kmf.confidence_interval_.to_numpy()[:, 1], atol=1e-10)
    # lifelines integrates from its first timeline point (min entry when
    # truncated) rather than from 0; S == 1 before it, so add that width.
    for horizon in (50.0, 200.0):
        ref = restricted_mean_survival_time(kmf, t=horizon) + grid[0]
        assert curve.rmst(horizon) == pytest.approx(ref, rel=1e-12)


# ------------------------------------------------------------------ AJ vs lifelines
@pytest.mark.parametrize("case", CASES)
def test_aalen_johansen_matches_lifelines(case):
    time, cause, entry = _cr_data(2, **case)
    curves = est.aalen_johansen(time, cause, entry=entry)
    assert sorted(curves) == [1, 2]
    for k, curve in curves.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a jitter warning would mean altered data
            ajf = AalenJohansenFitter(calculate_variance=True).fit(time, cause, event_of_interest=k, entry=entry)
        grid = ajf.cumulative_density_.index.to_numpy()
        F = ajf.cumulative_density_.to_numpy()[:, 0]
        np.testing.assert_allclose(curve.at(grid), F, rtol=0, atol=1e-12)
        # lifelines gives NaN where Y == d (0 * inf); that step contributes 0 here.
        ref_var = ajf.variance_.to_numpy()
        finite = np.isfinite(ref_var)
        assert np.all(ajf.event_table["at_risk"].to_numpy()[~finite] == ajf.event_table["observed"].to_numpy()[~finite])
        np.testing.assert_allclose(curve.variance_at(grid)[finite], ref_var[finite], rtol=1e-9, atol=1e-14)
        # lifelines labels its columns (upper, lower) but the first holds the
        # smaller value; NaN where F == 0 (we return (0, 0) there).
        low, high = curve.ci(grid)
        ref = ajf.confidence_interval_.to_numpy()
        ok = (F > 0) & finite
        np.testing.assert_allclose(low[ok], ref[ok, 0], atol=1e-10)
        np.testing.assert_allclose(high[ok], ref[ok, 1], atol=1e-10)


def _aj_variance_double_sum(curve, all_events):
    """Unexpanded O(m^2) form of the lifelines/Collett variance."""
    y, dk, F = curve.n_at_risk[1:], curve.n_events[1:], curve.estimate[1:]
    s_prev = np.r_[1.0, np.cumprod(1 - all_events / y)[:-1]]
    out = []
    for m in range(y.size):
        i = slice(0, m + 1)
        diff = F[m] - F[i]
        a = np.where(y[i] > all_events[i], all_events[i] / (y[i] * (y[i] - all_events[i])), 0.0)
        out.append(np.sum(diff**2 * a + s_prev[i] ** 2 * dk[i] * (y[i] - dk[i]) / y[i] ** 3
                          - 2 * diff * s_prev[i] * dk[i] / y[i] ** 2))
    return np.r_[0.0, out]


def test_aj_variance_cumsum_expansion_equals_double_sum():
    time, cause, _ = _cr_data(3, n=150, ties=True)
    curves = est.aalen_johansen(time, cause)
    all_events = curves[1].n_events[1:] + curves[2].n_events[1:]
    for curve in curves.values():
        np.testing.assert_allclose(curve.variance, _aj_variance_double_sum(curve, all_events), rtol=1e-10, atol=1e-16)


# ------------------------------------------------------------------ hand-computed cases
def test_kaplan_meier_hand_case_with_ties_and_censoring():
    time = [1, 2, 2, 3, 4, 4, 5, 6]
    event = [1, 1, 0, 1, 1, 1, 0, 1]
    c = est.kaplan_meier(time, event)
    # t=1: Y=8 d=1 -> 7/8; t=2: Y=7 (censored-at-2 still at risk) d=1 -> 3/4;
    # t=3: Y=5 d=1 -> 3/5; t=4: Y=4 d=2 -> 3/10; t=6: Y=1 d=1 -> 0.
    np.testing.assert_allclose(c.time_days, [0, 1, 2, 3, 4, 6])
    np.testing.assert_allclose(c.estimate, [1, 7 / 8, 3 / 4, 3 / 5, 3 / 10, 0], atol=1e-15)
    np.testing.assert_allclose(c.n_at_risk, [8, 8, 7, 5, 4, 1])
    np.testing.assert_allclose(c.n_events, [0, 1, 1, 1, 2, 1])
    # Greenwood at 4: S^2 (1/(8*7) + 1/(7*6) + 1/(5*4) + 2/(4*2)) = 0.09 * 41/120.
    assert c.variance_at(4.0) == pytest.approx(0.09 * 41 / 120, rel=1e-13)
    assert c.variance_at(6.0) == 0.0  # Y == d step contributes 0 and S = 0
    np.testing.assert_allclose(c.at([0, 0.5, 2, 2.5, 5.9, 100]), [1, 1, 3 / 4, 3 / 4, 3 / 10, 0])
    # RMST(5) = 1 + 7/8 + 3/4 + 3/5 + 3/10 = 3.525. survRM2 variance: A_i = area
    # of S on [t_i, 5]: A(1)=2.525, A(2)=1.65, A(3)=0.9, A(4)=0.3.
    assert c.rmst(5.0) == pytest.approx(3.525, rel=1e-14)
    rmst_var = 2.525**2 / 56 + 1.65**2 / 42 + 0.9**2 / 20 + 0.3**2 * 2 / 8
    assert c.rmst_variance(5.0) == pytest.approx(rmst_var, rel=1e-13)
    # log(-log) CI at t=2: se = sqrt(var)/|S log S|, bounds S**exp(+-1.96 se).
    s, var = 0.75, 0.75**2 * (1 / 56 + 1 / 42)
    se = np.sqrt(var) / abs(s * np.log(s))
    z = 1.959963984540054
    np.testing.assert_allclose(c.ci(2.0), (s ** np.exp(z * se), s ** np.exp(-z * se)), rtol=1e-12)


def test_kaplan_meier_hand_case_left_truncation():
    time = [2, 3, 3, 5, 6, 4]
    event = [1, 1, 0, 1, 1, 0]
    entry = [0, 0, 1, 2.5, 4, 2]
    c = est.kaplan_meier(time, event, entry=entry)
    # At risk on (entry, time]. t=2: subjects 0,1,2 (subject 5 enters at
    # exactly 2: not at risk) -> Y=3, S=2/3. t=3: 1,2,3,5 -> Y=4, S=1/2.
    # t=5: 3,4 -> Y=2, S=1/4. t=6: 4 -> Y=1, S=0.
    np.testing.assert_allclose(c.n_at_risk[1:], [3, 4, 2, 1])
    np.testing.assert_allclose(c.estimate, [1, 2 / 3, 1 / 2, 1 / 4, 0], atol=1e-15)
    with pytest.raises(ValueError):
        est.kaplan_meier([1.0, 2.0], [1, 1], entry=[1.0, 0.0])


def test_aalen_johansen_hand_case_with_ties():
    time = [1, 2, 2, 2, 3, 4, 5, 5]
    cause = [1, 1, 2, 0, 2, 1, 0, 2]
    cif = est.aalen_johansen(time, cause)
    # S(s-) d_k / Y:  t=1: Y=8, 1*(1/8) to F1, S=7/8.
    # t=2: Y=7: F1 += 7/8*1/7 = 1/8, F2 += 1/8, S = 7/8*5/7 = 5/8.
    # t=3: Y=4: F2 += 5/8*1/4 = 5/32, S = 15/32.
    # t=4: Y=3: F1 += 15/32*1/3 = 5/32, S = 5/16.
    # t=5: Y=2: F2 += 5/16*1/2 = 5/32, S = 5/32.
    np.testing.assert_allclose(cif[1].estimate, [0, 1 / 8, 1 / 4, 1 / 4, 13 / 32, 13 / 32], atol=1e-15)
    np.testing.assert_allclose(cif[2].estimate, [0, 0, 1 / 8, 9 / 32, 9 / 32, 14 / 32], atol=1e-15)
    km = est.kaplan_meier(time, np.asarray(cause) != 0)
    np.testing.assert_allclose(cif[1].estimate + cif[2].estimate + km.estimate, 1.0, atol=1e-15)
    assert est.aalen_johansen(time, cause, causes=[3])[3].estimate.max() == 0.0


def test_weights_equal_replication():
    time, event, entry = _km_data(4, n=60, ties=True, truncated=True)
    w = np.random.default_rng(5).integers(1, 4, time.size)
    a = est.kaplan_meier(time, event, entry=entry, weights=w)
    b = est.kaplan_meier(np.repeat(time, w), np.repeat(event, w), entry=np.repeat(entry, w))
    for field in ("time_days", "estimate", "variance", "n_at_risk", "n_events"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-12)


def test_rmst_variance_matches_survrm2_loop():
    time, event, _ = _km_data(6, n=200, ties=True)
    c = est.kaplan_meier(time, event)
    tau = 150.0
    # survRM2::rmst1 written out: areas between successive event times <= tau.
    keep = (c.time_days[1:] <= tau)
    t, s = c.time_days[1:][keep], c.estimate[1:][keep]
    y, d = c.n_at_risk[1:][keep], c.n_events[1:][keep]
    areas = np.diff(np.r_[0.0, t, tau]) * np.r_[1.0, s]
    g = np.where(y > d, d / (y * (y - d)), 0.0)
    ref = sum(areas[i + 1:].sum() ** 2 * g[i] for i in range(t.size))
    assert c.rmst(tau) == pytest.approx(areas.sum(), rel=1e-13)
    assert c.rmst_variance(tau) == pytest.approx(ref, rel=1e-12)


# ------------------------------------------------------------------ analytic CIF
def test_competing_risks_exponential_analytic():
    l1, l2, n = 1 / 200, 1 / 400, 200_000
    rng = np.random.default_rng(7)
    t1, t2 = rng.exponential(1 / l1, n), rng.exponential(1 / l2, n)
    cause = np.where(t1 <= t2, 1, 2)
    curve = est.aalen_johansen(np.minimum(t1, t2), cause)[1]
    t = np.array([10.0, 30.0, 100.0, 365.0, 1000.0])
    truth = l1 / (l1 + l2) * (1 - np.exp(-(l1 + l2) * t))
    se = np.sqrt(curve.variance_at(t))
    # Without censoring the variance is binomial F(1-F)/n.
    np.testing.assert_allclose(se**2, truth * (1 - truth) / n, rtol=0.02)
    assert np.all(np.abs(curve.at(t) - truth) < 4 * se)


# ------------------------------------------------------------------ multi-state
def _illness_death_table(seed, n, rates=(1 / 200, 1 / 400, 1 / 150), censor_scale=None, integer=False):
    """Long table for 0 healthy -> 1 ill -> 2 dead, and 0 -> 2. Optional
    exponential censoring; `integer` rounds times up to whole days (sojourns
    of at least one day) to create ties."""
    a, b, c = rates
    rng = np.random.default_rng(seed)
    t01, t02, soj = rng.exponential(1 / a, n), rng.exponential(1 / b, n), rng.exponential(1 / c, n)
    cens = np.full(n, np.inf) if censor_scale is None else rng.exponential(censor_scale, n)
    if integer:
        t01, t02, soj = np.ceil(t01), np.ceil(t02), np.ceil(soj)
    pid = np.arange(n)
    first_stop = np.minimum(np.minimum(t01, t02), cens)
    first_to = np.where(cens < np.minimum(t01, t02), -1, np.where(t01 < t02, 1, 2))
    ill = first_to == 1
    t12 = t01[ill] + soj[ill]
    second_stop = np.minimum(t12, cens[ill])
    second_to = np.where(cens[ill] < t12, -1, 2)
    return dict(
        patient=np.r_[pid, pid[ill]],
        from_state=np.r_[np.zeros(n, int), np.ones(ill.sum(), int)],
        to_state=np.r_[first_to, second_to],
        start=np.r_[np.zeros(n), t01[ill]],
        stop=np.r_[first_stop, second_stop],
    )


def _illness_death_truth(t, a=1 / 200, b=1 / 400, c=1 / 150):
    p0 = np.exp(-(a + b) * t)
    p1 = a / (a + b - c) * (np.exp(-c * t) - p0)
    return np.column_stack([p0, p1, 1 - p0 - p1])


GRID = np.array([0.0, 15.0, 50.0, 100.0, 200.0, 365.0, 730.0])


@pytest.mark.parametrize("integer", [False, True])
def test_state_occupation_uncensored_paths_agree(integer):
    table = _illness_death_table(8, 3000, integer=integer)
    emp = est.state_occupation(table, [0, 1, 2], times_days=GRID, method="empirical")
    aj = est.state_occupation(table, [0, 1, 2], times_days=GRID, method="aj")
    auto = est.state_occupation(table, [0, 1, 2], times_days=GRID)
    np.testing.assert_allclose(aj, emp, atol=1e-12)
    np.testing.assert_array_equal(auto, emp)
    # Empirical proportions from the per-patient histories (loop over rows,
    # applied in time order: the state after the last transition <= t).
    ev = table["to_state"] != -1
    state_at = np.zeros((GRID.size, 3000), int)
    order = np.argsort(table["stop"][ev], kind="stable")
    for pid, to, stop in zip(table["patient"][ev][order], table["to_state"][ev][order], table["stop"][ev][order]):
        state_at[GRID >= stop, pid] = to
    direct = np.stack([(state_at == k).mean(axis=1) for k in range(3)], axis=1)
    np.testing.assert_allclose(emp, direct, atol=1e-12)


def test_state_occupation_hand_case_with_censoring():
    # patient: 1: 0->1 at 1, 1->2 at 3;  2: 0->2 at 2;  3: censored in 0 at 1.5;
    # 4: 0->1 at 2.5, censored in 1 at 4 (to == from);  5: censored in 0 at 5.
    table = dict(
        patient=np.array([1, 1, 2, 3, 4, 4, 5]),
        from_state=np.array([0, 1, 0, 0, 0, 1, 0]),
        to_state=np.array([1, 2, 2, -1, 1, 1, -1]),
        start=np.array([0, 1, 0, 0, 0, 2.5, 0]),
        stop=np.array([1, 3, 2, 1.5, 2.5, 4, 5]),
    )
    # t=1:   Y0=5, 0->1: p = (4/5, 1/5, 0)                    = (24, 6, 0)/30
    # t=2:   Y0=3 (patients 2,4,5), 0->2 moves p0/3 = 8/30  -> (16, 6, 8)/30
    # t=2.5: Y0=2 (4,5), 0->1 moves p0/2 = 8/30             -> (8, 14, 8)/30
    # t=3:   Y1=2 (1 on (1,3], 4 on (2.5,4]), 1->2 moves 7/30 -> (8, 7, 15)/30
    expected = np.array([[30, 0, 0], [30, 0, 0], [24, 6, 0], [16, 6, 8], [8, 14, 8], [8, 7, 15], [8, 7, 15]]) / 30
    got = est.state_occupation(table, [0, 1, 2], times_days=[0, 0.5, 1, 2, 2.5, 3, 10])
    np.testing.assert_allclose(got, expected, atol=1e-15)


def test_state_occupation_censored_matches_analytic():
    # 20 independent replicates of n=4000 with ~40% censored by 365 days. The
    # replicate spread gives the standard error of their mean directly (no
    # variance formula needed); the mean must be within 4 SE of the truth.
    # The AJ estimator is consistent, its bias at this n is far below the SE.
    reps = np.stack([
        est.state_occupation(_illness_death_table(100 + r, 4000, censor_scale=700.0), [0, 1, 2], times_days=GRID)
        for r in range(20)
    ])
    mean, se = reps.mean(axis=0), reps.std(axis=0, ddof=1) / np.sqrt(20)
    truth = _illness_death_truth(GRID)
    np.testing.assert_allclose(reps.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(np.abs(mean - truth)[1:] < 4 * se[1:] + 1e-12)
    np.testing.assert_allclose(mean[0], [1, 0, 0])


# ------------------------------------------------------------------ landmark contrasts
def _crn_arms(n=20_000, seed=9, admin=2000.0):
    """Two arms from the same uniforms (common random numbers); only
    administrative censoring after the landmarks."""
    u = np.random.default_rng(seed).random(n)
    la, lb = 1 / 300, 1 / 400
    ta, tb = -np.log(u) / la, -np.log(u) / lb
    return (np.minimum(ta, admin), ta <= admin, np.minimum(tb, admin), tb <= admin, la, lb)


def test_paired_difference_narrower_and_both_cover():
    ta, ea, tb, eb, la, lb = _crn_arms()
    at = np.array([100.0, 365.0])
    truth = np.exp(-la * at) - np.exp(-lb * at)
    paired = est.landmark_difference(ta, ea, tb, eb, at, paired=True)
    unpaired = est.landmark_difference(ta, ea, tb, eb, at)
    np.testing.assert_allclose(paired.estimate, unpaired.estimate)
    for r in (paired, unpaired):
        assert np.all((r.low < truth) & (truth < r.high))
    assert np.all(paired.high - paired.low < 0.5 * (unpaired.high - unpaired.low))

    truth_ratio = np.exp(-la * at) / np.exp(-lb * at)
    for p in (True, False):
        r = est.landmark_ratio(ta, ea, tb, eb, at, paired=p)
        assert np.all((r.low < truth_ratio) & (truth_ratio < r.high))


def test_paired_difference_cumulative_incidence_and_checks():
    ta, ea, tb, eb, la, lb = _crn_arms()
    at = 365.0
    truth = (1 - np.exp(-la * at)) - (1 - np.exp(-lb * at))
    r = est.landmark_difference(ta, ea.astype(int), tb, eb.astype(int), at, paired=True, cause=1)
    assert r.low[0] < truth < r.high[0]
    # Independent arms: the paired formula reproduces the binomial/Greenwood SE.
    rng = np.random.default_rng(10)
    xa, xb = rng.exponential(300, 50_000), rng.exponential(400, 50_000)
    one = np.ones(50_000, bool)
    sp = est.landmark_difference(xa, one, xb, one, at, paired=True).se
    su = est.landmark_difference(xa, one, xb, one, at).se
    assert sp[0] == pytest.approx(su[0], rel=0.05)
    with pytest.raises(ValueError):
        early = ea.copy()
        early[0] = False  # censored before the landmark
        est.landmark_difference(np.r_[1.0, ta[1:]], early, tb, eb, at, paired=True)
