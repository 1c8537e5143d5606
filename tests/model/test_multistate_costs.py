"""Costs and QALYs of plain multi-state models: per-state costs and utilities, one-off
costs per transition, against the closed form of an illness-death model."""

import json
import math

import pytest
from click.testing import CliRunner

from hsctsim.apps.cea import run_cea
from hsctsim.apps.cli import cli
from hsctsim.model.economics import DAYS_PER_YEAR, Discount, economics_of
from hsctsim.model.scenario import ScenarioError, load_scenario
from msm_data import illness_death_model

A, B, T = 0.002, 0.005, 1500.0  # healthy -> sick, sick -> dead (per day), horizon

MODEL = illness_death_model(A, T)

ECONOMICS = """
[costs]
currency = "USD"
price_year = 2020
at_start = { value = 1000, source = "test" }
per_day = { healthy = { value = 10, source = "test" }, sick = { value = [80, 120], source = "test" } }
on_entry = { "healthy->sick" = { value = 5000, source = "test" } }

[utilities]
states = { healthy = { value = 0.9, source = "test" }, sick = { value = 0.5, source = "test" } }
dead = ["dead"]
"""


def write(tmp_path, name="ill", rate=B, economics=ECONOMICS):
    path = tmp_path / f"{name}.toml"
    path.write_text(MODEL.replace("NAME", name).replace("RATE", str(rate)) + economics)
    return path


def closed_form(discount):
    """Expected discounted costs, life years and QALYs of the illness-death model."""
    d = discount.force_per_day if discount.rate else 0.0

    def D(x):  # integral_0^T exp(-(x + d) t) dt
        return (1 - math.exp(-(x + d) * T)) / (x + d)

    healthy = D(A)
    sick = A / (B - A) * (D(A) - D(B))
    costs = 1000 + 10 * healthy + 100 * sick + 5000 * A * D(A)
    return {"costs": costs, "life_years": (healthy + sick) / DAYS_PER_YEAR,
            "qalys": (0.9 * healthy + 0.5 * sick) / DAYS_PER_YEAR}


@pytest.mark.parametrize("rate", [0.0, 0.035])
def test_illness_death_costs_and_qalys_against_the_closed_form(tmp_path, rate):
    s = load_scenario(str(write(tmp_path)))
    discount = Discount(rate)
    doc = run_cea({"ill": s, "same": s}, 100_000, seed=5, discount=discount)
    exact = closed_form(discount)
    for m in ("costs", "life_years", "qalys"):
        v = doc["arms"]["ill"][m]
        se = (v["ci95"][1] - v["ci95"][0]) / (2 * 1.959963984540054)
        assert abs(v["mean"] - exact[m]) < 4 * se + 1e-6, m
    # the same model twice: increments exactly 0 (shared random numbers)
    assert doc["increments"]["same"]["costs"]["mean"] == 0


def test_economics_of_a_multistate_model_and_its_errors(tmp_path):
    e = economics_of(load_scenario(str(write(tmp_path))))
    assert e.cost("per_day.sick") == 100 and e.cost("on_entry.healthy->sick") == 5000
    assert e.dead == ("dead",) and set(e.utilities) == {"healthy", "sick"}
    assert 80 <= e.draw(3, 1).cost("per_day.sick") <= 120
    bad = {
        ECONOMICS.replace(', sick = { value = 0.5, source = "test" }', ""): (
            "utilities.states.sick", "missing"),
        ECONOMICS.replace("per_day = { healthy", "per_day = { ghost = { value = 1, source = "
                          "\"t\" }, healthy"): ("costs.per_day.ghost", "unknown key"),
        ECONOMICS.replace('"healthy->sick"', '"dead->sick"'): ("costs.on_entry.dead->sick",
                                                               "unknown key"),
        ECONOMICS.replace('dead = ["dead"]', 'dead = ["gone"]'): ("utilities.dead",
                                                                  "not a state"),
        ECONOMICS.split("[utilities]")[0]: ("utilities", "missing"),
    }
    for i, (economics, (key, words)) in enumerate(bad.items()):
        with pytest.raises(ScenarioError) as exc:
            economics_of(load_scenario(str(write(tmp_path, f"bad{i}", economics=economics))))
        assert key in str(exc.value) and words in str(exc.value), (key, str(exc.value))


def test_cea_of_multistate_arms_with_replicates_tornado_and_frontier(tmp_path):
    arms = [str(write(tmp_path, n, r)) for n, r in (("a", 0.005), ("b", 0.003),
                                                    ("c", 0.004))]
    out = CliRunner().invoke(cli, ["cea", *arms, "-n", "3000", "--replicates", "3",
                                   "--tornado", "0.1", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert len(doc["replicate_means"]["a"]["costs"]) == 3
    assert {r["arm"] for r in doc["incremental"]["table"]} == {"a", "b", "c"}
    figures = {r["figure"] for r in doc["tornado"]["figures"]}
    assert {"costs.per_day.sick", "utilities.sick", "costs.on_entry.healthy->sick"} <= figures
    # a longer stay when sick costs more and gives more QALYs: b (slowest death) dearest
    assert doc["arms"]["b"]["costs"]["mean"] > doc["arms"]["a"]["costs"]["mean"]


def test_cea_refuses_to_mix_multistate_and_transplant_arms(tmp_path):
    out = CliRunner().invoke(cli, ["cea", "mac", str(write(tmp_path)), "-n", "100"])
    assert out.exit_code == 2 and "multi-state arm cannot be compared" in out.output
    assert "Traceback" not in out.output
    out = CliRunner().invoke(cli, ["cea", str(write(tmp_path)), str(write(tmp_path, "z")),
                                   "-n", "100", "--replicates", "20", "--pilot", "ill:relapse"])
    assert out.exit_code == 2 and "multi-state" in out.output
