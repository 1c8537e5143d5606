"""Derive the late-relapse hazards of ``[late_relapse]`` from registry follow-up.

Two EBMT registry studies of adults with AML alive and leukaemia-free 2 years after an
allogeneic HCT give the figures (each read with the search tool; addresses in the
configs' ``rate_per_year_source``):

- years 2-4: cumulative incidences 2 years after the 2-year landmark, relapse and
  non-relapse mortality (NRM), by donor, after PT-Cy-based HCT for AML in first
  remission (PMC13049581): MSD 8% and 4% (n = 175), 10/10 MUD 7% and 3% (n = 208),
  haploidentical 6% and 4% (n = 906);
- years 2-10: 10-year OS 76.2% and LFS 72.3% of 9,027 2-year survivors transplanted
  in 2005-2012, relapse the cause of 44.9% of the late deaths (Larue et al.,
  Hemasphere 2024;8(10):e70026).

Two competing risks with constant hazards over an interval have cumulative
incidences in the ratio of their cause-specific hazards, so the cause-specific
cumulative hazard of relapse is ``R / (R + N) * -log(1 - R - N)``.  Over years 2-10
NRM is taken as the deaths not caused by relapse, ``(1 - OS) * (1 - 0.449)``, and
relapse as the rest of the failures, ``1 - LFS - NRM`` (deaths after a relapse are
counted as relapse deaths; assumption).  The years 4-10 rate is what years 2-10
leave after the matched-donor years 2-4 (the registry cohort of 2005-2012 was mostly
matched donors).  No figure beyond 10 years was found: the hazard is 0 from year 10
(assumption).

    python tools/late_relapse_hazard.py
"""

import math


def cause_specific(relapse, nrm):
    """Cause-specific cumulative hazard of relapse from two cumulative incidences."""
    return relapse / (relapse + nrm) * -math.log(1.0 - relapse - nrm)


def main():
    # PMC13049581, 2 years after the 2-year landmark
    msd, mud, haplo = (175, 0.08, 0.04), (208, 0.07, 0.03), (906, 0.06, 0.04)
    n = msd[0] + mud[0]
    matched_r = (msd[0] * msd[1] + mud[0] * mud[1]) / n
    matched_n = (msd[0] * msd[2] + mud[0] * mud[2]) / n
    h_matched = cause_specific(matched_r, matched_n)
    h_haplo = cause_specific(haplo[1], haplo[2])
    # Larue et al., Hemasphere 2024, 10 years after transplant among 2-year survivors
    os10, lfs10, relapse_share = 0.762, 0.723, 0.449
    nrm10 = (1.0 - os10) * (1.0 - relapse_share)
    rel10 = 1.0 - lfs10 - nrm10
    h_2_10 = cause_specific(rel10, nrm10)
    late = (h_2_10 - h_matched) / 6.0
    print(f"matched donors, years 2-4: relapse {matched_r:.4f}, NRM {matched_n:.4f}, "
          f"cumulative hazard {h_matched:.5f}, rate {h_matched / 2:.5f} per year")
    print(f"haploidentical, years 2-4: cumulative hazard {h_haplo:.5f}, "
          f"rate {h_haplo / 2:.5f} per year")
    print(f"years 2-10: NRM {nrm10:.4f}, relapse {rel10:.4f}, cumulative hazard {h_2_10:.5f}")
    print(f"years 4-10: rate {late:.5f} per year")


if __name__ == "__main__":
    main()
