"""PSA draws where a source gives a distribution: beta for incidences, log-normal for HRs."""

import math

import numpy as np
import pytest

from hsctsim.model.scenario import Range, ScenarioError, load_scenario, set_value
from hsctsim.model.schema import Z95

N = 40_000


def draws(r, n=N):
    rng = np.random.default_rng(3)
    return np.array([r.draw(rng).mid for _ in range(n)])


def test_beta_has_the_range_as_its_95_percent_spread():
    r = Range(0.3, 0.5, "beta")
    x = draws(r)
    sd = 0.2 / (2 * Z95)
    assert abs(x.mean() - 0.4) < 4 * sd / math.sqrt(N)
    # the sample sd of n normal-ish draws has se about sd / sqrt(2n)
    assert abs(x.std() - sd) < 4 * sd / math.sqrt(2 * N)
    assert 0 < x.min() and x.max() < 1
    a, b = r.beta_parameters()
    assert a / (a + b) == pytest.approx(0.4)


def test_lognormal_has_the_range_as_its_95_percent_interval():
    x = np.log(draws(Range(0.5, 2.0, "lognormal")))
    sigma = math.log(4.0) / (2 * Z95)
    assert abs(x.mean()) < 4 * sigma / math.sqrt(N)  # median sqrt(0.5 * 2) = 1
    assert abs(x.std() - sigma) < 4 * sigma / math.sqrt(2 * N)
    inside = np.mean((x > math.log(0.5)) & (x < math.log(2.0)))
    assert abs(inside - 0.95) < 4 * math.sqrt(0.95 * 0.05 / N)


def test_scenarios_choose_them_per_figure():
    ric = load_scenario("ric")
    beta = set_value(ric, "relapse.range_distribution", '"beta"')
    assert beta.processes["relapse"].incidence.distribution == "beta"
    hr = set_value(ric, "effects.cgvhd_on_relapse.range_distribution", '"lognormal"')
    assert hr.effects["cgvhd_on_relapse"].hr.distribution == "lognormal"
    draw = hr.draw(np.random.default_rng(1))  # a replicate draws from it
    low, high = ric.effects["cgvhd_on_relapse"].hr.low, ric.effects["cgvhd_on_relapse"].hr.high
    assert draw.effects["cgvhd_on_relapse"].hr.mid not in (low, high, 0.5 * (low + high))
    with pytest.raises(ScenarioError, match="relapse.range_distribution.*lognormal"):
        set_value(ric, "relapse.range_distribution", '"lognormal"')
    with pytest.raises(ScenarioError, match="cgvhd_on_relapse.range_distribution.*beta"):
        set_value(ric, "effects.cgvhd_on_relapse.range_distribution", '"beta"')


def test_the_widest_beta_exists():
    for low, high in ((0.0, 1.0), (0.0, 0.02), (0.97, 1.0)):
        assert min(Range(low, high, "beta").beta_parameters()) > 0
