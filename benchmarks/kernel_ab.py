"""Time the general kernel against another version of it, in one process.

The kernel is sensitive to what LLVM inlines (a branch added to one helper once made
it 50% slower), so every change to ``hsctsim/engine/kernel.py`` should be timed
against the version before it, alternating rounds in the same process, and its
cohort compared with the old one's.  This script takes the other version from git,
as a module of its own (the engine arrays, hazards and tables are today's), and
prints ns a patient of each (best of the rounds, CPU time, one thread) and whether
the cohorts are the same bit for bit::

    python benchmarks/kernel_ab.py HEAD~1                  # ric, 3*10^5 patients, 7 rounds
    python benchmarks/kernel_ab.py b49f8cd --arm mac -n 100000 --rounds 9
    python benchmarks/kernel_ab.py HEAD --tables  # both on the engine with hazard tables
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from hsctsim.api import scenario_point
from hsctsim.engine import kernel
from hsctsim.engine.tabulate import with_tables
from hsctsim.model.calibrate import calibrate
from hsctsim.model.hsct import engine_arrays

ROOT = Path(__file__).resolve().parents[1]


def kernel_at(revision):
    """``hsctsim/engine/kernel.py`` at ``revision``, imported as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:hsctsim/engine/kernel.py"],
        capture_output=True, text=True, check=True).stdout
    # absolute imports, and no on-disk cache: a copy must compile from its own source
    source = (source.replace("from .", "from hsctsim.engine.")
              .replace("cache=True", "cache=False")
              .replace("key_on_engine(globals())", "pass"))
    path = Path(tempfile.mkdtemp(prefix="hsctsim-kernel-ab-")) / "kernel_other.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("kernel_other", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the other version (a git revision)")
    parser.add_argument("--arm", default="ric")
    parser.add_argument("-n", "--patients", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tables", action="store_true",
                        help="run both on the engine with hazard tables (a revision that has them)")
    args = parser.parse_args(argv)
    numba.set_num_threads(1)
    point = scenario_point(args.arm)
    eng = engine_arrays(point, calibrate(point))
    if args.tables:
        eng = with_tables(eng)
    key, horizon = kernel.seed_key(1), point.horizon_days
    versions = {"this tree": kernel, args.revision: kernel_at(args.revision)}
    outs, times = {}, {name: [] for name in versions}
    for name, module in versions.items():
        outs[name] = np.empty((args.patients, len(eng.family)))
        module.simulate_into(eng, key, 0, horizon, outs[name][:100])  # compiles
    for _ in range(args.rounds):
        for name, module in versions.items():
            start = time.process_time()
            module.simulate_into(eng, key, 0, horizon, outs[name])
            times[name].append(time.process_time() - start)
    for name in versions:
        print(f"{name:>12}: {min(times[name]) / args.patients * 1e9:.0f} ns a patient "
              f"({args.arm}, best of {args.rounds}, 1 thread)")
    same = np.array_equal(*outs.values())
    print(f"the same cohort bit for bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
