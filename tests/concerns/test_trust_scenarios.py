"""Issue 9, scenarios: the calibration cache, non-finite numbers, bad files, names."""

import json

import pytest

from hsctsim.model import calibrate as cal
from hsctsim.model.scenario import ScenarioError, load_scenario, set_value


def write(tmp_path, text, name="arm.toml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def one_line_error(path_or_name, key=None, words=""):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path_or_name)
    message = str(info.value)
    assert "\n" not in message and words in message, message
    if key is not None:
        assert info.value.key == key, message
    return info.value


# -- the calibration cache key covers the whole point ------------------------------


DAR_INCIDENCE = ("[death_after_relapse]\nincidence = {p}\nlandmark_day = {day}\n"
                 "timing = {{ family = 'exponential', median_day = 172 }}\n")


@pytest.mark.parametrize("other", [dict(p=0.5, day=365), dict(p=0.4, day=180)])
def test_cache_key_sees_death_after_relapse_incidence_and_landmark(tmp_path, other):
    first = load_scenario(write(tmp_path, "base = 'ric'\n" + DAR_INCIDENCE.format(
        p=0.77, day=365), "a.toml")).at_midpoints()
    second = load_scenario(write(tmp_path, "base = 'ric'\n" + DAR_INCIDENCE.format(
        **other), "b.toml")).at_midpoints()
    assert cal.cache_key(first) != cal.cache_key(second)
    # and so the result does not depend on what was calibrated before
    a = cal.calibrate(first, n_patients=4000)
    b = cal.calibrate(second, n_patients=4000)
    assert a["death_after_relapse"] != b["death_after_relapse"]


def test_cache_key_sees_every_engine_figure():
    ric = load_scenario("ric").at_midpoints()
    key = cal.cache_key(ric)
    changes = {"relapse.timing.median_day": "250", "relapse.landmark_day": "700",
               "effects.cmv_on_trm.hr": "1.5", "agvhd.share_3_4": "0.5",
               "death_after_relapse.by_relapse_day": "[[0, 1.0], [200, 0.5]]",
               "graft_failure.cure_fraction": "0.9"}
    for dotted, value in changes.items():
        changed = set_value(load_scenario("ric"), dotted, value).at_midpoints()
        assert cal.cache_key(changed) != key, dotted
    assert cal.cache_key(ric, seed=1) != key
    assert cal.cache_key(ric, held={"relapse": 0.5}) != key
    # labels and sources do not reach the engine
    renamed = set_value(load_scenario("ric"), "title", "'another title'").at_midpoints()
    assert cal.cache_key(renamed) == key


@pytest.mark.parametrize("content", [
    b"\xff\xfe binary", b"[1, 2, 3]", b'"text"', b"{half",
    json.dumps({"n_patients": 10**9, "susceptible": {"relapse": 0.5}}).encode(),
    json.dumps({"n_patients": 10**9, "susceptible": "x"}).encode(),
    None,  # a folder where the file should be
])
def test_corrupt_cache_entry_is_ignored_and_rebuilt(tmp_path, monkeypatch, content):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cal, "_memory", {})
    point = set_value(load_scenario("mst"), "relapse.incidence", "0.5").at_midpoints()
    key = cal.cache_key(point)
    path = tmp_path / "calibration" / f"{key}.json"
    path.parent.mkdir(parents=True)
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result = cal.calibrate(point, n_patients=4000)
    assert set(result) == set(cal.expected_names(point))
    assert all(0.0 <= v <= 1.0 for v in result.values())


def test_cache_entry_out_of_range_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCTSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cal, "_memory", {})
    point = set_value(load_scenario("mst"), "relapse.incidence", "0.45").at_midpoints()
    names = cal.expected_names(point)
    bad = {"n_patients": 10**9, "susceptible": {n: 0.5 for n in names}}
    bad["susceptible"]["relapse"] = float("nan")
    folder = tmp_path / "calibration"
    folder.mkdir()
    (folder / f"{cal.cache_key(point)}.json").write_text(json.dumps(bad))
    assert cal.calibrate(point, n_patients=4000)["relapse"] == pytest.approx(
        cal.calibrate(point, n_patients=4000, use_cache=False)["relapse"])
    assert cal.valid_entry({"n_patients": 5, "susceptible": {n: 0.5 for n in names}}, names)
    assert not cal.valid_entry({"n_patients": 5, "susceptible": {n: 1.5 for n in names}},
                               names)
    assert not cal.valid_entry({"n_patients": True, "susceptible": {n: .5 for n in names}},
                               names)


def test_rekey_keeps_fractions_and_refuses_a_changed_point(tmp_path, monkeypatch):
    shipped = cal._bundled()
    copy = tmp_path / "calibrations.json"
    legacy = dict(next(iter(shipped.values())))
    legacy.pop("fingerprint")  # written before fingerprints were recorded: trusted
    copy.write_text(json.dumps({"old-key": legacy}))
    monkeypatch.setattr(cal, "BUNDLED_FILE", copy)
    assert cal.rekey_bundled() == []
    (key, entry), = json.loads(copy.read_text()).items()
    original = next(iter(shipped.values()))
    assert entry["susceptible"] == original["susceptible"]
    assert key == cal.cache_key(load_scenario(entry["scenario"]).at_midpoints())
    entry["fingerprint"] = "0" * 64  # solved for another point: must be solved again
    copy.write_text(json.dumps({key: entry}))
    assert cal.rekey_bundled() == [entry["scenario"]]
    assert json.loads(copy.read_text())[key]["fingerprint"] == "0" * 64  # untouched


def test_calibrate_command_line(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "hsctsim.model.calibrate", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "--rekey" in done.stdout and not done.stderr
    for argv, words in ((["rcx"], "rcx: not a bundled arm (did you mean 'ric'?)"),
                        (["--rekey", "mac"], "give no arms with it"),
                        (["--resolve"], "unrecognized arguments")):
        with pytest.raises(SystemExit) as info:
            cal.main(argv)
        assert info.value.code == 2 and words in capsys.readouterr().err
    # the arms named are re-solved, in the order given; none means all
    solved = []
    monkeypatch.setattr(cal, "update_bundled", solved.append)
    assert cal.main(["rcc", "auto", "rcc"]) == 0 and cal.main([]) == 0
    assert solved == [["rcc", "auto"], None]
    # --rekey of a file whose keys are current writes it again unchanged
    shipped = cal.BUNDLED_FILE.read_bytes()
    copy = tmp_path / "calibrations.json"
    copy.write_bytes(shipped)
    monkeypatch.setattr(cal, "BUNDLED_FILE", copy)
    assert cal.main(["--rekey"]) == 0
    assert copy.read_bytes() == shipped


# -- every number finite; overflow and bad files are one-line errors ----------------


@pytest.mark.parametrize("text, key, words", [
    ("[cmv]\ntiming = { family = 'piecewise', breaks_day = [0, nan], "
     "rates_per_day = [0.1, 0.2] }\n",
     "cmv.timing", "'breaks_day'[1] must be a finite number"),
    ("[cmv]\ntiming = { family = 'piecewise', breaks_day = [0, 10], "
     "rates_per_day = [0.1, nan] }\n",
     "cmv.timing", "'rates_per_day'[1]"),
    ("[cmv]\ntiming = { family = 'piecewise', breaks_day = [0, 'x'], "
     "rates_per_day = [0.1, 0.2] }\n",
     "cmv.timing", "'breaks_day'[1] must be a finite number"),
    ("[cmv]\ntiming = { family = 'piecewise', breaks_day = [0, 10], "
     "rates_per_day = [0.1, inf] }\n",
     "cmv.timing", "'rates_per_day'[1]"),
    ("[graft_failure]\ntiming = { family = 'fixed', day = nan }\n", "graft_failure.timing",
     "'day' must be a finite number"),
    ("[cmv]\ntiming = { family = 'gompertz', shape = nan, median_day = 40 }\n", "cmv.timing",
     "'shape' (per day) must be a finite number"),
    ("[cmv]\ntiming = { family = 'gompertz', shape = 10, median_day = 100 }\n", "cmv.timing",
     "overflows"),
    ("[cmv]\ntiming = { family = 'weibull', shape = 1e-300, median_day = 10 }\n", "cmv.timing",
     "overflow"),
    ("[cmv]\ntiming = { family = 'exponential', median_day = inf }\n", "cmv.timing",
     "finite positive number"),
    ("[effects.cmv_on_trm]\nhr = nan\n", "effects.cmv_on_trm.hr", "finite"),
    ("[death_after_relapse]\nby_relapse_day = [[0, 1.0], [nan, 0.5]]\n",
     "death_after_relapse.by_relapse_day[1]", "finite"),
    ("[death_after_relapse]\nby_relapse_day = [[0, 1.0], ['x', 0.5]]\n",
     "death_after_relapse.by_relapse_day[1]", "must be a number"),
    ("[nk_cells]\nday = nan\nrelapse_hr = 0.5\nagvhd_hr = 1\nduration_days = 10\nsource = 's'\n",
     "nk_cells.day", "finite"),
    ("horizon_days = inf\n", "horizon_days", "finite"),
])
def test_non_finite_and_overflowing_figures(tmp_path, text, key, words):
    one_line_error(write(tmp_path, "base = 'mac'\n" + text), key, words)


def test_binary_deep_and_long_chains_are_one_line(tmp_path):
    one_line_error(write(tmp_path, b"\xff\xfe\x00\x01 binary"), None, "not a text file")
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    one_line_error(write(tmp_path, deep, "deep.toml"), None, "nested too deeply")
    tables = "base = 'mac'\n[agvhd]\n" + "".join(f"a{i} = {{ " for i in range(400)) + \
        "z = 1" + " }" * 400 + "\n"
    one_line_error(write(tmp_path, tables, "tables.toml"))
    for i in range(60):
        write(tmp_path, f"base = 'c{i + 1}.toml'\n", f"c{i}.toml")
    write(tmp_path, "base = 'mac'\n", "c60.toml")
    one_line_error(tmp_path / "c0.toml", "base", "base scenarios in a chain")
    (tmp_path / "folder.toml").mkdir()
    one_line_error(tmp_path / "folder.toml", None, "not a file")


@pytest.mark.parametrize("name", ["../../x", ".hidden", "-dash", "a/b", "", "x" * 65, "a b"])
def test_unsafe_names_are_refused(tmp_path, name):
    one_line_error(write(tmp_path, f"base = 'mac'\nname = {json.dumps(name)}\n"), "name",
                   "cannot name an arm")
    with pytest.raises(ScenarioError, match="^--set name="):
        set_value(load_scenario("mac"), "name", json.dumps(name))


def test_safe_names_pass(tmp_path):
    assert load_scenario(write(tmp_path, "base = 'mac'\nname = 'My_arm-2'\n")).name == "My_arm-2"
    assert load_scenario(write(tmp_path, "base = 'mac'\n", "plain-file.toml")).name == \
        "plain-file"


def test_set_errors_blame_the_set_and_base_is_refused():
    with pytest.raises(ScenarioError) as info:
        set_value(load_scenario("mac"), "agvhd.incidence", "2")
    assert str(info.value) == "--set agvhd.incidence=2: agvhd.incidence: 2 is outside [0, 1]"
    with pytest.raises(ScenarioError, match=r"^--set base='ric': base: cannot be changed"):
        set_value(load_scenario("mac"), "base", "'ric'")
    with pytest.raises(ScenarioError, match=r"^--set relapse.incidence=nan: .*finite"):
        set_value(load_scenario("mac"), "relapse.incidence", "nan")
    changed = set_value(load_scenario("mac"), "agvhd.incidence", "0.4")
    assert changed.settings == ("agvhd.incidence=0.4",)
    assert changed.origin == "--set agvhd.incidence=0.4"


def test_bundled_arm_wins_over_a_folder_of_its_name(tmp_path, monkeypatch):
    from hsctsim.model.scenario import bundled_dir, shadowed_note

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ric").mkdir()
    (tmp_path / "mac").write_text("not toml [")
    assert load_scenario("ric").path == str(bundled_dir() / "ric.toml")
    assert load_scenario("mac").name == "mac"
    assert "using the bundled scenario" in shadowed_note("ric")
    assert shadowed_note("mst") is None
    one_line_error("./mac", None, "not valid TOML")
    one_line_error("./ric", None, "not a file")
    (tmp_path / "mine").write_text("base = 'mac'\n")
    assert load_scenario("mine").name == "mine"  # a bare name that is not bundled
