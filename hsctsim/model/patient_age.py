"""Each patient's age and sex at transplant, from the arm's published mix.

Age and sex act on one hazard of the model: late death, the life table at the
patient's attained age and sex times the relative mortality of survivors
(:mod:`hsctsim.model.late_mortality`).  The engine draws late deaths from the
cohort mix's hazard, so age and sex are drawn afterwards, per patient, from their
distribution given what the patient's course shows of that process:

* no exposure (dead or followed no further than ``from_day``): the arm's mix;
* a late death on day ``t``: proportional to ``w_s h_s(t) S_s(t)``;
* alive, or dead of something else, on day ``t`` after ``from_day``:
  proportional to ``w_s S_s(t)``,

for each stratum ``s`` (a whole year of age and a sex) with prior share ``w_s``,
hazard ``h_s`` and survival ``S_s`` from ``from_day``.  Since the mix's survival is
``sum_s w_s S_s``, drawing the stratum this way gives the same joint law of
(age, sex, course) as drawing age and sex first and the late death from that
stratum's hazard (Bayes' rule; the mix's hazard is exact at each year's ends, so
up to its spread within a year).  That holds because age and sex change no other
hazard of the model; a model where they did would need them drawn first.

The draw uses each patient's own stream (from the seed, the replicate and the
patient's global index), so a cohort's ages are the same bit for bit whatever the
chunk size or the thread count.  They depend on the follow-up, though: a patient
alive at the horizon is drawn given survival to it, so a longer ``horizon_days`` can
give a patient another age (the joint law is right at every horizon; compare age
groups across runs of the same horizon).
"""

import numpy as np

from ..engine.kernel import GOLDEN, mix64, seed_key
from .economics import DAYS_PER_YEAR
from .late_mortality import strata

__all__ = ["LATE_DEATHS", "draw", "patient_uniforms", "prior"]

# the processes that end a patient's late (other-cause) mortality with a death
LATE_DEATHS = ("late_death", "late_death_after_relapse")
_AGE_STREAM = 0x41474553455821  # keeps these streams apart from the engine's
_REPLICATE_STEP = 0x5851F42D4C957F2D
_CHUNK = 4096  # patients per block (a block holds one row per age and sex)


def patient_uniforms(seed, replicate, first_patient, n_patients):
    """One uniform in (0, 1) per patient, from the patient's global index alone."""
    step = 0 if replicate is None else (int(replicate) + 1) * _REPLICATE_STEP
    key = seed_key(int(seed) + step + _AGE_STREAM)
    index = np.arange(first_patient, first_patient + n_patients, dtype=np.uint64)
    z = mix64(np.uint64(key) + index * GOLDEN)
    return ((mix64(z + GOLDEN) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def prior(late):
    """``(ages, male, weight)``: the strata (whole years, sex) and their shares."""
    return _prior(*strata(late))


def _prior(ages, weight, edges, by_sex):
    return (np.concatenate([ages for _ in by_sex]),
            np.concatenate([np.full(len(ages), male) for _, male, _ in by_sex]),
            np.concatenate([share * weight for share, _, _ in by_sex]))


def _exposure(ages, weight, edges, by_sex):
    """Per stratum: piece starts (days), rates per day, cumulative hazard at starts."""
    rate = np.concatenate([r for _, _, r in by_sex]) / DAYS_PER_YEAR
    cum = np.concatenate([np.zeros((rate.shape[0], 1)),
                          np.cumsum(rate * DAYS_PER_YEAR, axis=1)[:, :-1]], axis=1)
    return edges[:-1] * DAYS_PER_YEAR, rate, cum


def draw(cohort):
    """Age (whole years) and sex at transplant of each patient of ``cohort``.

    Parameters
    ----------
    cohort : Cohort
        A cohort of an arm with ``[late_mortality]``.

    Returns
    -------
    dict or None
        ``age_years`` (float array) and ``male`` (bool array), one per patient;
        None when the arm has no ``[late_mortality]`` (no published age mix).
    """
    late = getattr(cohort.scenario, "extensions", {}).get("late_mortality")
    if late is None:
        return None
    table = strata(late)  # the life table read once for both
    ages, male, weight = _prior(*table)
    starts, rate, cum = _exposure(*table)
    log_w = np.log(weight)
    exit_day = np.minimum(cohort.death_day, cohort.horizon_days)
    died_late = np.isfinite(cohort.first_day(LATE_DEATHS))
    exposed = exit_day > late.from_day
    u = patient_uniforms(cohort.seed, cohort.replicate, cohort.first_patient, cohort.n_patients)
    stratum = np.searchsorted(np.cumsum(weight), u * weight.sum())  # the mix: unexposed
    for lo in range(0, cohort.n_patients, _CHUNK):
        rows = lo + np.flatnonzero(exposed[lo:lo + _CHUNK])
        if not len(rows):
            continue
        t = exit_day[rows]
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        log_p = log_w[None, :] - (cum[:, k] + rate[:, k] * (t - starts[k])[None, :]).T
        with np.errstate(divide="ignore"):
            log_p += np.where(died_late[rows][:, None], np.log(rate[:, k].T), 0.0)
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        c = np.cumsum(p, axis=1)
        stratum[rows] = (c < (u[rows] * c[:, -1])[:, None]).sum(axis=1)
    stratum = np.minimum(stratum, len(ages) - 1)
    return {"age_years": ages[stratum], "male": male[stratum]}
