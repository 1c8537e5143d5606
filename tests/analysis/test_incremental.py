"""Fully incremental analysis: dominance, extended dominance, frontier ICERs, CEAC/CEAF.

Against published worked examples (numbers read from the documents cited at each
test), hand-computed tables and closed forms.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from hsctsim.analysis.incremental import (DOMINATED, EXTENDED, FRONTIER, acceptability,
                                          frontier, net_benefit, optimal_by_wtp)


def by_arm(rows):
    return {r["arm"]: r for r in rows}


def test_published_example_with_extended_dominance_cdiff():
    # dampack vignette "Basic Cost Effectiveness Analysis", example 2 (mean costs and
    # QALYs of 11 C. difficile strategies from the PSA of Rajasingham et al., Clin
    # Infect Dis 2020;70:754-762), its published result table
    # github.com/DARTH-git/dampack, vignettes/cdiff_icers.csv:
    # (strategy, cost, effect, ICER or status)
    table = [
        ("s3", 57336.0059896538, 12.9399639202408, None),
        ("s27", 57541.2526373815, 13.0140640696275, 2769.85470915263),
        ("s33", 57642.2587507842, 13.0389116321918, 4065.03105249231),
        ("s31", 57934.0743411241, 13.0966257932217, 5056.2216470406),
        ("s43", 58072.1137208494, 13.11285766912, 8504.2160616553),
        ("s44", 58665.7823044647, 13.1283328397025, 38362.6519947134),
        ("s39", 57814.6470919581, 13.0462790163185, "ED"),
        ("s4", 57887.481549326, 12.9970657153765, "D"),
        ("s13", 58018.6252420203, 13.0650412387992, "D"),
        ("s37", 58081.7947984323, 13.1029711156978, "D"),
        ("s20", 58634.2026441398, 13.1100568867995, "D"),
    ]
    rng = np.random.default_rng(1)
    shuffled = [table[i] for i in rng.permutation(len(table))]  # order must not matter
    rows = by_arm(frontier([t[1] for t in shuffled], [t[2] for t in shuffled],
                           [t[0] for t in shuffled]))
    for name, _, _, expected in table:
        r = rows[name]
        if expected == "ED":
            assert r["status"] == EXTENDED
        elif expected == "D":
            assert r["status"] == DOMINATED
        else:
            assert r["status"] == FRONTIER
            if expected is None:
                assert r["icer"] is None
            else:
                assert r["icer"] == pytest.approx(expected, rel=1e-9)
    # s39 lies above the line from s33 to s31 (its neighbours on the frontier)
    assert rows["s39"]["by"] == ["s33", "s31"]
    # the output is in cost order
    out = frontier([t[1] for t in table], [t[2] for t in table], [t[0] for t in table])
    assert [r["cost"] for r in out] == sorted(t[1] for t in table)


def test_published_example_strong_dominance_hiv_screening():
    # dampack vignette "Basic Cost Effectiveness Analysis", example 1: HIV screening in
    # a high-risk population (Paltiel et al., Ann Intern Med 2006;145:797-806, Table 4):
    # costs per person, quality-adjusted life months / 12; annual screening is
    # strongly dominated (dearer than 3-yearly, less effective)
    names = ["status quo", "one time", "5yr", "3yr", "annual"]
    costs = [26000, 27000, 28020, 28440, 29440]
    qalys = [q / 12 for q in (277.25, 277.57, 277.78, 277.83, 277.76)]
    rows = by_arm(frontier(costs, qalys, names))
    assert rows["annual"]["status"] == DOMINATED and rows["annual"]["by"] == "3yr"
    # hand-computed: 1000 / (0.32/12), 1020 / (0.21/12), 420 / (0.05/12)
    assert rows["one time"]["icer"] == pytest.approx(37_500)
    assert rows["5yr"]["icer"] == pytest.approx(1020 * 12 / 0.21)
    assert rows["3yr"]["icer"] == pytest.approx(100_800)
    assert rows["3yr"]["versus"] == "5yr"


def test_hand_computed_extended_dominance_chain():
    # A (0, 0), B (150, 1), C (200, 2), D (500, 2.5), E (900, 2.6)
    # B vs A 150 > C vs B 50: B is extendedly dominated; then C vs A 100, D vs C 600,
    # E vs D 4000 rise
    rows = by_arm(frontier([0, 150, 200, 500, 900], [0, 1, 2, 2.5, 2.6], "ABCDE"))
    assert rows["B"]["status"] == EXTENDED and rows["B"]["by"] == ["A", "C"]
    assert rows["C"]["icer"] == pytest.approx(100) and rows["C"]["versus"] == "A"
    assert rows["D"]["icer"] == pytest.approx(600)
    assert rows["E"]["icer"] == pytest.approx(4000)
    assert optimal_by_wtp(list(rows.values()), [0, 99, 100, 599, 600, 5000]) == \
        ["A", "A", "C", "C", "D", "E"]


def test_two_removals_in_a_row_and_ties():
    # B and C both lie above the line A-D; dropping B exposes C's kink
    # A (0,0), B (100, 0.5) 200, C (190, 0.8) 300, D (300, 2) ICER vs A 150
    rows = by_arm(frontier([0, 100, 190, 300], [0, 0.5, 0.8, 2], "ABCD"))
    assert rows["B"]["status"] == EXTENDED and rows["C"]["status"] == EXTENDED
    assert rows["B"]["by"] == ["A", "D"] and rows["C"]["by"] == ["A", "D"]
    assert rows["D"]["icer"] == pytest.approx(150)
    # equal costs: the less effective is dominated; identical arms: the later one
    rows = by_arm(frontier([10, 10, 10], [1, 2, 2], "xyz"))
    assert rows["y"]["status"] == FRONTIER
    assert rows["x"]["status"] == DOMINATED and rows["z"]["status"] == DOMINATED


def test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        frontier([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        frontier([1, float("nan")], [1, 2])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 1_000)), min_size=1,
                max_size=8))
def test_frontier_arms_are_exactly_those_with_the_best_net_benefit(points):
    # closed form: the frontier is the lower-right convex hull; arm k of it has the
    # highest net benefit for wtp in (ICER_k, ICER_k+1), and no other arm ever beats
    # every other arm strictly
    costs = [float(c) for c, _ in points]
    effects = [e / 100.0 for _, e in points]
    rows = frontier(costs, effects)
    front = [r for r in rows if r["status"] == FRONTIER]
    icers = [r["icer"] for r in front[1:]]
    assert all(a <= b for a, b in zip(icers, icers[1:]))  # collinear arms stay
    assert all(i > 0 for i in icers)
    # test at the midpoints between consecutive ICERs (no ties there)
    cuts = [0.0] + icers
    probes = [0.5 * (a + b) for a, b in zip(cuts, cuts[1:])] + [cuts[-1] + 1000.0]
    expected = optimal_by_wtp(rows, probes)
    for w, arm in zip(probes, expected):
        nb = net_benefit(costs, effects, w)
        top = np.flatnonzero(np.isclose(nb, nb.max(), rtol=0, atol=1e-9))
        assert arm in {str(i) for i in top}
    # an arm off the frontier is never strictly best
    grid = np.linspace(0, max(cuts) * 2 + 1, 400)
    nb = net_benefit(costs, effects, grid)
    off = [int(r["arm"]) for r in rows if r["status"] != FRONTIER]
    for a in off:
        others = np.delete(nb, a, axis=1).max(axis=1)
        assert np.all(nb[:, a] <= others + 1e-9)


def test_ceac_and_ceaf_against_the_normal_closed_form():
    # two arms; the second costs dC ~ N(1000, 300) more and gains dE ~ N(0.02, 0.01):
    # P(second best at wtp) = Phi((wtp dE_mean - dC_mean) / sqrt(wtp^2 sE^2 + sC^2))
    n = 100_000
    rng = np.random.default_rng(7)
    dc = rng.normal(1000, 300, n)
    de = rng.normal(0.02, 0.01, n)
    base_c = rng.normal(5000, 50, n)
    base_e = rng.normal(1.0, 0.05, n)
    costs = np.column_stack([base_c, base_c + dc])
    effects = np.column_stack([base_e, base_e + de])
    grid = np.array([0, 20_000, 40_000, 50_000, 60_000, 100_000, 200_000], float)
    out = acceptability(costs, effects, grid)
    p = norm.cdf((grid * 0.02 - 1000) / np.sqrt(grid**2 * 0.01**2 + 300**2))
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(out["probability_best"][:, 1] - p) <= 4 * se + 1e-12)
    assert np.allclose(out["probability_best"].sum(axis=1), 1.0)
    # CEAF: the arm with the highest expected net benefit switches at the ICER of the
    # means, 1000 / 0.02 = 50,000 (the sample means, to within their error)
    icer = dc.mean() / de.mean()
    assert abs(icer - 50_000) < 1_000
    assert list(out["optimal"]) == [int(w >= icer) for w in grid]
    assert np.allclose(out["frontier_probability"],
                       out["probability_best"][np.arange(len(grid)), out["optimal"]])
    # below the switch the frontier follows the first arm, above the second
    assert np.all(out["frontier_probability"] >= 0.5 - 4 / math.sqrt(n))
