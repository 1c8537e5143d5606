"""Stay times for mstate's layout that R's ``survival`` accepts.

Simulated transition days are continuous: two transitions of a patient can fall a
fraction of a second apart, and R's ``survival`` (``aeqSurv``, used by ``coxph`` and
mstate) takes times closer than about ``sqrt(machine eps)`` times their mean as tied,
then rejects the stay between them ("interval has effective length 0"). The export
puts every day on a grid of :data:`RESOLUTION_DAYS` (far coarser than that tolerance
for any horizon up to 100 years) and makes every stay that ends in a transition at
least one grid step long, moving a patient's later days on by the steps that takes
(at most a few steps: the simulated course is kept to within minutes). A censored
stay that rounds to length 0 (a transition within a step of the horizon) says
nothing and is dropped.
"""

import numpy as np

__all__ = ["on_grid", "RESOLUTION_DAYS"]

RESOLUTION_DAYS = 1e-3   # 86.4 seconds


def on_grid(patient, start, stop, event, resolution=RESOLUTION_DAYS):
    """Stays on the grid: ``(start, stop, keep)``.

    Parameters
    ----------
    patient : int array (r,)
        The patient of each stay; a patient's stays are consecutive and in time order.
    start, stop : float arrays (r,)
        Days; a patient's next stay starts where the last stopped.
    event : bool array (r,)
        Whether the stay ends in a transition (else censored at ``stop``).

    Returns
    -------
    start, stop : float arrays (r,)
        On the grid, ``stop - start >= resolution`` for every kept stay.
    keep : bool array (r,)
        False for censored stays of length 0 on the grid.
    """
    patient = np.asarray(patient)
    r = patient.size
    if r == 0:
        return np.asarray(start, float), np.asarray(stop, float), np.ones(0, bool)
    step = np.rint(np.asarray(stop, float) / resolution)   # stops in grid steps
    first = np.r_[True, patient[1:] != patient[:-1]]
    begin = np.rint(np.asarray(start, float)[first] / resolution)
    group = np.cumsum(first) - 1
    # the least stops s'_k >= s_k with s'_k >= s'_(k-1) + need_k (s'_(-1) the begin):
    # s'_k = L_k + max(begin, max_(j<=k) (s_j - L_j)), L_k the needs up to k
    ev = np.asarray(event, bool)
    need = np.where(ev, 1.0, 0.0)            # a censored stay may be 0 long (then dropped)
    lead = np.cumsum(need) - need            # steps required before this stay's stop...
    lead = lead - (np.cumsum(need) - need)[np.flatnonzero(first)][group]   # ...per patient
    floor = begin[group] + lead + need
    v = np.maximum(step, floor) - lead - need
    # running maximum within each patient (patients are separated by a large offset)
    span = float(np.max(np.abs(v))) + 1.0
    offset = group * (4.0 * span)
    v = np.maximum.accumulate(v + offset) - offset
    new_stop = np.rint(v + lead + need)
    new_start = np.r_[begin[0], new_stop[:-1]]
    new_start[first] = begin
    keep = new_stop > new_start
    return new_start * resolution, new_stop * resolution, keep
