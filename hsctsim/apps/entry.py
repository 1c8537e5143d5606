"""The ``hsctsim`` console script: signal handlers first, then the command line.

Kept apart from :mod:`hsctsim.apps.cli` so that the handlers are in place before
numpy and numba are imported (Ctrl-C while importing exits quietly, status 130).
"""

import os
import sys

from . import signals

__all__ = ["main"]

# before numpy loads: OpenBLAS's own thread pool would spin beside numba's threads
# (3% of a simulation's time in a profile), and no command does BLAS work worth
# threads (small fits).  A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main():
    """Run the command line; exit 128 + N on signal N (130 Ctrl-C, 143 SIGTERM)."""
    signals.install()
    try:
        from .cli import cli  # after the handlers: it imports numpy and numba

        cli(prog_name="hsctsim")
    except signals.Interrupted as exc:
        signals.ignore()
        print(f"hsctsim: stopped by {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # raised by hand somewhere: still Ctrl-C
        signals.ignore()
        sys.exit(130)
    except BrokenPipeError:
        # output piped into a reader that stopped early: quiet, as `cat` is
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    finally:
        # the command has ended (its results written or refused): a signal while the
        # interpreter shuts down would only print a traceback from an atexit callback
        # or end the process as killed by it, so it is ignored from here
        signals.ignore()
