"""Sweeps and PSA: points, their results, dask workers (one killed), resuming."""

import csv
import functools
import json
import os
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.analysis.endpoints import Tally
from hsctsim.analysis.endpoints import ENDPOINTS
from hsctsim.apps import sweeps
from hsctsim.apps.cli import cli
from hsctsim.model.calibrate import calibrate
from hsctsim.model.scenario import ScenarioError, load_scenario

PATIENTS = 3_000
CALIBRATION = 2_000
SEED = 7
ARGS = ["-n", str(PATIENTS), "--seed", str(SEED), "--calibration-patients", str(CALIBRATION)]
GRID = ["--grid", "relapse.incidence=0.3:0.5:3", "--grid", "effects.cgvhd_on_relapse.hr=0.4:0.8:2"]


@pytest.fixture(scope="module")
def ric():
    return load_scenario("ric")


def settings(ric):
    return sweeps.Settings(PATIENTS, SEED, ric.horizon_days, (100, 365, 730), CALIBRATION)


def test_axis_and_points(ric):
    axis = sweeps.parse_axis(ric, "relapse.incidence=0.3:0.5:3")
    assert axis == sweeps.Axis("relapse.incidence", (0.3, 0.4, 0.5))
    hr = sweeps.parse_axis(ric, "effects.cgvhd_on_relapse.hr=0.4:0.8:2")
    one_way = sweeps.grid_points([axis, hr])
    assert [p.design for p in one_way] == ["baseline"] + ["one-way"] * 5
    assert one_way[4].values == (("effects.cgvhd_on_relapse.hr", 0.4),)
    grid = sweeps.grid_points([axis, hr], factorial=True)
    assert len(grid) == 6 and grid[1].values == (("relapse.incidence", 0.3),
                                                 ("effects.cgvhd_on_relapse.hr", 0.8))
    assert [p.draw for p in sweeps.psa_points(3)] == [0, 1, 2]


@pytest.mark.parametrize("text, says", [
    ("relapse.incidence=0.3:0.5", "expected KEY=LOW:HIGH:STEPS"),
    ("relapse.incidense=0.3:0.5:3", "did you mean 'relapse.incidence'"),
    ("relapse.incidence=0.3:1.5:3", "relapse.incidence"),
    ("relapse.incidence=0.5:0.3:3", "LOW <= HIGH"),
    ("relapse.incidence=a:0.3:3", "must be numbers"),
])
def test_bad_axes_name_the_key(ric, text, says):
    with pytest.raises(ScenarioError, match=says.replace("(", r"\(")):
        sweeps.parse_axis(ric, text)


def test_grid_point_is_the_scenario_with_that_value(ric):
    """A point's estimates: the tally of the cohort simulated at that value, directly."""
    point = sweeps.Point(2, "one-way", (("relapse.incidence", 0.35),))
    result = sweeps.run_point(ric, point, settings(ric))
    scenario = ric.with_values({"relapse.incidence": 0.35}).at_midpoints()
    susceptible = calibrate(scenario, CALIBRATION, start=calibrate(hsctsim.api.scenario_point(ric)))
    cohort = hsctsim.simulate(scenario, PATIENTS, SEED, susceptible=susceptible)
    est, low, high = Tally((100, 365, 730)).add(cohort).estimates("relapse")
    got = [r for r in result["rows"] if r["endpoint"] == "relapse"]
    assert [r["estimate"] for r in got] == est.tolist()
    assert [r["ci95_high"] for r in got] == high.tolist()
    assert result["parameters"]["relapse.incidence"] == 0.35
    assert result["varied"] == "relapse.incidence"


def test_psa_draw_is_the_run_replicate(ric):
    """PSA draw r: the parameters and cohort of replicate r (as `run --replicates`)."""
    result = sweeps.run_point(ric, sweeps.Point(1, "psa", draw=1), settings(ric))
    cohort = hsctsim.simulate(ric, PATIENTS, SEED, replicate=1, calibration_patients=CALIBRATION)
    assert result["parameters"] == {k: r.mid for k, r in cohort.scenario.ranges()}
    est = Tally((100, 365, 730)).add(cohort).estimates("os")[0]
    assert [r["estimate"] for r in result["rows"] if r["endpoint"] == "os"] == est.tolist()
    # the draws differ from the midpoints
    assert result["parameters"] != {k: r.mid for k, r in ric.ranges()}


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def read_table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def sweep_cli(out, *extra):
    return CliRunner().invoke(cli, ["sweep", "ric", *ARGS, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def local_table(tmp_path_factory):
    """The reference: the one-way sweep run here, without dask."""
    out = tmp_path_factory.mktemp("sweep") / "local"
    result = sweep_cli(out, *GRID, "--local", "--plot")
    assert result.exit_code == 0, result.output
    assert (out / "sweep.parquet").exists() == _has("pyarrow")
    assert sorted(p.name for p in (out / "figures").iterdir())[0] == "tornado_grfs.png"
    return out


def test_table_is_tidy(local_table):
    rows = read_table(local_table / "sweep.csv")
    assert len(rows) == 6 * len(ENDPOINTS) * 5  # points x endpoints x landmarks
    assert {r["design"] for r in rows} == {"baseline", "one-way"}
    first = rows[0]
    assert list(first)[:3] == ["point", "design", "varied"]
    assert list(first)[-7:] == ["arm", "endpoint", "kind", "landmark_day", "estimate",
                                "ci95_low", "ci95_high"]
    swept = [r for r in rows if r["varied"] == "relapse.incidence" and r["endpoint"] == "relapse"
             and r["landmark_day"] == "730"]
    # more relapse the higher its reported incidence, at fixed everything else
    assert np.all(np.diff([float(r["estimate"]) for r in swept]) > 0)
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(local_table / "sweep.parquet").to_pylist()
    assert len(table) == len(rows) and table[5]["estimate"] == float(rows[5]["estimate"])


def interrupt_at(monkeypatch, index):
    """Make point ``index`` of a sweep raise KeyboardInterrupt; returns the real run_point."""
    real = sweeps.run_point

    def interrupted(scenario, point, config, threads=None, backend="cpu"):
        if point.index == index:
            raise KeyboardInterrupt
        return real(scenario, point, config, threads, backend)

    monkeypatch.setattr(sweeps, "run_point", interrupted)
    return real


def test_interrupted_sweep_resumes_to_the_same_table(local_table, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    real = interrupt_at(monkeypatch, 3)
    result = sweep_cli(out, *GRID, "--local")
    assert result.exit_code == 130
    assert "3 of 6 points saved" in result.output
    assert not (out / "sweep.csv").exists()
    monkeypatch.setattr(sweeps, "run_point", real)
    # a sweep begun on another machine or with other library versions resumes
    manifest = out / "sweep.json"
    begun = json.loads(manifest.read_text())
    assert begun["platform"]["numba"] == numba.__version__
    manifest.write_text(json.dumps({**begun, "platform": {**begun["platform"], "cpu": "other"}}))
    changed = sweep_cli(out, "--grid", "relapse.incidence=0.3:0.5:4", "--local", "--resume")
    assert changed.exit_code == 2 and "points" in changed.output
    result = sweep_cli(out, *GRID, "--local", "--resume")
    assert result.exit_code == 0, result.output
    assert "(3 resumed)" in result.output
    assert (out / "sweep.csv").read_text() == (local_table / "sweep.csv").read_text()
    refused = sweep_cli(out, *GRID, "--local")
    assert refused.exit_code == 2 and "--resume" in refused.output


def test_hazard_tables_are_recorded_and_kept_on_resume(tmp_path, monkeypatch):
    out = tmp_path / "tables"
    real = interrupt_at(monkeypatch, 1)
    grid = ["--grid", "relapse.incidence=0.3:0.5:2", "--local"]
    assert sweep_cli(out, *grid, "--hazard-tables").exit_code == 130
    assert json.loads((out / "sweep.json").read_text())["hazards"] == "tables"
    monkeypatch.setattr(sweeps, "run_point", real)
    exact = sweep_cli(out, *grid, "--resume")  # the rest without tables: refused
    assert exact.exit_code == 2 and "hazards" in exact.output, exact.output
    result = sweep_cli(out, *grid, "--resume", "--hazard-tables")
    assert result.exit_code == 0, result.output
    assert "hazard tables" in result.output


def kill_worker_once(marker, scenario, point, config, threads=None, backend="cpu"):
    """Run a point, but first kill this worker process (once, at point 2)."""
    if point.index == 2 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return sweeps.run_point(scenario, point, config, threads, backend)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        with distributed.Client(local) as client:
            yield client


def dask_results(client, ric, points, function=None):
    results = {}
    sweeps.run_dask(client, ric, points, settings(ric), lambda r: results.update({r["index"]: r}),
                    retries=1, threads=1, point_function=function)
    return sweeps.table_rows(results.values(), ric.name)


def test_two_workers_one_killed_same_as_here(cluster, ric, tmp_path):
    axis = sweeps.parse_axis(ric, "relapse.incidence=0.3:0.5:3")
    points = sweeps.grid_points([axis]) + [sweeps.Point(4, "psa", draw=0)]
    here = {}
    sweeps.run_local(ric, points, settings(ric), lambda r: here.update({r["index"]: r}))
    expected = sweeps.table_rows(here.values(), ric.name)
    marker = tmp_path / "killed"
    got = dask_results(cluster, ric, points, functools.partial(kill_worker_once, str(marker)))
    assert marker.exists()  # a worker did die
    assert got == expected
    cluster.wait_for_workers(2, timeout=120)  # the nanny restarts the dead one


def test_one_worker_same_as_two(cluster, ric):
    distributed = pytest.importorskip("dask.distributed")
    points = sweeps.psa_points(3)
    two = dask_results(cluster, ric, points)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        with distributed.Client(local) as client:
            one = dask_results(client, ric, points)
    assert one == two


def test_cli_on_a_local_cluster(local_table, tmp_path):
    out = tmp_path / "dask"
    result = sweep_cli(out, *GRID, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert (out / "sweep.csv").read_text() == (local_table / "sweep.csv").read_text()


def test_psa_and_factorial_figures(tmp_path):
    psa = sweep_cli(tmp_path / "psa", "--psa", "4", "--local", "--plot")
    assert psa.exit_code == 0, psa.output
    rows = read_table(tmp_path / "psa" / "sweep.csv")
    assert {r["point"] for r in rows} == {"0", "1", "2", "3"} and rows[0]["design"] == "psa"
    assert (tmp_path / "psa" / "figures" / "psa_os.png").exists()
    summary = read_table(tmp_path / "psa" / "psa_summary.csv")
    os_730 = next(r for r in summary if r["endpoint"] == "os" and r["landmark_day"] == "730")
    draws = [float(r["estimate"]) for r in rows
             if r["endpoint"] == "os" and r["landmark_day"] == "730"]
    assert int(os_730["draws"]) == 4
    assert float(os_730["p97_5"]) == pytest.approx(np.percentile(draws, 97.5), rel=1e-12)
    assert float(os_730["mean"]) == pytest.approx(np.mean(draws), rel=1e-12)
    grid = sweep_cli(tmp_path / "grid", "--grid", "relapse.incidence=0.4:0.5:2", "--grid",
                     "effects.cgvhd_on_relapse.hr=0.5:0.6:2", "--factorial", "--local", "--plot")
    assert grid.exit_code == 0, grid.output
    assert (tmp_path / "grid" / "figures" / "heatmap_os.png").exists()


def test_usage_errors(tmp_path):
    for extra, says in ((["--local"], "--grid"),
                        (["--psa", "2", *GRID, "--local"], "--grid"),
                        (["--grid", "nope=1:2:2", "--local"], "nope")):
        result = sweep_cli(tmp_path / "x", *extra)
        assert result.exit_code == 2 and says in result.output, result.output


def test_without_dask_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = sweep_cli(tmp_path / "nodask", "--psa", "1")
    assert result.exit_code == 2
    assert "pip install 'hsctsim[dask]'" in result.output
