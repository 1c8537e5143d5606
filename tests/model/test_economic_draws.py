"""PSA draws of ranged costs, utilities and durations: uniform, or gamma and beta with the
range as the 95% spread (the moments checked within their Monte Carlo error)."""

import math

import numpy as np
import pytest

from hsctsim.model.econfigures import Economics, Figure, figure_moments

N = 5_000


def econ():
    return Economics("USD", 2020,
                     costs={"agvhd_onset": Figure((20286.0, 24426.0), "s"),
                            "transplant": Figure(300000.0, "s")},
                     utilities={"early": Figure((0.3, 0.5), "s"),
                                "relapse": Figure((-0.2, 0.4), "s")},
                     durations={"agvhd_active_days": Figure((28.0, 56.0), "s")},
                     lifetime=None)


def draws(e, section, key, how):
    return np.array([getattr(e.draw(7, r, how), section)[key].point for r in range(N)])


@pytest.mark.parametrize("section, key", [("costs", "agvhd_onset"),
                                          ("durations", "agvhd_active_days"),
                                          ("utilities", "early")])
def test_gamma_and_beta_have_the_range_as_their_95_percent_spread(section, key):
    e = econ()
    low, high = getattr(e, section)[key].value
    mean, sd = figure_moments(low, high)
    x = draws(e, section, key, "gamma-beta")
    assert abs(x.mean() - mean) < 4 * sd / math.sqrt(N)
    assert abs(x.std() - sd) < 4 * sd / math.sqrt(2 * N) * 1.5  # skew widens the se a bit
    assert x.min() > 0
    if section == "utilities":
        assert x.max() < 1
    # unlike the uniform, the tails leave the range (about 5% of draws)
    outside = np.mean((x < low) | (x > high))
    assert abs(outside - 0.05) < 4 * math.sqrt(0.05 * 0.95 / N) + 0.01


def test_gamma_beta_is_the_default_uniform_on_request_and_points_stay_points():
    e = econ()
    x = draws(e, "costs", "agvhd_onset", "uniform")
    assert x.min() >= 20286 and x.max() <= 24426
    y = draws(e, "costs", "agvhd_onset", "gamma-beta")
    assert np.array_equal(y, [e.draw(7, r).cost("agvhd_onset") for r in range(N)])
    assert e.draw(7, 3, "gamma-beta").cost("transplant") == 300000.0
    # a utility range beyond [0, 1] stays uniform
    y = draws(e, "utilities", "relapse", "gamma-beta")
    assert y.min() >= -0.2 and y.max() <= 0.4
    with pytest.raises(ValueError, match="distributions"):
        e.draw(7, 0, "normal")


def test_cea_and_sweep_draw_gamma_beta_by_default_and_uniform_when_asked():
    from click.testing import CliRunner

    from hsctsim.apps.cea import cea, run_cea
    from hsctsim.apps.cli import cli
    from hsctsim.apps.sweep import sweep
    from hsctsim.model.scenario import load_scenario

    for command in (cea, sweep):  # one default for both commands
        option = next(p for p in command.params if p.name == "economic_draws")
        assert option.default == "gamma-beta"
    arms = {n: load_scenario(n) for n in ("mac", "ric")}
    doc = run_cea(arms, 100, seed=2, replicates=1)
    assert doc["economic_draws"] == "gamma-beta"
    assert run_cea(arms, 100, seed=2, replicates=1,
                   economic_draws="uniform")["economic_draws"] == "uniform"
    said = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "100", "--replicates", "2",
                                    "--draws", "ranges"])
    assert said.exit_code == 0, said.output
    assert "from gamma and utilities from beta distributions" in said.output
    said = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "100", "--replicates", "2",
                                    "--draws", "ranges", "--economic-draws", "uniform"])
    assert "uniformly over their ranges" in said.output

    bad = CliRunner().invoke(cli, ["cea", "mac", "ric", "--economic-draws", "normal"])
    assert bad.exit_code == 2 and "--economic-draws" in bad.output
