"""The economic side of ``hsctsim sweep``: costs, utilities and durations as sweep keys
and PSA draws, and each point's costs, QALYs, ICER and net monetary benefit.

A cost, utility or duration of an arm's ``[costs]``, ``[utilities]`` or
``[durations]`` (of a multi-state arm: ``costs.per_day.<state>``,
``costs.on_entry.<from>-><to>``, ``utilities.<state>``) is a sweep key like a
clinical range: ``--grid costs.transplant=LOW:HIGH:STEPS`` moves it in every arm that
carries it, ``--grid ARM:costs.nk_infusion=...`` in one.  The values are read, checked
and applied by ``cea``'s own functions (:func:`~hsctsim.apps.ceadecide.parse_sweep`,
:func:`~hsctsim.apps.ceadecide.sweep_variants`), and a PSA draw ``r`` draws the ranged
ones with :meth:`~hsctsim.model.econfigures.Economics.draw`, as ``cea --replicates``
draws replicate ``r``.

Economic figures leave the course alone, so a point's costs and QALYs are its
patients' (the same patients at every grid point) valued with the point's figures.
The rows (one per arm and measure, ``landmark_day`` the horizon) join the endpoint
rows of the sweep table: ``costs``, ``life_years``, ``qalys`` of every arm, and for
every arm after the first, against the first on the same patients,
``incremental_costs``, ``incremental_qalys``, ``icer`` (its kind ``ratio``, or
``dominant`` / ``dominated`` / ``no_qaly_difference`` with no estimate; the interval
is Fieller's) and ``nmb_<WTP>`` (incremental net monetary benefit at each
willingness-to-pay).
"""

import math

import numpy as np

from ..analysis.costeffectiveness import (
    MEASURES,
    ArmTally,
    fieller_interval,
    icer,
    nmb_increment,
)
from ..model.economics import Discount, cohort_values, economics_of
from ..model.schema import ScenarioError
from .ceadecide import ECONOMIC_SECTIONS, parse_sweep, sweep_variants
from .output import text_table

__all__ = ["apply_values", "arm_economics", "discount_of", "ECONOMIC_ENDPOINTS",
           "economic_columns", "economic_rows", "economic_values", "EconomicTally",
           "format_economics", "is_economic", "is_economic_endpoint", "NMB_PREFIX"]

ECONOMIC_ENDPOINTS = ("costs", "life_years", "qalys", "incremental_costs",
                      "incremental_qalys", "icer")
NMB_PREFIX = "nmb_"


def is_economic(key):
    """Whether a sweep key (``[ARM:]section.key``) is a cost, utility or duration."""
    return key.rpartition(":")[2].split(".")[0] in ECONOMIC_SECTIONS


def is_economic_endpoint(name):
    """Whether a row's endpoint is one of the economic measures."""
    return name in ECONOMIC_ENDPOINTS or name.startswith(NMB_PREFIX)


def arm_economics(arms):
    """``{arm: Economics}``; ScenarioError (one line, naming the file) for an arm
    without ``[costs]`` and ``[utilities]``."""
    return {arm: economics_of(s) for arm, s in arms.items()}


def economic_values(arms, key, spec, text):
    """The values of ``--grid KEY=SPEC`` for a cost, utility or duration, checked as
    ``cea --sweep`` checks them (ScenarioError naming the ``--grid``)."""
    target = key.rpartition(":")[0]
    chosen = {a: s for a, s in arms.items() if not target or a == target}
    try:
        *_, values = parse_sweep(f"{key}={spec}", arm_economics(chosen))
    except ValueError as exc:  # "--sweep '...': problem": said of the --grid
        raise ScenarioError(f"--grid {text!r}", None, str(exc).split(": ", 1)[-1]) from None
    return values


def _targets(econ, key):
    target, _, bare = key.rpartition(":")
    section, _, name = bare.partition(".")
    return [a for a in ([target] if target else econ)
            if a in econ and name in getattr(econ[a], section)], section, name


def apply_values(econ, values):
    """``econ`` with the economic ``(key, value)`` pairs of a grid point set."""
    for key, value in values:
        if not is_economic(key):
            continue
        arms, section, name = _targets(econ, key)
        if arms:
            econ = sweep_variants(econ, [(arms, section, name, (float(value),))])[0][3]
    return econ


def economic_columns(econ, axes_keys, psa):
    """The economic figures a sweep shows as parameter columns (``section.key``): the
    swept ones, and with a PSA every ranged one."""
    out = [k.rpartition(":")[2] for k in axes_keys if is_economic(k)]
    if psa:
        out += [f"{section}.{k}" for e in econ.values() for section in ECONOMIC_SECTIONS
                for k, fig in getattr(e, section).items() if fig.is_range]
    return tuple(dict.fromkeys(out))


class EconomicTally:
    """Each arm's per-patient costs, life years and QALYs, paired with the first arm's."""

    def __init__(self, names, econ, discount):
        self.names, self.econ, self.discount = list(names), econ, discount
        self.tallies = {a: ArmTally() for a in self.names}

    def add(self, chunks):
        """``chunks``: arm -> the same patients' cohort chunk in each arm."""
        values = {a: cohort_values(chunks[a], self.econ[a], self.discount) for a in self.names}
        ref = values[self.names[0]]
        for a in self.names:
            self.tallies[a].add(values[a], ref if a != self.names[0] else None)


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _row(arm, endpoint, kind, day, estimate, ci):
    low, high = ci if ci is not None else (None, None)
    return {"arm": arm, "endpoint": endpoint, "kind": kind, "landmark_day": day,
            "estimate": None if estimate is None else _num(estimate),
            "ci95_low": None if low is None else _num(low),
            "ci95_high": None if high is None else _num(high)}


def economic_rows(tally, wtp, horizon_days):
    """The economic rows of one point (see the module docstring)."""
    rows = []
    names = tally.names
    for arm in names:
        for m in MEASURES:
            mean, ci = tally.tallies[arm].interval(m)
            rows.append(_row(arm, m, "mean_per_patient", horizon_days, mean, ci))
    for arm in names[1:]:
        t = tally.tallies[arm]
        for m in ("costs", "qalys"):
            mean, ci = t.increment(m)
            rows.append(_row(arm, f"incremental_{m}", "increment", horizon_days, mean, ci))
        mc, mq, vc, vq, cov = t.increment_cov()
        ratio = icer(mc, mq)
        if isinstance(ratio, float):
            rows.append(_row(arm, "icer", "ratio", horizon_days, ratio,
                             fieller_interval(mc, mq, vc, vq, cov)))
        else:  # a word where a ratio would mislead
            rows.append(_row(arm, "icer", ratio or "no_qaly_difference", horizon_days, None,
                             None))
        for w in wtp:
            mean, ci = nmb_increment(t, w)
            rows.append(_row(arm, f"{NMB_PREFIX}{w:g}", "incremental_nmb", horizon_days,
                             mean, ci))
    return rows


def discount_of(settings):
    """The :class:`Discount` of a sweep's settings."""
    return Discount(settings.discount, settings.discounting)


def _value(row, key, first):
    bare = key.rpartition(":")[2]
    for k in (key, bare, f"{first}:{bare}"):
        if k in row and row[k] not in (None, ""):
            return float(row[k])
    target = key.rpartition(":")[0]
    return next((float(v) for k, v in row.items() if k.endswith(f":{bare}")
                 and (not target or k.startswith(f"{target}:"))), math.nan)


def _money(x):
    return "-" if x is None else f"{x:+,.0f}"


def format_economics(rows, names, wtp, mode):
    """Lines of the sweep's economic results: per grid point each arm's costs and QALYs
    and, against the first arm, the ICER and the NMB at each WTP; of a PSA, the draws'
    mean increments, the ICER of the means and P(NMB > 0)."""
    econ = [r for r in rows if is_economic_endpoint(r["endpoint"])]
    if not econ:
        return []
    by_point = {}
    for r in econ:
        by_point.setdefault(r["point"], {})[(r["arm"], r["endpoint"])] = r
    ref, others = names[0], names[1:]
    lines = [""]
    if mode != "psa":
        header = ["point", "varied", "value"]
        header += [f"{a}: costs" for a in names] + [f"{a}: QALYs" for a in names]
        for a in others:
            header += [f"{a}: ICER vs {ref}"] + [f"{a}: NMB at {w:,.0f}" for w in wtp]
        table = [header]
        for point, got in by_point.items():
            first = next(iter(got.values()))
            keys = first["varied"].split("+") if first["varied"] else []
            shown = ", ".join(f"{_value(first, k, ref):g}" for k in keys)
            line = [str(point), first["varied"] or "(midpoints)", shown]
            line += [f"{got[(a, 'costs')]['estimate']:,.0f}" for a in names]
            line += [f"{got[(a, 'qalys')]['estimate']:.4f}" for a in names]
            for a in others:
                r = got[(a, "icer")]
                line.append(r["kind"] if r["estimate"] is None else
                            f"{r['estimate']:,.0f}" + (" SW" if got[(a, "incremental_qalys")]
                                                       ["estimate"] < 0 else ""))
                line += [_money(got[(a, f"{NMB_PREFIX}{w:g}")]["estimate"]) for w in wtp]
            table.append(line)
        lines += ["costs and QALYs per patient (discounted, to the horizon)"
                  + (f"; ICER and incremental net monetary benefit against {ref}, on the "
                     "same patients (SW: saved per QALY lost)" if others else
                     "; give two arms or more for ICERs and net benefit (the first is the "
                     "reference)"), ""]
        lines += text_table(table)
        return lines
    if not others:
        costs = [got[(ref, "costs")]["estimate"] for got in by_point.values()]
        qalys = [got[(ref, "qalys")]["estimate"] for got in by_point.values()]
        return lines + [f"{ref} over {len(costs)} PSA draws: mean costs {np.mean(costs):,.0f},"
                        f" mean QALYs {np.mean(qalys):.4f} (two arms or more give ICERs "
                        "and net benefit)"]
    header = ["arm", "incremental costs", "incremental QALYs", "ICER of the means"]
    header += [f"NMB at {w:,.0f}: mean, P(>0)" for w in wtp]
    table = [header]
    for a in others:
        dc = np.array([got[(a, "incremental_costs")]["estimate"] for got in by_point.values()])
        dq = np.array([got[(a, "incremental_qalys")]["estimate"] for got in by_point.values()])
        ratio = icer(float(dc.mean()), float(dq.mean()))
        line = [a, f"{dc.mean():+,.0f}", f"{dq.mean():+.4f}",
                f"{ratio:,.0f}" if isinstance(ratio, float) else str(ratio)]
        for w in wtp:
            nmb = w * dq - dc
            line.append(f"{nmb.mean():+,.0f}, {np.mean(nmb > 0):.2f}")
        table.append(line)
    lines += [f"against {ref} over {len(by_point)} PSA draws (each draw's means on its own "
              "patients)", ""]
    return lines + text_table(table)
