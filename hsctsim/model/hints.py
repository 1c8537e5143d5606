"""Suggestions for a mistyped name, shared by the scenario reader and the CLI."""

import difflib

__all__ = ["did_you_mean"]


def did_you_mean(word, choices):
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``''``.

    Parameters
    ----------
    word : str
        What was given.
    choices : iterable of str
        What would have been accepted.

    Returns
    -------
    str
        A suffix for a one-line error message (empty when nothing is close).
    """
    hint = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""
