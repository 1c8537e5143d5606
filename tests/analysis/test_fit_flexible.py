"""The flexible families of analysis.flexible against independent fits (lifelines) and
hand-computed answers: Royston-Parmar splines, generalized gamma, mixture cure,
piecewise exponential with empty pieces; their export to the engine; the CLI."""

import math

import numpy as np
import pytest
from conftest import assert_user_error, invoke

from hsctsim import simulate
from hsctsim.analysis import flexible
from hsctsim.analysis.fit import _loglik, _Rows, fit_extended, fit_family, fit_msm
from hsctsim.analysis.hazard_families import Family
from hsctsim.model.scenario import load_scenario
from hsctsim.model.tomlwrite import dumps_value

lifelines = pytest.importorskip("lifelines")
DATA = "tests/data/illness_death.csv"


def _rows(n=1500, seed=3, cure=0.0, shape=1.4, scale=200.0, truncate=0.3):
    """Weibull times (a share cured), uniform censoring, a share entering late."""
    rng = np.random.default_rng(seed)
    t = scale * rng.exponential(size=n) ** (1 / shape)
    t[rng.random(n) < cure] = np.inf
    censor = rng.uniform(50, 1500, n)
    entry = np.where(rng.random(n) < truncate, rng.uniform(0, 60, n), 0.0)
    keep = t > entry                  # left truncation: seen only if still at risk
    t, censor, entry = t[keep], censor[keep], entry[keep]
    exit_ = np.minimum(t, censor)
    keep = exit_ > entry
    return _Rows(entry[keep], exit_[keep], (t <= censor)[keep], np.zeros((keep.sum(), 0)))


def _lifelines_loglik(fitter, rows, **kwargs):
    fitter.fit(rows.exit, rows.event, entry=rows.entry, **kwargs)
    return fitter.log_likelihood_


def test_spline_matches_lifelines_spline_fitter_with_the_same_knots():
    rows = _rows()
    ours = fit_extended("spline2", rows)
    assert ours.converged, ours.message
    knots = np.exp(ours.model.knots)
    # lifelines' basis is ours without the 1 / (last - first knot)^3 scaling
    width3 = (ours.model.knots[-1] - ours.model.knots[0]) ** 3
    ours_in_theirs = np.r_[ours.estimate[:2], np.asarray(ours.estimate[2:]) / width3]
    # started a little off our optimum (its own start does not converge on these data)
    fitter = lifelines.SplineFitter(knots)
    theirs = _lifelines_loglik(fitter, rows, initial_point=ours_in_theirs * 1.02)
    # the same model and knots: the same maximum, at the same point
    assert ours.loglik == pytest.approx(theirs, abs=0.01)
    np.testing.assert_allclose(fitter.params_.to_numpy(), ours_in_theirs, rtol=0.02, atol=0.02)


def test_spline_without_inner_knots_is_the_weibull():
    rows = _rows(seed=4)
    spline = fit_extended("spline0", rows)
    weibull = fit_family(Family("weibull"), rows)
    assert spline.loglik == pytest.approx(weibull.loglik, abs=1e-6)
    # log H = gamma0 + gamma1 log t = shape (log t - log scale)
    shape = math.exp(weibull.estimate[0])
    assert spline.estimate[1] == pytest.approx(shape, rel=1e-5)
    assert spline.estimate[0] == pytest.approx(-shape * weibull.estimate[1], rel=1e-5)


@pytest.mark.parametrize("name", ["spline3", "weibull-cure", "lognormal-cure", "gengamma"])
def test_gradients_match_finite_differences(name):
    """The analytic (and, for gengamma, central-difference) gradients of the likelihood."""
    rows = _rows(seed=5, cure=0.3)
    model, _ = flexible.build(name, rows)
    theta = flexible.start_for(model, rows) + 0.05
    _, grad = _loglik(model, rows, theta)
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = 1e-6
        numeric = (_loglik(model, rows, theta + e)[0] - _loglik(model, rows, theta - e)[0]) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-3)


def test_generalized_gamma_matches_lifelines():
    rows = _rows(seed=6, shape=0.8)
    ours = fit_extended("gengamma", rows)
    assert ours.converged, ours.message
    fitter = lifelines.GeneralizedGammaFitter()
    theirs = _lifelines_loglik(fitter, rows)
    assert ours.loglik == pytest.approx(theirs, abs=0.05)
    mu, log_sigma, q = ours.estimate
    assert mu == pytest.approx(fitter.mu_, abs=0.02)
    assert log_sigma == pytest.approx(fitter.ln_sigma_, abs=0.02)
    assert q == pytest.approx(fitter.lambda_, abs=0.02)


def test_weibull_cure_matches_lifelines_mixture_cure():
    rows = _rows(seed=7, cure=0.35, truncate=0.0)
    ours = fit_extended("weibull-cure", rows)
    assert ours.converged, ours.message
    fitter = lifelines.MixtureCureFitter(base_fitter=lifelines.WeibullFitter())
    theirs = _lifelines_loglik(fitter, rows)
    assert ours.loglik == pytest.approx(theirs, abs=0.05)
    # lifelines' cured_fraction_ is the same figure; and near the truth of 0.35
    assert ours.cure_fraction == pytest.approx(fitter.cured_fraction_, abs=2e-3)
    se = ours.se[-1] * ours.cure_fraction * (1 - ours.cure_fraction)
    assert abs(ours.cure_fraction - 0.35) < 4 * se
    assert ours.timing()["family"] == "weibull"       # the engine's own family + cure


def test_piecewise_empty_pieces_rate_zero_or_pooled():
    """Without covariates the piecewise MLE is events / exposure per piece (by hand)."""
    rows = _Rows(np.zeros(4), np.array([5.0, 15.0, 40.0, 60.0]),
                 np.array([True, True, False, False]), np.zeros((4, 0)))
    fit = fit_extended("piecewise", rows, breaks=(0.0, 10.0, 20.0))
    assert fit.converged, fit.message
    # exposure: piece 0: 5+10+10+10 = 35, one event; piece 1: 5+10+10 = 25, one event;
    # piece 2: 20+40 = 60, none
    rates = fit.timing()["rates_per_day"]
    assert rates == pytest.approx([1 / 35, 1 / 25, 0.0], rel=1e-6)
    assert "no events in days 20+: rate 0" in fit.note
    pooled = fit_extended("piecewise", rows, breaks=(0.0, 10.0, 20.0), empty="pool")
    assert pooled.timing()["breaks_day"] == [0.0, 10.0]
    assert pooled.timing()["rates_per_day"] == pytest.approx([1 / 35, 1 / 85], rel=1e-6)
    assert "pooled" in pooled.note


def test_spline_export_keeps_the_cumulative_hazard_and_simulates_it(tmp_path):
    """The engine's piecewise copy of a spline has its cumulative hazard at every break;
    simulated, the share with the event by each day is 1 - exp(-H) within MC error."""
    rows = _rows(seed=8)
    fit = fit_extended("spline2", rows, horizon_days=1500)
    timing = fit.timing()
    breaks, rates = np.array(timing["breaks_day"]), np.array(timing["rates_per_day"])
    H_pieces = np.r_[0.0, np.cumsum(rates[:-1] * np.diff(breaks))]
    H_fit = flexible.cumhaz(fit.model, fit.estimate, breaks)
    # (breaks are written to 1e-6 day: H agrees to about that relative precision)
    np.testing.assert_allclose(H_pieces, H_fit, rtol=1e-6, atol=1e-12)
    assert "piecewise-constant hazard on 120 pieces" in fit.note
    toml = tmp_path / "one.toml"
    toml.write_text(f"""kind = "multistate"
name = "one"
horizon_days = 1500
clock = "forward"
[states]
names = ["alive", "event"]
absorbing = ["event"]
[[transitions]]
from = "alive"
to = "event"
timing = {dumps_value(timing)}
source = "test"
""")
    n = 40_000
    cohort = simulate(load_scenario(str(toml)), n, seed=2)
    days = np.array([30.0, 150.0, 400.0, 1000.0])
    got = (cohort.state_at(days) == 1).mean(axis=0)
    want = 1 - np.exp(-flexible.cumhaz(fit.model, fit.estimate, days))
    se = np.sqrt(want * (1 - want) / n)
    assert np.all(np.abs(got - want) < 4 * se + 1e-9), (got, want)


def test_auto_chooses_by_aic_or_bic_and_records_it(tmp_path):
    aic = fit_msm(DATA)
    bic = fit_msm(DATA, criterion="bic")
    for fit, key in ((aic, "aic"), (bic, "bic")):
        for tr in fit.transitions:
            ok = [f for f in tr.fits if f.converged]
            assert tr.chosen == min(ok, key=lambda f: getattr(f, key)).family
            assert tr.chosen_by == key
            names = {f.family for f in tr.fits}
            assert {"spline1", "spline2", "spline3", "weibull-cure", "piecewise"} <= names
    text = bic.to_toml(name="x")
    assert "family by lowest BIC" in text and "families by BIC" in text
    assert f'family = "{bic.transitions[0].chosen}"' in text.split("[[transitions]]")[1]
    assert "lowest BIC" in bic.report()


def test_cli_fit_checks_against_aalen_johansen_and_plots(tmp_path):
    out, png = tmp_path / "fit.toml", tmp_path / "check.png"
    result = invoke("fit", DATA, "--clock", "reset", "--family", "spline1",
                    "--family", "2=weibull-cure", "--out", str(out), "--plot", str(png),
                    "--check-patients", "5000")
    assert result.exit_code == 0, result.output
    assert "check against the data" in result.output and "largest gap" in result.output
    assert png.stat().st_size > 1000
    assert "cure_fraction" in out.read_text()
    ran = invoke("run", str(out), "-n", "2000", "--replicates", "2")
    assert ran.exit_code == 0, ran.output
    per = invoke("fit", DATA, "--family", "piecewise", "--breaks", "0,100",
                 "--breaks", "2=0,30,365", "--no-check")
    assert per.exit_code == 0, per.output
    assert "check against" not in per.output


@pytest.mark.parametrize("args, words", [
    (["--family", "spline99"], ["--family", "spline99"]),
    (["--family", "bogus-cure"], ["bogus-cure"]),
    (["--plot", "x.txt"], ["--plot", ".png"]),
    (["--plot", "x.png", "--no-check"], ["--plot", "--no-check"]),
    (["--breaks", "3=a"], ["--breaks"]),
])
def test_cli_flexible_options_bad_input(tmp_path, args, words):
    args = [a.replace("x.", str(tmp_path / "x.")) for a in args]
    assert_user_error(invoke("fit", DATA, *args), *words)


def test_cure_far_out_evaluates_without_error():
    """A cure fraction of 1 (logit far out, as an optimiser's trial step) gives finite
    values, not a math domain error: the fit then fails with a message."""
    model = flexible.Cure(flexible.Basic(Family("weibull")))
    log_h, H, d_log_h, d_H = model.evaluate([0.0, 5.0, 800.0], np.array([1.0, 10.0]))
    assert np.all(H == 0.0) and np.all(np.isfinite(log_h)) and np.all(np.isfinite(d_H))
