"""Costs, QALYs and cost-effectiveness: closed forms, hand-computed cases, pairing."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate

from hsctsim.analysis.costeffectiveness import (ArmTally, ceac, fieller_interval, icer,
                                                nmb_increment)
from hsctsim.apps.cea import run_cea
from hsctsim.apps.cli import cli
from hsctsim.model.economics import (DAYS_PER_YEAR, Discount, Economics, Figure,
                                     comparison_caveats, economics_of, parse_economics,
                                     patient_values, read_life_table, tail)
from hsctsim.model.scenario import ScenarioError, load_scenario, set_value

PROCESSES = ("engraftment", "agvhd", "cgvhd", "cmv", "rejection", "relapse", "trm",
             "death_after_relapse", "nk_cells", "dli")


def econ(costs=None, utilities=None, durations=None):
    """An Economics object from plain numbers (sources are not the point here)."""
    def figs(d):
        return {k: Figure(float(v), "test") for k, v in (d or {}).items()}

    base_util = {"early": 1.0, "disease_free": 1.0, "relapse": 1.0}
    base_dur = {"agvhd_active_days": 0, "cgvhd_active_days": 0, "early_recovery_days": 0,
                "follow_up_from_day": 0}
    return Economics("USD", 2020, figs(costs), figs({**base_util, **(utilities or {})}),
                     figs({**base_dur, **(durations or {})}), None)


def days_of(n, **given):
    out = {p: np.full(n, np.inf) for p in PROCESSES}
    for k, v in given.items():
        out[k] = np.broadcast_to(np.asarray(v, float), (n,)).copy()
    return out


def assert_mc(values, truth, z=4.0):
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - truth) < z * se, (values.mean(), truth, se)


# -- closed forms ------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.03, 0.035])
def test_constant_cost_exponential_survival_continuous_discount(rate):
    """E[integral_0^T c e^{-delta t} 1{alive}] = c (1 - e^{-(delta+lam) T}) / (delta+lam)."""
    rng = np.random.default_rng(1)
    n, lam, horizon, c, u = 200_000, 1 / 400.0, 730.0, 120.0, 0.8
    death = rng.exponential(1 / lam, n)
    e = econ({"engrafted_per_day": c}, {"early": u, "disease_free": u, "relapse": u})
    d = Discount(rate, "continuous")
    values = patient_values(days_of(n, engraftment=0.0, trm=np.where(death <= horizon, death,
                                                                     np.inf)),
                            horizon, e, d)
    k = d.force_per_day + lam
    expected_days = (1 - math.exp(-k * horizon)) / k
    assert_mc(values["costs"], c * expected_days)
    assert_mc(values["qalys"], u * expected_days / DAYS_PER_YEAR)
    assert_mc(values["life_years"], expected_days / DAYS_PER_YEAR)


def test_annual_discounting_against_quadrature():
    rng = np.random.default_rng(2)
    n, lam, horizon, rate = 200_000, 1 / 500.0, 1500.0, 0.035
    death = rng.exponential(1 / lam, n)
    d = Discount(rate, "annual")
    values = patient_values(days_of(n, engraftment=0.0, trm=np.where(death <= horizon, death,
                                                                     np.inf)),
                            horizon, econ({"engrafted_per_day": 1.0}), d)
    breaks = [0.0, DAYS_PER_YEAR, 2 * DAYS_PER_YEAR, 3 * DAYS_PER_YEAR, 4 * DAYS_PER_YEAR]
    truth = sum(integrate.quad(lambda t: math.exp(-lam * t) * (1 + rate) ** -(t // DAYS_PER_YEAR),
                               a, min(b, horizon))[0]
                for a, b in zip(breaks, breaks[1:]) if a < horizon)
    assert_mc(values["costs"], truth)
    # the discount integral itself, exactly
    assert d.integral(np.array([DAYS_PER_YEAR * 2.5]))[0] == pytest.approx(
        DAYS_PER_YEAR * (1 + 1 / 1.035 + 0.5 / 1.035 ** 2))
    assert d.factor(365.0) == 1.0 and d.factor(DAYS_PER_YEAR) == pytest.approx(1 / 1.035)


def test_lifetime_tail_constant_hazard_closed_form():
    """Constant q_x and relative mortality: integral_H^inf e^{-mu (t-H)} e^{-delta t} dt."""
    q, rr, horizon = 0.02, 3.0, 730.0
    table = (np.full(120, q), np.full(120, q))
    d = Discount(0.03)
    t = tail(horizon, d, age_years=0.0, male_fraction=0.5, excess_mortality=[(0, rr)],
             life_table=table)
    mu = -math.log1p(-q) / DAYS_PER_YEAR * rr
    delta = d.force_per_day
    expected = math.exp(-delta * horizon) / (delta + mu) * (
        1 - math.exp(-(delta + mu) * (120 * DAYS_PER_YEAR - horizon)))
    assert t.total_days == pytest.approx(expected, rel=1e-4)
    # everyone alive at the horizon: window plus tail, per patient
    values = patient_values(days_of(3, engraftment=0.0), horizon, econ({"engrafted_per_day": 2.0}),
                            d, t)
    window = (1 - math.exp(-delta * horizon)) / delta
    assert values["costs"] == pytest.approx(np.full(3, 2.0 * (window + expected)), rel=1e-4)


def test_lifetime_tail_piecewise_excess_mortality_and_sex_mix():
    males, females = read_life_table("us_ssa_2021")
    assert len(males) == 120 and males[60] == pytest.approx(0.014267)
    d = Discount(0.0)
    age, horizon = 50.0, 730.0
    t = tail(horizon, d, age, 0.3, [(2, 4.0), (10, 1.5)], "us_ssa_2021")

    def survival(qx, s):
        """Exact: the hazard is constant between birthdays and the excess-mortality step."""
        def hazard(x):  # per day, at day x since transplant
            rr = 4.0 if x < 10 * DAYS_PER_YEAR else 1.5
            return -math.log1p(-qx[int(age + x / DAYS_PER_YEAR)]) / DAYS_PER_YEAR * rr
        cuts = [(k - age) * DAYS_PER_YEAR for k in range(int(age) + 1, 120)]
        cuts = sorted({horizon, s, 10 * DAYS_PER_YEAR, *(c for c in cuts if horizon < c < s)})
        cuts = [c for c in cuts if horizon <= c <= s]
        return math.exp(-sum(hazard(0.5 * (a + b)) * (b - a) for a, b in zip(cuts, cuts[1:])))

    ends = np.arange(horizon, (120 - age) * DAYS_PER_YEAR, 30.0)
    mids = ends[:-1] + 15
    s = np.array([0.3 * survival(males, m) + 0.7 * survival(females, m) for m in mids])
    assert t.total_days == pytest.approx(float((s * 30.0).sum()), rel=2e-3)


# -- hand-computed cases -------------------------------------------------------------------


def test_hand_computed_patients_undiscounted():
    e = econ({"transplant": 1000, "engrafted_per_day": 2, "agvhd_onset": 500, "salvage": 300,
              "cgvhd_per_day": 10},
             {"early": 0.5, "disease_free": 0.8, "relapse": 0.3, "agvhd_decrement": 0.2,
              "cgvhd_decrement": 0.1},
             {"agvhd_active_days": 42, "cgvhd_active_days": 700, "early_recovery_days": 100,
              "follow_up_from_day": 100})
    inf = np.inf
    days = {p: np.full(3, inf) for p in PROCESSES}
    # A: engrafts d10, acute GVHD d20, relapse d300, dies d400
    # B: engrafts d10, chronic GVHD d200, alive at d730
    # C: engrafts d10, acute GVHD d20, rejection d30 (ends GVHD), TRM d50
    days["engraftment"][:] = 10
    days["agvhd"][[0, 2]] = 20
    days["relapse"][0], days["death_after_relapse"][0] = 300, 400
    days["cgvhd"][1] = 200
    days["rejection"][2], days["trm"][2] = 30, 50
    v = patient_values(days, 730.0, e, Discount(0.0))
    assert v["costs"] == pytest.approx([1000 + 2 * 300 + 500 + 300,
                                        1000 + 2 * 630 + 10 * 530,
                                        1000 + 500])
    assert v["qalys"] * DAYS_PER_YEAR == pytest.approx([
        0.5 * 100 + 0.8 * 200 + 0.3 * 100 - 0.2 * 42,
        0.5 * 100 + 0.8 * 630 - 0.1 * 530,
        0.5 * 50 - 0.2 * 10])
    assert v["life_years"] * DAYS_PER_YEAR == pytest.approx([400, 730, 50])


def test_one_off_costs_are_discounted_to_their_day():
    e = econ({"cmv_onset": 1000.0, "nk_infusion": 50.0})
    v = patient_values(days_of(1, cmv=DAYS_PER_YEAR, nk_cells=7.0), 730.0, e, Discount(0.03))
    assert v["costs"][0] == pytest.approx(1000 / 1.03 + 50 * 1.03 ** (-7 / DAYS_PER_YEAR))
    # an event after death (not simulated) or after the window costs nothing
    v = patient_values(days_of(1, cmv=800.0), 730.0, e, Discount(0.03))
    assert v["costs"][0] == 0.0


# -- summaries -----------------------------------------------------------------------------


def test_tally_paired_increment_nmb_and_fieller():
    rng = np.random.default_rng(3)
    n = 10_000
    ref = {"costs": rng.normal(100, 10, n), "qalys": rng.normal(1, 0.1, n),
           "life_years": rng.normal(1, 0.1, n)}
    arm = {k: v + rng.normal(5 if k == "costs" else 0.1, 1 if k == "costs" else 0.01, n)
           for k, v in ref.items()}
    t = ArmTally()
    for lo in range(0, n, 3000):  # in chunks, as the driver adds them
        t.add({k: v[lo:lo + 3000] for k, v in arm.items()},
              {k: v[lo:lo + 3000] for k, v in ref.items()})
    dc, (lo_c, hi_c) = t.increment("costs")
    assert dc == pytest.approx((arm["costs"] - ref["costs"]).mean())
    se = (arm["costs"] - ref["costs"]).std(ddof=1) / math.sqrt(n)
    assert hi_c - dc == pytest.approx(1.959964 * se)
    mean, (lo, hi) = nmb_increment(t, 100.0)
    d = 100 * (arm["qalys"] - ref["qalys"]) - (arm["costs"] - ref["costs"])
    assert mean == pytest.approx(d.mean())
    assert hi - mean == pytest.approx(1.959964 * d.std(ddof=1) / math.sqrt(n))
    mc, mq, vc, vq, cov = t.increment_cov()
    low, high = fieller_interval(mc, mq, vc, vq, cov)
    assert low < mc / mq < high
    # Fieller's bounds are the ratios R where (dc - R dq) is just significant
    for r in (low, high):
        z = (mc - r * mq) / math.sqrt(vc - 2 * r * cov + r * r * vq)
        assert abs(z) == pytest.approx(1.959964, rel=1e-6)
    assert fieller_interval(1.0, 0.001, 1.0, 1.0, 0.0) is None
    assert icer(-1, 1) == "dominant" and icer(1, -1) == "dominated" and icer(10, 2) == 5


def test_ceac_by_hand():
    means = {"a": ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
             "b": ([10.0, 20.0, 30.0], [2.0, 2.0, 2.0])}
    probs = ceac(means, [0.0, 15.0, 25.0, 100.0])
    assert list(probs["b"]) == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert list(probs["a"] + probs["b"]) == pytest.approx([1, 1, 1, 1])


def test_run_cea_is_paired_and_chunk_invariant():
    mac = load_scenario("mac")
    same = run_cea({"mac": mac, "mac_again": mac}, 3000, seed=5, chunk_size=1000)
    inc = same["increments"]["mac_again"]
    assert inc["costs"] == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert inc["qalys"]["mean"] == 0.0
    doc = run_cea({"mac": mac, "ric": load_scenario("ric")}, 3000, seed=5, chunk_size=1000,
                  wtp=(100_000,))
    whole = run_cea({"mac": mac, "ric": load_scenario("ric")}, 3000, seed=5, chunk_size=3000,
                    wtp=(100_000,))
    assert doc["arms"] == whole["arms"]
    inc = doc["increments"]["ric"]
    diff = doc["arms"]["ric"]["costs"]["mean"] - doc["arms"]["mac"]["costs"]["mean"]
    assert inc["costs"]["mean"] == pytest.approx(diff, abs=1e-3)
    if isinstance(inc["icer"], float):
        assert inc["quadrant"] == ("NE" if inc["qalys"]["mean"] > 0 else "SW")
    else:
        assert inc["quadrant"] == inc["icer"]
    nmb = 100_000 * inc["qalys"]["mean"] - inc["costs"]["mean"]
    assert inc["nmb"]["100000"]["mean"] == pytest.approx(nmb, abs=0.5)
    # paired intervals are narrower than those of two independent means
    a, b = doc["arms"]["mac"]["costs"]["ci95"], doc["arms"]["ric"]["costs"]["ci95"]
    independent = math.hypot(a[1] - a[0], b[1] - b[0])
    assert inc["costs"]["ci95"][1] - inc["costs"]["ci95"][0] < independent


# -- scenarios and the command line ---------------------------------------------------------


# the bundled costs are brought from their sources' price years to 2020 with the CPI-U
# medical care index (hsctsim/model/data/price_index_us_cpi_medical_care.csv)
TO_2020_FROM_2023 = 518.876 / 549.084
TO_2020_FROM_2024 = 518.876 / 563.841


def test_bundled_arms_carry_sourced_economics():
    for name in ("mac", "ric", "haplo_ptcy", "haplo_nk"):
        e = economics_of(load_scenario(name))
        assert e.currency == "USD" and e.lifetime is not None
        assert all(source.strip() for _, _, source in e.sources())
    nk = economics_of(load_scenario("haplo_nk")).costs["nk_infusion"]
    assert nk.value == pytest.approx((35966 * TO_2020_FROM_2023, 97000 * TO_2020_FROM_2023),
                                     rel=1e-12)
    assert nk.label == "proxy" and "http" in nk.source


def test_caveats_name_unpublished_figures_that_make_arms_differ():
    def arm(nk=None, source="assumption: none published", early=1.0, early_source="test"):
        e = econ({"transplant": 1000.0})
        costs = dict(e.costs)
        if nk is not None:
            costs["nk_infusion"] = Figure(nk, source)
        utilities = {**e.utilities, "early": Figure(early, early_source)}
        return Economics("USD", 2020, costs, utilities, e.durations, None)

    base = arm()
    # a zero, assumed cost that only one arm has: flagged, for that arm only
    (c,) = comparison_caveats({"ref": base, "nk": arm(0.0)})
    assert (c["arm"], c["figure"], c["label"]) == ("nk", "costs.nk_infusion", "assumption")
    assert c["text"] == ("nk: costs.nk_infusion = 0 is an assumption, not a published "
                         "figure: what it prices is not costed")
    # a zero cost with any source is still not costed; a proxy says so
    (c,) = comparison_caveats({"ref": base, "nk": arm(0.0, "what-if")})
    assert c["label"] is None and c["text"].endswith("= 0: what it prices is not costed")
    (c,) = comparison_caveats({"ref": base, "nk": arm((10.0, 30.0), "Proxy: a CAR-T")})
    assert c["label"] == "proxy" and "= 10-30 is a proxy" in c["text"]
    # a published cost, or an assumption every arm shares, shapes nothing: no caveat
    assert comparison_caveats({"ref": base, "nk": arm(60000.0, "Leukemia 2030;1:1")}) == []
    assert comparison_caveats({"a": arm(0.0), "b": arm(0.0)}) == []
    assert comparison_caveats({"a": base, "b": base}) == []
    # utilities too, in arm order
    out = comparison_caveats({"ref": base, "x": arm(0.0, early=0.5,
                                                    early_source="assumption: guess")})
    assert [c["figure"] for c in out] == ["costs.nk_infusion", "utilities.early"]


@pytest.mark.parametrize("key, text, words", [
    ("costs.transplant.source", '""', "costs.transplant.source: every number needs its source"),
    ("costs.transplant", "5", "costs.transplant: must be a table"),
    ("costs.bogus", '{ value = 1, source = "x" }', "costs.bogus: unknown key"),
    ("utilities.early.value", "1.5", "utilities.early.value: 1.5 is outside"),
    ("lifetime.life_table", '"mars"', "lifetime.life_table: 'mars' is not one of"),
    ("costs.cmv_per_day", '{ value = 1, source = "x" }', "durations.cmv_treatment_days: missing"),
])
def test_bad_economics_name_the_key(key, text, words):
    scenario = set_value(load_scenario("mac"), key, text)
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(")):
        parse_economics(scenario.to_dict(), scenario.path)


def test_cea_command_table_json_and_errors(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["cea", "mac", "ric", "-n", "2000", "--lifetime", "--discount",
                              "0.035", "--discounting", "annual", "--wtp", "50000"])
    assert out.exit_code == 0, out.output
    assert "ICER" in out.output and "NMB at 50,000" in out.output and "3.5%" in out.output
    bad = runner.invoke(cli, ["cea", "mac"])
    assert bad.exit_code == 2 and "two arms" in bad.output
    bad = runner.invoke(cli, ["cea", "mac", "ric", "--set", "costs.transplant.value=-1"])
    assert bad.exit_code == 2 and "costs.transplant.value" in bad.output
    assert "Traceback" not in bad.output
    bad = runner.invoke(cli, ["cea", "mac", "ric", "--wtp", "abc"])
    assert bad.exit_code == 2
    folder = tmp_path / "cea"
    ok = runner.invoke(cli, ["cea", "mac", "ric", "-n", "1000", "--replicates", "2",
                             "--out", str(folder), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    for name in ("cea.json", "cea.csv", "ce_plane.csv", "ceac.csv", "figures/ce_plane.png",
                 "figures/ceac.png", "scenarios/mac.toml", "scenarios/ric.toml"):
        assert (folder / name).is_file(), name


def test_ranged_figures_midpoint_and_shared_draws():
    mac, ric = (economics_of(load_scenario(n)) for n in ("mac", "ric"))
    low, high = 20286 * TO_2020_FROM_2024, 24426 * TO_2020_FROM_2024  # 2024 to 2020 prices
    assert mac.cost("agvhd_onset") == pytest.approx(0.5 * (low + high))
    a, b = mac.draw(7, 3), ric.draw(7, 3)
    drawn = a.cost("agvhd_onset")
    assert low <= drawn <= high and drawn == b.cost("agvhd_onset")  # shared by the arms
    assert a.cost("transplant") == mac.cost("transplant")  # points stay
    assert mac.draw(7, 4).cost("agvhd_onset") != drawn
    assert 28 <= a.duration("agvhd_active_days") <= 56


def test_cea_what_ifs_of_costs_and_of_the_course():
    runner = CliRunner()
    base = ["cea", "mac", "ric", "-n", "1000", "--format", "json"]
    plain = json.loads(runner.invoke(cli, base).stdout)
    cheaper = runner.invoke(cli, [*base, "--set", "costs.transplant.value=231827",
                                  "--replicates", "1"])
    assert cheaper.exit_code == 0, cheaper.output
    doc = json.loads(cheaper.stdout)
    for arm in ("mac", "ric"):  # the same patients, 100,000 (2024 dollars) less each
        assert doc["arms"][arm]["costs"]["mean"] == pytest.approx(
            plain["arms"][arm]["costs"]["mean"] - 100_000 * TO_2020_FROM_2024, abs=0.01)
        assert doc["arms"][arm]["qalys"] == plain["arms"][arm]["qalys"]
    course = json.loads(runner.invoke(cli, [*base, "--set",
                                            "ric:effects.cgvhd_on_relapse.hr=0.3"]).stdout)
    assert course["arms"]["mac"] == plain["arms"]["mac"]
    assert course["arms"]["ric"]["qalys"]["mean"] > plain["arms"]["ric"]["qalys"]["mean"]
    refused = runner.invoke(cli, [*base, "--set", "effects.cgvhd_on_relapse.hr=0.3",
                                  "--replicates", "1"])
    assert refused.exit_code == 2 and "--recalibrate" in refused.output


def test_cea_cautions_under_the_table_only_when_a_figure_is_unpublished(tmp_path):
    runner = CliRunner()
    plain = runner.invoke(cli, ["cea", "mac", "ric", "-n", "300", "--format", "json"])
    assert plain.exit_code == 0 and "caveats" not in json.loads(plain.stdout)
    arms = ["cea", "haplo_ptcy", "haplo_nk", "-n", "300"]
    zero = "haplo_nk:costs.nk_infusion={ value = 0, source = \"assumption: unknown\" }"
    folder = tmp_path / "zero"
    out = runner.invoke(cli, [*arms, "--set", zero, "--out", str(folder)])
    assert out.exit_code == 0, out.output
    line = ("caution: haplo_nk: costs.nk_infusion = 0 is an assumption, not a published "
            "figure: what it prices is not costed")
    lines = out.stdout.splitlines()  # under the tables, before what a --set changed
    assert lines.index(line) == lines.index("what-if:") - 2
    assert lines[lines.index(line) - 2].startswith("haplo_nk  ")  # the increments row
    saved = json.loads((folder / "cea.json").read_text())
    assert [c["figure"] for c in saved["caveats"]] == ["costs.nk_infusion"]
    # the bundled proxy is named as one, in the table and in the JSON
    bundled = runner.invoke(cli, [*arms, "--format", "json"])
    (c,) = json.loads(bundled.stdout)["caveats"]
    assert c["label"] == "proxy" and c["value"] == pytest.approx(
        [35966 * TO_2020_FROM_2023, 97000 * TO_2020_FROM_2023], rel=1e-9)
    # a published figure: no caution, and the costs move by it exactly (day 0, undiscounted)
    paid = "haplo_nk:costs.nk_infusion={ value = 50000, source = \"Leukemia 2030;1:1\" }"
    sourced = runner.invoke(cli, [*arms, "--set", paid, "--format", "json"])
    doc = json.loads(sourced.stdout)
    assert "caveats" not in doc
    free = json.loads(runner.invoke(cli, [*arms, "--set", zero, "--format", "json"]).stdout)
    assert doc["increments"]["haplo_nk"]["costs"]["mean"] == pytest.approx(
        free["increments"]["haplo_nk"]["costs"]["mean"] + 50_000, abs=0.01)
