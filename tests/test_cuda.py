"""The CUDA backend against the CPU kernel, without a GPU.

numba's CUDA simulator must be switched on before numba is imported, so the
kernels run in a child process (``tests/cuda_checks.py``) and are compared here
with the compiled CPU kernel (numba's built-in simulator serves where numba-cuda is
not installed).  A second child compiles them to PTX for an H100/H200 with the real
NVVM, and skips where numba-cuda or NVVM is missing.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import hsctsim
from hsctsim.analysis.endpoints import Tally
from hsctsim.api import _prepare
from hsctsim.apps.cli import cli
from hsctsim.engine.kernel import simulate_into, simulate_patients_into
from hsctsim.model import calibrate

HERE = pathlib.Path(__file__).parent
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


def test_simulator_run_on_the_device_prints_what_cpu_prints(simulated):
    cpu = CliRunner().invoke(cli, ["run", "ric", "mst", "-n", str(cuda_checks.SIM_PATIENTS),
                                   "--seed", str(cuda_checks.SIM_SEED), "--format", "json"])
    assert cpu.exit_code == 0
    assert str(simulated["run_json"]) == cpu.stdout


def test_too_many_processes_is_a_clear_error(simulated):
    assert "at most 16 processes, the engine has 17" in str(simulated["too_many"])


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
    from hsctsim.api import resolve_backend

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
