"""The figure of a posterior calibration: each ranged figure's prior against its posterior."""

import math

import matplotlib.pyplot as plt
import numpy as np

from ..model.posterior import Prior
from .plotting import DPI, FONT

__all__ = ["plot_prior_posterior"]


def plot_prior_posterior(keys, ranges, values, title=""):
    """A grid of panels, one per figure: prior density (line), posterior (histogram).

    Parameters
    ----------
    keys : list of str
    ranges : list of Range
        The priors (as :class:`hsctsim.model.posterior.Prior` reads them).
    values : array, ``(n_sets, len(keys))``
        The posterior sample.

    Returns
    -------
    matplotlib.figure.Figure
    """
    prior = Prior(list(zip(keys, ranges)))
    values = np.asarray(values, float)
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), layout="constrained",
                             squeeze=False, dpi=DPI)
    for i, (key, dist) in enumerate(zip(keys, prior.dists)):
        ax = axes.flat[i]
        low, high = dist.ppf(0.001), dist.ppf(0.999)
        x = np.linspace(low, high, 200)
        ax.hist(values[:, i], bins=25, range=(low, high), density=True, color="tab:blue",
                alpha=0.6, label="posterior")
        ax.plot(x, dist.pdf(x), color="black", lw=1.2, label="prior")
        ax.set_title(key, fontsize=FONT["legend"])
        ax.tick_params(labelsize=FONT["legend"] - 1)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=FONT["legend"] - 1, frameon=False)
    if title:
        fig.suptitle(title, fontsize=FONT["label"])
    return fig
