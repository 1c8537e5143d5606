"""Multi-state cohorts: each covariate stratum simulated with its own engine.

A patient's course depends only on the seed and its index, so simulating stratum
by stratum keeps every patient's stream.
"""

import numpy as np

from ..engine.backend import Cpu
from ..engine.batched import NotBatchable
from ..engine.kernel import seed_key
from ..model.multistate import draw_covariates, stratum_engines, unroll

__all__ = ["simulate_multistate"]

CPU = Cpu()


def simulate_multistate(scenario, n_patients, seed, horizon_days=None, first_patient=0,
                        out=None, backend=CPU):
    """Event days of ``n_patients`` patients (one column per transition process).

    ``backend`` is a resolved backend object (:mod:`hsctsim.engine.backend`).

    Returns
    -------
    event_day : float64 array (n, P)
    covariates : dict of str to float array (n,)
    """
    horizon = float(scenario.horizon_days if horizon_days is None else horizon_days)
    n_proc = len(unroll(scenario).edges)
    if out is None:
        out = np.empty((int(n_patients), n_proc))
    key = seed_key(seed)
    patients = np.arange(first_patient, first_patient + int(n_patients), dtype=np.int64)
    covariates = draw_covariates(scenario, seed, patients)
    try:
        for rows, eng in stratum_engines(scenario, covariates, len(patients)):
            if rows.size == len(patients):  # one stratum: the chunk in place
                backend.simulate(eng, key, first_patient, horizon, out)
            else:
                part = np.empty((rows.size, n_proc))
                backend.simulate_patients(eng, key, patients[rows], horizon, part)
                out[rows] = part
    except NotBatchable as exc:  # a batched backend on a model it does not take
        raise ValueError(f"{scenario.origin}: {exc}") from None
    return out, covariates
