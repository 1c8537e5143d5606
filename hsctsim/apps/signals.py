"""Stopping on a signal the way Ctrl-C stops: clean up, then exit 128 + signal.

SIGINT (Ctrl-C), SIGTERM (``timeout``, cluster time limits) and SIGHUP (a closed
terminal or SSH session) all raise :class:`Interrupted` in the main thread, so that
the same ``except BaseException`` clean-up runs for each (no partial run folders)
and the command line exits 130, 143 or 129 as shells expect.

A signal is held back, and acted on as soon as it is safe, in two places:

- inside numba (compiling or importing): numba's compiler is not safe against an
  exception at an arbitrary point.  An exception raised in one of its LLVM
  callbacks is printed and dropped by ctypes, and the run went on as if nothing
  had happened (this was the flaky ``test_interrupt_leaves_no_files``); raised
  elsewhere in a compilation it can leave a half-built function behind.  A timer
  looks again every :data:`RETRY_S` seconds and raises once numba has returned
  (after a first-run compilation, seconds later).  A third signal raises at once.
- inside :func:`deferred` blocks: the steps that must not be cut in two
  (creating, committing and removing a run folder).

Imports nothing heavy: :func:`install` runs before numpy and numba load.
"""

import contextlib
import signal
import sys

__all__ = ["check", "deferred", "HANDLED", "ignore", "INSIST", "install", "Interrupted", "RETRY_S"]

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RETRY_S = 0.1
INSIST = 3  # this many signals stop even inside numba
_UNSAFE_MODULES = ("numba", "llvmlite")

_state = {"depth": 0, "pending": None, "count": 0}


class Interrupted(BaseException):
    """A stopping signal arrived; ``signum`` says which.

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` does not
    swallow it; not a KeyboardInterrupt, so that click passes it through.
    """

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self):
        return 128 + self.signum


def _unsafe(frame):
    """Whether the main thread is inside numba or llvmlite."""
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] in _UNSAFE_MODULES:
            return True
        frame = frame.f_back
    return False


def _raise_if_safe(frame):
    if _state["depth"]:
        return  # deferred() raises when its block ends
    if _state["count"] < INSIST and _unsafe(frame):
        if not signal.getitimer(signal.ITIMER_REAL)[0]:
            signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        return
    signum, _state["pending"] = _state["pending"], None
    raise Interrupted(signum)


def _handler(signum, frame):
    _state["pending"] = signum
    _state["count"] += 1
    _raise_if_safe(frame)
    if _state["count"] == 1 and not _state["depth"]:  # held back inside numba
        print("hsctsim: stopping as soon as numba returns (it may be compiling)",
              file=sys.stderr, flush=True)


def _retry(signum, frame):
    if _state["pending"] is not None:
        _raise_if_safe(frame)


def install():
    """Route SIGINT, SIGTERM and SIGHUP to :class:`Interrupted` (main thread only).

    A signal ignored by whoever started us stays ignored (``nohup`` ignores SIGHUP,
    a shell script's background jobs ignore SIGINT).
    """
    _state.update(depth=0, pending=None, count=0)
    signal.signal(signal.SIGALRM, _retry)
    for signum in HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handler)


def ignore():
    """Ignore the handled signals from now on (the process is on its way out)."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_IGN)


def check():
    """Raise :class:`Interrupted` now if a signal is waiting (a safe point)."""
    if _state["pending"] is not None and not _state["depth"]:
        signum, _state["pending"] = _state["pending"], None
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred():
    """Hold back the handled signals until the block ends, then raise.

    Without :func:`install` (the Python API, tests through CliRunner) this does
    nothing: Python's own KeyboardInterrupt is left alone.
    """
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        check()
