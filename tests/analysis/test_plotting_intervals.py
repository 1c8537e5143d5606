"""Replicate intervals (summary.json's ui95) drawn as error bars beside the Monte Carlo band."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

import hsctsim
from hsctsim.analysis import plotting
from hsctsim.apps.runner import replicate_intervals_of

N_PATIENTS = 1500


@pytest.fixture(scope="module")
def arms():
    return {name: hsctsim.simulate(name, N_PATIENTS, seed=7, calibration_patients=20_000)
            for name in ("ric", "mac")}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def endpoints(table):
    """summary.json's endpoints from ``{endpoint: {day: (estimate, low, high)}}``."""
    return {name: {"kind": "incidence",
                   "at": {f"d{day}": {"estimate": e, "ci95": [e - 0.01, e + 0.01],
                                      "ui95": [lo, hi]}
                          for day, (e, lo, hi) in at.items()}}
            for name, at in table.items()}


def bar_spans(container):
    """``(x, low, high)`` of each bar of an errorbar container."""
    segments = container.lines[2][0].get_segments()
    return sorted((s[0][0], min(s[0][1], s[1][1]), max(s[0][1], s[1][1])) for s in segments)


def legend_texts(legend):
    return [t.get_text().replace("\n", " ") for t in legend.get_texts()]


INTERVALS = {"ric": endpoints({"agvhd": {30: (0.25, 0.19, 0.31), 100: (0.45, 0.358, 0.565),
                                         365: (0.5, 0.4, 0.6)},
                               "os": {100: (0.9, 0.85, 0.95), 365: (0.7, 0.6, 0.8)}}),
             # the point outside its replicate interval: the bar still spans the point
             "mac": endpoints({"agvhd": {100: (0.40, 0.42, 0.55)}})}


def test_incidence_bars_at_landmarks_from_ui95(arms):
    ax = plotting.plot_incidence(arms, "agvhd", intervals=INTERVALS)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)
            and len(c.lines[2][0].get_segments())]
    assert len(bars) == 2
    ric, mac = bars
    # day 365 lies beyond the 180-day axis of aGVHD: only the days on the axis
    spans = bar_spans(ric)
    # each arm's bars a little to the side (under 1% of the axis), so two arms' do not hide
    assert [x for x, _, _ in spans] == pytest.approx([30, 100], abs=0.01 * 180)
    assert spans[1][1:] == pytest.approx((0.358, 0.565))
    assert bar_spans(mac)[0][1:] == pytest.approx((0.40, 0.55))
    # the axis reaches the highest bar, and the legend tells band from bars
    assert ax.get_ylim()[1] >= 0.565
    texts = legend_texts(ax.get_legend())
    assert texts[:2] == ["ric", "mac"]
    assert any("band" in t and "Monte Carlo" in t for t in texts)
    assert any("bars" in t and "replicates" in t for t in texts)


def test_no_intervals_no_bars_and_no_band_entries(arms):
    for intervals in (None, {}, {"ric": endpoints({"relapse": {100: (0.1, 0.05, 0.2)}})}):
        ax = plotting.plot_incidence(arms, "agvhd", intervals=intervals)
        assert not [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert legend_texts(ax.get_legend()) == ["ric", "mac"]


def test_survival_bars_and_endpoint_legend(arms):
    ax = plotting.plot_survival(arms, endpoints=("os",), intervals=INTERVALS)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)
            and len(c.lines[2][0].get_segments())]
    assert len(bars) == 1
    assert [x for x, _, _ in bar_spans(bars[0])] == pytest.approx([100, 365], abs=0.01 * 730)
    texts = legend_texts(ax.get_legend())
    assert texts[0].startswith("OS")
    assert any("replicates" in t for t in texts)


def test_replicate_intervals_of_and_write_figures(arms, tmp_path):
    document = {"replicates": 0, "arms": {"ric": {"endpoints": INTERVALS["ric"]}}}
    assert replicate_intervals_of(document) is None
    document["replicates"] = 8
    assert replicate_intervals_of(document) == {"ric": INTERVALS["ric"]}
    paths = plotting.write_figures({"ric": arms["ric"]}, tmp_path,
                                   intervals=replicate_intervals_of(document))
    assert (tmp_path / "incidence_agvhd.png").read_bytes().startswith(b"\x89PNG")
    assert len(paths) == len(set(paths))
    assert np.all([p.exists() for p in paths])
