"""Click parameter types shared by the commands."""

import math

import click


class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that also refuses NaN (which passes every comparison)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number
