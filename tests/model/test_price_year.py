"""Costs in one price year: a cost figure's own ``price_year``, inflated with the
scenario's sourced ``[costs] price_index`` (or a bundled index) to ``costs.price_year``."""

import json

import pytest
from click.testing import CliRunner

from hsctsim.apps.cea import run_cea
from hsctsim.apps.cli import cli
from hsctsim.model.economics import economics_of
from hsctsim.model.prices import BUNDLED_INDEXES, bundled_index
from hsctsim.model.scenario import ScenarioError, load_scenario, set_value

INDEX = '{ value = [[2004, 200.0], [2013, 250.0], [2020, 300.0]], source = "test index" }'


def scenario(*settings):
    s = load_scenario("mac")
    for item in settings:
        key, _, value = item.partition("=")
        s = set_value(s, key, value)
    return s


def test_a_cost_from_another_year_is_inflated_by_the_index_ratio():
    s = scenario("costs.price_index=" + INDEX,
                 'costs.salvage={ value = 151000, source = "s", price_year = 2013 }',
                 'costs.agvhd_onset={ value = [20000, 24000], source = "s", price_year = 2004 }')
    e = economics_of(s)
    assert e.price_year == 2020
    assert e.cost("salvage") == pytest.approx(151000 * 300 / 250)
    assert e.costs["agvhd_onset"].value == pytest.approx((30000, 36000))  # both ends
    assert e.inflation == {"salvage": (2013, pytest.approx(1.2)),
                           "agvhd_onset": (2004, pytest.approx(1.5))}
    assert e.price_index_source == "test index"
    # a figure in the target year, or without a year, is left alone
    assert e.cost("transplant") == economics_of(load_scenario("mac")).cost("transplant")


@pytest.mark.parametrize("settings, key, words", [
    (['costs.currency="EUR"', 'costs.salvage={ value = 1, source = "s", price_year = 2013 }'],
     "costs.price_index", "missing"),
    # US dollars take the bundled health PCE index, which was read to 2017 only
    (['costs.salvage={ value = 1, source = "s", price_year = 2013 }'],
     "costs.salvage.price_year", "'us_pce_health' has no 2020 (it has 1929-2017)"),
    (['costs.price_index="us_cpi_medical_care"',
      'costs.salvage={ value = 1, source = "s", price_year = 2013 }'],
     "costs.salvage.price_year", "has no 2013 (it has 1935-2007)"),
    (['costs.price_index="us_cpi"'], "costs.price_index", "not a bundled index"),
    (["costs.price_index=" + INDEX,
      'costs.salvage={ value = 1, source = "s", price_year = 2010 }'], "costs.salvage.price_year",
     "has no 2010"),
    (["costs.price_index=" + INDEX,
      'costs.salvage={ value = 1, source = "s", price_year = "2013" }'],
     "costs.salvage.price_year", "year"),
    (['costs.price_index={ value = [[2004, -1.0]], source = "x" }'], "costs.price_index",
     "> 0"),
    (['costs.price_index={ value = [[2004, 1.0]] }'], "costs.price_index", "source"),
])
def test_bad_price_years_and_indexes_name_the_key(settings, key, words):
    with pytest.raises(ScenarioError) as exc:
        economics_of(scenario(*settings))
    assert key in str(exc.value) and words in str(exc.value)


def test_cea_reports_the_inflated_costs_and_they_add_up(tmp_path):
    # the salvage cost in 2013 prices, inflated x1.2, gives exactly the costs of a run
    # with the inflated value written in (same seed: the same patients)
    inflated = scenario("costs.price_index=" + INDEX,
                        'costs.salvage={ value = 151000, source = "s", price_year = 2013 }')
    written = scenario('costs.salvage={ value = 181200, source = "s" }')
    ric = load_scenario("ric")
    a = run_cea({"mac": inflated, "ric": ric}, 2000, seed=3)
    b = run_cea({"mac": written, "ric": ric}, 2000, seed=3)
    assert a["arms"]["mac"]["costs"]["mean"] == pytest.approx(b["arms"]["mac"]["costs"]["mean"],
                                                              rel=1e-12)
    assert a["inflation"]["figures"] == {"mac": {"salvage": {"from_year": 2013,
                                                              "factor": 1.2}}}
    assert "inflation" not in b
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "300", "--set",
                                   "mac:costs.price_index=" + INDEX, "--set",
                                   'mac:costs.salvage={ value = 151000, source = "s", '
                                   'price_year = 2013 }', "--out", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    assert "costs brought to 2020 prices with test index" in out.output
    assert "salvage from 2013 (x1.2000)" in out.output
    assert "inflated to 2020 with test index" in (tmp_path / "c" / "cheers.md").read_text()
    doc = json.loads((tmp_path / "c" / "cea.json").read_text())
    assert doc["inflation"]["to_year"] == 2020


def test_the_bundled_indexes_are_the_values_read_each_with_its_address():
    for name in BUNDLED_INDEXES:
        levels, source = bundled_index(name)
        years = sorted(levels)
        assert years == list(range(years[0], years[-1] + 1))  # no year left out between
        assert "https://github.com/cran/BALD/blob/" in source
    cpi, _ = bundled_index("us_cpi_medical_care")
    pce, _ = bundled_index("us_pce_health")
    # as read (BALD 1.0.0-3, data MCPI and HPCE): spot values, and the base years
    assert (cpi[1935], cpi[2004], cpi[2007]) == (10.2, 310.1, 351.054)
    assert (pce[2012], pce[2017]) == (100.0, 107.215)


def test_a_bundled_index_inflates_by_its_ratio_and_usd_takes_the_health_pce_by_default():
    s = scenario('costs.price_year=2007', 'costs.price_index="us_cpi_medical_care"',
                 'costs.salvage={ value = 100000, source = "s", price_year = 2004 }')
    e = economics_of(s)
    assert e.cost("salvage") == pytest.approx(100000 * 351.054 / 310.1, rel=1e-12)
    assert "CUUR0000SAM" in e.price_index_source and "MCPI.txt.gz" in e.price_index_source
    s = scenario('costs.price_year=2017',
                 'costs.salvage={ value = 100000, source = "s", price_year = 2012 }')
    e = economics_of(s)
    assert e.cost("salvage") == pytest.approx(100000 * 1.07215, rel=1e-12)
    assert "Table 2.5.4" in e.price_index_source


def test_cea_says_the_price_year_when_nothing_is_inflated():
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "200"])
    assert out.exit_code == 0, out.output
    assert "price year 2020: no cost names another price year" in out.output
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "200", "--set",
                                   'mac:costs.salvage={ value = 1, source = "s", '
                                   'price_year = 2013 }'])
    assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1
    assert "has no 2020" in out.output and "Traceback" not in out.output
