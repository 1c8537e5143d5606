"""Statistical checks shared by tests (imported as a module: tests/ is on sys.path)."""

import numpy as np
from scipy import stats


def assert_binomial(counts, n, p):
    """Frequencies of each count within 4.5 Monte Carlo SEs of Binomial(n, p)."""
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, p)
    freq = np.bincount(counts, minlength=n + 1) / counts.size
    se = np.sqrt(pmf * (1 - pmf) / counts.size) + 1e-4
    assert np.all(np.abs(freq - pmf) < 4.5 * se), (freq, pmf)
