"""Figures of sweeps of several arms and of costs: which files are drawn, and that what
they draw is the table's (the bars of the net benefit's tornado, the points of the ICER)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hsctsim.analysis.sweep_plots import (  # noqa: E402
    plot_point_icer,
    plot_point_nmb,
    plot_tornado,
    point_value,
    write_sweep_figures,
)

WTP = (50_000, 100_000)


def _row(point, design, varied, values, arm, endpoint, estimate, kind="x", day=730,
         ci=None):
    low, high = ci if ci else (estimate, estimate)
    return {"point": point, "design": design, "varied": varied, **values, "arm": arm,
            "endpoint": endpoint, "kind": kind, "landmark_day": day, "estimate": estimate,
            "ci95_low": low, "ci95_high": high}


def one_way_rows():
    """Two arms, a one-way sweep of a clinical figure of b and of a cost of both: b's
    incremental NMB is 1000 * point - 300 * the cost's excess over 100."""
    points = [(0, "baseline", "", 0.5, 100.0), (1, "one-way", "b:relapse.incidence", 0.4, 100.0),
              (2, "one-way", "b:relapse.incidence", 0.6, 100.0),
              (3, "one-way", "costs.transplant", 0.5, 50.0),
              (4, "one-way", "costs.transplant", 0.5, 150.0)]
    rows = []
    for point, design, varied, relapse, cost in points:
        values = {"a:relapse.incidence": 0.5, "b:relapse.incidence": relapse,
                  "a:costs.transplant": cost, "b:costs.transplant": cost}
        for arm in ("a", "b"):
            os_ = 0.7 - (relapse - 0.5) if arm == "b" else 0.7
            rows.append(_row(point, design, varied, values, arm, "os", os_))
            rows.append(_row(point, design, varied, values, arm, "costs", 10 * cost, day=1000))
            rows.append(_row(point, design, varied, values, arm, "qalys", 1.0, day=1000))
        rows.append(_row(point, design, varied, values, "b", "icer",
                         None if point == 2 else 5000.0 + point,
                         kind="dominated" if point == 2 else "ratio", day=1000,
                         ci=(None, None) if point == 2 else (4000.0, 6000.0)))
        for w in WTP:
            rows.append(_row(point, design, varied, values, "b", f"nmb_{w:g}",
                             1000.0 * point - 300 * (cost - 100) + w / 1000,
                             kind="incremental_nmb", day=1000, ci=(-2.0e4, 2.0e4)))
    return rows


def test_point_value_reads_a_bare_key_from_the_arms_columns():
    row = {"a:costs.transplant": "50", "b:costs.transplant": "50", "b:relapse.incidence": 0.4}
    assert point_value(row, "costs.transplant") == 50.0
    assert point_value(row, "b:relapse.incidence") == 0.4
    assert np.isnan(point_value(row, "a:agvhd.incidence"))


def test_several_arms_one_way_gives_each_arm_its_tornado_and_the_decision_figures(tmp_path):
    paths = write_sweep_figures(one_way_rows(), "one-way", tmp_path, endpoints=["os"],
                                caption="test", money="USD 2024")
    names = sorted(p.name for p in paths)
    # the clinical tornado of b only (a cost moves no curve, and b's figure not a's), the
    # ICER and NMB per point, and b's tornado of the net benefit
    assert names == ["icer_points.png", "nmb_points.png", "tornado_nmb_b.png",
                     "tornado_os_b.png"]


def test_the_net_benefit_tornado_draws_the_tables_lows_and_highs():
    ax = plot_tornado(one_way_rows(), "nmb_50000", 1000, arm="b", label="NMB", money=True)
    base = 50.0
    assert ax.lines[0].get_xdata()[0] == pytest.approx(base)  # the midpoints' line
    ends = sorted((p.get_x() + p.get_width(), p.get_x()) for p in ax.patches)
    # the cost: 3 * 1000 - 300 * -50 + 50 = 18,050 and 4 * 1000 - 300 * 50 + 50 =
    # -10,950; the clinical figure: 1,050 and 2,050
    assert sorted(round(e) for e, _ in ends) == [-10950, 1050, 2050, 18050]
    assert {round(left) for _, left in ends} == {round(base)}
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["b:relapse.incidence", "costs.transplant"]  # the widest on top


def test_icer_and_nmb_per_point(tmp_path):
    rows = one_way_rows()
    ax = plot_point_icer(rows)
    drawn = sorted(x for line in ax.lines if line.get_marker() == "o"
                   for x in line.get_xdata())
    assert drawn == [5000.0, 5001.0, 5003.0, 5004.0]  # point 2 is a word, not a ratio
    assert any(t.get_text() == "dominated" for t in ax.texts)
    ax = plot_point_nmb(rows)
    assert len(ax.containers) == len(WTP)  # one error-bar series per arm and WTP
    with pytest.raises(ValueError, match="two arms"):
        plot_point_nmb([r for r in rows if r["arm"] == "a"])
