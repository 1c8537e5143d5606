"""The output folder of a sweep: written in place so that it resumes, replaced whole.

A fresh sweep writes into its ``--out`` folder as it goes (``sweep.json`` first,
then ``points/<index>.json`` as each point comes in, each file atomically), so that
an interrupted or killed sweep can be resumed.  ``--overwrite`` of an existing
sweep folder builds the new sweep in a hidden folder beside it with the run-folder
machinery of :mod:`.runfolder` and swaps it in only once it is whole: a failure
or an interrupt leaves the old sweep as it was.  ``--resume`` checks every point
file against ``sweep.json`` (index, design, parameters, seed, scenario) and redoes
those that do not match, saying so.
"""

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from ..analysis.endpoints import ENDPOINTS
from ..model.scenario import ScenarioError
from .runfolder import RunFolder, current_umask
from .sweepecon import is_economic_endpoint

__all__ = ["check_out", "MULTISTATE_PREFIXES", "ROW_KEYS", "scenario_hash", "SweepFolder",
           "SweepRunFolder"]

ROW_KEYS = ("endpoint", "kind", "landmark_day", "estimate", "ci95_low", "ci95_high")


class SweepRunFolder(RunFolder):
    """A :class:`RunFolder` that replaces only sweep folders (those with ``sweep.json``)."""

    what = "an hsctsim sweep folder (no sweep.json)"

    def ours(self, path):
        return (Path(path) / "sweep.json").is_file()


def scenario_hash(manifest):
    """SHA-256 of the scenario a sweep is of, as its manifest records it."""
    text = json.dumps(manifest.get("scenario_toml"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _seed(manifest):
    settings = manifest.get("settings")
    return settings.get("seed") if isinstance(settings, dict) else None


def _not_empty(path):
    return path.is_dir() and any(path.iterdir())


def _parent_checked(path):
    """Refuse an ``--out`` whose parent is missing or is a file, naming which."""
    parent = path.parent
    if parent.is_dir():
        return
    if os.path.lexists(parent):
        raise NotADirectoryError(f"{parent}: not a folder (a file holds that name), so "
                                 f"{path} cannot be made")
    raise FileNotFoundError(f"{path}: the folder {parent} does not exist")


def check_out(path, overwrite):
    """The refusals of a fresh sweep's ``--out`` that need nothing written (made before
    a cluster is started or connected to)."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    if _not_empty(path):
        if not overwrite:
            raise FileExistsError(f"{path} exists and is not empty "
                                  "(--resume to continue it, --overwrite to replace it)")
    else:
        _parent_checked(path)


class SweepFolder:
    """The output folder of a sweep: the settings, one file per finished point, the table.

    Each point's result is written to ``points/<index>.json`` as soon as it is in,
    atomically (a temporary file renamed into place), so an interrupted sweep
    leaves only whole points behind; :meth:`done` lists them for ``--resume``.
    Use as a context manager: on leaving normally, a replacing sweep is swapped
    in; on an error, it is discarded (the old folder stays) and a fresh folder with
    no point in it is removed.
    """

    def __init__(self, path, manifest, resume=False, overwrite=False):
        self.target = Path(path)
        self.manifest = json.loads(json.dumps(manifest))  # as it reads back: lists
        self.staged = None
        self.created = self.fresh = False
        self.saved = 0
        if resume:
            self._check_resumable()
            self.path = self.target
        elif os.path.lexists(self.target) and not self.target.is_dir():
            raise FileExistsError(f"{self.target} exists and is not a folder")
        elif _not_empty(self.target):
            if not overwrite:
                raise FileExistsError(f"{self.target} exists and is not empty "
                                      "(--resume to continue it, --overwrite to replace it)")
            # the old sweep stays until the new one is whole
            self.staged = SweepRunFolder(self.target, overwrite=True)
            self.path = self.staged.tmp
        else:
            _parent_checked(self.target)
            self.created, self.fresh = not self.target.exists(), True
            self.path = self.target
        self.points = self.path / "points"
        try:
            self.points.mkdir(parents=True, exist_ok=True)
            if not resume:
                self.write_text("sweep.json", json.dumps(self.manifest, indent=1) + "\n")
        except BaseException:
            self.abandon()
            raise

    def _check_resumable(self):
        existing = self.target / "sweep.json"
        try:
            before = json.loads(existing.read_text())
        except (OSError, ValueError):
            raise FileNotFoundError(f"{existing}: no sweep to resume here") from None
        if not isinstance(before, dict):
            raise ScenarioError(existing, None, "not an hsctsim sweep manifest (expected a "
                                "JSON object); start afresh with --overwrite")
        before.setdefault("backend", "cpu")  # written before sweeps had a backend
        changed = sorted(k for k in set(before) | set(self.manifest)
                         if k not in ("hsctsim_version", "device", "platform")
                         and before.get(k) != self.manifest.get(k))
        if changed:
            raise ScenarioError(existing, changed[0], "differs from this command's; "
                                "resume with the same settings, or start afresh")

    # -- the context: commit a replacing sweep, clean up after a failure -------------

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.commit()
        else:
            self.abandon(interrupted=not issubclass(kind, Exception))
        return False

    def commit(self):
        """Swap a replacing sweep in (the old one goes only now)."""
        if self.staged is not None:
            self.staged.commit()
            self.staged = None
            self.path = self.target
            self.points = self.path / "points"

    def abandon(self, interrupted=False):
        """After a failure: a replacing sweep is discarded, the old folder kept; a fresh
        folder is removed if no point was saved in it (an interrupted one is kept,
        for ``--resume``)."""
        if self.staged is not None:
            self.staged.discard()
            self.staged = None
        elif not interrupted and self.fresh and self.saved == 0:
            if self.created:
                shutil.rmtree(self.target, ignore_errors=True)
            else:  # an empty folder the user made: emptied again
                shutil.rmtree(self.points, ignore_errors=True)
                (self.target / "sweep.json").unlink(missing_ok=True)

    @property
    def replacing(self):
        return self.staged is not None

    # -- files ------------------------------------------------------------------------

    def write_text(self, name, text):
        """Write ``name`` atomically (temporary file in the folder, then rename)."""
        return self.write_bytes(name, text.encode())

    def write_bytes(self, name, data):
        target = self.path / name
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            # mkstemp makes the file 0600; the results get what the umask gives, as
            # every other output does
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def save_point(self, result):
        """Save one point's result, with what it was made from (seed, scenario)."""
        stamped = {**result, "seed": _seed(self.manifest),
                   "scenario_sha256": scenario_hash(self.manifest)}
        self.write_text(f"points/{result['index']:06d}.json", json.dumps(stamped) + "\n")
        self.saved += 1

    def done(self, expected=None, say=None):
        """Results of the points already saved that belong to this sweep, by index.

        ``expected(index)`` gives the point's ``(design, varied, parameters)``, or
        None for an index that is not one of the sweep's.  A file that does not hold
        the point its name says, with the parameters, seed and scenario of this
        sweep, is left out (its point is redone) and ``say`` is told why.
        """
        say = say or (lambda message: None)
        out = {}
        for path in sorted(self.points.glob("*.json")):
            shown = f"{self.target / 'points' / path.name}"
            try:
                result = json.loads(path.read_text())
            except (OSError, ValueError, UnicodeDecodeError):
                say(f"{shown}: not readable JSON; its point is redone")
                continue
            problem = self._mismatch(path.stem, result, expected)
            if problem is None:
                out[result["index"]] = result
            elif problem:
                say(f"{shown}: {problem}")
        return out

    def _mismatch(self, stem, result, expected):
        """Why a point file cannot be used (None: it can; "": silently skipped)."""
        if not isinstance(result, dict):
            return "not a point result (expected a JSON object); its point is redone"
        index = result.get("index")
        if type(index) is not int:
            return "no whole-number index; its point is redone"
        if not stem.isdigit() or int(stem) != index:
            return f"holds point {index}, not the point its name says; ignored"
        want = expected(index) if expected is not None else ()
        if want is None:
            n = len(self.manifest.get("points") or ())
            return f"point {index} is not a point of this sweep (it has {n}); ignored"
        if result.get("seed") != _seed(self.manifest):
            return "made with another seed (or by an older hsctsim); its point is redone"
        if result.get("scenario_sha256") != scenario_hash(self.manifest):
            return ("made from another scenario (or by an older hsctsim); its point is "
                    "redone")
        if want:
            design, varied, parameters = want
            if result.get("design") != design or result.get("varied") != varied:
                return "not the design of this point; its point is redone"
            got = result.get("parameters")
            if not isinstance(got, dict) or set(got) != set(parameters) or not all(
                    _close(got[k], v) for k, v in parameters.items()):
                return "its parameters are not this point's; its point is redone"
        if not _rows_ok(result.get("rows"), self.manifest):
            return "its rows are not a point's results; its point is redone"
        return None


def _close(a, b):
    return (isinstance(a, (int, float)) and not isinstance(a, bool)
            and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300))


# a multi-state arm's endpoints (hsctsim.analysis.occupation): occupation, time in state
# and transition incidence, by state or transition
MULTISTATE_PREFIXES = ("occupation:", "time_in:", "transition:")


def _rows_ok(rows, manifest):
    days = (manifest.get("settings") or {}).get("days")
    if not isinstance(rows, list) or not rows:
        return False
    multistate = manifest.get("kind") == "multistate"
    arms = manifest.get("arms") or [None]
    counted = 0
    for row in rows:
        if not isinstance(row, dict) or any(k not in row for k in ROW_KEYS):
            return False
        endpoint = row["endpoint"]
        if not isinstance(endpoint, str) or not isinstance(row["kind"], str):
            return False
        if endpoint in ENDPOINTS and not multistate:
            counted += 1
            if days is not None and row["landmark_day"] not in days:
                return False
        elif not (is_economic_endpoint(endpoint)
                  or multistate and endpoint.startswith(MULTISTATE_PREFIXES)):
            return False
        for k in ("estimate", "ci95_low", "ci95_high"):
            v = row[k]
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v)):
                return False
    # every endpoint of every arm on every landmark day
    return multistate or not isinstance(days, list) or counted == (
        len(days) * len(ENDPOINTS) * len(arms))
