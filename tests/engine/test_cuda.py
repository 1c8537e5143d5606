"""The CUDA backend against the CPU kernel, without a GPU.

numba's CUDA simulator must be switched on before numba is imported, so the
kernels run in a child process (``tests/cuda_checks.py``) and are compared here
with the compiled CPU kernel (numba's built-in simulator serves where numba-cuda is
not installed).  A second child compiles them to PTX for an H100/H200 with the real
NVVM, and skips where numba-cuda or NVVM is missing.
"""

import csv
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
import hsctsim.api
from hsctsim.analysis.endpoints import Tally
from hsctsim.api import resolve_backend
from hsctsim.sim import prepare as _prepare
from hsctsim.apps.cli import cli
from hsctsim.engine.kernel import simulate_into, simulate_patients_into
from hsctsim.model import calibrate

HERE = pathlib.Path(__file__).resolve().parents[1]  # tests/, where cuda_checks.py lives
sys.path.insert(0, str(HERE))
import cuda_checks  # noqa: E402

REL = 1e-12  # room for the device's libm, a few ulps (here the simulator uses the host's)


def _child(mode, target, extra_env=None, timeout=900):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE.parent), os.environ.get("PYTHONPATH", "")]), **(extra_env or {}))
    done = subprocess.run([sys.executable, str(HERE / "cuda_checks.py"), mode, str(target)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode == 3:
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("cudasim") / "sim.npz"
    _child("sim", path, {"NUMBA_ENABLE_CUDASIM": "1", "NUMBA_DISABLE_JIT": "1",
                         "PYTHONWARNINGS": "ignore"})
    return dict(np.load(path))


def _cpu_days(arm, first):
    point, horizon, _, eng, key = _prepare(arm, cuda_checks.SIM_PATIENTS, cuda_checks.SIM_SEED,
                                           None, None, True, None)
    out = np.empty((cuda_checks.SIM_PATIENTS, eng.family.shape[0]))
    simulate_into(eng, key, first, horizon, out)
    return out


def _compare(gpu, cpu):
    """Share of patients whose event days differ by more than REL; asserts the rest."""
    assert np.array_equal(np.isinf(gpu), np.isinf(cpu)), "different events happened"
    finite = np.isfinite(cpu)
    rel = np.zeros_like(cpu)
    rel[finite] = np.abs(gpu[finite] - cpu[finite]) / np.maximum(np.abs(cpu[finite]), 1e-300)
    order_same = (np.argsort(gpu, axis=1, kind="stable")
                  == np.argsort(cpu, axis=1, kind="stable")).all(axis=1)
    differs = (rel > REL).any(axis=1) | ~order_same
    return differs.mean(), rel.max()


@pytest.mark.parametrize("arm", cuda_checks.SIM_ARMS)
def test_simulator_event_days_equal_cpu(simulated, arm):
    share, worst = _compare(simulated[f"{arm}_days"], _cpu_days(arm, cuda_checks.SIM_FIRST))
    print(f"{arm}: {share:.1%} of patients differ beyond {REL:g} (worst {worst:.1e})")
    assert share <= 0.01
    assert np.isfinite(simulated[f"{arm}_days"]).any(axis=1).all()  # not all-inf rows


@pytest.mark.parametrize("arm", cuda_checks.SIM_ARMS)
def test_simulator_calibration_kernel_equals_cpu(simulated, arm):
    point, _, sus, _, _ = _prepare(arm, 1, cuda_checks.SIM_SEED, None, None, True, None)
    names, _, landmarks = calibrate.calibration_targets(point)
    cpu = np.array(calibrate.incidences(point, sus, names, landmarks, cuda_checks.SIM_PATIENTS,
                                        cuda_checks.SIM_SEED))
    np.testing.assert_allclose(simulated[f"{arm}_incidence"], cpu, rtol=REL, atol=0)
    assert (cpu[0] > 0).all()


def test_simulator_through_api(simulated):
    cpu = hsctsim.simulate("ric", cuda_checks.SIM_PATIENTS, seed=cuda_checks.SIM_SEED)
    share, _ = _compare(simulated["api_ric"], cpu.event_day)
    assert share <= 0.01
    assert int(simulated["api_launches"]) == 3  # chunks of 100 on the device


def test_simulator_patients_by_index_and_multistate(simulated):
    _, horizon, _, eng, key = _prepare("ric", 1, cuda_checks.SIM_SEED, None, None, True, None)
    cpu = np.empty_like(simulated["patients_days"])
    simulate_patients_into(eng, key, simulated["patients"], horizon, cpu)
    assert _compare(simulated["patients_days"], cpu)[0] <= 0.01
    ebmt4 = hsctsim.simulate("ebmt4", cuda_checks.SIM_PATIENTS, seed=cuda_checks.SIM_SEED)
    assert _compare(simulated["ebmt4_days"], ebmt4.event_day)[0] <= 0.01


@pytest.mark.parametrize("arm", cuda_checks.COUNT_ARMS)
def test_simulator_counts_on_the_device_equal_cpu_tally(simulated, arm):
    cohort = hsctsim.simulate(arm, cuda_checks.SIM_PATIENTS, seed=cuda_checks.SIM_SEED)
    tally = Tally().add(cohort)
    for name in tally.hits:
        hits, base = simulated[f"count_{arm}_{name}"]
        np.testing.assert_array_equal(hits, tally.hits[name], err_msg=name)
        np.testing.assert_array_equal(base, tally.base[name], err_msg=name)
    assert tally.hits["relapse"][-1] > 0


def _where_it_ran(text):
    """A printed summary.json less where it ran: ``(document, backend, device)``."""
    document = json.loads(text)
    return document, document.pop("backend"), document.pop("device", None)


@pytest.mark.parametrize("arms, key", [(("ric", "mst"), "run_json"),
                                       (("ebmt4",), "run_ebmt4_json")])
def test_simulator_run_on_the_device_prints_what_cpu_prints(simulated, arms, key):
    cpu = CliRunner().invoke(cli, ["run", *arms, "-n", str(cuda_checks.SIM_PATIENTS),
                                   "--seed", str(cuda_checks.SIM_SEED), "--format", "json"])
    assert cpu.exit_code == 0
    gpu, backend, device = _where_it_ran(str(simulated[key]))
    assert (backend, device) == ("cuda", "numba CUDA simulator")
    assert _where_it_ran(cpu.stdout) == (gpu, "cpu", None)


def test_simulator_psa_draw_calibrated_and_counted_on_the_device(simulated, tmp_path):
    """One PSA draw on the device, its calibration included, against the CPU's."""
    assert int(simulated["psa_exit"]) == 0, str(simulated["psa_stdout"])
    assert "backend cuda (numba CUDA simulator)" in str(simulated["psa_stdout"])
    manifest = json.loads(str(simulated["psa_manifest"]))
    assert (manifest["backend"], manifest["device"]) == ("cuda", "numba CUDA simulator")
    # the draw's Newton steps and its counts ran on the device (1,000 patients a step)
    steps = simulated["psa_calibration_launches"]
    assert len(steps) >= 2 and (steps == 1000).all()
    assert list(simulated["psa_counted_launches"]) == [cuda_checks.SIM_PATIENTS]
    cpu = CliRunner().invoke(cli, ["sweep", "ric", "--psa", "1", "--draws", "ranges",
                                   "--local", *cuda_checks.PSA_ARGS, "--out",
                                   str(tmp_path / "psa")])
    assert cpu.exit_code == 0, cpu.output
    gpu_point = json.loads(str(simulated["psa_point"]))
    cpu_point = json.loads((tmp_path / "psa" / "points" / "000000.json").read_text())
    for name, value in cpu_point["susceptible"].items():  # the device's solve
        assert gpu_point["susceptible"][name] == pytest.approx(value, rel=REL, abs=0)
    # the table: the same estimates (to the last bits in the simulator, whose libm is
    # the host's; on a GPU the same in distribution)
    gpu_rows = list(csv.DictReader(io.StringIO(str(simulated["psa_csv"]))))
    cpu_rows = list(csv.DictReader((tmp_path / "psa" / "sweep.csv").open()))
    assert [r.keys() for r in gpu_rows] == [r.keys() for r in cpu_rows]
    for g, c in zip(gpu_rows, cpu_rows):
        for k in c:
            if k in ("estimate", "ci95_low", "ci95_high") and c[k]:
                assert float(g[k]) == pytest.approx(float(c[k]), rel=1e-9, abs=1e-12), (c, k)
            else:
                assert g[k] == c[k], (c, k)
    # the draw's patients, day by day: event days and order as the CPU's
    cpu_days = hsctsim.simulate("ric", cuda_checks.SIM_PATIENTS, seed=cuda_checks.SIM_SEED,
                                replicate=0, susceptible=cpu_point["susceptible"]).event_day
    share, worst = _compare(simulated["psa_days"], cpu_days)
    print(f"PSA draw 0 calibrated on the device ({len(steps)} Newton steps): {share:.1%} of "
          "patients differ beyond "
          f"{REL:g} or in event order (worst {worst:.1e})")
    assert share <= 0.01


def test_too_many_processes_is_a_clear_error(simulated):
    assert "at most 32 processes, the engine has 33" in str(simulated["too_many"])


def test_kernels_compile_to_ptx_for_h100(tmp_path):
    _child("ptx", tmp_path)
    for name in ("simulate", "accrued_hazard", "simulate_counted"):
        text = (tmp_path / f"{name}.ptx").read_text()
        assert ".target sm_90" in text and ".entry" in text
        if shutil.which("ptxas"):  # assemble too: registers, stack, no unresolved calls
            done = subprocess.run(["ptxas", "-arch=sm_90", str(tmp_path / f"{name}.ptx"), "-o",
                                   str(tmp_path / f"{name}.cubin")], capture_output=True,
                                  text=True)
            assert done.returncode == 0, done.stderr


def test_cuda_backend_without_a_gpu_is_one_line_exit_2():
    if resolve_backend("auto") == "cuda":
        pytest.skip("a GPU is present")
    result = CliRunner().invoke(cli, ["run", "ric", "-n", "200", "--backend", "cuda"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--backend cuda" in result.output
    cpu = CliRunner().invoke(cli, ["run", "ric", "-n", "200", "--format", "json"])
    auto = CliRunner().invoke(cli, ["run", "ric", "-n", "200", "--format", "json",
                                    "--backend", "auto"])
    assert auto.exit_code == 0 and auto.output == cpu.output


def test_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match="backend must be one of"):
        hsctsim.simulate("ric", 10, backend="gpu")


def test_count_on_the_cpu_equals_tally_of_the_cohort():
    from hsctsim.api import count

    counted = Tally()
    sus = count("haplo_nk", 3000, counted, seed=4, chunk_size=1000)
    cohort = hsctsim.simulate("haplo_nk", 3000, seed=4)
    whole = Tally().add(cohort)
    assert sus == cohort.susceptible and counted.n == 3000
    for name in whole.hits:
        np.testing.assert_array_equal(counted.hits[name], whole.hits[name])
        np.testing.assert_array_equal(counted.base[name], whole.base[name])
    with pytest.raises(ValueError, match="multi-state"):
        count("ebmt4", 10, Tally())


# where a run ran, recorded; the backend carried through sweeps and calibration (no GPU
# needed: what the device does is checked in the simulator above)

def test_results_record_the_backend(tmp_path):
    result = CliRunner().invoke(cli, ["run", "ric", "-n", "500", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    # the header line; a progress line may come first while a cold cache compiles
    assert any(line.endswith(", backend cpu") for line in result.output.splitlines())
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["backend"] == "cpu" and "device" not in summary
    ms = CliRunner().invoke(cli, ["run", "ebmt4", "-n", "500", "--backend", "auto"])
    if resolve_backend("auto") == "cpu":
        assert any(line.endswith(", backend cpu") for line in ms.output.splitlines())


def test_sweep_cuda_without_a_gpu_is_one_line_exit_2(tmp_path):
    if resolve_backend("auto") == "cuda":
        pytest.skip("a GPU is present")
    result = CliRunner().invoke(cli, ["sweep", "ric", "--psa", "2", "--local", "--backend",
                                      "cuda", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--backend cuda: " in result.output
    assert "numba-cuda" in result.output or "no GPU" in result.output
    assert not (tmp_path / "s").exists()


def test_arms_too_big_for_the_device_are_one_line(monkeypatch, tmp_path):
    pytest.importorskip("numba.cuda")  # the kernel's limits live beside it

    import hsctsim.apps.common
    from hsctsim.engine.backend import Cuda
    from hsctsim.model.scenario import bundled_names

    # every bundled arm fits the device's scratch (rcc 25 processes, ovarian 26; at
    # most 8 events multiply one process, haplo_nk and the solid-tumour arms)
    for name in bundled_names("all"):
        hsctsim.api.check_fits_device(hsctsim.api.load_scenario(name))
    monkeypatch.setattr(hsctsim.apps.common, "resolve", lambda name: Cuda())  # as on a GPU
    # smaller limits, to see the refusals
    monkeypatch.setattr(Cuda, "max_processes", 24)
    for args in (["run", "rcc", "-n", "100", "--backend", "cuda"],
                 ["sweep", "rcc", "--psa", "1", "--local", "--backend", "cuda", "--out",
                  str(tmp_path / "s")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "the GPU kernel at most 24" in result.output
    monkeypatch.setattr(Cuda, "max_queue", 6)
    result = CliRunner().invoke(cli, ["run", "haplo_nk", "-n", "100", "--backend", "cuda"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "7 events multiply" in result.output
    assert "the GPU kernel at most 5" in result.output
    hsctsim.api.check_fits_device(hsctsim.api.load_scenario("ebmt4"))  # 12 transitions fit


def test_sweep_records_the_backend_and_resumes_only_on_it(tmp_path):
    out = tmp_path / "psa"
    args = ["sweep", "ric", "--psa", "1", "--local", "-n", "2000", "--calibration-patients",
            "2000", "--out", str(out)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert ", backend cpu: 1 points" in first.output
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["backend"] == "cpu" and "device" not in manifest
    again = CliRunner().invoke(cli, [*args, "--resume", "--backend", "auto"])
    if resolve_backend("auto") == "cpu":
        assert again.exit_code == 0 and "(1 resumed)" in again.output
    manifest["backend"] = "cuda"  # as if it had run on a GPU
    (out / "sweep.json").write_text(json.dumps(manifest))
    refused = CliRunner().invoke(cli, [*args, "--resume"])
    assert refused.exit_code == 2 and "backend" in refused.output
    del manifest["backend"]  # a sweep written before sweeps had a backend: the cpu's
    (out / "sweep.json").write_text(json.dumps(manifest))
    assert CliRunner().invoke(cli, [*args, "--resume"]).exit_code == 0


def test_grid_point_calibrates_and_counts_on_the_chosen_backend(monkeypatch):
    from hsctsim.apps import sweeps

    seen = []
    real_calibrate, real_count = sweeps.calibrate, sweeps.count

    def spy_calibrate(*args, backend="cpu", **kwargs):
        seen.append(("calibrate", backend))
        return real_calibrate(*args, **kwargs)

    def spy_count(*args, backend="cpu", **kwargs):
        seen.append(("count", backend))
        return real_count(*args, **kwargs)

    monkeypatch.setattr(sweeps, "calibrate", spy_calibrate)
    monkeypatch.setattr(sweeps, "count", spy_count)
    ric = hsctsim.api.load_scenario("ric")
    point = sweeps.grid_points([sweeps.parse_axis(ric, "relapse.incidence=0.4:0.4:1")])[1]
    config = sweeps.Settings(1000, 3, ric.horizon_days, (100, 365), 2000)
    assert sweeps.run_point(ric, point, config, backend="cuda") == sweeps.run_point(
        ric, point, config)
    assert seen[:3] == [("calibrate", "cuda"), ("calibrate", "cuda"), ("count", "cuda")]


def test_device_calibrations_are_cached_apart_but_the_shipped_serves_both():
    point = hsctsim.api.scenario_point("ric")
    assert calibrate.cache_key(point, backend="cuda") != calibrate.cache_key(point)
    # the shipped solution of a bundled point: no device needed, none used
    assert calibrate.calibrate(point, backend="cuda") == calibrate.calibrate(point)


def test_a_worker_without_the_gpu_is_one_line_and_resumable(monkeypatch, tmp_path):
    from hsctsim.apps import sweeps

    real = sweeps.run_point

    def no_gpu_at_1(scenario, point, config, threads=None, backend="cpu"):
        if point.index == 1:  # as a worker of another machine would answer
            raise hsctsim.api.BackendError("numba's CUDA target finds no GPU")
        return real(scenario, point, config, threads, backend)

    monkeypatch.setattr(sweeps, "run_point", no_gpu_at_1)
    args = ["sweep", "ric", "--psa", "2", "--local", "-n", "1000", "--calibration-patients",
            "2000", "--out", str(tmp_path / "s")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2  # progress lines, then one line of error
    assert [line for line in result.output.splitlines() if "point" not in line[:6]] == [
        "Error: --backend cpu: on a worker: numba's CUDA target finds no GPU (1 of 2 points "
        "saved; --resume continues)"]
    monkeypatch.setattr(sweeps, "run_point", real)
    assert "(1 resumed)" in CliRunner().invoke(cli, [*args, "--resume"]).output


def test_held_what_if_calibrates_on_the_chosen_backend(monkeypatch):
    from hsctsim.apps.common import load_arms as _load_arms
    from hsctsim.model import whatif

    seen = []
    real = whatif.calibrate

    def spy(*args, backend="cpu", **kwargs):
        seen.append(backend)
        return real(*args, **kwargs)

    monkeypatch.setattr(whatif, "calibrate", spy)
    arms = _load_arms(("ric",), ("agvhd.incidence=0.45",), False, "cuda")
    assert arms["ric"].mode == whatif.HELD and seen == ["cuda", "cuda"]
