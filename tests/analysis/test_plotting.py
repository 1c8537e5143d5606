"""Figures: what they draw, checked against the estimators and naive counts."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.legend import Legend

import hsctsim
from hsctsim.analysis import plotting
from hsctsim.model.cohort import Cohort
from hsctsim.analysis.endpoints import Tally
from hsctsim.model.hsct import PROCESS_NAMES
from hsctsim.model.process_table import incidence_endpoints

N_PATIENTS = 2000


@pytest.fixture(scope="module")
def arms():
    """Two small arms, one with donor and one with microchimerism."""
    return {name: hsctsim.simulate(name, N_PATIENTS, seed=7, calibration_patients=20_000)
            for name in ("ric", "mst")}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def assert_labelled(ax):
    assert ax.get_title()
    assert ax.get_xlabel() == "days after transplant"
    assert ax.get_ylabel()


def hand_built(seed=0, n=400):
    """A cohort of made-up, consistent courses on whole days (ties with the grid)."""
    rng = np.random.default_rng(seed)
    days = np.full((n, len(PROCESS_NAMES)), np.inf)

    def col(name):
        return PROCESS_NAMES.index(name)

    def some(p, low, high):
        return np.where(rng.random(n) < p, rng.integers(low, high, n).astype(float), np.inf)

    days[:, col("engraftment")] = some(0.95, 10, 30)
    days[:, col("agvhd")] = some(0.5, 15, 120)
    days[:, col("cgvhd")] = some(0.4, 60, 300)
    relapse, trm = some(0.4, 20, 300), some(0.2, 5, 300)
    days[:, col("trm")] = np.where(trm < relapse, trm, np.inf)
    days[:, col("relapse")] = np.where(relapse <= trm, relapse, np.inf)
    days[:, col("death_after_relapse")] = days[:, col("relapse")] + some(0.6, 0, 100)
    scenario = hsctsim.load_scenario("ric")
    return Cohort(days, scenario, seed, 365.0, {}, hsctsim.__version__)


def naive_state_shares(cohort, grid):
    """Each patient's state at each day by the definitions, one day at a time."""
    out = np.zeros((len(plotting.OCCUPATION_STATES), len(grid)))
    day = cohort.day
    for j, t in enumerate(grid):
        dead_trm = day("trm") <= t
        dead_after = day("death_after_relapse") <= t
        relapsed_alive = (day("relapse") <= t) & ~dead_after
        in_remission = ~dead_trm & ~(day("relapse") <= t)
        gvhd = in_remission & (((day("agvhd") <= t) & (t < day("agvhd") + 100))
                               | (day("cgvhd") <= t))
        states = [in_remission & ~gvhd, gvhd, relapsed_alive, dead_trm, dead_after]
        out[:, j] = [s.mean() for s in states]
    return out


@pytest.mark.parametrize("seed", range(3))
def test_state_shares_equal_naive_count(seed):
    cohort = hand_built(seed)
    grid = np.arange(0.0, 366.0)
    assert np.allclose(plotting.state_shares(cohort, grid), naive_state_shares(cohort, grid),
                       atol=1e-12, rtol=0)


def test_state_shares_of_simulated_cohort(arms):
    cohort = arms["ric"]
    grid = np.linspace(0, cohort.horizon_days, 37)
    shares = plotting.state_shares(cohort, grid)
    assert np.allclose(shares.sum(axis=0), 1.0)
    assert np.allclose(shares, naive_state_shares(cohort, grid), atol=1e-12, rtol=0)


def test_plot_incidence_lines_bands_and_legend(arms):
    ax = plotting.plot_incidence(arms, "relapse")
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert legend_texts(ax.get_legend()) == ["ric", "mst"]
    assert "relapse" in ax.get_title()
    assert_labelled(ax)
    for line, cohort in zip(ax.lines, arms.values()):
        y = line.get_ydata()
        assert np.all((0 <= y) & (y <= 1)) and np.all(np.diff(y) >= 0)
        # complete follow-up: the Aalen-Johansen estimate at the horizon is a proportion
        assert y[-1] == pytest.approx(np.mean(cohort.day("relapse") <= cohort.horizon_days))
    assert 0 < ax.get_ylim()[1] <= 1


def test_plot_incidence_single_cohort_titles_and_no_bands(arms):
    fig, ax = plt.subplots()
    assert plotting.plot_incidence(arms["ric"], "agvhd", ax=ax, ci=False) is ax
    assert len(ax.lines) == 1 and not ax.collections
    assert legend_texts(ax.get_legend()) == [arms["ric"].scenario.title]


def test_plot_incidence_rejects_survival_endpoint(arms):
    with pytest.raises(ValueError, match="not an incidence endpoint"):
        plotting.plot_incidence(arms, "os")


def test_plot_competing_stacks_to_one(arms):
    cohort = arms["ric"]
    ax = plotting.plot_competing(cohort)
    assert len(ax.collections) == 3
    assert legend_texts(ax.get_legend()) == ["relapse", "non-relapse death (TRM)",
                                             "alive without relapse"]
    assert cohort.scenario.title in ax.get_title()
    assert_labelled(ax)
    # the top of the last area is 1 everywhere
    top = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert top.max() == pytest.approx(1.0) and top.min() >= 0


def test_plot_survival_lines_and_two_legends(arms):
    ax = plotting.plot_survival(arms, endpoints=("os", "rfs"))
    assert len(ax.lines) == 4
    arm_legend = [a for a in ax.artists if isinstance(a, Legend)]
    assert len(arm_legend) == 1 and legend_texts(arm_legend[0]) == ["ric", "mst"]
    assert [t.split(":")[0] for t in legend_texts(ax.get_legend())] == ["OS", "RFS"]
    assert_labelled(ax)
    os_ric = ax.lines[0].get_ydata()
    assert np.all((0 <= os_ric) & (os_ric <= 1)) and np.all(np.diff(os_ric) <= 0)
    assert os_ric[-1] == pytest.approx(np.mean(~np.isfinite(arms["ric"].death_day)))
    with pytest.raises(ValueError):
        plotting.plot_survival(arms, endpoints=("relapse",))


def test_plot_state_occupation_areas(arms):
    ax = plotting.plot_state_occupation(arms["ric"], times_days=np.linspace(0, 730, 50))
    assert len(ax.collections) == len(plotting.OCCUPATION_STATES)
    assert legend_texts(ax.get_legend()) == list(plotting.OCCUPATION_STATES)
    assert ax.get_ylim() == (0.0, 1.0)
    assert_labelled(ax)


def test_plot_swimmer_rows_and_markers(arms):
    cohort = arms["ric"]
    ax = plotting.plot_swimmer(cohort, n=25, seed=3)
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    markers = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(lines) == 1 and len(lines[0].get_segments()) == 25
    labels = legend_texts(ax.get_legend())
    assert labels == [label for _, label, _, _ in plotting._SWIMMER_EVENTS]
    assert len(markers) == len(labels)
    # no event is drawn after the end of its patient's line
    ends = np.array([seg[1, 0] for seg in lines[0].get_segments()])
    for collection in markers:
        xy = collection.get_offsets()
        if len(xy):
            rows = np.asarray(xy[:, 1], int)
            assert np.all(xy[:, 0] <= ends[rows] + 1e-9)
    deaths = markers[labels.index("death")].get_offsets()
    assert len(deaths) == np.sum(ends < cohort.horizon_days)
    assert_labelled(ax)
    assert plotting.plot_swimmer(cohort, n=10 * N_PATIENTS).get_ylim()[1] == N_PATIENTS


def test_plot_chimerism_bars(arms):
    days = (30, 100, 365)
    ax = plotting.plot_chimerism(arms, days=days)
    assert len(ax.containers) == 4
    assert legend_texts(ax.get_legend()) == ["full", "mixed", "micro", "lost"]
    heights = np.array([[p.get_height() for p in c] for c in ax.containers])
    assert heights.shape == (4, 2 * len(days))
    assert np.all(heights >= 0) and np.allclose(heights.sum(axis=0), 1.0)
    assert np.allclose(heights[2, len(days):], 1.0)  # MST: all micro
    # full chimerism matches the endpoint's prevalence (same base)
    tally = Tally(days).add(arms["ric"])
    assert np.allclose(heights[0, :len(days)], tally.estimates("full_chimerism")[0])
    assert [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()] == ["ric", "mst"]


def test_write_figures(arms, tmp_path):
    paths = plotting.write_figures(arms, tmp_path / "figs")
    names = {p.name for p in paths}
    assert {f"{stem}.png" for stem in (
        "survival", "chimerism", "incidence_relapse", "incidence_trm", "incidence_agvhd",
        "incidence_cgvhd", "incidence_cmv", "competing_ric", "swimmer_mst",
        "state_occupation_ric", "state_occupation_mst")} <= names
    # one incidence figure per incidence endpoint of the process table (9 with cgvhd_mod_sev)
    assert len(paths) == len(names) == len(incidence_endpoints()) + 2 + 3 * len(arms)
    # nothing else, no temporary files left behind
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(names)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    assert not plt.get_fignums()


def test_write_figures_formats_and_labels(arms, tmp_path):
    paths = plotting.write_figures({"MST arm": arms["mst"]}, tmp_path, formats=("png", "pdf"))
    names = {p.name for p in paths}
    assert {"swimmer_mst_arm.png", "swimmer_mst_arm.pdf", "survival.pdf"} <= names
    assert len(paths) == 2 * (len(incidence_endpoints()) + 2 + 3)
    assert all(p.read_bytes().startswith(b"%PDF") for p in paths if p.suffix == ".pdf")


# ---------------------------------------------------------------- slide-ready details
def test_state_shares_gvhd_windows_are_parameters(arms):
    cohort = arms["ric"]
    grid = np.linspace(0, cohort.horizon_days, 60)
    day = cohort.day
    for acute, chronic in ((42.0, None), (100.0, 300.0)):
        shares = plotting.state_shares(cohort, grid, agvhd_active_days=acute,
                                       cgvhd_active_days=chronic)
        chronic_len = np.inf if chronic is None else chronic
        for j, t in enumerate(grid):
            in_remission = ~(day("trm") <= t) & ~(day("relapse") <= t)
            gvhd = in_remission & (((day("agvhd") <= t) & (t < day("agvhd") + acute))
                                   | ((day("cgvhd") <= t) & (t < day("cgvhd") + chronic_len)))
            assert shares[1, j] == pytest.approx(gvhd.mean(), abs=1e-12)
    ax = plotting.plot_state_occupation(cohort, agvhd_active_days=42, cgvhd_active_days=300)
    title = ax.get_legend().get_title().get_text()
    assert "42 days" in title and "300 days" in title


def test_slide_details_percent_axes_caption_early_axis_and_bands(arms):
    ax = plotting.plot_incidence(arms, "agvhd")
    assert ax.get_xlim() == (0.0, 180.0)
    assert ax.yaxis.get_major_formatter()(0.5, 0).startswith("50")
    captions = [t.get_text() for t in ax.figure.texts]
    assert any("seed" in t and "hsctsim" in t and "n = " in t for t in captions)
    assert plotting.plot_incidence(arms, "engraftment").get_xlim() == (0.0, 100.0)
    assert plotting.plot_incidence(arms, "relapse", max_day=365).get_xlim() == (0.0, 365.0)
    ax = plotting.plot_survival(arms, endpoints=("os",))
    assert len(ax.collections) == 2  # a band per arm
    # legends sit outside the axes, clear of the curves
    ax = plotting.plot_incidence(arms, "relapse")
    anchor = ax.get_legend().get_bbox_to_anchor()
    assert ax.transAxes.inverted().transform((anchor.x0, anchor.y0))[0] > 1.0
