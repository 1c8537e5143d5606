"""Run folders written whole or not at all, and replaced only when they are ours.

A run is written into a hidden temporary folder beside its ``--out`` folder and
renamed into place when complete.  While it runs, a lock file beside the target
(``.NAME.lock``, held with ``flock``) keeps a second run away from the same
folder.  ``--overwrite`` replaces only an hsctsim run folder (one whose
``summary.json`` names the ``hsctsim_version`` that wrote it), never the current
folder or one above it, and replaces it atomically: the old folder is renamed
aside, the new one renamed in, and only then is the old one removed; if the
second rename fails, the old folder is put back.
"""

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np

from . import signals

__all__ = ["current_umask", "is_run_folder", "MARKER_FILE", "MARKER_KEY",
           "RESULT_FILES", "RunFolder", "RunFolderError", "written_whole"]

MARKER_FILE = "summary.json"
MARKER_KEY = "hsctsim_version"


class RunFolderError(click.ClickException):
    """An ``--out`` folder that cannot or must not be written: one line, exit status 2."""

    exit_code = 2


# ``cea --out`` and ``trial --out`` write their own document instead of summary.json
RESULT_FILES = (MARKER_FILE, "cea.json", "trial.json")


def is_run_folder(path, result_files=RESULT_FILES):
    """Whether ``path`` is a folder written by ``hsctsim run``, ``cea`` or ``trial --out``
    (or, with other ``result_files``, by another command)."""
    for name in result_files:
        try:
            document = json.loads((Path(path) / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and MARKER_KEY in document:
            return True
    return False


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _lock(lock_path, target):
    """An open, ``flock``-ed descriptor of ``lock_path``; refused if another run holds it."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            who = f" (process {holder})" if holder.isdigit() else ""
            raise RunFolderError(f"{target}: another hsctsim run is writing there{who}; "
                                 "wait for it or choose another --out") from None
        # the run before us may have removed the file between our open and flock
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def written_whole(folder):
    """Commit ``folder`` (a :class:`RunFolder`, or None) when the block ends normally.

    On any exception, a signal included, the folder is discarded and the exception
    goes on: a run folder is written whole or not at all.
    """
    try:
        yield folder
        if folder is not None:
            folder.commit()
    except BaseException:
        if folder is not None:
            folder.discard()
        raise


class RunFolder:
    """A run folder written whole or not at all.

    Files go to a hidden temporary folder beside ``path``; :meth:`commit` renames
    it into place, :meth:`discard` removes it.  An existing non-empty ``path`` is
    refused unless ``overwrite`` and it is an hsctsim run folder.  The folder and
    its files get the permissions the umask gives.  A subclass may replace another
    kind of folder of ours (its ``result_files``, described by ``what``).
    """

    result_files = RESULT_FILES
    what = f"an hsctsim run folder (no {MARKER_FILE} written by hsctsim)"

    def __init__(self, path, overwrite=False, events_format="csv"):
        self.overwrite = overwrite
        self.events_format = events_format
        self.tmp = None
        self._lock_fd = None
        self._events = {}
        absolute = Path(os.path.abspath(path))
        if absolute == Path(absolute.anchor):
            raise RunFolderError(f"{path}: the root folder cannot be a run folder")
        self.parent = Path(os.path.realpath(absolute.parent))
        self.path = self.parent / absolute.name
        self._shown = Path(path)
        if not self.parent.is_dir():
            if os.path.lexists(self.parent):  # `--out afile/sub`
                raise NotADirectoryError(f"{self._shown.parent}: not a folder (a file "
                                         f"holds that name), so {self._shown} cannot be made")
            raise FileNotFoundError(f"{self.parent} does not exist")
        self._check()
        with signals.deferred():
            try:
                try:
                    self._lock_path = self.parent / f".{self.path.name}.lock"
                    self._lock_fd = _lock(self._lock_path, self._shown)
                    self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.",
                                                     dir=self.parent))
                    os.chmod(self.tmp, 0o777 & ~current_umask())
                except OSError as exc:
                    raise PermissionError(f"cannot write in {self.parent} "
                                          f"({exc.strerror or exc})") from None
                self._check()  # again, now that no other run can change it
            except BaseException:
                self._release()
                raise

    def ours(self, path):
        """Whether ``path`` is a folder that ``--overwrite`` may replace."""
        return is_run_folder(path, self.result_files)

    def _check(self):
        """Refuse a target that must not be written or replaced."""
        path, shown = self.path, self._shown
        cwd = Path(os.path.realpath(os.getcwd()))
        if path.is_symlink():
            raise RunFolderError(f"{shown} is a symbolic link; give the folder itself")
        if path == cwd or path in cwd.parents:
            raise RunFolderError(f"{shown} is the current folder or one above it; "
                                 "give a new folder for the results")
        if not os.path.lexists(path):
            return
        if not path.is_dir():
            raise RunFolderError(f"{shown} exists and is not a folder")
        if not any(path.iterdir()):
            return
        if not self.overwrite:
            raise FileExistsError(f"{shown} exists and is not empty "
                                  "(choose another --out or pass --overwrite)")
        if not self.ours(path):
            raise RunFolderError(f"{shown} is not {self.what}: --overwrite replaces only "
                                 "those; nothing was changed")

    def write_text(self, name, text):
        target = self.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def append_events(self, arm, cohort):
        """Append a chunk's long event table to ``events/<arm>.csv`` (or ``.parquet``)."""
        if self.events_format == "parquet":
            self._append_parquet(arm, cohort)
            return
        if arm not in self._events:
            (self.tmp / "events").mkdir(exist_ok=True)
            fh = open(self.tmp / "events" / f"{arm}.csv", "w", newline="")
            fh.write("patient,from,to,start_day,stop_day\n")
            self._events[arm] = fh
        table = cohort.event_table()
        names = np.array(cohort.states)
        # plain Python values and one join: twice as fast as writing numpy scalars by row
        rows = zip(table["patient"].tolist(), names[table["from_state"]].tolist(),
                   names[table["to_state"]].tolist(), table["start_day"].tolist(),
                   table["stop_day"].tolist())
        self._events[arm].write("".join(map("%d,%s,%s,%.6f,%.6f\n".__mod__, rows)))

    def _append_parquet(self, arm, cohort):
        """One row group per chunk; states as dictionary-encoded strings (small, and
        read back by pandas as categoricals)."""
        import pyarrow as pa  # pyarrow: an optional dependency
        import pyarrow.parquet as pq  # pyarrow: an optional dependency

        table = cohort.event_table()
        states = pa.array(cohort.states)
        columns = {
            "patient": pa.array(table["patient"]),
            "from": pa.DictionaryArray.from_arrays(pa.array(table["from_state"], pa.int16()),
                                                   states),
            "to": pa.DictionaryArray.from_arrays(pa.array(table["to_state"], pa.int16()),
                                                 states),
            "start_day": pa.array(table["start_day"]),
            "stop_day": pa.array(table["stop_day"]),
        }
        batch = pa.table(columns)
        if arm not in self._events:
            (self.tmp / "events").mkdir(exist_ok=True)
            self._events[arm] = pq.ParquetWriter(self.tmp / "events" / f"{arm}.parquet",
                                                 batch.schema, compression="zstd")
        self._events[arm].write_table(batch)

    def commit(self):
        """Rename the finished folder into place (replacing an old run atomically)."""
        with signals.deferred():
            self._close_events()
            self._check()  # the target may have changed while the run ran
            if os.path.lexists(self.path):
                aside = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.old.",
                                              dir=self.parent))
                os.rename(self.path, aside)  # onto an empty folder: allowed, atomic
                try:
                    os.rename(self.tmp, self.path)
                except BaseException:
                    os.rename(aside, self.path)
                    raise
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.rename(self.tmp, self.path)  # fails if a non-empty folder appeared
            self.tmp = None
            self._release()

    def discard(self):
        """Remove the unfinished folder (on failure or interrupt)."""
        with signals.deferred():
            self._close_events()
            if self.tmp is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
            self._release()

    def _close_events(self):
        for fh in self._events.values():
            fh.close()
        self._events = {}

    def _release(self):
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        if self._lock_fd is not None:
            # remove the file while still holding the lock: a run that opened it
            # meanwhile sees it is gone and makes its own
            try:
                os.unlink(self._lock_path)
            except OSError:
                pass
            os.close(self._lock_fd)
            self._lock_fd = None
