"""Progress of a long run on stderr, also when stderr is not a terminal.

A run that takes more than a few seconds says what it is doing (preparing an arm,
which calibrates and on a first run compiles; simulating; writing) every few
seconds, so that a long run never looks like a hang: on a terminal one line
redrawn in place, elsewhere (a log file, a cluster job) a plain line each time.
Short runs print nothing.  Never on stdout, which carries the results.  A
background thread prints, so that a line comes even while numba compiles.
"""

import os
import sys
import threading
import time

from . import signals

__all__ = ["ENV_EVERY", "EVERY_S", "Progress", "QUIET_S"]

QUIET_S = 3.0  # nothing for runs shorter than this
EVERY_S = {True: 0.5, False: 5.0}  # seconds between lines, on a terminal or not
ENV_EVERY = "HSCTSIM_PROGRESS_SECONDS"  # both intervals at once (tests, logs)


class Progress:
    """Report phases and patients done; use as a context manager.

    Parameters
    ----------
    total : int
        Patients to simulate in all (the denominator of the percentage).
    stream : file, optional
        Where lines go (default ``sys.stderr``).
    """

    def __init__(self, total, stream=None):
        self.stream = stream or sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        every = os.environ.get(ENV_EVERY)
        try:
            self.every_s = self.quiet_s = float(every)
        except (TypeError, ValueError):
            self.every_s, self.quiet_s = EVERY_S[self.tty], QUIET_S
        self.total = int(total)
        self.done = 0
        self.label = "starting"
        self._stop = threading.Event()
        self._thread = None
        self._drawn = False
        self._start = time.monotonic()

    def __enter__(self):
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="hsctsim-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self._drawn and self.tty:
            self._write("\n")
        return False

    def phase(self, label):
        """Start a phase (``"simulating"``, ``"writing results"``, ...)."""
        signals.check()
        self.label = label

    def advance(self, n_patients):
        """Count ``n_patients`` more as done (a safe point to stop on a signal)."""
        signals.check()
        self.done += int(n_patients)

    def line(self):
        """The current progress line (without newline)."""
        elapsed = time.monotonic() - self._start
        text = f"hsctsim: {self.label}"
        if self.total:
            text += (f"; {self.done:,} of {self.total:,} patients "
                     f"({100 * self.done / self.total:.0f}%)")
        return f"{text}; {elapsed:.0f} s"

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._stop.set()  # stderr went away: stop reporting, keep running

    def _loop(self):
        last = None
        while not self._stop.wait(min(0.25, self.every_s)):
            now = time.monotonic()
            if now - self._start < self.quiet_s or (last is not None
                                                    and now - last < self.every_s):
                continue
            last = now
            line = self.line()
            self._write(f"\r{line}\x1b[K" if self.tty else line + "\n")
            self._drawn = True
