"""Fully incremental cost-effectiveness analysis of three arms or more.

The steps a health economist takes with a table of mean costs and effects
(Drummond et al., *Methods for the Economic Evaluation of Health Care
Programmes*, 4th ed., 2015, ch. 4):

1. order the arms by cost (a tie: the more effective first);
2. remove the strongly dominated: another arm costs no more and gives at least as
   much, one of them strictly;
3. remove the extendedly dominated: an arm whose ICER against the previous arm
   left is higher than the next arm's (a mix of its two neighbours would dominate
   it); repeat until the ICERs rise along the list;
4. what is left is the efficiency frontier, with each arm's ICER against the
   previous frontier arm.  Arm ``k`` of the frontier has the highest net monetary
   benefit for willingness-to-pay from its ICER up to the next arm's.

From draws of a probabilistic sensitivity analysis (PSA): the acceptability curve
of each arm (CEAC: the share of draws in which it has the highest net benefit) and
the frontier (CEAF: at each willingness-to-pay, the arm with the highest *expected*
net benefit, the one a decision maker would choose, and the share of draws in
which it is best).

Everything here is plain numpy on arrays of means or draws; nothing simulates.
"""

import numpy as np

__all__ = ["tornado_order", "acceptability", "frontier", "net_benefit", "optimal_by_wtp"]

FRONTIER, DOMINATED, EXTENDED = "frontier", "dominated", "extendedly dominated"


def net_benefit(costs, effects, wtp):
    """Net monetary benefit ``wtp * effect - cost``.

    ``costs`` and ``effects`` broadcast against each other; ``wtp`` a number or a
    1-d grid, which becomes the first axis of the result.
    """
    c, e = np.asarray(costs, float), np.asarray(effects, float)
    w = np.asarray(wtp, float)
    if w.ndim == 0:
        return w * e - c
    return w.reshape((-1,) + (1,) * e.ndim) * e - c


def frontier(costs, effects, names=None):
    """The efficiency frontier of arms with mean ``costs`` and ``effects``.

    Parameters
    ----------
    costs, effects : sequences of float, one per arm
    names : sequence of str, optional (default ``"0"``, ``"1"``, ...)

    Returns
    -------
    list of dict
        One per arm, ordered by cost (ties: the more effective first): ``arm``,
        ``cost``, ``effect``, ``status`` (``"frontier"``, ``"dominated"`` or
        ``"extendedly dominated"``), ``by`` (dominated: the arm that dominates it;
        extendedly dominated: the two frontier arms whose mix dominates it), and for
        frontier arms after the first ``versus``, ``incremental_cost``,
        ``incremental_effect`` and ``icer`` against the previous frontier arm
        (``None`` for the first).
    """
    c = np.asarray(costs, float)
    e = np.asarray(effects, float)
    if c.shape != e.shape or c.ndim != 1 or len(c) == 0:
        raise ValueError("costs and effects must be 1-d and of the same length")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(e))):
        raise ValueError("costs and effects must be finite")
    names = [str(i) for i in range(len(c))] if names is None else [str(n) for n in names]
    if len(names) != len(c):
        raise ValueError("one name per arm")
    order = sorted(range(len(c)), key=lambda i: (c[i], -e[i], i))
    rows = {i: {"arm": names[i], "cost": float(c[i]), "effect": float(e[i]),
                "status": FRONTIER, "by": None, "versus": None, "incremental_cost": None,
                "incremental_effect": None, "icer": None} for i in order}
    # strong dominance: ordered by cost, an arm is dominated when an arm before it
    # (no dearer) is at least as effective; the best of those is the one to name
    kept = []
    best = None
    for i in order:
        if best is not None and e[best] >= e[i]:
            rows[i]["status"], rows[i]["by"] = DOMINATED, names[best]
        else:
            kept.append(i)
            best = i
    # extended dominance: effects now rise strictly with cost; drop the arm at each
    # kink (an ICER above the next one) until the ICERs rise
    while True:
        ratios = [(c[b] - c[a]) / (e[b] - e[a]) for a, b in zip(kept, kept[1:])]
        kink = next((k for k in range(len(ratios) - 1) if ratios[k] > ratios[k + 1]), None)
        if kink is None:
            break
        drop = kept.pop(kink + 1)
        rows[drop]["status"] = EXTENDED
        rows[drop]["by"] = [names[kept[kink]], names[kept[kink + 1]]]
    for a, b in zip(kept, kept[1:]):
        rows[b].update(versus=names[a], incremental_cost=float(c[b] - c[a]),
                       incremental_effect=float(e[b] - e[a]),
                       icer=float((c[b] - c[a]) / (e[b] - e[a])))
    # an arm marked extendedly dominated early may be named by an arm dropped later:
    # name the frontier arms that finally bracket it
    front = [(c[i], names[i]) for i in kept]
    for i in order:
        if rows[i]["status"] == EXTENDED:
            below = [n for ci, n in front if ci <= c[i]]
            above = [n for ci, n in front if ci > c[i]]
            rows[i]["by"] = [below[-1], above[0]] if below and above else rows[i]["by"]
    return [rows[i] for i in order]


def optimal_by_wtp(rows, wtp):
    """The arm with the highest net benefit at each ``wtp``, from :func:`frontier`.

    The frontier arm whose ICER is the highest below ``wtp`` (the cheapest frontier
    arm below its successor's ICER).  At an ICER itself both arms tie; the dearer
    one is returned.
    """
    front = [r for r in rows if r["status"] == FRONTIER]
    out = []
    for w in np.atleast_1d(np.asarray(wtp, float)):
        chosen = front[0]["arm"]
        for r in front[1:]:
            if r["icer"] <= w:
                chosen = r["arm"]
        out.append(chosen)
    return out


def acceptability(costs, effects, wtp):
    """CEAC and CEAF from PSA draws.

    Parameters
    ----------
    costs, effects : array (draws, arms)
        Each draw's mean cost and effect of each arm.
    wtp : 1-d array
        Willingness-to-pay grid.

    Returns
    -------
    dict
        ``probability_best``: array (wtp, arms), the share of draws in which each
        arm has the highest net benefit (CEAC); ``optimal``: array (wtp,) of arm
        indices with the highest mean net benefit; ``frontier_probability``: array
        (wtp,), that arm's share (CEAF); ``expected_net_benefit``: array (wtp, arms).
    """
    c = np.asarray(costs, float)
    e = np.asarray(effects, float)
    if c.ndim != 2 or c.shape != e.shape:
        raise ValueError("costs and effects must be arrays of shape (draws, arms)")
    nb = net_benefit(c, e, np.asarray(wtp, float))  # (wtp, draws, arms)
    best = np.argmax(nb, axis=2)
    arms = c.shape[1]
    prob = np.stack([(best == a).mean(axis=1) for a in range(arms)], axis=1)
    mean_nb = nb.mean(axis=1)
    optimal = np.argmax(mean_nb, axis=1)
    return {"probability_best": prob, "optimal": optimal,
            "frontier_probability": prob[np.arange(len(optimal)), optimal],
            "expected_net_benefit": mean_nb}


def tornado_order(tornado, arm, wtp_key):
    """The figures that move ``arm`` (and only those), widest swing first."""
    rows = [r for r in tornado["figures"] if arm in r["inmb"]
            and r["inmb"][arm][wtp_key]["low"] != r["inmb"][arm][wtp_key]["high"]]
    return sorted(rows, key=lambda r: -abs(r["inmb"][arm][wtp_key]["high"]
                                           - r["inmb"][arm][wtp_key]["low"]))
