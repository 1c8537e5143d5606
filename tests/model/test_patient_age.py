"""Each patient's age and sex (``Cohort.age_sex``): the arm's mix among all patients,
late deaths by age band as the life table of that band gives them (Kaplan-Meier by
lifelines against the strata's survival), the same ages whatever the chunks, and
subgroups by age in validation figures."""

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

import hsctsim
from hsctsim.analysis.validation import load_figures
from hsctsim.model.economics import DAYS_PER_YEAR
from hsctsim.model.late_mortality import strata
from hsctsim.model.patient_age import LATE_DEATHS, prior
from hsctsim.model.scenario import ScenarioError

N = 200_000


def assert_share(count, n, p):
    """``count`` of ``n`` within 4.5 binomial standard errors of ``n p``."""
    assert abs(count - n * p) < 4.5 * np.sqrt(n * p * (1 - p)), (count, n * p)
HORIZON = 7305.0  # 20 years: every age band loses a good share to late death
SEED = 11


@pytest.fixture(scope="module")
def mac():
    return hsctsim.simulate("mac", N, seed=SEED, horizon_days=HORIZON)


def test_ages_and_sexes_follow_the_arms_mix(mac):
    late = mac.scenario.extensions["late_mortality"]
    ages, male, weight = prior(late)
    drawn = mac.age_sex()
    assert drawn["age_years"].shape == (N,)
    for low, high in ((18, 40), (40, 50), (50, 60), (60, 66)):
        band = (ages >= low) & (ages < high)
        got = int(((drawn["age_years"] >= low) & (drawn["age_years"] < high)).sum())
        assert_share(got, N, weight[band].sum())
    assert_share(int(drawn["male"].sum()), N, late.male_fraction)


def band_survival(late, low, high, days):
    """Survival from late death alone, from ``from_day``, of the strata aged [low, high)."""
    ages, weight, edges, by_sex = strata(late)
    keep = (ages >= low) & (ages < high)
    starts = edges[:-1] * DAYS_PER_YEAR
    out = np.zeros(len(days))
    total = 0.0
    for share, _, rate in by_sex:
        for row in np.flatnonzero(keep):
            exposure = np.clip(np.asarray(days)[:, None] - starts[None, :], 0.0, DAYS_PER_YEAR)
            out += share * weight[row] * np.exp(-(exposure * rate[row] / DAYS_PER_YEAR).sum(1))
            total += share * weight[row]
    return out / total


@pytest.mark.parametrize("low, high", [(18, 45), (45, 58), (58, 66)])
def test_late_deaths_by_age_band_follow_that_bands_life_table(mac, low, high):
    """Patients drawn into an age band die of late causes at that band's rate: the
    Kaplan-Meier of late death (other deaths censor; age acts on nothing else, so the
    censoring is independent within the band) against the band's survival."""
    late = mac.scenario.extensions["late_mortality"]
    age = mac.age_sex()["age_years"]
    exit_day = np.minimum(mac.death_day, HORIZON)
    band = (age >= low) & (age < high) & (exit_day > late.from_day)
    died = np.isfinite(mac.first_day(LATE_DEATHS))[band]
    km = KaplanMeierFitter().fit(exit_day[band], died, entry=np.full(band.sum(), late.from_day))
    days = np.array([3652.0, 5479.0, 7000.0])
    want = band_survival(late, low, high, days)
    got = km.survival_function_at_times(days).to_numpy()
    ci = km.confidence_interval_survival_function_
    index = np.searchsorted(ci.index.to_numpy(), days, side="right") - 1
    se = (ci.iloc[index, 1].to_numpy() - ci.iloc[index, 0].to_numpy()) / 3.92
    assert np.all(np.abs(got - want) < 4 * se + 1e-9), (got, want, se)
    assert want[-1] < 0.9  # the check has late deaths to see


def test_ages_do_not_depend_on_chunks_or_threads():
    whole = hsctsim.simulate("ric", 9000, seed=5, horizon_days=5000.0).age_sex()
    parts = [c.age_sex() for c in hsctsim.iter_chunks("ric", 9000, 4000, seed=5, threads=1,
                                                      horizon_days=5000.0)]
    for key in ("age_years", "male"):
        assert np.array_equal(whole[key], np.concatenate([p[key] for p in parts]))


def test_arms_without_late_mortality_have_no_age():
    assert hsctsim.simulate("rcc", 100, seed=1).age_sex() is None


def test_a_figure_among_an_age_band_counts_only_those_patients(tmp_path, mac):
    path = tmp_path / "figures.toml"
    path.write_text('[[figure]]\nuse = "validation"\narm = "mac"\nendpoint = "os"\nmeasure = "OS"\n'
                    'landmark_day = 3652\nestimate = 0.5\nn = 100\n'
                    'among = { no_event = "rfs", by_day = 730, age_years = [55, 66] }\n'
                    'citation = "test"\npopulation = "test"\n')
    (figure,) = load_figures(path)
    assert figure.among.label == "no rfs, age 55-66"
    mask = figure.among.mask(mac)
    age = mac.age_sex()["age_years"]
    assert mask.any() and np.all(age[mask] >= 55) and np.all(age[mask] < 66)
    assert not np.any(mask & (mac.death_day <= 730))


@pytest.mark.parametrize("among, problem", [
    ("{ age_years = [66, 55] }", "among.age_years: must be [low, high]"),
    ("{ age_years = [55, 66], by_day = 730 }", "among.by_day: only with event"),
    ("{ age_years = 55 }", "among.age_years: must be [low, high]"),
])
def test_bad_age_bands_are_refused_in_one_line(tmp_path, among, problem):
    path = tmp_path / "figures.toml"
    path.write_text('[[figure]]\nuse = "validation"\narm = "mac"\nendpoint = "os"\nmeasure = "OS"\n'
                    f'landmark_day = 3652\nestimate = 0.5\nn = 100\namong = {among}\n'
                    'citation = "test"\npopulation = "test"\n')
    with pytest.raises(ScenarioError) as error:
        load_figures(path)
    message = str(error.value)
    assert problem in message and str(path) in message and "\n" not in message
