"""Value of information against the published examples of the R package ``voi``.

Sources (read in the voi repository, github.com/chjackson/voi, commit b43b895, package
version 1.0.3, whose printed results are in the rendered vignette of its pkgdown site,
chjackson.github.io/voi/articles/voi.html = docs/articles/voi.html there):

- the vignette's simple model: ``p1 ~ N(1, 1)``, ``p2 ~ N(0, 2)``, 10000 draws after
  ``set.seed(1)``, treatment 1 with net benefit 0 and treatment 2 with ``k * p1 - p2``
  at willingness-to-pay ``k`` = 1, 2, 3; printed EVPI, EVPPI (GAM, the default) and
  EVSI of a study measuring ``p1`` by the mean of ``n`` normal observations (sd 1).

(The package's chemotherapy example was checked too, on its shipped PSA draws: EVPI,
EVPPI and EVSI agreed within Monte Carlo error; those draws are GPL-3 data, so they
are not kept here.)

How the tolerances are made:

- the vignette's draws come from R's Mersenne-Twister and normal inversion, which
  :func:`r_rnorm` reproduces, so the EVPI (a plain average over the draws) must equal
  the printed value to its printed digits, and the EVPPI differs only by the
  regression (hsctsim's penalised spline, voi's mgcv GAM ``te(p, bs='cr')``);
- the same examples on draws of our own (numpy, fixed seeds) differ from the printed
  values by Monte Carlo error: ``R`` repetitions give our mean and the spread ``sd``
  of one estimate; the printed value is one such estimate, so
  ``|mean - printed| < 4 sqrt(sd^2 + sd^2 / R)``;
- an EVSI is random in the simulated study data too (voi's and ours come from other
  streams): the same bound, the repetitions redrawing the study data on the
  published draws, plus the regression's allowance of the EVPPI on those draws
  (redrawing the study data does not redraw the draws' noise that the regression
  fits, so the bound alone leaves that part out).
"""

import math

import numpy as np
import pytest
from scipy.special import ndtri

from hsctsim.analysis.voi import evpi, evpi_standard_error, evppi, evsi

NSAM = 10_000  # the vignette's number of draws

# the vignette's printed values (docs/articles/voi.html), by willingness-to-pay k
VIGNETTE_EVPI = {1: 0.4759885, 2: 0.4028003, 3: 0.4174207}
VIGNETTE_EVPPI_P1 = {1: 0.08210074, 2: 0.17052564, 3: 0.25895085}
VIGNETTE_EVPPI_P2_K1 = 0.39029827
VIGNETTE_EVPPI_P1P2 = {1: 0.47598851, 2: 0.40280031, 3: 0.41742073}
VIGNETTE_GAM_SE_P1_K1 = 0.007093807  # evppi(..., pars="p1", se=TRUE, B=100)
VIGNETTE_EVPI_EXACT = 0.4798107  # its closed form (normal truncated at 0)


def r_rnorm(seed, count):
    """``set.seed(seed); rnorm(count)`` of R's defaults (Mersenne-Twister, Inversion).

    R seeds the generator by 50 rounds of the congruence ``s = 69069 s + 1`` and fills
    its 625 words with 625 more (the first is the position, set to 624 so that the
    first call twists); a uniform is ``y * 2^-32`` of the 32-bit output ``y``, and a
    normal is ``qnorm((floor(2^27 u1) + u2) / 2^27)`` of two uniforms (R's
    src/main/RNG.c and snorm.c).
    """
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = []
    for _ in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words.append(s)
    bits = np.random.MT19937(0)
    bits.state = {"bit_generator": "MT19937",
                  "state": {"key": np.array(words[1:], np.uint32), "pos": 624}}
    u = bits.random_raw(2 * count).astype(float) * 2.3283064365386963e-10
    big = 134217728.0
    return ndtri((np.floor(big * u[0::2]) + u[1::2]) / big)


def vignette_draws():
    """The vignette's ``inputs``: ``p1 = rnorm(nsam, 1, 1)`` then ``p2 = rnorm(nsam, 0, 2)``."""
    z = r_rnorm(1, 2 * NSAM)
    return 1.0 + z[:NSAM], 2.0 * z[NSAM:]


def two_arms(inb):
    return np.column_stack([np.zeros(len(inb)), inb])


def bound(values, printed):
    """4 sd of (our mean over repetitions - one printed estimate), and that difference."""
    values = np.asarray(values, float)
    sd = values.std(ddof=1)
    return abs(values.mean() - printed), 4 * math.sqrt(sd**2 + sd**2 / len(values))


def test_vignette_draws_reproduced_and_evpi_to_printed_digits():
    """EVPI of the voi vignette's simple model on its own draws.

    chjackson.github.io/voi/articles/voi.html, "Expected value of perfect
    information": ``colMeans(outputs_nb)`` is 1.0018431, the EVPI with the known
    expectation 1 is 0.4778316, ``evpi(outputs_nb)`` 0.4759885 and ``evpi(outputs_cea)``
    0.4759885, 0.4028003, 0.4174207 at k = 1, 2, 3.  The draws being R's own, the only
    tolerance is the printed rounding (half a unit of the 7th decimal).
    """
    p1, p2 = vignette_draws()
    inb = p1 - p2
    assert inb.mean() == pytest.approx(1.0018431, abs=5e-8)
    assert np.maximum(inb, 0).mean() - 1.0 == pytest.approx(0.4778316, abs=5e-8)
    for k, printed in VIGNETTE_EVPI.items():
        assert evpi(two_arms(k * p1 - p2)) == pytest.approx(printed, abs=5e-8), k


def test_vignette_evppi_on_its_draws_differs_by_the_regression_only():
    """EVPPI of p1, p2 and (p1, p2) of the voi vignette, on the vignette's draws.

    chjackson.github.io/voi/articles/voi.html, "Invoking the evppi function": p1
    0.08210074 (k = 1), 0.17052564 (2), 0.25895085 (3); p2 0.39029827 (k = 1);
    (p1, p2) 0.47598851, 0.40280031, 0.41742073.  voi fits mgcv's GAM ``te(p1,
    bs='cr')`` (a tensor product for the pair); hsctsim a GCV penalised cubic spline
    (an additive pair, exact here since the net benefit is ``k p1 - p2``).  On the
    same draws the two smooth the same realised noise, so their difference is a part
    of the regression's own error, which the vignette prints for p1 at k = 1
    (``se=TRUE``: 0.007093807): allowed one such standard error.  The pair's EVPPI is
    the EVPI (the model has no other input) and must be it to 1e-6.

    Cross-check (not needed by the test): R 4.2.2 with mgcv 1.8-41 (Debian bookworm),
    ``set.seed(1)`` and the vignette's two ``rnorm`` calls, gives draws equal to
    :func:`vignette_draws` to 7e-15, and ``gam(y ~ te(p1, bs='cr'))`` on them the
    printed 0.082100745, 0.17052564, 0.25895085 (p2: 0.39029827): the printed values
    are voi's regression on these very draws.  Ours: 0.0848, 0.1732, 0.2616, 0.3902.
    """
    p1, p2 = vignette_draws()
    for k in (1, 2, 3):
        nb = two_arms(k * p1 - p2)
        ours = evppi(nb, p1)["evppi"]
        assert abs(ours - VIGNETTE_EVPPI_P1[k]) < VIGNETTE_GAM_SE_P1_K1, (k, ours)
        pair = evppi(nb, np.column_stack([p1, p2]))["evppi"]
        assert pair == pytest.approx(VIGNETTE_EVPPI_P1P2[k], abs=1e-6), (k, pair)
    ours = evppi(two_arms(p1 - p2), p2)["evppi"]
    assert abs(ours - VIGNETTE_EVPPI_P2_K1) < VIGNETTE_GAM_SE_P1_K1, ours


def test_vignette_evpi_and_evppi_on_draws_of_our_own():
    """The voi vignette's EVPI and EVPPI again, on numpy draws (seeds 700-719).

    Same source and printed values as the two tests above (and the vignette's exact
    EVPI 0.4798107, "Analytic computation"); 20 repetitions of 10000 draws each, the
    bound 4 sd of (our mean - one printed estimate) as in the module docstring.
    """
    reps = 20
    got = {key: [] for key in ("evpi1", "evpi2", "evpi3", "p1_1", "p1_2", "p1_3", "p2_1")}
    for r in range(reps):
        rng = np.random.default_rng(700 + r)
        p1, p2 = rng.normal(1.0, 1.0, NSAM), rng.normal(0.0, 2.0, NSAM)
        for k in (1, 2, 3):
            nb = two_arms(k * p1 - p2)
            got[f"evpi{k}"].append(evpi(nb))
            got[f"p1_{k}"].append(evppi(nb, p1)["evppi"])
        got["p2_1"].append(evppi(two_arms(p1 - p2), p2)["evppi"])
    printed = {"evpi1": VIGNETTE_EVPI[1], "evpi2": VIGNETTE_EVPI[2],
               "evpi3": VIGNETTE_EVPI[3], "p1_1": VIGNETTE_EVPPI_P1[1],
               "p1_2": VIGNETTE_EVPPI_P1[2], "p1_3": VIGNETTE_EVPPI_P1[3],
               "p2_1": VIGNETTE_EVPPI_P2_K1}
    for key, value in printed.items():
        diff, tol = bound(got[key], value)
        assert diff < tol, (key, np.mean(got[key]), value, tol)
    # the closed form: our mean has only its own Monte Carlo error
    values = np.asarray(got["evpi1"])
    assert abs(values.mean() - VIGNETTE_EVPI_EXACT) < 4 * values.std(ddof=1) / math.sqrt(reps)


@pytest.mark.parametrize("k, n, printed", [
    (1, 10, 0.07440250), (1, 100, 0.08106261), (1, 1000, 0.08189925),  # datagen_normal
    (1, 100, 0.07998166), (1, 1000, 0.08197188),  # study = "normal_known", outputs_nb
    (2, 100, 0.16666306), (3, 100, 0.25356597),  # normal_known, outputs_cea
    (2, 1000, 0.17052103), (3, 1000, 0.25887874),
])
def test_vignette_evsi_of_a_normal_study(k, n, printed):
    """EVSI of a study of ``n`` normal observations (sd 1) of p1, voi vignette.

    chjackson.github.io/voi/articles/voi.html, "Expected value of sample
    information": ``evsi(outputs_nb, inputs, datagen_fn = datagen_normal, n =
    c(10, 100, 1000))`` prints 0.07440250, 0.08106261, 0.08189925; the built-in
    ``study = "normal_known"`` 0.07998166, 0.08197188 (n = 100, 1000) and, on
    ``outputs_cea``, 0.16666306, 0.25356597 (n = 100; k = 2, 3) and 0.17052103,
    0.25887874 (n = 1000).  Both are Strong et al.'s regression on the study's
    summary (the sample mean), as hsctsim's EVSI is (:func:`evsi` regresses on the
    observed proportions of a binomial pilot; the normal study's summary goes through
    the same regression, :func:`evppi`).  The vignette's draws of p1 and p2, our own
    study data (seeds 800-809): the bound of the module docstring plus the
    regression's allowance of the EVPPI test above (one printed GAM standard error;
    at n = 1000 the EVSI is near the EVPPI, where the two regressions differ by
    0.003 on these draws while the study data move it by 0.0003 only).
    """
    p1, p2 = vignette_draws()
    nb = two_arms(k * p1 - p2)
    values = []
    for r in range(10):
        xbar = np.random.default_rng(800 + r).normal(p1, 1.0 / math.sqrt(n))
        values.append(evppi(nb, xbar)["evppi"])
    diff, tol = bound(values, printed)
    assert diff < tol + VIGNETTE_GAM_SE_P1_K1, (np.mean(values), printed, tol)
