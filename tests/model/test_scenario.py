"""Scenario files: loading, base scenarios, ranges, and every kind of bad input."""

import math

import numpy as np
import pytest

import hsctsim
from hsctsim.model.calibrate import calibrate
from hsctsim.model.scenario import Range, ScenarioError, load_scenario, parse, set_value


def write(tmp_path, text, name="arm.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


@pytest.mark.parametrize("name", hsctsim.bundled_names())
def test_bundled_scenarios_load_with_sources(name):
    s = load_scenario(name)
    assert s.population and s.title
    assert all(p.source for p in s.processes.values())
    assert all(e.source for e in s.effects.values())
    # the resolved TOML round-trips
    assert parse(s.to_dict(), s.path) == s


def test_base_scenario_overrides_only_some_keys():
    mac, ric = load_scenario("mac"), load_scenario("ric")
    assert ric.processes["relapse"].incidence.mid == pytest.approx(0.483)
    assert ric.processes["relapse"].timing == mac.processes["relapse"].timing
    assert ric.processes["relapse"].landmark_day == mac.processes["relapse"].landmark_day
    assert ric.effects == mac.effects
    assert load_scenario("haplo_nk").nk_cells.day == 0  # Ciurea 2022: first dose day -2


@pytest.mark.parametrize("text, key, words", [
    ("[agvhd]\nincidense = 0.3\n", "agvhd.incidense", "did you mean 'incidence'"),
    ("horizon_day = 100\n", "horizon_day", "did you mean 'horizon_days'"),
    ("[agvhd]\nincidence = 'high'\n", "agvhd.incidence", "must be a number"),
    ("[agvhd]\nincidence = 1.2\n", "agvhd.incidence", "outside [0, 1]"),
    ("[agvhd]\nincidence = -0.1\n", "agvhd.incidence", "outside [0, 1]"),
    ("[cmv]\nincidence = [0.6, 0.3]\n", "cmv.incidence", "low 0.6 is above its high 0.3"),
    ("[cmv]\nincidence = [0.1, 0.2, 0.3]\n", "cmv.incidence", "[low, high]"),
    ("[cmv]\ntiming = { family = 'lognormal', median_day = 41, p90_day = 30 }\n",
     "cmv.timing", "p90_day 30 must be after median_day 41"),
    ("[cmv]\ntiming = { family = 'lognormel', median_day = 41 }\n", "cmv.timing",
     "is not one of"),
    ("[cmv]\nsource = ''\n", "cmv.source", "needs its source"),
    ("[effects.cmv_on_trm]\nhr = -1\n", "effects.cmv_on_trm.hr", "outside"),
    ("chimerism = 'partial'\n", "chimerism", "not one of"),
    ("[nk_cells]\nday = 7\n", "nk_cells.relapse_hr", "missing"),
])
def test_bad_values_name_file_key_and_problem(tmp_path, text, key, words):
    err = error_of(write(tmp_path, "base = 'mac'\n" + text))
    assert err.key == key
    assert words in str(err)


def test_unknown_base_scenario(tmp_path):
    err = error_of(write(tmp_path, "base = 'maq'\n"))
    assert err.key == "base" and "unknown scenario" in str(err) and "did you mean 'mac'" in str(err)


def test_base_cycle(tmp_path):
    write(tmp_path, "base = 'b.toml'\n", "a.toml")
    write(tmp_path, "base = 'a.toml'\n", "b.toml")
    assert "cycle" in str(error_of(tmp_path / "a.toml"))


def test_invalid_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in str(error_of(write(tmp_path, "[agvhd\nincidence = 0.3\n")))
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="unknown scenario.*did you mean 'ric'"):
        load_scenario("rci")


def test_missing_table_without_base(tmp_path):
    err = error_of(write(tmp_path, "population = 'x'\n"))
    assert err.key == "engraftment" and "missing" in str(err)


def test_incidences_that_cannot_be_reached_together(tmp_path):
    path = write(tmp_path, "base = 'mac'\n[relapse]\nincidence = 0.9\nlandmark_days = 1\n")
    assert "did you mean 'landmark_day'" in str(error_of(path))
    err = error_of(write(tmp_path, "base = 'mac'\n[relapse]\nincidence = [0.5, 0.7]\n"
                                   "[trm]\nincidence = 0.4\n"))
    assert err.key == "trm.incidence" and "add up to more than 1" in str(err)
    # reachable one by one, not together: found by the joint calibration
    path = write(tmp_path, "base = 'mac'\n[relapse]\nincidence = 0.7\n"
                           "[trm]\nincidence = 0.29\n")
    scenario = load_scenario(path).at_midpoints()
    with pytest.raises(ScenarioError) as info:
        calibrate(scenario, n_patients=5000, use_cache=False)
    assert str(info.value).startswith(str(path))
    assert "cannot be reached" in str(info.value)


def test_set_value_changes_one_figure():
    s = set_value(load_scenario("ric"), "agvhd.incidence", "0.45")
    incidence = s.processes["agvhd"].incidence  # a point now; the range's kind is kept
    assert (incidence.low, incidence.high) == (0.45, 0.45)
    s = set_value(s, "effects.cmv_on_trm.hr", "[1.2, 1.4]")
    assert s.effects["cmv_on_trm"].hr.mid == pytest.approx(1.3)
    with pytest.raises(ScenarioError, match="agvhd.incidence: 2 is outside"):
        set_value(s, "agvhd.incidence", "2")
    with pytest.raises(ScenarioError, match="did you mean 'agvhd'"):
        set_value(s, "agvdh.incidence", "0.3")


def test_ranges_midpoints_and_draws():
    s = load_scenario("mac")  # cmv.incidence = [0.20, 0.40], uniform
    assert s.at_midpoints().processes["cmv"].incidence.low == pytest.approx(0.30)
    rng = np.random.default_rng(0)
    values = [s.draw(rng).processes["cmv"].incidence.low for _ in range(400)]
    assert 0.20 <= min(values) < 0.22 and 0.38 < max(values) <= 0.40
    assert abs(np.mean(values) - 0.30) < 4 * 0.2 / np.sqrt(12 * 400)
    # a point stays a point
    assert s.draw(rng).processes["relapse"].incidence == Range(0.135, 0.135)


@pytest.mark.parametrize("arm, key, text, words", [
    # core and section processes are read by one parser: the same rules, the same words
    ("mac", "graft_failure.incidence", "0.1", "takes its timing directly"),
    ("rcc", "tumour.chemo_response.incidence", "0.3", "takes its timing directly"),
    ("mac", "relapse.cure_fraction", "0.2", "give either incidence or cure_fraction"),
    ("rcc", "tumour.gvt_response.cure_fraction", "0.2", "give either incidence or cure_fraction"),
    ("mac", "relapse.landmark_dai", "365", "did you mean 'landmark_day'"),
    ("rcc", "tumour.gvt_response.landmark_dai", "365", "did you mean 'landmark_day'"),
    ("mac", "cmv.source", '" "', "every number needs its source"),
    ("rcc", "tumour.chemo_response.source", '" "', "every number needs its source"),
    # what differs: a core incidence may be a beta, a section's only uniform or triangular
    ("rcc", "tumour.gvt_response.range_distribution", '"beta"', "is not one of"),
])
def test_core_and_section_processes_read_alike(arm, key, text, words):
    with pytest.raises(ScenarioError) as info:
        set_value(load_scenario(arm), key, text)
    assert info.value.key == key
    assert words in str(info.value) and "\n" not in str(info.value)


def test_lognormal_range_centres_on_its_median():
    """A log-normal range's base case is sqrt(low * high), where its draws centre."""
    r = Range(0.0149, 0.455, "lognormal")
    assert r.mid == pytest.approx(math.sqrt(0.0149 * 0.455))
    draws = np.array([r.draw(np.random.default_rng(i)).low for i in range(2000)])
    # the median of 2000 draws: within 4 standard errors of the log median
    se = math.log(0.455 / 0.0149) / (2 * 1.959963984540054) * math.sqrt(math.pi / 2 / 2000)
    assert abs(np.log(np.median(draws)) - math.log(r.mid)) < 4 * se
    assert Range(0.3, 0.8).mid == pytest.approx(0.55)  # others: the midpoint


def test_nk_cells_hazard_ratios_take_a_distribution():
    nk = load_scenario("haplo_nk").nk_cells
    assert nk.relapse_hr.distribution == "lognormal"
    assert nk.relapse_hr.mid == pytest.approx(math.sqrt(nk.relapse_hr.low * nk.relapse_hr.high))
    # the relapse comparison of Ciurea et al. 2022 (4% vs 38%) it stands for
    assert nk.relapse_hr.mid == pytest.approx(math.log(1 - 0.04) / math.log(1 - 0.38), rel=0.05)
    with pytest.raises(ScenarioError) as info:
        set_value(load_scenario("haplo_nk"), "nk_cells.range_distribution", '"beta"')
    assert info.value.key == "nk_cells.range_distribution" and "is not one of" in str(info.value)


def test_core_incidence_may_be_a_beta():
    s = set_value(load_scenario("mac"), "relapse.range_distribution", '"beta"')
    assert s.processes["relapse"].incidence.distribution == "beta"
