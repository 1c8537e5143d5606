"""Patient characteristics of a cohort mix, drawn per patient, that change hazards.

``[covariates.<name>]`` names a favourable characteristic (e.g. ``ecog_0_1``) with
the ``share`` of the simulated cohort that has it, the ``reference_share`` of the
published series the incidences come from, and hazard ratios of the unfavourable
level (``adverse``, e.g. ``ecog_2_4``) on processes of the course::

    [covariates.ecog_0_1]
    label = "ECOG performance status 0-1"
    adverse = "ecog_2_4"
    share = 0.8
    reference_share = 0.8
    source = "..."
    hr.relapse = { hr = [1.5, 3.0], source = "..." }

Each patient draws the characteristic from their own random stream: the adverse
level is a process on day 0 that fires with probability ``1 - share`` and
multiplies the hazards from then on (so it is in the cohort's event days, ``0``
where present, and reproducible bit for bit).  The configured timings describe
the published series as a whole: each affected hazard is scaled so that its mean
multiplier over the reference mix is 1 (see :func:`mix_factors`).  Calibration runs at the reference
shares; a run with other shares keeps the hazards calibrated for the published
series and asks how patient selection changes the result.
"""

import dataclasses
from dataclasses import dataclass

from ..engine.processes import Process
from . import process_table
from .autologous import RECOVERY_PROCESSES
from .schema import Range
from .solid import TUMOUR_PROCESSES
from .specs import hazard_ratio

__all__ = ["Covariate", "extend", "KEYS", "mix_factors", "parse", "ranges", "reference",
           "with_value"]

KEYS = {"label", "adverse", "share", "reference_share", "source", "hr"}


@dataclass(frozen=True)
class Covariate:
    """One binary characteristic: its favourable share and the adverse level's HRs."""

    name: str
    label: str
    adverse: str
    share: Range
    reference_share: float
    source: str
    hr: dict  # process -> (Range, source)


def _targets(data, parsed):
    names = {p.name for p in process_table.registered() if not p.intervention}
    if "tumour" in parsed:
        names |= set(TUMOUR_PROCESSES)
    if "recovery" in parsed:
        names |= set(RECOVERY_PROCESSES)
    return names


def parse(reader, data, key, parsed):
    table = reader.table(data, key)
    targets = _targets(data, parsed)
    out = {}
    for name, item in table.items():
        where = f"{key}.{name}"
        if not isinstance(item, dict):
            reader.fail(where, "must be a table (one per characteristic)")
        reader.check_keys(item, KEYS, where)
        adverse = reader.text(item, "adverse", f"{where}.adverse")
        if not adverse.isidentifier() or adverse in targets:
            reader.fail(f"{where}.adverse", f"'{adverse}' must be a new identifier "
                        "(it names the unfavourable level's process)")
        source = reader.source(item, "source", f"{where}.source")
        hr_table = reader.table(item, "hr", where)
        for process in hr_table:
            if process not in targets:
                reader.fail(f"{where}.hr.{process}", "not a process of this scenario; one of "
                            + ", ".join(sorted(targets)))
        out[name] = Covariate(
            name=name, label=reader.text(item, "label", f"{where}.label", name),
            adverse=adverse,
            share=reader.range(item, "share", f"{where}.share"),
            reference_share=reader.number(item, "reference_share", f"{where}.reference_share",
                                          0.0, 1.0),
            source=source,
            hr={p: hazard_ratio(reader, hr_table, p, f"{where}.hr") for p in hr_table})
    adverse = [c.adverse for c in out.values()]
    if len(set(adverse)) != len(adverse):
        reader.fail(key, "two characteristics share an 'adverse' name")
    return out


def ranges(key, covs):
    items = []
    for name, c in covs.items():
        items.append((f"{key}.{name}.share", c.share))
        items += [(f"{key}.{name}.hr.{p}", hr) for p, (hr, _) in c.hr.items()]
    return items


def with_value(covs, key, value):
    parts = key.split(".")[1:]
    out = dict(covs)
    c = covs.get(parts[0]) if parts else None
    if c is not None and parts[1:] == ["share"]:
        out[c.name] = dataclasses.replace(c, share=value)
        return out
    if c is not None and len(parts) == 3 and parts[1] == "hr" and parts[2] in c.hr:
        hr = dict(c.hr)
        hr[parts[2]] = (value, hr[parts[2]][1])
        out[c.name] = dataclasses.replace(c, hr=hr)
        return out
    raise KeyError(key)


def reference(covs):
    """The mix of the published series: every share at its reference share."""
    return {n: dataclasses.replace(c, share=Range(c.reference_share, c.reference_share))
            for n, c in covs.items()}


def mix_factors(covs):
    """Per process, the factor that makes the reference mix's mean multiplier 1.

    A process's configured timing describes the published series as a whole, not
    its most favourable patients: each hazard ratio ``h`` of a characteristic
    with reference share ``s`` (favourable) is divided by ``s + (1 - s) h``.
    """
    out = {}
    for c in covs.values():
        for p, (hr, _) in c.hr.items():
            s = c.reference_share
            out[p] = out.get(p, 1.0) / (s + (1.0 - s) * hr.mid)
    return out


def extend(scenario, susceptible, procs):
    """Scale each affected hazard to the reference mix; add a day-0 process per
    characteristic, its adverse level, with its hazard ratios."""
    covs = scenario.extensions["covariates"]
    factors = mix_factors(covs)
    # the scaling is a constant multiplier from whenever the process opens: its
    # entry multiplier (which death after relapse also uses, by day of relapse)
    procs = [dataclasses.replace(p, entry_multiplier=tuple(
        (day, m * factors[p.name]) for day, m in p.entry_multiplier))
        if p.name in factors else p for p in procs]
    return procs + [
        Process(c.adverse, "fixed", (0.0,), 1.0 - c.share.mid,
                multiplies={p: hr.mid for p, (hr, _) in c.hr.items()})
        for c in covs.values()]
