"""Published figures against simulations: the file, the estimators, `hsctsim validate`."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hsctsim.analysis.validation import (Among, Figure, compare, horizon_days,
                                         load_figures, median_days, simulated, survival_at,
                                         wilson)
from hsctsim.apps.cli import cli
from hsctsim.model.cohort import Cohort
from hsctsim.model.hsct import PROCESS_NAMES
from hsctsim.model.scenario import BUNDLED_ORDER, ScenarioError
from hsctsim.model.solid import TUMOUR_PROCESSES

SOLID_ARMS = ("rcc", "colorectal", "pancreatic", "ovarian", "melanoma")
AUTO_ARMS = ("auto_myeloma", "auto_lymphoma")  # one disease each, with published figures


def cohort_of(relapse, trm, death_after_relapse, horizon):
    """A hand-made cohort: only relapse and the two deaths happen."""
    days = np.full((len(relapse), len(PROCESS_NAMES)), np.inf)
    for name, values in (("relapse", relapse), ("trm", trm),
                         ("death_after_relapse", death_after_relapse)):
        days[:, PROCESS_NAMES.index(name)] = values
    return Cohort(days, None, 1, float(horizon), {}, "test")


def with_use(text):
    """A figures file with ``use`` (required since issue 20) in each figure."""
    return text.replace("[[figure]]\n", '[[figure]]\nuse="validation"\n')


def figure(**kw):
    base = dict(arm="a", endpoint="os", measure="m", landmark_day=100.0, estimate=0.5,
                citation="c", population="p")
    return Figure(**{**base, **kw})


def test_bundled_file_names_its_sources_and_covers_every_arm():
    figures = load_figures()
    # the allogeneic arms, the solid tumours and the disease-specific autologous arms
    # (the mixed `auto` has no published survival in its population; the MSC trial has
    # reported nothing)
    assert {f.arm for f in figures} == set(BUNDLED_ORDER) | set(SOLID_ARMS) | set(AUTO_ARMS)
    for f in figures:
        assert f.citation.strip() and f.population.strip()
        assert f.interval is None or f.interval[0] <= f.compared <= f.interval[1]
    assert horizon_days(figures) >= 1461  # 3-year survival after relapses up to 2 years


def test_wilson_interval_matches_the_textbook_case():
    # 5 of 10, 95%: 0.2366-0.7634 (Wilson 1927; Newcombe, Stat Med 1998, table I)
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


def test_tolerance_is_half_the_published_interval_at_least_five_points():
    assert figure().tolerance == 0.05
    assert figure(ci95=(0.3, 0.8)).tolerance == pytest.approx(0.25)
    assert figure(ci95=(0.48, 0.52)).tolerance == 0.05
    assert figure(se=0.1).tolerance == pytest.approx(1.959964 * 0.1, rel=1e-6)
    low, high = wilson(9, 18)
    assert figure(n=18).tolerance == pytest.approx((high - low) / 2)


def test_post_relapse_survival_counts_complete_follow_up_only():
    # relapses on days 10, 50, 200, 900 (the last too late for a 365-day landmark
    # within 1000 days); deaths 100, 500 and never after them; one non-relapse death
    inf = np.inf
    c = cohort_of(relapse=[10, 50, 200, 900, inf], trm=[inf, inf, inf, inf, 30],
                  death_after_relapse=[100, 500, inf, inf, inf], horizon=1000)
    f = figure(endpoint="post_relapse_os", landmark_day=365.0)
    est, low, high = simulated(f, {"a": c})
    assert est == pytest.approx(2 / 3)  # alive 365 days after: relapse 50 and 200
    assert (low, high) == pytest.approx(tuple(map(float, wilson(2, 3))))
    window = figure(endpoint="post_relapse_os", landmark_day=365.0, relapse_from_day=40,
                    relapse_to_day=100)
    assert simulated(window, {"a": c})[0] == 1.0  # only the relapse on day 50


def test_hazard_ratio_is_the_ratio_of_cumulative_hazards():
    n = 1000
    dead_a = np.where(np.arange(n) < 400, 50.0, np.inf)  # S = 0.6 at day 100
    dead_r = np.where(np.arange(n) < 200, 50.0, np.inf)  # S = 0.8
    nothing = np.full(n, np.inf)
    cohorts = {"a": cohort_of(nothing, dead_a, nothing, 200),
               "r": cohort_of(nothing, dead_r, nothing, 200)}
    f = figure(endpoint="os_hazard_ratio", estimate=2.0, ci95=(1.5, 2.5), reference_arm="r")
    est, low, high = simulated(f, cohorts)
    assert est == pytest.approx(math.log(0.6) / math.log(0.8))
    assert low < est < high
    (result,) = compare([f], cohorts)
    assert result.within  # 2.29 lies inside 1.5-2.5


def test_within_uses_the_tolerance():
    c = cohort_of([np.inf] * 10, [5.0] * 3 + [np.inf] * 7, [np.inf] * 10, 200)  # OS 0.7
    near, far = figure(estimate=0.74), figure(estimate=0.76)
    assert [r.within for r in compare([near, far], {"a": c})] == [True, False]


@pytest.mark.parametrize("text, key", [
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\ncolour=1\n', "figure[0].colour"),
    ('[[figure]]\narm="a"\nendpoint="efs"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\n', "figure[0].endpoint"),
    ('[[figure]]\narm="a"\nendpoint="os_median"\nmeasure="m"\nestimate=139\nci95=[100,200]\n'
     'citation="c"\npopulation="p"\n', "figure[0].ci95"),
    ('[[figure]]\narm="a"\nendpoint="os_median"\nmeasure="m"\nestimate=139\nlandmark_day=365\n'
     'n=22\ncitation="c"\npopulation="p"\n', "figure[0].landmark_day"),
    ('[[figure]]\narm="a"\nendpoint="best_response"\nresponse=["MR"]\nmeasure="m"\n'
     'landmark_day=365\nestimate=0.2\ncitation="c"\npopulation="p"\n', "figure[0].response"),
    ('[[figure]]\narm="a"\nendpoint="os"\nresponse=["SD"]\nmeasure="m"\n'
     'landmark_day=365\nestimate=0.2\ncitation="c"\npopulation="p"\n', "figure[0].response"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=1.5\n'
     'citation="c"\npopulation="p"\n', "figure[0].estimate"),
    ('[[figure]]\narm="a"\nendpoint="os_hazard_ratio"\nreference_arm="b"\nmeasure="m"\n'
     'landmark_day=1\nestimate=1.5\ncitation="c"\npopulation="p"\n', "figure[0].ci95"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation=""\npopulation="p"\n', "figure[0].citation"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\namong={event="cgvhd"}\n', "figure[0].among.by_day"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\namong={event="gvhd",by_day=9}\n', "figure[0].among.event"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\namong={event="cgvhd",no_event="cgvhd",by_day=9}\n',
     "figure[0].among"),
    ('[[figure]]\narm="a"\nendpoint="os"\nmeasure="m"\nlandmark_day=1\nestimate=0.5\n'
     'citation="c"\npopulation="p"\namong={best_response=["MR"],by_day=9}\n',
     "figure[0].among.best_response"),
    ('[[figure]]\narm="a"\nendpoint="best_response"\nresponse=["SD"]\nmeasure="m"\n'
     'landmark_day=1\nestimate=0.5\ncitation="c"\npopulation="p"\n'
     'among={event="cgvhd",by_day=9}\n', "figure[0].among"),
    ("x = 1\n", "figure"),
])
def test_bad_files_name_the_file_and_key(tmp_path, text, key):
    path = tmp_path / "figures.toml"
    path.write_text(with_use(text))
    with pytest.raises(ScenarioError) as info:
        load_figures(path)
    assert info.value.key == key and str(path) in str(info.value)


def test_validate_command_on_the_bundled_arms():
    result = CliRunner().invoke(cli, ["validate", "-n", "20000", "--format", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == (0 if doc["passed"] else 1)
    assert doc["horizon_days"] >= 1461
    arms = {f["arm"] for f in doc["figures"]}
    assert arms == set(BUNDLED_ORDER) | set(SOLID_ARMS) | set(AUTO_ARMS)
    for f in doc["figures"]:
        sim, pub = f["simulated"]["estimate"], f["published"]["estimate"]
        if f["endpoint"] == "os_hazard_ratio":
            low, high = f["published"]["ci95"]
            assert f["within"] == (low <= sim <= high)
        elif f["compared"]:  # a median: survival at the published median day against 1/2
            assert f["within"] == (abs(f["compared"]["simulated"] - 0.5)
                                   <= f["tolerance"] + 1e-9)
        else:
            assert f["within"] == (abs(sim - pub) <= f["tolerance"] + 1e-9)
    assert doc["all_within"] == all(f["within"] for f in doc["figures"] if f["counted"])
    counted = [f for f in doc["figures"] if f["counted"]]
    val = [f["within"] for f in counted if f["use"] == "validation"]
    assert doc["calibration_all_within"] == all(f["within"] for f in counted
                                                if f["use"] == "calibration")
    assert doc["validation_share"] == pytest.approx(sum(val) / len(val))
    assert doc["passed"] == (doc["calibration_all_within"] and doc["validation_share"] >= 0.8)
    table = CliRunner().invoke(cli, ["validate", "mst", "-n", "20000"])
    assert table.exit_code in (0, 1) and "published (95% CI)" in table.stdout
    assert "counted validation figures within tolerance" in table.stdout
    assert "counted calibration figures within tolerance" in table.stdout


def test_validate_errors_are_one_line_with_status_2(tmp_path):
    unknown = CliRunner().invoke(cli, ["validate", "nonesuch"])
    assert unknown.exit_code == 2 and "nonesuch" in unknown.output
    no_tumour = tmp_path / "no_tumour.toml"
    no_tumour.write_text(with_use(
        '[[figure]]\narm="mac"\nendpoint="os"\nmeasure="m"\nlandmark_day=100\n'
        'estimate=0.5\ncitation="c"\npopulation="p"\namong={best_response=["PR"],by_day=365}\n'))
    result = CliRunner().invoke(cli, ["validate", "--figures", str(no_tumour)])
    assert result.exit_code == 2 and "no [tumour] section" in result.output
    assert len(result.output.strip().splitlines()) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[[figure]]\narm = 1\n")
    result = CliRunner().invoke(cli, ["validate", "--figures", str(bad)])
    assert result.exit_code == 2 and "bad.toml" in result.output
    assert len(result.output.strip().splitlines()) == 1
    no_tumour = tmp_path / "no_tumour.toml"
    no_tumour.write_text(with_use(
        '[[figure]]\narm="mac"\nendpoint="best_response"\nresponse=["SD"]\n'
        'measure="m"\nlandmark_day=365\nestimate=0.2\ncitation="c"\npopulation="p"\n'))
    result = CliRunner().invoke(cli, ["validate", "--figures", str(no_tumour), "-n", "100"])
    assert result.exit_code == 2 and "no_tumour.toml" in result.output and "mac" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_run_days_adds_landmarks_and_keeps_the_standard_ones(tmp_path):
    result = CliRunner().invoke(cli, ["run", "mac", "-n", "2000", "--seed", "5", "--horizon",
                                      "1461", "--days", "548,1461", "--format", "json"])
    assert result.exit_code == 0, result.output
    at = json.loads(result.stdout)["arms"]["mac"]["endpoints"]["os"]["at"]
    assert list(at) == ["d30", "d100", "d180", "d365", "d548", "d730", "d1461"]
    plain = CliRunner().invoke(cli, ["run", "mac", "-n", "2000", "--seed", "5", "--horizon",
                                     "1461", "--format", "json"])
    plain_at = json.loads(plain.stdout)["arms"]["mac"]["endpoints"]["os"]["at"]
    assert {d: at[d] for d in plain_at} == plain_at  # same patients, same estimates


@pytest.mark.parametrize("days", ["0", "-5", "x", "inf", "nan", "547.5", "1000", "30,,100"])
def test_run_days_rejects_bad_days(days):
    result = CliRunner().invoke(cli, ["run", "mac", "-n", "100", "--days", days])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "--days" in result.output


def tumour_cohort_of(columns, horizon, stable_min_day=56):
    """A hand-made solid-tumour cohort: the named processes happen, nothing else."""
    from types import SimpleNamespace

    names = (*PROCESS_NAMES, *TUMOUR_PROCESSES)
    n = len(next(iter(columns.values())))
    days = np.full((n, len(names)), np.inf)
    for name, values in columns.items():
        days[:, names.index(name)] = values
    scenario = SimpleNamespace(extensions={"tumour": SimpleNamespace(
        stable_min_day=stable_min_day)})
    return Cohort(days, scenario, 1, float(horizon), {}, "test", process_names=names)


def test_median_days_is_the_kaplan_meier_median_with_an_order_statistic_interval():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(3)
    days = rng.exponential(100.0, 401)
    median, low, high = median_days(days)
    km = KaplanMeierFitter().fit(days, np.ones_like(days))
    assert median == pytest.approx(km.median_survival_time_)  # same definition
    # distribution-free interval (Conover): ranks floor(n/2 - 1.96 sqrt(n)/2) and
    # ceil(1 + n/2 + 1.96 sqrt(n)/2), here 180 and 222
    x = np.sort(days)
    assert (low, high) == (x[179], x[221])
    assert median_days([5.0, 1.0, 3.0, 2.0])[0] == 2.0  # smallest day with S <= 1/2
    assert median_days([1.0, np.inf, np.inf])[0] == np.inf  # not reached


def test_a_median_is_checked_as_survival_one_half_at_the_published_day():
    # 10 patients, deaths on days 10, 20, ..., 100: S(45) = 0.6, S(55) = 0.5
    deaths = np.arange(1, 11) * 10.0
    c = cohort_of([np.inf] * 10, deaths, [np.inf] * 10, 200)
    f = figure(endpoint="os_median", estimate=45.0, landmark_day=45.0, n=22)
    (r,) = compare([f], {"a": c})
    assert r.estimate == 50.0 and r.compared == pytest.approx(0.6)
    low, high = wilson(11, 22)
    assert f.tolerance == pytest.approx((high - low) / 2)  # 0.196 among 22 patients
    assert r.within  # |0.6 - 0.5| <= 0.196
    strict = figure(endpoint="os_median", estimate=45.0, landmark_day=45.0, n=2000)
    assert f.horizon_days == 90.0 and not compare([strict], {"a": c})[0].within
    pfs = figure(endpoint="pfs_median", estimate=25.0, landmark_day=25.0)
    relapsed = cohort_of([5.0] * 5 + [np.inf] * 5, [np.inf] * 10, [np.inf] * 10, 200)
    assert survival_at(pfs, {"a": relapsed}) == 0.5


def test_pfs_and_death_from_progression():
    inf = np.inf
    c = cohort_of(relapse=[10, 30, 50, inf], trm=[inf, inf, inf, 20],
                  death_after_relapse=[40, inf, 90, inf], horizon=365)
    assert simulated(figure(endpoint="pfs", landmark_day=35.0), {"a": c})[0] == 0.25
    est, low, high = simulated(figure(endpoint="progression_death", landmark_day=60.0),
                               {"a": c})
    assert est == 0.25 and (low, high) == pytest.approx(tuple(map(float, wilson(1, 4))))


def test_best_response_by_the_landmark_day():
    inf = np.inf
    # 0: PR d100 then CR d200; 1: PR d300; 2: progression d30 (PD); 3: nothing (SD);
    # 4: progression d80 (SD: after stable_min_day 56); 5: early (chemo) response d20
    c = tumour_cohort_of({"gvt_response": [100, 300, inf, inf, inf, inf],
                          "complete_response": [200, inf, inf, inf, inf, inf],
                          "chemo_response": [inf, inf, inf, inf, inf, 20],
                          "relapse": [inf, inf, 30, inf, 80, inf]}, horizon=400)

    def share(response, day):
        return simulated(figure(endpoint="best_response", response=response,
                                landmark_day=day), {"a": c})[0]

    assert share(("CR",), 365) == pytest.approx(1 / 6)
    assert share(("CR", "PR"), 365) == pytest.approx(3 / 6)
    assert share(("SD",), 365) == pytest.approx(2 / 6)
    # by day 150: no CR yet, the d300 responder is stable
    assert share(("CR",), 150) == 0.0
    assert share(("PR",), 150) == pytest.approx(2 / 6)
    assert share(("SD",), 150) == pytest.approx(3 / 6)
    assert share(("PD",), 40) == pytest.approx(5 / 6)  # SD needs stable_min_day (56)


# Responses in the RCC series beside the NIH calibration target (22 of 50), from the
# figures' notes: the file header's rule (Fisher's exact test, two-sided 5%) decides
# which series is another programme, shown but not counted.
RCC_SERIES_RESPONSES = {"Clin Transplant 2007": (1, 11), "Bregni": (5, 24),
                        "University of Chicago": (4, 18), "1704587": (2, 7)}


def test_rcc_series_of_another_programme_are_shown_not_counted():
    from scipy.stats import fisher_exact

    survival = [f for f in load_figures() if f.arm == "rcc" and f.endpoint in ("os", "os_median")]
    for key, (hits, n) in RCC_SERIES_RESPONSES.items():
        p = fisher_exact([[hits, n - hits], [22, 50 - 22]])[1]
        chosen = [f for f in survival if key in f.citation]
        assert chosen, key
        assert all(f.check == (p >= 0.05) for f in chosen), (key, p)


def test_gvhd_figures_are_cumulative_incidences_at_the_landmark():
    inf = np.inf
    # acute GVHD II-IV on days 20 and 150, grade III-IV on day 20; chronic GVHD on
    # days 200 and 900; one death on day 50 (it competes: no GVHD after it)
    c = tumour_cohort_of({"agvhd": [20, 150, inf, inf], "agvhd_3_4": [20, inf, inf, inf],
                          "cgvhd": [200, inf, 900, inf], "trm": [inf, inf, inf, 50]},
                         horizon=1000)
    for endpoint, day, share in (("agvhd", 100.0, 1 / 4), ("agvhd", 180.0, 2 / 4),
                                 ("agvhd_3_4", 100.0, 1 / 4), ("cgvhd", 730.0, 1 / 4),
                                 ("cgvhd", 1000.0, 2 / 4)):
        f = figure(endpoint=endpoint, landmark_day=day, estimate=share)
        est, low, high = simulated(f, {"a": c})
        assert est == pytest.approx(share) and low <= est <= high, (endpoint, day)
        assert f.label == endpoint


def test_figures_among_a_subgroup_count_only_its_patients():
    inf = np.inf
    # chronic GVHD on days 50 and 300 (patients 0, 1); deaths on days 100, 400, 30, 200
    c = tumour_cohort_of({"cgvhd": [50, 300, inf, inf], "trm": [100, 400, 30, 200]},
                         horizon=500)
    by_200, by_365 = Among(200.0, event="cgvhd"), Among(365.0, event="cgvhd")
    # by day 200 only patient 0 had it: the others are "no cgvhd", patient 1 among them
    assert simulated(figure(landmark_day=150.0, among=by_200), {"a": c})[0] == 0.0
    no = figure(landmark_day=150.0, among=Among(200.0, event="cgvhd", occurred=False))
    assert simulated(no, {"a": c})[0] == pytest.approx(2 / 3)
    assert simulated(figure(landmark_day=150.0, among=by_365), {"a": c})[0] == 0.5
    # a median within the group (deaths on days 100 and 400): the smaller, S(250) = 1/2
    med = figure(endpoint="os_median", estimate=250.0, landmark_day=250.0, n=10, among=by_365)
    (r,) = compare([med], {"a": c})
    assert r.estimate == 100.0 and r.compared == 0.5 and r.within
    assert r.share == 0.5 and r.to_dict()["among"] == {"event": "cgvhd", "by_day": 365.0,
                                                       "simulated_share": 0.5}
    assert med.horizon_days == 500.0 and med.label == "os median, cgvhd"
    assert figure(among=Among(730.0, event="cgvhd")).horizon_days == 730.0
    assert no.label == "os, no cgvhd"
    # an empty group cannot be estimated: not within, never a crash
    empty = figure(landmark_day=10.0, among=Among(20.0, event="cgvhd"))
    (r,) = compare([empty], {"a": c})
    assert math.isnan(r.estimate) and not r.within


def test_figures_among_best_responses():
    inf = np.inf
    # 0: PR d100; 1: SD; 2: progression d30 (PD); deaths d500, d300, d60
    c = tumour_cohort_of({"gvt_response": [100, inf, inf], "relapse": [inf, inf, 30],
                          "death_after_relapse": [inf, inf, 60], "trm": [500, 300, inf]},
                         horizon=600)
    control = Among(365.0, responses=("PR", "SD"))
    assert control.label == "PR+SD"
    assert simulated(figure(landmark_day=400.0, among=control), {"a": c})[0] == 0.5
    pd = Among(365.0, responses=("PD",))
    assert simulated(figure(endpoint="pfs", landmark_day=20.0, among=pd), {"a": c})[0] == 1.0
    assert simulated(figure(endpoint="pfs", landmark_day=40.0, among=pd), {"a": c})[0] == 0.0


def test_every_bundled_arm_at_the_defaults_follows_the_exit_rules():
    # the acceptance of issues 10 and 20, at the command's defaults (100,000 patients per
    # arm): every counted CALIBRATION figure within tolerance (a consistency check: the
    # model reproduces what it was fitted to); the share of counted VALIDATION figures
    # (predictions: some miss, and a miss stays counted) is a result, not a test of the
    # code: the command exits 1 below 80%, and docs/reference/validation.md states the
    # share, so a change of it is seen, not hidden (a hard assertion here would push
    # towards leaving out figures the model misses)
    result = CliRunner().invoke(cli, ["validate", "--format", "json"])
    doc = json.loads(result.stdout)
    failed = [(f["arm"], f["label"]) for f in doc["figures"]
              if f["counted"] and f["use"] == "calibration" and not f["within"]]
    assert not failed and doc["calibration_all_within"], failed
    val = doc["counts"]["validation"]
    share = doc["validation_share"]
    assert share == pytest.approx(val["within"] / val["counted"])
    assert doc["passed"] is (share >= 0.8) and result.exit_code == (0 if share >= 0.8 else 1)
    stated = (Path(__file__).parents[2] / "docs" / "reference" / "validation.md").read_text()
    assert (f"{val['within']} of {val['counted']} counted validation figures within "
            f"tolerance ({100 * share:.0f}%") in " ".join(stated.split())
    assert doc["counts"]["validation"]["counted"] >= 1
    counted = {}
    for f in doc["figures"]:
        counted[f["arm"]] = counted.get(f["arm"], 0) + f["counted"]
    # issue 20: autologous arms have as many as the literature allows; auto_myeloma's
    # counted figures are DETERMINATION's own (the other trials differ in maintenance,
    # induction or age and are shown, not counted)
    assert min(v for arm, v in counted.items() if arm not in AUTO_ARMS) >= 3, counted
    assert min(counted[arm] for arm in AUTO_ARMS) >= 2, counted
    among = [f for f in doc["figures"] if f["among"]]
    # subgroups by response (solid tumours) and of long-term survivors (allogeneic arms)
    assert {"ovarian", "colorectal", "mac", "haplo_ptcy"} <= {f["arm"] for f in among}
    # the response subgroups give their size (long-term survivor cohorts may not)
    assert all(f["published"]["n"] for f in among if f["arm"] in ("ovarian", "colorectal"))
