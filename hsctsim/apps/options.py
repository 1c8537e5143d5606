"""Click parameter types shared by the commands."""

import math

import click

__all__ = ["check_threads", "FiniteFloatRange", "OutPath", "SEED", "wtp_list"]


class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that also refuses NaN (which passes every comparison)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


# Seeds beyond these alias smaller ones (see hsctsim.api.MAX_SEED): refused, so that the
# seed a result records is the one its patients came from
SEED = click.IntRange(0, 2**63 - 1)


class OutPath(click.Path):
    """A ``click.Path`` for ``--out`` that refuses ``""`` (an unset shell variable).

    An empty ``--out`` was taken as no ``--out``: the results printed, nothing was
    written, and the exit status was 0.
    """

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path; give the folder or file to write", param, ctx)
        return super().convert(value, param, ctx)


def check_threads(threads):
    """``--threads`` within what numba can run here, or one line naming the option."""
    if threads is None:
        return
    import numba  # numba: slow to import, only when needed

    if threads > numba.config.NUMBA_NUM_THREADS:
        raise click.BadParameter(f"{threads}: at most {numba.config.NUMBA_NUM_THREADS} on "
                                 "this machine", param_hint="'--threads'")


def wtp_list(ctx, param, value):
    """``--wtp``: willingness-to-pay amounts per QALY, comma-separated (a click callback)."""
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected numbers separated by commas, "
                                 "e.g. 50000,100000") from None
    if not out or not all(0 <= w < float("inf") for w in out):  # NaN fails too
        raise click.BadParameter("give one or more finite amounts >= 0")
    return out
