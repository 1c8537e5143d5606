"""Compute the posteriors that ship with the package, one per arm with calibration targets.

For every arm named in ``hsctsim/model/calibration_targets.toml`` (or the arms given)
this runs ``hsctsim calibrate ARM --threads 1 --seed 20251121`` (the command's
defaults otherwise: 1,000 sets, 20,000 patients per set, 5,000 per calibration solve)
into a temporary folder and writes its ``posterior.json`` to
``hsctsim/model/posteriors/ARM/posterior.json``.  One thread and the fixed seed make
it reproducible: the same checkout gives the same files, byte for byte (the targets
file is recorded by its path in the repository, not on this machine).  Run it from the
repository root after any change to an arm's figures, timings or ties (a posterior
made before is refused by ``load_posterior``), and commit the files it writes:

    python tools/ship_posteriors.py                 # every arm with targets (~4 min each)
    python tools/ship_posteriors.py haplo_ptcy      # one arm
    python tools/ship_posteriors.py ric --sets 20 -n 500 --calibration-patients 1000 \\
        --dest /tmp/posteriors                      # a quick try, elsewhere

An arm whose targets are all held by the calibration cannot be calibrated
(``hsctsim calibrate`` says so); the script stops at the first arm that fails.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["arms_with_targets", "main", "ship"]

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "hsctsim" / "model" / "calibration_targets.toml"
DEST = ROOT / "hsctsim" / "model" / "posteriors"
SEED = 20251121  # hsctsim.api.DEFAULT_SEED, the seed the shipped posteriors were made with


def arms_with_targets(path=TARGETS):
    """The arms named by the ``[[figure]]`` tables of ``path``, in order of appearance."""
    from hsctsim.sim.posterior import target_arms  # deferred: the package, run from the root

    return target_arms(path)


def ship(arm, dest=DEST, sets=None, patients=None, calibration_patients=None):
    """Calibrate ``arm`` and write ``dest/ARM/posterior.json``; return its diagnostics."""
    extra = []
    for flag, value in (("--sets", sets), ("--patients", patients),
                        ("--calibration-patients", calibration_patients)):
        if value is not None:
            extra += [flag, str(value)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout, whatever is installed
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / arm
        cmd = [sys.executable, "-m", "hsctsim", "calibrate", arm, "--threads", "1",
               "--seed", str(SEED), *extra, "--out", str(out)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{arm}: hsctsim calibrate failed (status {done.returncode}):"
                             f" {(done.stderr or done.stdout).strip()}")
        data = json.loads((out / "posterior.json").read_text(encoding="utf-8"))
    settings = data["settings"]
    if Path(settings["targets_file"]).resolve() == TARGETS.resolve():
        # the path on this machine would make the file differ from machine to machine
        settings["targets_file"] = TARGETS.relative_to(ROOT).as_posix()
    folder = Path(dest) / arm
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "posterior.json").write_text(json.dumps(data) + "\n", encoding="utf-8")
    return data["diagnostics"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("arms", nargs="*", help="arms (default: every arm with targets)")
    parser.add_argument("--dest", type=Path, default=DEST,
                        help="folder of ARM/posterior.json (default: the package's)")
    parser.add_argument("--sets", type=int, help="posterior sets (default: the command's)")
    parser.add_argument("-n", "--patients", type=int, help="patients per set")
    parser.add_argument("--calibration-patients", type=int, help="patients per solve")
    args = parser.parse_args(argv)
    known = arms_with_targets()
    for arm in args.arms:
        if arm not in known:
            parser.error(f"{arm}: no calibration targets in {TARGETS.relative_to(ROOT)} "
                         f"(arms with targets: {', '.join(known)})")
    for arm in args.arms or known:
        start = time.perf_counter()
        d = ship(arm, args.dest, args.sets, args.patients, args.calibration_patients)
        print(f"{arm}: {d['resampled']} sets, ESS {d['ess']:.0f} of {d['evaluations']}, "
              f"{d['iterations']} IMIS components, {time.perf_counter() - start:.0f} s -> "
              f"{Path(args.dest) / arm / 'posterior.json'}", flush=True)


if __name__ == "__main__":
    main()
