"""Shared test set-up: a private calibration cache, small helpers."""

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep calibrations made by tests out of the user's cache folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HSCTSIM_CACHE_DIR", str(tmp_path_factory.mktemp("hsctsim-cache")))
    yield
    mp.undo()


def assert_within_se(estimate, truth, n, z=4.0):
    """|estimate - truth| < z binomial standard errors of a proportion from n draws."""
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    se = np.sqrt(np.maximum(truth * (1 - truth), 1e-12) / n)
    worst = np.max(np.abs(estimate - truth) / se)
    assert worst < z, f"{worst:.2f} standard errors off: {estimate} vs {truth}"
