"""Tidy pandas DataFrames of the result documents (pandas is an optional extra).

One row per arm, measure (or endpoint) and day, the layout that pandas, seaborn,
R's tidyverse and spreadsheets take directly::

    from hsctsim.apps.runner import run_arms, summary_document
    from hsctsim.apps.frames import summary_frame
    frame = summary_frame(summary_document(*run_arms(...)))
"""

from .cea import cea_rows
from .runner import comparison_rows, summary_rows

__all__ = ["cea_frame", "comparison_frame", "summary_frame"]


def _frame(rows, document):
    import pandas as pd  # pandas: an optional dependency

    frame = pd.DataFrame(rows)
    frame.attrs.update({k: document[k] for k in ("hsctsim_version", "seed", "patients",
                                                  "horizon_days") if k in document})
    return frame


def summary_frame(document):
    """``summary.json`` as rows: arm, endpoint, kind, day, estimate, ci and ui bounds."""
    return _frame(summary_rows(document), document)


def comparison_frame(document):
    """The paired comparisons of ``summary.json`` (with ``--compare``) as rows."""
    return _frame(comparison_rows(document), document)


def cea_frame(document):
    """``cea.json`` as rows: arm, versus, measure, mean, 95% CI."""
    return _frame(cea_rows(document), document)
