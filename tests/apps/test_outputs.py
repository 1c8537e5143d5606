"""Outputs that fit other tools: re-runnable run folders, python -m, completion, --help."""

import json
import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner

from hsctsim.apps.cli import cli
from hsctsim.apps.common import complete_scenarios
from hsctsim.model.scenario import load_scenario
from hsctsim.model.tomlwrite import dumps

SMALL = ["-n", "3000", "--seed", "11"]


def test_toml_writer_round_trips_scenarios_and_awkward_values():
    for name in ("mac", "ric", "mst", "haplo_ptcy", "haplo_nk"):
        data = load_scenario(name).to_dict()
        assert tomllib.loads(dumps(data, "a header\nof two lines")) == data
    odd = {"s": 'quote " backslash \\ newline \n tab \t ctrl \x01', "key with space": 1,
           "f": [1.5, float("inf"), -0.0, [2, 3]], "b": False,
           "t": {"inline": [{"a": 1}], "deep": {"x": "y"}}, "empty": {}}
    assert tomllib.loads(dumps(odd)) == odd


def test_run_folder_scenarios_rerun_to_the_same_summary(tmp_path):
    runner = CliRunner()
    out = tmp_path / "first"
    # a recalibrated what-if: the stored scenario is calibrated afresh, as the run was
    first = runner.invoke(cli, ["run", "ric", "haplo_nk", *SMALL, "--set",
                                "agvhd.incidence=0.5", "--recalibrate", "--out", str(out),
                                "--format", "json"])
    assert first.exit_code == 0, first.output
    stored = [str(out / "scenarios" / f"{arm}.toml") for arm in ("ric", "haplo_nk")]
    again = runner.invoke(cli, ["run", *stored, *SMALL, "--format", "json"])
    assert again.exit_code == 0, again.output
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["arms"].keys() == b["arms"].keys()
    for arm in a["arms"]:
        assert a["arms"][arm]["endpoints"] == b["arms"][arm]["endpoints"]
        assert a["arms"][arm]["calibration"] == b["arms"][arm]["calibration"]
    # a held what-if says so in the file's header
    held = tmp_path / "held"
    assert runner.invoke(cli, ["run", "ric", *SMALL, "--set", "effects.cmv_on_trm.hr=3",
                               "--out", str(held)]).exit_code == 0
    assert "held the unmodified arm's baseline hazards" in (
        held / "scenarios" / "ric.toml").read_text()
    shown = runner.invoke(cli, ["show", stored[1]])
    assert shown.exit_code == 0 and "haplo_nk" in shown.output
    assert runner.invoke(cli, ["check", *stored]).exit_code == 0


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "hsctsim", "--version"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("hsctsim")


def test_completion_offers_bundled_names_then_paths():
    items = complete_scenarios(None, None, "hap")
    assert [i.value for i in items if i.type == "plain"] == ["haplo_ptcy", "haplo_nk"]
    assert items[-1].type == "file"


@pytest.mark.parametrize("command", ["run", "show", "check", "scenarios", "plot", "cea",
                                     "validate"])
def test_every_command_help_has_examples(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output


def test_cohort_to_pandas_matches_the_arrays():
    import numpy as np

    import hsctsim

    cohort = hsctsim.simulate("haplo_nk", 2000, seed=3)
    frame = cohort.to_pandas()
    assert len(frame) == 2000 and frame["patient"].iloc[-1] == 1999
    relapse = cohort.day("relapse")
    assert np.array_equal(np.isnan(frame["relapse_day"]), ~np.isfinite(relapse))
    assert np.allclose(frame["relapse_day"].dropna(), relapse[np.isfinite(relapse)])
    assert list(frame["final_state"].cat.codes) == list(cohort.final_state())
    assert frame.attrs["seed"] == 3
    events = cohort.events_to_pandas()
    assert len(events) == len(cohort.event_table()["patient"])
    assert set(events["to"].astype(str)) <= set(hsctsim.model.cohort.STATES)


def test_events_parquet_equals_csv_and_frames(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")

    from hsctsim.apps.frames import summary_frame

    runner = CliRunner()
    for fmt in ("csv", "parquet"):
        result = runner.invoke(cli, ["run", "mac", *SMALL, "--out", str(tmp_path / fmt),
                                     "--events", "--events-format", fmt])
        assert result.exit_code == 0, result.output
    csv_events = pd.read_csv(tmp_path / "csv" / "events" / "mac.csv")
    parquet_events = pd.read_parquet(tmp_path / "parquet" / "events" / "mac.parquet")
    assert list(parquet_events.columns) == list(csv_events.columns)
    assert (parquet_events["to"].astype(str).values == csv_events["to"].values).all()
    assert (parquet_events["patient"].values == csv_events["patient"].values).all()
    assert abs(parquet_events["stop_day"].values - csv_events["stop_day"].values).max() < 1e-6
    document = json.loads((tmp_path / "csv" / "summary.json").read_text())
    frame = summary_frame(document)
    assert {"arm", "endpoint", "day", "estimate"} <= set(frame.columns)
    assert frame.equals(pd.read_csv(tmp_path / "csv" / "summary.csv").astype(frame.dtypes))
    # a path works too: to summary.json, or to the run folder (it raised a TypeError)
    for source in (tmp_path / "csv" / "summary.json", tmp_path / "csv", str(tmp_path / "csv")):
        assert summary_frame(source).equals(frame)
    with pytest.raises(TypeError, match="path to summary.json"):
        summary_frame(3)
