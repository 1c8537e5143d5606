"""Fitting multi-state models to msprep data: families, recovery, lifelines, AIC, output."""

import csv
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from msm_data import EXAMPLE, simulate_msprep

from hsctsim.analysis.fit import (FitError, draw_parameters, draw_transition, fit_family,
                                  fit_msm, _rows_for)
from hsctsim.analysis.hazard_families import Family
from hsctsim.analysis.msdata import read_msdata
from hsctsim.engine.hazards import FAMILY_CODES, base_cumhaz
from hsctsim.model.timing import parse_timing

DATA = Path(__file__).resolve().parents[1] / "data" / "illness_death.csv"

TRUTH = {   # baseline parameters (days) of each family, on the fit's scale
    "exponential": (Family("exponential"), [math.log(1 / 200)]),
    "weibull": (Family("weibull"), [math.log(1.5), math.log(300.0)]),
    "gompertz": (Family("gompertz"), [0.002, math.log(0.002)]),
    "lognormal": (Family("lognormal"), [math.log(250.0), math.log(0.8)]),
    "loglogistic": (Family("loglogistic"), [math.log(2.0), math.log(250.0)]),
    "piecewise": (Family("piecewise", (0.0, 100.0, 300.0)),
                  [math.log(0.004), math.log(0.002), math.log(0.003)]),
}
COMPETING = (Family("exponential"), [math.log(1 / 800)])


def _competing_data(name, n=1500, seed=11):
    """1 -> 2 in family ``name`` (log HR 0.5 for x), 1 -> 3 exponential (log HR -0.4);
    30% enter late (uniform 0-150 days), censoring uniform 200-1000 days."""
    fam, theta = TRUTH[name]
    model = [(1, 2, fam, theta, 0.5), (1, 3, *COMPETING, -0.4)]
    return simulate_msprep(model, n, seed, clock="forward", covariate_share=0.5,
                           censor_day=(200.0, 1000.0), entry_day=(0.0, 150.0),
                           entry_share=0.3)


def _single(table, trans=1):
    """entry, duration, event of one transition (clock forward)."""
    at = table["trans"] == trans
    return table["Tstart"][at], table["Tstop"][at], table["status"][at], table["x"][at]


# ------------------------------------------------------------------ families
@pytest.mark.parametrize("name", list(TRUTH))
def test_gradients_match_finite_differences(name):
    fam, theta = TRUTH[name]
    theta = np.asarray(theta) + 0.1
    t = np.r_[0.0, np.random.default_rng(1).exponential(300.0, 50)]
    log_h, H, d_log_h, d_H = fam.evaluate(theta, t)
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = 1e-6
        up, down = fam.evaluate(theta + e, t), fam.evaluate(theta - e, t)
        np.testing.assert_allclose((up[0] - down[0])[1:] / 2e-6, d_log_h[1:, i],
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose((up[1] - down[1]) / 2e-6, d_H[:, i], rtol=1e-5, atol=1e-9)
    # the hazard is the derivative of the cumulative hazard
    h = (fam.cumhaz(theta, t[1:] + 1e-4) - fam.cumhaz(theta, t[1:] - 1e-4)) / 2e-4
    np.testing.assert_allclose(h, np.exp(log_h[1:]), rtol=1e-5)
    assert H[0] == 0.0
    np.testing.assert_allclose(fam.inverse_cumhaz(theta, H[1:]), t[1:], rtol=1e-9)


@pytest.mark.parametrize("name", ["exponential", "weibull", "gompertz", "lognormal", "piecewise"])
def test_cumulative_hazard_agrees_with_the_engine(name):
    """The timing table written for a fit means the same hazard to the simulator."""
    fam, theta = TRUTH[name]
    timing = parse_timing(fam.timing(theta))
    t = np.array([0.5, 10.0, 150.0, 400.0, 2000.0])
    ours = fam.cumhaz(np.asarray(theta), t)
    if name == "piecewise":
        starts, rates = map(np.asarray, timing.params)
        engine = [np.sum(rates * np.clip(s - starts, 0, np.r_[np.diff(starts), np.inf]))
                  for s in t]
    else:
        p0, p1 = (*timing.params, 0.0)[:2]
        engine = [base_cumhaz(FAMILY_CODES[name], p0, p1, s) for s in t]
    np.testing.assert_allclose(ours, engine, rtol=1e-12)


# ------------------------------------------------------------------ recovery
@pytest.mark.parametrize("name", list(TRUTH))
def test_recovers_parameters_with_truncation_and_censoring(name):
    table = _competing_data(name)
    fam, theta = TRUTH[name]
    result = fit_msm(table, clock="forward", covariates=["x"],
                     family={1: name, 2: "exponential"},
                     breaks_day=TRUTH["piecewise"][0].breaks)
    for tr, truth in ((result.transitions[0], [*theta, 0.5]),
                      (result.transitions[1], [*COMPETING[1], -0.4])):
        fit = tr.best
        assert fit.converged
        z = (np.asarray(fit.estimate) - truth) / np.asarray(fit.se)
        assert np.all(np.abs(z) < 3.0), (tr.number, fit.param_names, z)


def test_recovers_illness_death_with_clock_reset():
    model = [(1, 2, Family("weibull"), [math.log(0.8), math.log(400.0)], 0.5),
             (1, 3, Family("gompertz"), [-0.003, math.log(0.001)], 0.3),
             (2, 3, Family("loglogistic"), [math.log(1.6), math.log(150.0)], -0.3)]
    table = simulate_msprep(model, 2500, 5, clock="reset", covariate_share=0.4,
                            censor_day=(300.0, 2000.0), entry_day=(0.0, 300.0),
                            entry_share=0.5)
    # half enter late: ignoring that biases the Weibull shape by 3.6 standard errors
    assert np.any(table["Tstart"][table["from"] == 1] > 0)
    result = fit_msm(table, clock="reset", covariates=["x"],
                     family={1: "weibull", 2: "gompertz", 3: "loglogistic"})
    for tr, (_, _, _, theta, beta) in zip(result.transitions, model):
        z = (np.asarray(tr.best.estimate) - [*theta, beta]) / np.asarray(tr.best.se)
        assert np.all(np.abs(z) < 3.0), (tr.number, z)
    # the clock matters: the clock-forward fit of relapse -> death is a different model
    forward = fit_msm(table, clock="forward", covariates=["x"], family="loglogistic")
    assert forward.transitions[2].best.loglik != result.transitions[2].best.loglik


# ------------------------------------------------------------------ independent answers
def test_exponential_is_events_over_exposure():
    table = _competing_data("exponential", n=800, seed=3)
    result = fit_msm(table, clock="forward", family="exponential")
    for tr in result.transitions:
        entry, stop, event, _ = _single(table, tr.number)
        d, exposure = event.sum(), np.sum(stop - entry)
        (log_rate,), (se,) = tr.best.estimate, tr.best.se
        assert math.exp(log_rate) == pytest.approx(d / exposure, rel=1e-9)
        assert se == pytest.approx(1 / math.sqrt(d), rel=1e-5)
        assert tr.best.loglik == pytest.approx(d * math.log(d / exposure) - d, rel=1e-10)
    # clock reset with entry at 0 gives the same rate (constant hazard)
    reset = fit_msm(table, clock="reset", family="exponential")
    assert reset.transitions[0].best.estimate == pytest.approx(
        result.transitions[0].best.estimate, rel=1e-9)


def _lifelines_case(fitter, name, table):
    entry, stop, event, _ = _single(table)
    fitter.fit(stop, event, entry=entry)
    fam = TRUTH[name][0]
    ours = fit_family(fam, _rows_for(read_msdata(table), 1, "forward", ()))
    # the same maximum (ours at least as high: lifelines' optimiser stops a little earlier)
    assert ours.loglik == pytest.approx(fitter.log_likelihood_, rel=1e-9)
    assert ours.loglik >= fitter.log_likelihood_ - 1e-9
    return ours


def test_weibull_agrees_with_lifelines():
    lifelines = pytest.importorskip("lifelines")
    table = _competing_data("weibull", n=1000, seed=4)
    wf = lifelines.WeibullFitter()
    ours = _lifelines_case(wf, "weibull", table)
    assert ours.estimate == pytest.approx(np.log([wf.rho_, wf.lambda_]), abs=1e-3 * min(ours.se))
    var = wf.variance_matrix_
    assert ours.se[0] == pytest.approx(math.sqrt(var.loc["rho_", "rho_"]) / wf.rho_, rel=1e-3)
    assert ours.se[1] == pytest.approx(math.sqrt(var.loc["lambda_", "lambda_"]) / wf.lambda_,
                                       rel=1e-3)


def test_lognormal_and_loglogistic_agree_with_lifelines():
    lifelines = pytest.importorskip("lifelines")
    table = _competing_data("lognormal", n=1000, seed=6)
    ln = lifelines.LogNormalFitter()
    ours = _lifelines_case(ln, "lognormal", table)
    # estimates agree to a thousandth of a standard error
    assert ours.estimate[0] == pytest.approx(ln.mu_, abs=1e-3 * ours.se[0])
    assert ours.estimate[1] == pytest.approx(math.log(ln.sigma_), abs=1e-3 * ours.se[1])
    assert ours.se[0] == pytest.approx(math.sqrt(ln.variance_matrix_.loc["mu_", "mu_"]),
                                       rel=1e-4)
    table = _competing_data("loglogistic", n=1000, seed=7)
    ll = lifelines.LogLogisticFitter()
    ours = _lifelines_case(ll, "loglogistic", table)
    assert ours.estimate == pytest.approx(np.log([ll.beta_, ll.alpha_]),
                                          abs=1e-3 * min(ours.se))
    cov = ll.variance_matrix_
    assert ours.se[0] == pytest.approx(math.sqrt(cov.loc["beta_", "beta_"]) / ll.beta_, rel=1e-3)


def test_weibull_covariate_agrees_with_lifelines_aft():
    """Weibull PH and AFT are one model: log HR = -shape * AFT coefficient."""
    lifelines = pytest.importorskip("lifelines")
    pd = pytest.importorskip("pandas")
    table = _competing_data("weibull", n=1000, seed=8)
    entry, stop, event, x = _single(table)
    frame = pd.DataFrame({"T": stop, "E": event, "entry": entry, "x": x})
    aft = lifelines.WeibullAFTFitter().fit(frame, "T", "E", entry_col="entry")
    rho = math.exp(aft.params_.loc[("rho_", "Intercept")])
    coef = aft.params_.loc[("lambda_", "x")]
    ours = fit_msm(table, clock="forward", covariates=["x"], family="weibull").transitions[0]
    assert math.exp(ours.best.estimate[0]) == pytest.approx(rho, rel=1e-5)
    assert ours.best.estimate[2] == pytest.approx(-rho * coef, rel=1e-5)
    assert ours.best.loglik == pytest.approx(aft.log_likelihood_, rel=1e-9)


def test_gompertz_agrees_with_scipy_censored_fit():
    """scipy.stats.gompertz: H(t) = c (exp(t/s) - 1), so shape b = 1/s and rate a = c/s."""
    from scipy import stats

    model = [(1, 2, *TRUTH["gompertz"], 0.0)]
    table = simulate_msprep(model, 1000, 9, clock="forward", censor_day=(200.0, 1000.0))
    ours = fit_msm(table, family="gompertz").transitions[0].best
    ev = table["status"] == 1
    data = stats.CensoredData(uncensored=table["Tstop"][ev], right=table["Tstop"][~ev])
    c, _, s = stats.gompertz.fit(data, 1.0, scale=500.0, floc=0)
    theirs = (stats.gompertz.logpdf(table["Tstop"][ev], c, 0, s).sum()
              + stats.gompertz.logsf(table["Tstop"][~ev], c, 0, s).sum())
    assert ours.loglik == pytest.approx(theirs, rel=1e-10) and ours.loglik >= theirs - 1e-9
    assert ours.estimate == pytest.approx([1 / s, math.log(c / s)], abs=1e-3 * min(ours.se))


def test_piecewise_is_events_over_exposure_in_each_piece():
    table = _competing_data("piecewise", n=800, seed=12)
    fam = TRUTH["piecewise"][0]
    ours = fit_msm(table, clock="forward", family={1: "piecewise", 2: "exponential"},
                   breaks_day=fam.breaks).transitions[0].best
    entry, stop, event, _ = _single(table)
    starts = np.asarray(fam.breaks)
    ends = np.r_[starts[1:], np.inf]
    exposure = (np.clip(stop[:, None], starts, ends) - np.clip(entry[:, None], starts, ends)).sum(0)
    piece = np.searchsorted(starts, stop[event == 1], "right") - 1
    deaths = np.bincount(piece, minlength=starts.size)
    np.testing.assert_allclose(np.exp(ours.estimate), deaths / exposure, rtol=1e-8)
    np.testing.assert_allclose(ours.se, 1 / np.sqrt(deaths), rtol=1e-5)
    assert ours.timing() == {"family": "piecewise", "breaks_day": list(fam.breaks),
                             "rates_per_day": pytest.approx(list(deaths / exposure), rel=1e-8)}


# ------------------------------------------------------------------ family choice
@pytest.mark.parametrize("name", ["weibull", "lognormal", "gompertz"])
def test_aic_picks_the_true_family_on_a_clear_case(name):
    clear = {"weibull": [math.log(0.5), math.log(300.0)],
             "lognormal": [math.log(100.0), math.log(0.5)],
             "gompertz": [0.01, math.log(0.0005)]}
    model = [(1, 2, Family(name), clear[name], 0.0)]
    table = simulate_msprep(model, 1500, 21, clock="reset", censor_day=(300.0, 800.0))
    result = fit_msm(table, clock="reset")
    tr = result.transitions[0]
    from hsctsim.analysis.fit import AUTO_BASIC, AUTO_FAMILIES
    assert len(tr.fits) == len(AUTO_FAMILIES) and tr.chosen_by == "aic"
    # among the two-parameter families the true one has the lowest AIC (auto also tries
    # splines, cure and piecewise, which may fit a sample a little better still)
    basic = [f for f in tr.fits if f.family in AUTO_BASIC and f.converged]
    assert min(basic, key=lambda f: f.aic).family == name
    assert tr.best.aic <= min(f.aic for f in basic)


# ------------------------------------------------------------------ scenario output
def test_scenario_toml_follows_the_agreed_layout():
    result = fit_msm(DATA, clock="reset", covariates=["x"])
    doc = tomllib.loads(result.to_toml(name="example"))
    assert doc["kind"] == "multistate" and doc["name"] == "example" and doc["clock"] == "reset"
    assert doc["states"] == {"names": ["transplant", "relapse", "death"],
                             "absorbing": ["death"], "initial": "transplant"}
    x = doc["covariates"]["x"]
    assert x["levels"] == [0, 1] and sum(x["shares"]) == pytest.approx(1.0)
    with DATA.open() as fh:
        per_patient = {row["id"]: float(row["x"]) for row in csv.DictReader(fh)}
    assert x["shares"][1] == pytest.approx(np.mean(list(per_patient.values())), rel=1e-12)
    assert [(t["from"], t["to"]) for t in doc["transitions"]] == [
        ("transplant", "relapse"), ("transplant", "death"), ("relapse", "death")]
    for t, tr in zip(doc["transitions"], result.transitions):
        assert t["source"] and t["fit"]["n_events"] == tr.n_events
        assert t["fit"]["params"][-1] == "x" and t["log_hr"] == {"x": t["fit"]["estimate"][-1]}
        assert t["fit"]["aic"] == pytest.approx(tr.best.aic, rel=1e-15)
        cov = np.array(t["fit"]["covariance"])
        np.testing.assert_array_equal(cov, cov.T)
        assert np.all(np.linalg.eigvalsh(cov) > 0)
        if t["timing"]["family"] != "loglogistic":
            parse_timing(t["timing"])     # the HSCT timing parser accepts it too
        # the fit at its own estimate gives back the written timing
        same = draw_transition({**t, "fit": {**t["fit"], "covariance": (0 * cov).tolist()}},
                               np.random.default_rng(0))
        for key, value in t["timing"].items():
            if key != "family":
                assert same["timing"][key] == pytest.approx(value, rel=1e-12)


def test_draws_follow_the_asymptotic_normal():
    result = fit_msm(DATA, clock="reset", covariates=["x"])
    t = tomllib.loads(result.to_toml())["transitions"][0]
    rng = np.random.default_rng(1)
    draws = np.array([list(draw_parameters(t["fit"], rng).values()) for _ in range(4000)])
    mean, cov = np.array(t["fit"]["estimate"]), np.array(t["fit"]["covariance"])
    se = np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se / math.sqrt(4000))
    np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.1, atol=0.05 * se.max() ** 2)
    one = draw_transition(t, np.random.default_rng(2))
    assert one["timing"]["family"] == t["timing"]["family"] and set(one["log_hr"]) == {"x"}
    assert one["timing"] != t["timing"]
    assert draw_transition(t, np.random.default_rng(2)) == one     # same seed, same draw
    assert draw_transition({k: v for k, v in t.items() if k != "fit"}, rng)["timing"] == t["timing"]


def test_family_choices_and_errors():
    r = fit_msm(DATA, clock="reset", family={"transplant->death": "lognormal", "*": "weibull"})
    assert [tr.chosen for tr in r.transitions] == ["weibull", "lognormal", "weibull"]
    assert [tr.chosen_by for tr in r.transitions] == ["user"] * 3
    # piecewise without breaks: breaks from each transition's event times
    auto_pieces = fit_msm(DATA, family="piecewise")
    assert all(tr.chosen == "piecewise" and len(tr.best.breaks_day) > 1
               for tr in auto_pieces.transitions)
    with pytest.raises(FitError, match="'relapse->transplant': not a transition"):
        fit_msm(DATA, family={"relapse->transplant": "weibull"})
    with pytest.raises(FitError, match="clock"):
        fit_msm(DATA, clock="backward")
    with pytest.raises(FitError, match="must start at 0"):
        fit_msm(DATA, breaks_day=[10, 20])
    piece = fit_msm(DATA, clock="reset", breaks_day=[0, 100, 365])
    assert {f.family for f in piece.transitions[0].fits} >= {"piecewise", "weibull"}
    # x = 1 for every patient who relapses: relapse -> death cannot estimate its HR
    table = simulate_msprep(EXAMPLE, 200, 1, covariate_share=0.4)
    relapsed = np.unique(table["id"][table["from"] == 2])
    table["x"] = np.where(np.isin(table["id"], relapsed), 1.0, table["x"])
    with pytest.raises(FitError, match="transition 3 .*covariate 'x' is 1 in every row at risk"):
        fit_msm(table, covariates=["x"])
