"""Tidy pandas DataFrames of the result documents (pandas is an optional extra).

One row per arm, measure (or endpoint) and day, the layout that pandas, seaborn,
R's tidyverse and spreadsheets take directly::

    from hsctsim.apps.runner import run_arms, summary_document
    from hsctsim.apps.frames import summary_frame
    frame = summary_frame(summary_document(*run_arms(...)))
    frame = summary_frame("ric-1m")          # a run folder (its summary.json), or
    frame = summary_frame("ric-1m/summary.json")
"""

import json
import os
from pathlib import Path

from .cea import cea_rows
from .runner import comparison_rows, summary_rows

__all__ = ["cea_frame", "comparison_frame", "summary_frame"]


def _document(source, name):
    """The result document: ``source`` itself (a dict), or read from a path to the
    JSON file or to the folder that holds it as ``name``."""
    if isinstance(source, dict):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a result document (dict) or a path to {name}, "
                        f"got {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        path = path / name
    return json.loads(path.read_text())


def _frame(rows, document):
    import pandas as pd  # pandas: an optional dependency

    frame = pd.DataFrame(rows)
    frame.attrs.update({k: document[k] for k in ("hsctsim_version", "seed", "patients",
                                                  "horizon_days") if k in document})
    return frame


def summary_frame(document):
    """``summary.json`` as rows: arm, endpoint, kind, day, estimate, ci and ui bounds.

    ``document``: the summary (a dict), or a path to ``summary.json`` or to the run
    folder that holds it.
    """
    document = _document(document, "summary.json")
    return _frame(summary_rows(document), document)


def comparison_frame(document):
    """The paired comparisons of ``summary.json`` (with ``--compare``) as rows (a dict
    or a path, as :func:`summary_frame`)."""
    document = _document(document, "summary.json")
    return _frame(comparison_rows(document), document)


def cea_frame(document):
    """``cea.json`` as rows: arm, versus, measure, mean, 95% CI (a dict, or a path to
    ``cea.json`` or to the folder that holds it)."""
    document = _document(document, "cea.json")
    return _frame(cea_rows(document), document)
