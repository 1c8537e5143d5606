"""Chronic GVHD severity: the moderate-severe mark and GRFS as the trials define it."""

import numpy as np
import pytest

import hsctsim
from hsctsim.analysis.endpoints import ENDPOINTS, endpoint_day
from hsctsim.model import process_table
from hsctsim.model.cohort import Cohort
from hsctsim.model.hsct import PROCESS_NAMES
from hsctsim.model.scenario import load_scenario


def test_declared_once_as_a_marked_share_of_chronic_gvhd():
    decl = process_table.by_name()["cgvhd_mod_sev"]
    assert process_table.names()[-1] == "cgvhd_mod_sev"  # appended: older streams unchanged
    assert decl.built_by_model and not decl.configured and decl.endpoint == "incidence"
    assert "cgvhd_mod_sev" in process_table.by_name()["cgvhd"].opens
    assert ENDPOINTS["cgvhd_mod_sev"][0] == "incidence"


def test_every_bundled_root_sources_its_share():
    for arm in ("mac", "rcc", "auto"):
        s = load_scenario(arm)
        assert s.share_moderate_severe_source.strip()
    assert load_scenario("mac").share_moderate_severe.mid == pytest.approx(0.90)
    assert load_scenario("auto").share_moderate_severe.mid == 0.0


@pytest.mark.parametrize("arm", ["mac", "haplo_ptcy"])
def test_the_share_of_onsets_marked_moderate_severe(arm):
    # the bundled share (a changed share would be a new calibration point: slow)
    share = load_scenario(arm).share_moderate_severe.mid
    cohort = hsctsim.simulate(arm, 20_000, seed=4)
    onset, marked = cohort.day("cgvhd"), cohort.day("cgvhd_mod_sev")
    had = np.isfinite(onset)
    assert not np.isfinite(marked[~had]).any()  # never without chronic GVHD
    assert np.array_equal(marked[np.isfinite(marked)], onset[np.isfinite(marked)])  # at onset
    k, m = int(np.isfinite(marked).sum()), int(had.sum())
    se = np.sqrt(share * (1 - share) / m)
    assert abs(k / m - share) < 4 * se, (k, m)


def test_grfs_counts_moderate_severe_chronic_gvhd_only():
    inf = np.inf
    days = np.full((4, len(PROCESS_NAMES)), inf)
    col = PROCESS_NAMES.index
    days[0, col("cgvhd")] = 200.0                      # mild chronic GVHD only
    days[1, col("cgvhd")] = days[1, col("cgvhd_mod_sev")] = 250.0  # moderate-severe
    days[2, col("agvhd_3_4")] = 30.0                   # grade III-IV acute GVHD
    days[3, col("relapse")] = 400.0                    # relapse
    c = Cohort(days, None, 1, 730.0, {}, "test")
    np.testing.assert_array_equal(endpoint_day(c, "grfs"), [inf, 250.0, 30.0, 400.0])
    np.testing.assert_array_equal(endpoint_day(c, "grfs_any_cgvhd"), [200.0, 250.0, 30.0, 400.0])


def test_show_prints_the_share_with_its_source():
    from click.testing import CliRunner

    from hsctsim.apps.cli import cli

    result = CliRunner().invoke(cli, ["show", "haplo_ptcy"])
    assert result.exit_code == 0, result.output
    assert "cgvhd moderate-severe share: 0.4  (6% moderate to severe" in result.output
