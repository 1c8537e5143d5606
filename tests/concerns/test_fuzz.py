"""Property-based tests of every input parser and file reader (issue 21).

The property: a bad input gives either a correct result or one line naming what is
wrong with exit status 2, never a traceback and never a partial folder.  Each test
runs a few examples here (the whole file within about a minute on two cores); the
``nightly`` copies run many more (``pytest -m nightly tests/test_fuzz.py``).
"""

import copy
import json
import math
import os
import string
import tempfile
import tomllib
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import invoke

from hsctsim.analysis.msdata import DataError, read_msdata
from hsctsim.apps import sweeps
from hsctsim.model.economics import parse_economics
from hsctsim.model.scenario import ScenarioError, load_scenario, read_raw, set_value
from hsctsim.model.tomlwrite import dumps

NIGHTLY_FACTOR = 25
COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])


def property_test(strategies, examples):
    """The test, run ``examples`` times, and a ``nightly`` copy run many more times."""
    def decorate(body):
        fast = settings(max_examples=examples, **COMMON)(given(**strategies)(body))
        clone = types.FunctionType(body.__code__, body.__globals__, body.__name__ + "_nightly",
                                   body.__defaults__, body.__closure__)
        slow = settings(max_examples=examples * NIGHTLY_FACTOR, **COMMON)(
            given(**strategies)(clone))
        return fast, pytest.mark.nightly(slow)
    return decorate


def assert_ok_or_one_line(result):
    """Exit 0, or exit 2 with one error line (notes and warnings aside); no traceback."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    if result.exit_code == 2:
        said = [line for line in result.output.strip().splitlines()
                if line.strip() and not line.startswith((
                    "note:", "warning:", "hsctsim: preparing", "Usage:", "Try '"))]
        assert len(said) == 1, result.output
        assert said[0].lower().startswith("error"), result.output


def assert_one_line(exc, *words):
    text = str(exc)
    assert text and "\n" not in text, text
    for word in words:
        assert word in text, text


# -- values of any kind that TOML and JSON can hold --------------------------------------

printable = st.text(alphabet=string.printable + "üé€", max_size=12)
scalars = st.one_of(st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), printable)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(string.ascii_lowercase + "_",
                                                         min_size=1, max_size=8),
                                                 inner, max_size=3)), max_leaves=6)


def paths_of(node, prefix=()):
    """Every dotted path into nested dicts (and list items) of ``node``."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        out.append((*prefix, key))
        out += paths_of(value, (*prefix, key))
    return out


def mutate(data, draw):
    """A copy of ``data`` with one value replaced, one key removed or one added."""
    data = copy.deepcopy(data)
    path = draw(st.sampled_from(paths_of(data)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(values)
    elif action == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))] = draw(values)
    return data


@st.composite
def mutated(draw, base):
    return mutate(base, draw)


def without_base(name):
    data, _ = read_raw(name)
    data = copy.deepcopy(data)
    data.pop("base", None)
    return data


HSCT = without_base("ric")
MULTISTATE = without_base("ebmt4")
MAC = without_base("mac")  # with costs and utilities


def check_file(text, name="arm.toml"):
    """``hsctsim check`` of a file holding ``text``; nothing may be left beside it."""
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / name
        path.write_text(text)
        result = invoke("check", str(path))
        assert sorted(os.listdir(where)) == [name]
    return result


# -- scenario TOML ------------------------------------------------------------------------

def _scenario_toml(data):
    assert_ok_or_one_line(check_file(dumps(data)))


test_scenario_toml_hsct, test_scenario_toml_hsct_nightly = property_test(
    {"data": st.one_of(mutated(HSCT), mutated(MAC))}, 40)(_scenario_toml)

test_scenario_toml_multistate, test_scenario_toml_multistate_nightly = property_test(
    {"data": mutated(MULTISTATE)}, 30)(_scenario_toml)


def _scenario_text(text):
    assert_ok_or_one_line(check_file(text))


test_scenario_text, test_scenario_text_nightly = property_test(
    {"text": st.one_of(st.text(max_size=200),
                       st.just(dumps(HSCT)).map(lambda t: t[:len(t) // 2]),
                       st.builds(lambda t, cut: t[:cut], st.just(dumps(MULTISTATE)),
                                 st.integers(0, 4000)))}, 20)(_scenario_text)


# -- --set values -------------------------------------------------------------------------

RIC = load_scenario("ric")
SET_KEYS = [".".join(map(str, p)) for p in paths_of(MAC) if all(isinstance(k, str) for k in p)]


def _set_value(key, text):
    label = f"--set {key}={text}"
    try:
        changed = set_value(RIC if not key.startswith(("costs", "utilities", "durations",
                                                        "lifetime")) else load_scenario("mac"),
                            key, text)
        parse_economics(changed.to_dict(), label)
    except ScenarioError as exc:
        assert_one_line(exc)
        assert str(exc).startswith("--set"), str(exc)
        return
    # accepted: the value reads back as the scenario holds it
    assert changed.to_dict() is not None


test_set_values, test_set_values_nightly = property_test(
    {"key": st.one_of(st.sampled_from(SET_KEYS), st.text(string.ascii_lowercase + "._",
                                                          max_size=20)),
     "text": st.one_of(st.builds(str, scalars),
                       st.sampled_from(["nan", "inf", "-1", "1e400", "[0.1, 0.2]",
                                        "[0.3, 0.1]", '"x"', "{value = 2}", "2", "0",
                                        "true", "[]"]),
                       printable)}, 80)(_set_value)


@pytest.mark.parametrize("key, text", [("lifetime.life_table", "[0.1, 0.2]"),
                                       ("lifetime.life_table", "{a = 1}")])
def test_set_values_found_by_the_fuzzer(key, text):
    # a list or table for the life table's name: TypeError (unhashable), a traceback
    _set_value(key, text)
    with pytest.raises(ScenarioError, match="lifetime.life_table"):
        parse_economics(set_value(load_scenario("mac"), key, text).to_dict(), "--set")


def test_set_value_rejects_an_impossible_utility():
    # found by the property above before it was fixed: a decrement of 2 was accepted
    with pytest.raises(ScenarioError):
        parse_economics(set_value(load_scenario("mac"), "utilities.agvhd_decrement.value",
                                  "2").to_dict(), "--set")


# -- msprep data for fit ------------------------------------------------------------------

cells = st.one_of(st.integers(-2, 6).map(str), st.floats(-5, 1e6).map(repr),
                  st.sampled_from(["", "nan", "inf", "1e300", "a", "transplant", "relapse",
                                   "death", " 1 ", "0.5"]))
msdata_rows = st.lists(st.tuples(st.integers(1, 4).map(str), cells, cells, cells, cells, cells,
                                 cells, cells), min_size=0, max_size=8)
HEADER = "id,from,to,trans,Tstart,Tstop,status,x"


def _msdata(rows, header, covariates):
    text = "\n".join([header, *(",".join(r) for r in rows)]) + "\n"
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "data.csv"
        path.write_text(text)
        try:
            data = read_msdata(path, covariates=covariates)
        except DataError as exc:
            assert_one_line(exc)
            return
    # accepted: the paths connect and every time is a day within 100 years
    assert data.tstart.min() >= 0 and data.tstop.max() <= 36500
    assert (data.tstop > data.tstart).all()


test_msdata, test_msdata_nightly = property_test(
    {"rows": msdata_rows,
     "header": st.sampled_from([HEADER, HEADER.upper(), "id,from,to,trans,Tstart,Tstop",
                                "a,b"]),
     "covariates": st.sampled_from([(), ("x",), ("y",)])}, 60)(_msdata)

GOOD_DATA = Path(__file__).resolve().parents[1] / "data" / "illness_death.csv"


def _fit_cli(line, column, value):
    lines = GOOD_DATA.read_text().splitlines()[:60]
    cells_ = lines[line].split(",")
    cells_[column % len(cells_)] = value
    lines[line] = ",".join(cells_)
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "data.csv"
        path.write_text("\n".join(lines) + "\n")
        out = Path(where) / "fitted.toml"
        result = invoke("fit", str(path), "--family", "exponential", "--out", str(out))
        assert_ok_or_one_line(result)
        if result.exit_code == 0:  # what fit writes, check accepts
            assert invoke("check", str(out)).exit_code == 0
        else:
            assert not out.exists()
        assert sorted(os.listdir(where)) == sorted(["data.csv"] + (
            ["fitted.toml"] if result.exit_code == 0 else []))


test_fit_cli, test_fit_cli_nightly = property_test(
    {"line": st.integers(1, 59), "column": st.integers(0, 7), "value": cells}, 8)(_fit_cli)


# -- --history ----------------------------------------------------------------------------

history_items = st.builds(lambda e, d: f"{e}={d}",
                          st.sampled_from(["engraftment", "agvhd", "cgvhd", "cmv", "relapse",
                                           "trm", "death", "rejection", "nope", ""]),
                          st.one_of(st.floats(-10, 400).map(lambda x: f"{x:g}"),
                                    st.sampled_from(["nan", "inf", "", "x", "1e300"])))


def _history(items, at):
    result = invoke("predict", "ric", "--at", str(at), "-n", "20", "--history",
                    ",".join(items))
    assert_ok_or_one_line(result)


test_history, test_history_nightly = property_test(
    {"items": st.lists(st.one_of(history_items, printable), max_size=3),
     "at": st.sampled_from([0, 50, 100, 800])}, 12)(_history)


# -- --grid and --psa specs ---------------------------------------------------------------

RANGED = [k for k, _ in RIC.ranges()]


def _grid(key, low, high, steps, raw):
    text = raw if raw is not None else f"{key}={low}:{high}:{steps}"
    try:
        axis = sweeps.parse_axis(RIC, text)
    except ScenarioError as exc:
        assert_one_line(exc, "--grid")
        return
    assert axis.key in RANGED and 1 <= len(axis.values) <= sweeps.MAX_POINTS
    assert all(math.isfinite(v) for v in axis.values)
    assert list(axis.values) == sorted(axis.values)


test_grid_specs, test_grid_specs_nightly = property_test(
    {"key": st.one_of(st.sampled_from(RANGED), printable),
     "low": st.one_of(st.floats(allow_nan=True), printable),
     "high": st.one_of(st.floats(allow_nan=True), printable),
     "steps": st.one_of(st.integers(-3, 10**6), printable),
     "raw": st.one_of(st.none(), printable)}, 80)(_grid)


def _psa_cli(n):
    with tempfile.TemporaryDirectory() as where:
        result = invoke("sweep", "ric", "--psa", n, "--local", "-n", "10",
                        "--out", str(Path(where) / "s"), "--set", "agvhd.incidence=2")
        assert_ok_or_one_line(result)
        assert result.exit_code == 2  # the --set is refused before anything runs
        assert os.listdir(where) == []


test_psa_specs, test_psa_specs_nightly = property_test(
    {"n": st.one_of(st.integers(-5, 10**12).map(str), printable)}, 10)(_psa_cli)


# -- resume manifests and point files -------------------------------------------------------

MANIFEST = json.loads(json.dumps(  # as it reads back: lists, not tuples
    sweeps.manifest(RIC, sweeps.psa_points(2), sweeps.Settings(10, 7, 730.0), "psa")))
POINT = {"index": 1, "design": "psa", "varied": "", "parameters": {"a": 0.5},
         "susceptible": {"a": 0.5}, "seed": 7, "scenario_sha256": "0" * 64,
         "rows": [{"endpoint": "os", "kind": "survival", "landmark_day": 30,
                   "estimate": 0.5, "ci95_low": 0.4, "ci95_high": 0.6}]}


def _manifest(document):
    with tempfile.TemporaryDirectory() as where:
        out = Path(where) / "s"
        (out / "points").mkdir(parents=True)
        (out / "sweep.json").write_text(json.dumps(document))
        try:
            sweeps.SweepFolder(out, MANIFEST, resume=True)
        except (ScenarioError, FileNotFoundError) as exc:
            assert_one_line(exc, "sweep.json")
            return
        # accepted: the same sweep (its version and device aside)
        want = MANIFEST
        assert {k: v for k, v in document.items() if k not in ("hsctsim_version", "device")} \
            == {k: v for k, v in want.items() if k not in ("hsctsim_version", "device")} or (
                "backend" not in document)


test_resume_manifest, test_resume_manifest_nightly = property_test(
    {"document": st.one_of(values, mutated(MANIFEST))},
    40)(_manifest)


def _point_file(documents):
    with tempfile.TemporaryDirectory() as where:
        out = Path(where) / "s"
        folder = sweeps.SweepFolder(out, MANIFEST)
        for name, document in documents:
            (out / "points" / f"{name}.json").write_text(
                document if isinstance(document, str) else json.dumps(document))
        said = []
        done = folder.done(lambda i: ("psa", "", {"a": 0.5}) if i in (0, 1) else None,
                           said.append)
        # only whole results of this sweep's points come back; the rest is said, one line each
        assert set(done) <= {0, 1}
        for line in said:
            assert "\n" not in line


test_point_files, test_point_files_nightly = property_test(
    {"documents": st.lists(st.tuples(
        st.sampled_from(["000000", "000001", "000017", "x", "-1"]),
        st.one_of(values, mutated(POINT),
                  printable)), max_size=3)}, 40)(_point_file)


# -- summary.json for plot ----------------------------------------------------------------

def no_figures(monkeypatch):
    """Read and simulate as plot does, but draw nothing (drawing is not what is tested)."""
    from hsctsim.analysis import plotting
    from hsctsim.apps import msrunner

    for module in (plotting, msrunner):
        monkeypatch.setattr(module, "write_figures", lambda cohorts, *a, **k: [])


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "run"
    result = invoke("run", "ric", "-n", "50", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_plot_of_a_tampered_summary(run_folder, monkeypatch):
    summary = json.loads((run_folder / "summary.json").read_text())
    no_figures(monkeypatch)

    @settings(max_examples=12, **COMMON)
    @given(document=st.one_of(values, mutated(summary)))
    def tampered(document):
        with tempfile.TemporaryDirectory() as where:
            import shutil

            folder = Path(where) / "run"
            shutil.copytree(run_folder, folder)
            (folder / "summary.json").write_text(json.dumps(document))
            result = invoke("plot", str(folder), "-n", "20")
            assert_ok_or_one_line(result)

    tampered()


@pytest.mark.nightly
def test_plot_of_a_tampered_summary_nightly(run_folder, monkeypatch):
    summary = json.loads((run_folder / "summary.json").read_text())
    no_figures(monkeypatch)

    @settings(max_examples=12 * NIGHTLY_FACTOR, **COMMON)
    @given(document=st.one_of(values, mutated(summary)))
    def tampered(document):
        with tempfile.TemporaryDirectory() as where:
            import shutil

            folder = Path(where) / "run"
            shutil.copytree(run_folder, folder)
            (folder / "summary.json").write_text(json.dumps(document))
            assert_ok_or_one_line(invoke("plot", str(folder), "-n", "20"))

    tampered()


def test_toml_round_trip_of_the_fuzzed_files():
    # the property tests write scenarios with tomlwrite: what they write reads back
    assert tomllib.loads(dumps(HSCT)) == HSCT and tomllib.loads(dumps(MULTISTATE)) == MULTISTATE
