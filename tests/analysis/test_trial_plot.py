"""The trial histogram: the bars are the shares of trials, the title whole, the legend
clear of the bars."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hsctsim.analysis.trials import plot_trial_counts, tail

LONG_TITLE = ("Haploidentical HSCT with PTCy + donor NK cells (days -2, +7, +28): "
              "2,000 trials of 5")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def extents(ax):
    """Window extents of the figure, the axes, the title and the legend after a draw."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return (fig.bbox, ax.get_window_extent(renderer), ax.title.get_window_extent(renderer),
            ax.get_legend().get_window_extent(renderer))


def test_bars_are_shares_of_trials_and_ticks_whole_counts():
    values = np.array([0, 0, 0, 1, 1, 2, 0, 3], float)
    ax = plot_trial_counts(values, "relapse_d100", observed=2, title=LONG_TITLE)
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([4 / 8, 2 / 8, 1 / 8, 1 / 8])
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert ax.yaxis.get_major_formatter()(0.5, 0).startswith("50")
    p = tail(values, 2)
    label = ax.get_legend().get_texts()[0].get_text()
    assert f"{p['p_at_most']:.3f}" in label and f"{p['p_at_least']:.3f}" in label


def test_title_whole_and_legend_clear_of_the_bars():
    values = np.random.default_rng(0).binomial(5, 0.05, 2000).astype(float)
    ax = plot_trial_counts(values, "relapse_d100", observed=2, title=LONG_TITLE)
    figure, axes, title, legend = extents(ax)
    # the title is wrapped onto lines that fit inside the figure
    assert "\n" in ax.get_title()
    assert figure.x0 <= title.x0 and title.x1 <= figure.x1 and title.y1 <= figure.y1
    # the legend lies right of the axes (so over no bar) and inside the figure
    assert legend.x0 >= axes.x1 and legend.x1 <= figure.x1


def test_median_survival_histogram_sums_to_share_with_a_median():
    values = np.array([100.0, 200.0, 250.0, np.inf, 400.0])  # inf: median not reached
    ax = plot_trial_counts(values, "median_os_days", observed=220.0)
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(4 / 5)
