"""`hsctsim cea` for decisions: the frontier of 3+ arms, the CEAF, value of information
and a pilot's EVSI/ENBS, from the command line and from the replicates' draws."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from hsctsim.analysis import voi as voi_module
from hsctsim.analysis.incremental import frontier
from hsctsim.analysis.voi import evpi, population_factor
from hsctsim.apps.cea import run_cea
from hsctsim.apps.ceadecide import (Decisions, incremental_section, parameter_columns,
                                    psa_sections)
from hsctsim.apps.cli import cli
from hsctsim.model.scenario import load_scenario


def synthetic_doc(n=2000, seed=3):
    """Two arms whose incremental net benefit at WTP 100,000 is 2000 (x - 0.5) * 10,
    x ~ U(0, 1) the one figure that matters, z a figure that does not."""
    rng = np.random.default_rng(seed)
    x, z = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    base_c = rng.normal(100_000, 1000, n)
    draws = {"a": (list(base_c), [5.0] * n),
             "b": (list(base_c + 20_000 * (0.5 - x)), [5.0] * n)}
    doc = {"wtp": [100_000.0], "ceac": {"wtp": [0.0, 50_000.0, 100_000.0]}}
    return doc, draws, {"a:x": x, "costs.z": z}, x


def test_psa_sections_values_the_figure_that_matters():
    doc, draws, params, x = synthetic_doc()
    psa_sections(doc, draws, params, None, Decisions(incidence=200, years=5), seed=1,
                 discount_rate=0.03)
    v = doc["voi"]
    inb = np.asarray(draws["b"][0]) * -1 + np.asarray(draws["a"][0])
    nb = np.column_stack([np.zeros_like(inb), inb])
    assert v["evpi"]["100000"]["per_patient"] == pytest.approx(evpi(nb), abs=0.01)
    factor = population_factor(200, 5, 0.03)
    assert v["evpi"]["100000"]["population"] == pytest.approx(evpi(nb) * factor, rel=1e-6)
    rows = {r["group"]: r for r in v["evppi"]["100000"]}
    # x decides everything: its EVPPI is the EVPI (closed form: 20,000 E[max(0, 0.5 -
    # x)] = 20,000 / 8 = 2,500); z nothing
    assert rows["a:x"]["per_patient"] == pytest.approx(2500, abs=4 * rows["a:x"]
                                                       ["standard_error"] + 25)
    # an irrelevant figure: only the regression's fit to noise, which with the mean net
    # benefits tied (as here) is a few per cent of the EVPI
    assert rows["costs.z"]["per_patient"] < 0.05 * 2500
    assert [r["group"] for r in v["evppi"]["100000"]][0] == "a:x"
    # the CEAF: at WTP 0, 50,000 and 100,000 the mean net benefits tie up to noise, so
    # only check that it names arms and gives the chosen arm's share
    assert set(doc["ceac"]["ceaf"]["optimal"]) <= {"a", "b"}
    assert "notes" not in v


def test_pilot_evsi_rises_with_size_and_enbs_subtracts_the_cost():
    doc, draws, params, x = synthetic_doc()
    # the pilot observes x itself as an incidence: binomial(n, x) / n
    shares = x[:, None]
    psa_sections(doc, draws, params, shares,
                 Decisions(incidence=100, years=10, pilot=(("a", "relapse"),),
                           sizes=(2, 10, 50), study_cost=(1000.0, 500.0)),
                 seed=1, discount_rate=0.0)
    p = doc["voi"]["pilot"]["by_wtp"]["100000"]
    evsis = [r["per_patient"] for r in p["rows"]]
    assert evsis[0] < evsis[1] < evsis[2] < doc["voi"]["evpi"]["100000"]["per_patient"] + 25
    for r in p["rows"]:
        # per_patient is rounded to cents: x 1000 patients, within 5
        assert r["enbs"] == pytest.approx(r["per_patient"] * 1000 - 1000 - 500 * r["size"],
                                          abs=6.0)
    assert p["best_size"] == max(p["rows"], key=lambda r: r["enbs"])["size"]


def test_incremental_section_and_parameter_columns():
    doc = {"wtp": [0.0, 100.0], "arms": {
        "A": {"costs": {"mean": 0.0}, "qalys": {"mean": 0.0}},
        "B": {"costs": {"mean": 150.0}, "qalys": {"mean": 1.0}},
        "C": {"costs": {"mean": 200.0}, "qalys": {"mean": 2.0}}}}
    inc = incremental_section(doc)
    status = {r["arm"]: r["status"] for r in inc["table"]}
    assert status == {"A": "frontier", "B": "extendedly dominated", "C": "frontier"}
    assert inc["optimal"] == {"0": "A", "100": "C"}
    assert inc["nmb"]["C"]["100"] == pytest.approx(0.0)
    cols = parameter_columns([{"m:costs.k": 1.0, "r:costs.k": 1.0, "m:a.incidence": 0.1,
                               "r:a.incidence": 0.3, "m:fixed": 2.0},
                              {"m:costs.k": 2.0, "r:costs.k": 2.0, "m:a.incidence": 0.2,
                               "r:a.incidence": 0.2, "m:fixed": 2.0}])
    assert sorted(cols) == ["costs.k", "m:a.incidence", "r:a.incidence"]


def test_cea_three_arms_frontier_table_json_and_figure(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "c"
    out = runner.invoke(cli, ["cea", "mac", "ric", "haplo_ptcy", "-n", "300", "--seed", "5",
                              "--out", str(folder)])
    assert out.exit_code == 0, out.output
    assert "fully incremental" in out.output and "highest net monetary benefit" in out.output
    doc = json.loads((folder / "cea.json").read_text())
    names = list(doc["arms"])
    expected = frontier([doc["arms"][a]["costs"]["mean"] for a in names],
                        [doc["arms"][a]["qalys"]["mean"] for a in names], names)
    assert [(r["arm"], r["status"]) for r in doc["incremental"]["table"]] == \
        [(r["arm"], r["status"]) for r in expected]
    assert (folder / "figures" / "frontier.png").is_file()
    assert (folder / "decisions.csv").read_text().startswith("section,item,wtp,value,note")
    # the CHEERS 2022 items the run can fill, from the same document
    cheers = (folder / "cheers.md").read_text()
    for item in ("**7. Comparators.**", "**8. Perspective.**", "**9. Time horizon.** 730 days",
                 "**10. Discount rate.** 3% a year", "**15. Currency, price date, and "
                 "conversion.** USD, price year 2020", "**23. Summary of main results.**"):
        assert item in cheers, item
    # in 2020 prices, brought from its source's 2024 with the CPI-U medical care index
    assert ("`costs.transplant`: 305,365 (2020 prices; from 2024, x0.9203); median all-cause "
            "cost") in cheers
    assert f"| mac | {doc['arms']['mac']['costs']['mean']:,.0f} |" in cheers
    # two arms: the document is as before (no frontier section)
    two = json.loads(runner.invoke(cli, ["cea", "mac", "ric", "-n", "300", "--format",
                                         "json"]).stdout)
    assert "incremental" not in two


@pytest.mark.parametrize("args, says", [
    (["--incidence", "100"], "--replicates 20"),
    (["--replicates", "20", "--study-cost", "1,2"], "--incidence"),
    (["--replicates", "20", "--incidence", "5", "--study-cost", "1,2"], "--pilot"),
    (["--replicates", "20", "--pilot", "nope:relapse"], "no arm 'nope'"),
    (["--replicates", "20", "--pilot", "ric:fish_d100"], "unknown statistic"),
    (["--replicates", "20", "--pilot", "ric:median_os_days"], "not a count"),
    (["--replicates", "20", "--evppi", "g=costs.nothing*"], "matches no figure"),
    (["--replicates", "20", "--evppi", "g"], "NAME=FIGURE"),
    (["--replicates", "20", "--pilot", "ric"], "ARM:ENDPOINT"),
    (["--replicates", "20", "--pilot-sizes", "0,5"], "sizes"),
    (["--replicates", "20", "--study-cost", "5"], "FIXED,PER_PATIENT"),
])
def test_cea_decision_options_refused_in_one_line(args, says):
    out = CliRunner().invoke(cli, ["cea", "mac", "ric", "-n", "100", *args])
    assert out.exit_code == 2, out.output
    assert says in out.output and "Traceback" not in out.output


def test_run_cea_values_a_pilot_from_the_replicates(monkeypatch):
    # few replicates to stay quick: the regressions' minimum lowered for the test
    monkeypatch.setattr(voi_module, "MIN_DRAWS", 3)
    arms = {n: load_scenario(n) for n in ("haplo_ptcy", "haplo_nk")}
    doc = run_cea(arms, 200, seed=4, wtp=(100_000,), replicates=4,
                  decisions=Decisions(incidence=10, pilot=(("haplo_nk", "relapse_d365"),),
                                      sizes=(5, 20), study_cost=(0.0, 0.0),
                                      groups={"nk": ("haplo_nk:nk_cells.*",
                                                     "haplo_nk:costs.nk_infusion")}))
    v = doc["voi"]
    assert v["replicates"] == 4
    assert 0 <= v["pilot"]["mean_share"][0] <= 1
    groups = {r["group"] for r in v["evppi"]["100000"]}
    assert "nk" in groups and "haplo_nk:costs.nk_infusion" in groups
    assert "costs.agvhd_onset" in groups  # shared by the arms: one column
    # with a free study the ENBS is the population EVSI
    for r in v["pilot"]["by_wtp"]["100000"]["rows"]:
        assert r["enbs"] == pytest.approx(r["population"], abs=0.02)
    assert "incremental" not in doc and "ceaf" in doc["ceac"]


def test_tornado_variants_ranges_spreads_and_bounds():
    from hsctsim.apps.ceadecide import tornado_variants
    from hsctsim.model.economics import economics_of

    econ = {n: economics_of(load_scenario(n)) for n in ("haplo_ptcy", "haplo_nk")}
    variants = {(f, side): (values, v) for f, side, values, v in tornado_variants(econ, 0.2)}
    # a ranged figure goes to the ends of its range, in every arm that has it
    # (in the arms' price year, 2020: the bundled costs are brought there from their
    # sources' years, agvhd_onset from 2024 and nk_infusion from 2023)
    low = 20286 * 518.876 / 563.841
    assert variants[("costs.agvhd_onset", "low")][0] == {
        "haplo_ptcy": pytest.approx(low, rel=1e-12), "haplo_nk": pytest.approx(low, rel=1e-12)}
    # an arm's own figure moves in that arm only
    values, v = variants[("costs.nk_infusion", "high")]
    high = 97000 * 518.876 / 549.084
    assert values == {"haplo_nk": pytest.approx(high, rel=1e-12)}
    assert v["haplo_nk"].cost("nk_infusion") == pytest.approx(high, rel=1e-12)
    assert v["haplo_ptcy"] is econ["haplo_ptcy"]
    # a point figure +-20%; a utility is clipped to 1
    base = econ["haplo_ptcy"].cost("transplant")
    assert variants[("costs.transplant", "low")][0]["haplo_ptcy"] == pytest.approx(0.8 * base)
    assert variants[("utilities.disease_free", "high")][0]["haplo_ptcy"] == 1.0
    # spread 0: ranged figures only
    figures = {f for f, *_ in tornado_variants(econ, 0.0)}
    assert figures == {"costs.agvhd_onset", "costs.nk_infusion",
                       "durations.agvhd_active_days"}


@pytest.mark.parametrize("figure, side", [("costs.nk_infusion", "low"),
                                          ("utilities.relapse", "high"),
                                          ("durations.cgvhd_active_days", "low")])
def test_tornado_equals_a_run_with_the_figure_set(figure, side):
    # the tornado re-prices the base case's patients; a run with the figure set by
    # --set (same seed: the same patients) must give the same incremental NMB.  Its values
    # are in the arms' price year, so a cost set to one is put in that year too
    from hsctsim.model.scenario import set_value

    names = ("haplo_ptcy", "haplo_nk")
    arms = {n: load_scenario(n) for n in names}
    doc = run_cea(arms, 3000, seed=8, wtp=(100_000,), tornado=0.2)
    row = next(r for r in doc["tornado"]["figures"] if r["figure"] == figure)
    changed = {}
    for n, s in arms.items():
        value = row["values"][side].get(n)
        if value is not None:
            s = set_value(s, f"{figure}.value", repr(value))
            if figure.startswith("costs."):
                s = set_value(s, f"{figure}.price_year", "2020")
        changed[n] = s
    again = run_cea(changed, 3000, seed=8, wtp=(100_000,))
    expected = again["increments"]["haplo_nk"]["nmb"]["100000"]["mean"]
    assert row["inmb"]["haplo_nk"]["100000"][side] == pytest.approx(expected, abs=0.02)
    base = doc["increments"]["haplo_nk"]["nmb"]["100000"]["mean"]
    assert doc["tornado"]["base"]["haplo_nk"]["100000"] == pytest.approx(base, abs=0.02)


def test_cea_tornado_command(tmp_path):
    out = CliRunner().invoke(cli, ["cea", "haplo_ptcy", "haplo_nk", "-n", "500", "--tornado",
                                   "0.2", "--out", str(tmp_path / "t")])
    assert out.exit_code == 0, out.output
    assert "one-way sensitivity" in out.output and "costs.nk_infusion" in out.output
    assert (tmp_path / "t" / "figures" / "tornado_haplo_nk.png").is_file()
    assert "tornado," in (tmp_path / "t" / "decisions.csv").read_text()
    bad = CliRunner().invoke(cli, ["cea", "haplo_ptcy", "haplo_nk", "--tornado", "2"])
    assert bad.exit_code == 2 and "--tornado" in bad.output


def test_sweep_points_equal_runs_with_the_figure_set():
    from hsctsim.model.scenario import set_value

    arms = {n: load_scenario(n) for n in ("haplo_ptcy", "haplo_nk")}
    doc = run_cea(arms, 2000, seed=9, wtp=(100_000,),
                  sweeps=("haplo_nk:costs.nk_infusion=20000:120000:3",
                          "utilities.relapse=0.2:0.4:2"))
    points = doc["sweep"]["figures"]["haplo_nk:costs.nk_infusion"]
    assert [p["value"] for p in points] == [20000.0, 70000.0, 120000.0]
    for p in points[::2]:
        # a swept cost is in the arms' price year (2020), so the run puts it there too
        nk = set_value(arms["haplo_nk"], "costs.nk_infusion.value", repr(p["value"]))
        changed = dict(arms, haplo_nk=set_value(nk, "costs.nk_infusion.price_year", "2020"))
        again = run_cea(changed, 2000, seed=9, wtp=(100_000,))
        inc = again["increments"]["haplo_nk"]
        assert p["increments"]["haplo_nk"]["nmb"]["100000"] == pytest.approx(
            inc["nmb"]["100000"]["mean"], abs=0.02)
        assert p["increments"]["haplo_nk"]["icer"] == inc["icer"] or \
            p["increments"]["haplo_nk"]["icer"] == pytest.approx(inc["icer"], abs=0.02)
        best = "haplo_nk" if inc["nmb"]["100000"]["mean"] > 0 else "haplo_ptcy"
        assert p["optimal"]["100000"] == best
    # a figure both arms carry moves in both
    both = doc["sweep"]["figures"]["utilities.relapse"]
    changed = {n: set_value(s, "utilities.relapse.value", "0.4") for n, s in arms.items()}
    again = run_cea(changed, 2000, seed=9, wtp=(100_000,))
    assert both[1]["arms"]["haplo_ptcy"]["qalys"] == pytest.approx(
        again["arms"]["haplo_ptcy"]["qalys"]["mean"], abs=2e-6)


@pytest.mark.parametrize("sweep, says", [
    ("costs.nk_infusion", "LOW:HIGH:STEPS"),
    ("ghost:costs.nk_infusion=1:2:2", "no arm 'ghost'"),
    ("costs.fish=1:2:2", "not a cost, utility or duration"),
    ("haplo_ptcy:costs.nk_infusion=1:2:2", "not a cost, utility or duration of arm"),
    ("utilities.relapse=0.5:1.5:3", "within [-1, 1]"),
    ("costs.transplant=5:1:3", "LOW <= HIGH"),
    ("costs.transplant=1:5:x", "whole number"),
])
def test_cea_sweep_refused_in_one_line(sweep, says):
    out = CliRunner().invoke(cli, ["cea", "haplo_ptcy", "haplo_nk", "-n", "100", "--sweep",
                                   sweep])
    assert out.exit_code == 2, out.output
    assert says in out.output and "Traceback" not in out.output


def test_cea_command_prints_and_writes_the_value_of_information(tmp_path, monkeypatch):
    # few replicates to stay quick: the regressions' minimum lowered for the test
    monkeypatch.setattr(voi_module, "MIN_DRAWS", 3)
    folder = tmp_path / "v"
    out = CliRunner().invoke(cli, [
        "cea", "haplo_ptcy", "haplo_nk", "mac", "-n", "200", "--seed", "4", "--replicates",
        "4", "--incidence", "50", "--pilot", "haplo_nk:relapse_d365", "--pilot-sizes",
        "5,20", "--study-cost", "1000,100", "--evppi", "nk=haplo_nk:nk_cells.*",
        "--out", str(folder)])
    assert out.exit_code == 0, out.output
    for text in ("fully incremental", "acceptability frontier", "EVPI per patient",
                 "EVPI population", "EVPPI per patient", "pilot of haplo_nk:relapse_d365",
                 "pilot size of the highest ENBS", "note: 4 replicates"):
        assert text in out.output, text
    for name in ("frontier", "ceac_ceaf", "evpi", "evppi", "enbs"):
        assert (folder / "figures" / f"{name}.png").is_file(), name
    doc = json.loads((folder / "cea.json").read_text())
    rows = (folder / "decisions.csv").read_text()
    for section in ("frontier,", "evpi,", "evppi,nk,", "evsi,n=5,", "enbs,n=20,"):
        assert section in rows, section
    assert doc["voi"]["pilot"]["sizes"] == [5, 20]
    assert len(doc["ceac"]["ceaf"]["optimal"]) == len(doc["ceac"]["wtp"])


def test_noise_share_closed_form():
    from hsctsim.apps.ceadecide import noise_shares

    # 2 arms; INB across replicates has variance 4 (costs only, wtp irrelevant to it);
    # each replicate's mean increment carries patient noise of variance 1 in costs
    rng = np.random.default_rng(5)
    r = 20_000
    c = np.column_stack([np.zeros(r), rng.normal(0, 2, r)])
    q = np.zeros((r, 2))
    within = [{"b": (1.0, 0.0, 0.0)}] * r
    share = noise_shares(c, q, within, ["a", "b"], [0.0, 1e5])
    for w in ("0", "100000"):
        assert share[w]["b"] == pytest.approx(0.25, abs=4 * 0.25 * math.sqrt(2 / r))
