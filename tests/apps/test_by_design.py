"""Endpoints absent by design: flagged in summary.json, left out of the printed table."""

import json

from hsctsim.analysis.by_design import absent_endpoints, absent_processes
from hsctsim.analysis.endpoints import ENDPOINTS
from hsctsim.api import load_scenario
from hsctsim.apps.runner import format_table
from conftest import invoke

GVHD = ("agvhd", "agvhd_3_4", "cgvhd", "cgvhd_mod_sev")


def test_autologous_arm_has_no_gvhd_cmv_or_donor_chimerism():
    assert absent_endpoints(load_scenario("auto")) == (
        "agvhd", "agvhd_3_4", "cgvhd", "cmv", "cgvhd_mod_sev", "full_chimerism",
        "microchimerism")
    # mixed chimerism and rejection: absent processes, not endpoints
    assert {"mixed_chimerism", "rejection"} <= absent_processes(load_scenario("auto"))


def test_allogeneic_arm_has_every_endpoint():
    assert absent_endpoints(load_scenario("ric")) == ()


def test_unconfigured_process_absent_with_its_opener():
    # mst gives no GVHD: grade III-IV acute and moderate-severe chronic follow it out
    assert set(GVHD) <= set(absent_endpoints(load_scenario("mst")))
    assert "relapse" not in absent_endpoints(load_scenario("mst"))


def document(absent_by_arm):
    """A summary document of one landmark per endpoint, with flags as given."""
    def endpoints(absent):
        return {name: {"kind": kind, "at": {"d100": {"estimate": 0.0 if name in absent
                                                     else 0.25, "ci95": [0.0, 0.5]}},
                       **({"absent_by_design": True} if name in absent else {})}
                for name, (kind, _) in ENDPOINTS.items()}
    return {"hsctsim_version": "0", "patients": 10, "seed": 1, "horizon_days": 730,
            "backend": "cpu", "replicates": 0,
            "arms": {arm: {"title": arm, "population": "p", "endpoints": endpoints(a)}
                     for arm, a in absent_by_arm.items()}}


def rows_of(text):
    return [line.split()[0] for line in text.splitlines() if "(incidence)" in line
            or "(survival)" in line or "(prevalence)" in line]


def test_table_leaves_out_what_every_arm_lacks():
    text = format_table(document({"a": ("agvhd", "cmv"), "b": ("agvhd",)}))
    shown = rows_of(text)
    assert "agvhd" not in shown and "relapse" in shown
    assert "not shown, absent by design in every arm: agvhd" in text
    # cmv: one arm has it, the other says why it has no number
    cmv = next(line for line in text.splitlines() if line.startswith("cmv"))
    assert "none by design" in cmv and "25.0%" in cmv


def test_table_unchanged_without_flags():
    text = format_table(document({"a": (), "b": ()}))
    assert len(rows_of(text)) == len(ENDPOINTS)
    assert "by design" not in text


def test_run_flags_absent_endpoints_in_summary_and_hides_them_in_table():
    small = ("-n", "400", "--horizon", "365")
    data = json.loads(invoke("run", "auto", *small, "--format", "json").stdout)
    endpoints = data["arms"]["auto"]["endpoints"]
    flagged = [n for n, ep in endpoints.items() if ep.get("absent_by_design")]
    assert flagged == list(absent_endpoints(load_scenario("auto")))
    assert set(endpoints) == set(ENDPOINTS)  # summary.json keeps every endpoint
    assert all(v["estimate"] in (0.0, None) for n in GVHD for v in endpoints[n]["at"].values())
    table = invoke("run", "auto", *small).stdout
    shown = rows_of(table)
    assert not set(GVHD) & set(shown) and {"relapse", "trm", "os"} <= set(shown)


def test_mixed_arms_show_gvhd_with_none_by_design():
    table = invoke("run", "auto", "ric", "-n", "400", "--horizon", "365").stdout
    agvhd = next(line for line in table.splitlines() if line.startswith("agvhd "))
    # endpoint, kind, day, then the auto arm's cell and the ric arm's estimate
    assert agvhd.split()[3:6] == ["none", "by", "design"] and "%" in agvhd
