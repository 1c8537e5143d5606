"""Costs in one price year: a cost figure's own ``price_year``, inflated with the
scenario's sourced ``[costs] price_index`` (or a bundled index) to ``costs.price_year``."""

import json

import pytest
from click.testing import CliRunner

from hsctsim.apps.cea import format_cea, run_cea
from hsctsim.apps.cli import cli
from hsctsim.model.economics import economics_of
from hsctsim.model.prices import BUNDLED_INDEXES, bundled_index
from hsctsim.model.scenario import ScenarioError, load_scenario, parse, set_value

INDEX = '{ value = [[2004, 200.0], [2013, 250.0], [2020, 300.0]], source = "test index" }'
# the price year of each bundled cost figure of configs/mac.toml (its source's)
MAC_YEARS = {"transplant": 2024, "engrafted_per_day": 2004, "agvhd_onset": 2024,
             "cgvhd_per_day": 2021, "cmv_onset": 2019, "salvage": 2013}


def scenario(*settings, name="mac"):
    s = load_scenario(name)
    for item in settings:
        key, _, value = item.partition("=")
        s = set_value(s, key, value)
    return s


def undated(*settings, name="mac", year=2020):
    """The arm with every bundled cost put in one year (the arm's, 2020: nothing inflated)."""
    return scenario(*[f"costs.{k}.price_year={year}" for k in MAC_YEARS], *settings, name=name)


def without_index(s):
    """The scenario without ``costs.price_index`` (so US dollars take the default index)."""
    raw = {k: v for k, v in s.raw.items()}
    raw["costs"] = {k: v for k, v in raw["costs"].items() if k != "price_index"}
    return parse(raw, s.path)


def test_a_cost_from_another_year_is_inflated_by_the_index_ratio():
    s = undated("costs.price_index=" + INDEX,
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
    assert e.cost("transplant") == economics_of(undated()).cost("transplant") == 331827


@pytest.mark.parametrize("settings, key, words", [
    # the bundled CPI medical care index has 1935-2024: a year outside it is refused
    (['costs.salvage.price_year=2030'], "costs.salvage.price_year",
     "2030 to 2020: the bundled index 'us_cpi_medical_care' has no 2030 (it has 1935-2024)"),
    (['costs.price_year=1930'], "costs.engrafted_per_day.price_year",
     "has no 1930 (it has 1935-2024)"),
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
        economics_of(undated(*settings) if "price_index=" in " ".join(settings)
                     else scenario(*settings))
    assert key in str(exc.value) and words in str(exc.value)


@pytest.mark.parametrize("settings, key, words", [
    (['costs.currency="EUR"'], "costs.price_index", "missing"),
    # US dollars without a price_index take the bundled health PCE index, read to 2017
    # only; the message names the bundled index that has both years
    ([], "costs.salvage.price_year",
     "'us_pce_health' has no 2020 (it has 1929-2017); give costs.price_index = "
     '"us_cpi_medical_care" (bundled, it has both)'),
])
def test_without_a_price_index_the_currency_decides(settings, key, words):
    s = without_index(undated(*settings, 'costs.salvage.price_year=2013'))
    with pytest.raises(ScenarioError) as exc:
        economics_of(s)
    assert key in str(exc.value) and words in str(exc.value)


def test_cea_reports_the_inflated_costs_and_they_add_up(tmp_path):
    # the salvage cost in 2013 prices, inflated x1.2, gives exactly the costs of a run
    # with the inflated value written in (same seed: the same patients)
    inflated = undated("costs.price_index=" + INDEX,
                       'costs.salvage={ value = 151000, source = "s", price_year = 2013 }')
    written = undated('costs.salvage={ value = 181200, source = "s" }')
    ric = undated(name="ric")
    a = run_cea({"mac": inflated, "ric": ric}, 2000, seed=3)
    b = run_cea({"mac": written, "ric": ric}, 2000, seed=3)
    assert a["arms"]["mac"]["costs"]["mean"] == pytest.approx(b["arms"]["mac"]["costs"]["mean"],
                                                              rel=1e-12)
    assert a["inflation"]["figures"] == {"mac": {"salvage": {"from_year": 2013,
                                                              "factor": 1.2}}}
    assert "inflation" not in b
    plain = [a for arm in ("mac", "ric") for k in MAC_YEARS
             for a in ("--set", f"{arm}:costs.{k}.price_year=2020")]
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "300", *plain, "--set",
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
    cpi, source = bundled_index("us_cpi_medical_care")
    pce, _ = bundled_index("us_pce_health")
    # as read (BALD 1.0.0-3, data MCPI and HPCE): spot values, and the base years
    assert (cpi[1935], cpi[2004], cpi[2007]) == (10.2, 310.1, 351.054)
    assert (pce[2012], pce[2017]) == (100.0, 107.215)
    assert max(pce) == 2017
    # the new rows: 2008-2024, each the mean of the 12 monthly values of FRED CPIMEDNS
    # (= CUUR0000SAM), read from two copies of FRED's CSV named in each row
    assert (min(cpi), max(cpi)) == (1935, 2024)
    assert (cpi[2008], cpi[2013], cpi[2020], cpi[2024]) == (364.065, 425.134, 518.876,
                                                            563.841)
    assert "open-datahub/fred/blob/" in source and "CPIMEDNS.csv" in source
    assert "aakwei/final-project-starter-repo-2025/blob/" in source
    # a price index of medical care rose every year from 2008 to 2024 (a misread row
    # would most likely show as a fall)
    assert all(cpi[y + 1] > cpi[y] for y in range(2007, 2024))


def test_a_bundled_index_inflates_by_its_ratio_and_usd_takes_the_health_pce_by_default():
    s = scenario('costs.price_year=2007', 'costs.price_index="us_cpi_medical_care"',
                 'costs.salvage={ value = 100000, source = "s", price_year = 2004 }')
    e = economics_of(s)
    assert e.cost("salvage") == pytest.approx(100000 * 351.054 / 310.1, rel=1e-12)
    assert "CUUR0000SAM" in e.price_index_source and "MCPI.txt.gz" in e.price_index_source
    s = without_index(undated('costs.price_year=2017',
                              'costs.salvage={ value = 100000, source = "s", '
                              'price_year = 2012 }', year=2017))
    e = economics_of(s)
    assert e.cost("salvage") == pytest.approx(100000 * 1.07215, rel=1e-12)
    assert "Table 2.5.4" in e.price_index_source


def test_cea_says_the_price_year_when_nothing_is_inflated():
    doc = run_cea({"mac": undated(), "ric": undated(name="ric")}, 200, seed=3)
    assert "inflation" not in doc
    assert "price year 2020: no cost names another price year" in format_cea(doc)


CPI_2020 = 518.876
CPI = {2004: 310.1, 2013: 425.134, 2019: 498.413, 2021: 525.276, 2023: 549.084,
       2024: 563.841}


@pytest.mark.parametrize("arm", ["mac", "ric", "haplo_ptcy", "haplo_nk", "mst"])
def test_the_bundled_arms_costs_are_inflated_to_one_price_year(arm):
    s = load_scenario(arm)
    table = s.raw["costs"]
    figures = {k: v for k, v in table.items() if isinstance(v, dict) and "value" in v}
    # every cost figure of a bundled arm says its price year (its source's)
    assert all(isinstance(f.get("price_year"), int) for f in figures.values()), figures
    assert {k: figures[k]["price_year"] for k in MAC_YEARS} == MAC_YEARS
    e = economics_of(s)
    assert e.price_year == 2020 and table["price_index"] == "us_cpi_medical_care"
    assert "CUUR0000SAM" in e.price_index_source
    # all of them brought to 2020, each by the index ratio of its own year
    assert set(e.inflation) == {k for k, f in figures.items() if f["price_year"] != 2020}
    for key, (year, factor) in e.inflation.items():
        assert year == figures[key]["price_year"]
        assert factor == pytest.approx(CPI_2020 / CPI[year], rel=1e-12)


def test_one_bundled_cost_inflated_by_hand():
    # transplant: $331,827 in 2024 dollars (Blood Adv 2024) x CPI-M 2020 / CPI-M 2024
    e = economics_of(load_scenario("mac"))
    assert e.cost("transplant") == pytest.approx(331827 * 518.876 / 563.841, rel=1e-12)
    assert round(e.cost("transplant")) == 305365
    # a range: both ends, from 2024
    assert e.costs["agvhd_onset"].value == pytest.approx(
        (20286 * 518.876 / 563.841, 24426 * 518.876 / 563.841), rel=1e-12)
    # engrafted_per_day: $99 in 2004 dollars, the price year its source states
    assert e.cost("engrafted_per_day") == pytest.approx(99 * 518.876 / 310.1, rel=1e-12)


def test_cea_prints_the_price_year_and_the_index_of_the_bundled_arms():
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "200"])
    assert out.exit_code == 0, out.output
    assert "costs in USD 2020" in out.output
    assert ("costs brought to 2020 prices with US CPI-U medical care (BLS CUUR0000SAM, "
            "annual averages), 1935-2024") in out.output
    assert "transplant from 2024 (x0.9203)" in out.output
    assert "engrafted_per_day from 2004 (x1.6733)" in out.output


def test_cea_refuses_a_price_year_outside_the_index_in_one_line():
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "200", "--set",
                                   "mac:costs.salvage.price_year=2030"])
    assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1
    assert "costs.salvage.price_year" in out.output and "has no 2030" in out.output
    assert "1935-2024" in out.output and "Traceback" not in out.output
