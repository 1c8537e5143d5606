"""Trial mode of a multi-state model: counts against the exact competing-risks answer."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.analysis.trials import (
    TrialDesign,
    multistate_statistic_names,
    multistate_trial_statistics,
)
from hsctsim.apps.cli import cli
from stats_checks import assert_binomial

A, B, T = 0.001, 0.0005, 1000.0  # alive -> relapse, alive -> death (per day), horizon
SIZE, TRIALS = 10, 20_000

MODEL = f"""
kind = "multistate"
name = "cr"
title = "competing risks test model"
horizon_days = {T:g}
clock = "reset"

[states]
names = ["alive", "relapse", "death"]
absorbing = ["relapse", "death"]
initial = "alive"

[[transitions]]
from = "alive"
to = "relapse"
timing = {{ family = "exponential", rate_per_day = {A} }}
source = "test"

[[transitions]]
from = "alive"
to = "death"
timing = {{ family = "exponential", rate_per_day = {B} }}
source = "test"
"""


def cif(rate, days):
    """P(the event of ``rate`` by ``days``) with both exponential risks competing."""
    return rate / (A + B) * (1 - np.exp(-(A + B) * np.asarray(days, float)))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("cr") / "cr.toml"
    path.write_text(MODEL)
    return path


@pytest.fixture(scope="module")
def cohort(model):
    return hsctsim.simulate(str(model), SIZE * TRIALS, seed=11)


def test_counts_are_binomial_with_the_competing_risks_probability(cohort):
    assert multistate_statistic_names(cohort) == ["relapse", "death", "alive->relapse",
                                                  "alive->death"]
    counts = multistate_trial_statistics(cohort, TrialDesign(SIZE, TRIALS),
                                         ["relapse", "death_d365", "alive->death"])
    assert_binomial(counts["relapse"], SIZE, cif(A, T))
    assert_binomial(counts["death_d365"], SIZE, cif(B, 365))
    assert_binomial(counts["alive->death"], SIZE, cif(B, T))


def test_accrual_and_analysis_day_censor_the_counts(model):
    accrual, analysis = 365.0, 500.0
    short = hsctsim.simulate(str(model), SIZE * TRIALS, seed=12, horizon_days=analysis)
    counts = multistate_trial_statistics(short, TrialDesign(SIZE, TRIALS, accrual, analysis),
                                         ["relapse"], seed=3)["relapse"]
    # followed analysis - U days, U ~ Uniform(0, accrual): the CIF averaged over U, exactly
    s = A + B
    p = A / s * (1 - (math.exp(-s * (analysis - accrual)) - math.exp(-s * analysis))
                 / (s * accrual))
    assert_binomial(counts, SIZE, p)


def test_trial_cli_of_a_multistate_model(model, tmp_path):
    out = CliRunner().invoke(cli, ["trial", str(model), "--size", "20", "--trials", "2000",
                                   "--observed", "relapse_d365=3", "--format", "json",
                                   "--out", str(tmp_path / "t"), "--plot"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    stat = doc["statistics"]["relapse_d365"]
    p = cif(A, 365)
    # the mean of 2000 binomial counts: 4.5 standard errors
    assert abs(stat["mean"] - 20 * p) < 4.5 * math.sqrt(20 * p * (1 - p) / 2000)
    assert 0 < stat["p_at_most"] < 1
    assert (tmp_path / "t" / "figures" / "trial_relapse_d365.png").exists()


@pytest.mark.parametrize("args, says", [
    (["--observed", "relapsed=2"], "unknown statistic 'relapsed'"),
    (["--observed", "relapse_d2000=2"], "after the follow-up"),
    (["--observed", "median_os_days=300"], "unknown statistic 'median_os_days'"),
])
def test_careless_multistate_trial(model, args, says):
    out = CliRunner().invoke(cli, ["trial", str(model), "--size", "5", "--trials", "10", *args])
    assert out.exit_code == 2, out.output
    assert says in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1, out.output
