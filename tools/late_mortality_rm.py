"""Derive the level of ``relative_mortality_by_age`` of ``[late_mortality]`` from registry
follow-up of 2-year survivors (configs/mac.toml; ric, mst, haplo_ptcy and haplo_nk
inherit it).

Figures (each read with the search tool; addresses in the config's source string):

- years 2-10 after HCT: of 9,027 adults with AML alive and disease-free 2 years after
  an allogeneic HCT in 2005-2012 (EBMT), 10-year OS 76.2%, LFS 72.3%, relapse the cause
  of 44.9% of the late deaths (Larue et al., Hemasphere 2024;8(10):e70026);
- years 2-4: relapse 8% and NRM 4% (MSD, n = 175), 7% and 3% (10/10 MUD, n = 208) 2
  years after the 2-year landmark, AML in first remission after PT-Cy-based HCT
  (EBMT, PMC13049581), pooled by n as in tools/late_relapse_hazard.py.

As there, two competing risks with constant hazards over an interval have cumulative
incidences in the ratio of their cause-specific hazards, so the cause-specific
cumulative hazard of non-relapse death (NRM) is ``N / (R + N) * -log(1 - R - N)``;
Larue's NRM over years 2-10 is ``(1 - OS) * (1 - 0.449)`` and relapse ``1 - LFS - NRM``.

The mac arm's TRM process (BMT CTN 0901's 4-year TRM) covers years 2-4, so late
mortality must give only what years 4-10 leave: the years 2-10 NRM hazard less the
matched-donor years 2-4.  That target is met by the model's own hazard of late death
(``hazard_pieces``: the US life table at the arm's ages and sexes times the relative
mortality) over years 4-10, solving for one factor ``k`` on both age anchors (the age
gradient of the former anchors is kept: assumption).  Larue's age distribution is
not in the abstract or the summary read: the arm's ages (mean 53, SD 10, 18-65, 49%
male) stand for it (assumption).  Relapse competes with the same hazard at every
age, so the mix's cause-specific NRM hazard is that of late death alone.

    python tools/late_mortality_rm.py
"""

import dataclasses
import math

from hsctsim.model.economics import DAYS_PER_YEAR
from hsctsim.model.late_mortality import hazard_pieces
from hsctsim.model.scenario import load_scenario

FORMER = ((26.0, 7.3), (67.0, 3.2))  # Bhatia et al. 2007 at 26, EBMT MDS/sAML at 67


def cause_specific(event, other):
    """Cause-specific cumulative hazard of ``event`` from two cumulative incidences."""
    return event / (event + other) * -math.log(1.0 - event - other)


def late_hazard(late, years_from, years_to):
    """Cumulative hazard of ``late_death`` between two times since transplant (years)."""
    starts, rates = hazard_pieces(late)
    total = 0.0
    ends = list(starts[1:]) + [math.inf]
    lo, hi = years_from * DAYS_PER_YEAR, years_to * DAYS_PER_YEAR
    for start, end, rate in zip(starts, ends, rates):
        total += rate * max(0.0, min(end, hi) - max(start, lo))
    return total


def with_factor(late, k):
    return dataclasses.replace(late, relative_mortality_by_age=tuple(
        (age, rm * k) for age, rm in FORMER))


def main():
    # Larue et al., 10 years after transplant among 2-year survivors
    os10, lfs10, relapse_share = 0.762, 0.723, 0.449
    nrm10 = (1.0 - os10) * (1.0 - relapse_share)
    rel10 = 1.0 - lfs10 - nrm10
    h_2_10 = cause_specific(nrm10, rel10)
    # PMC13049581, matched donors, 2 years after the 2-year landmark
    msd, mud = (175, 0.08, 0.04), (208, 0.07, 0.03)
    n = msd[0] + mud[0]
    rel24 = (msd[0] * msd[1] + mud[0] * mud[1]) / n
    nrm24 = (msd[0] * msd[2] + mud[0] * mud[2]) / n
    h_2_4 = cause_specific(nrm24, rel24)
    h_4_10 = h_2_10 - h_2_4
    print(f"Larue years 2-10: NRM {nrm10:.4f}, relapse {rel10:.4f}, "
          f"NRM cumulative hazard {h_2_10:.5f} ({h_2_10 / 8:.5f} per year)")
    print(f"matched donors years 2-4: NRM {nrm24:.4f}, relapse {rel24:.4f}, "
          f"NRM cumulative hazard {h_2_4:.5f} ({h_2_4 / 2:.5f} per year)")
    print(f"years 4-10: NRM cumulative hazard {h_4_10:.5f} ({h_4_10 / 6:.5f} per year)")

    late = load_scenario("mac").extensions["late_mortality"]
    base = with_factor(late, 1.0)
    pop = late_hazard(dataclasses.replace(
        late, relative_mortality_by_age=((26.0, 1.0),), relative_mortality_cap=(15.0, 1.0),
        from_day=730.0), 4.0, 10.0)
    print(f"US life table at the arm's ages, years 4-10: cumulative hazard {pop:.5f}")
    print(f"former anchors {FORMER}: years 4-10 {late_hazard(base, 4.0, 10.0):.5f}")
    low, high = 0.01, 10.0
    for _ in range(60):  # the hazard rises with k
        k = 0.5 * (low + high)
        if late_hazard(with_factor(late, k), 4.0, 10.0) < h_4_10:
            low = k
        else:
            high = k
    k = 0.5 * (low + high)
    fitted = with_factor(late, k)
    print(f"factor k = {k:.4f}: anchors " + ", ".join(
        f"[{age:g}, {rm:.2f}]" for age, rm in fitted.relative_mortality_by_age))
    rounded = dataclasses.replace(late, relative_mortality_by_age=tuple(
        (age, round(rm, 1)) for age, rm in fitted.relative_mortality_by_age))
    h = late_hazard(rounded, 4.0, 10.0)
    print(f"rounded anchors {rounded.relative_mortality_by_age}: years 4-10 hazard {h:.5f}, "
          f"ratio to the life table {h / pop:.3f}")
    # the same anchors over years 2-10 (arms whose late mortality starts at year 2)
    h2 = late_hazard(dataclasses.replace(rounded, from_day=730.0), 2.0, 10.0)
    print(f"rounded anchors from year 2 (from_day 730): years 2-10 hazard {h2:.5f} "
          f"against Larue's {h_2_10:.5f}")


if __name__ == "__main__":
    main()
