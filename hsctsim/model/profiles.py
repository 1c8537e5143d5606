"""Covariate profiles of multi-state scenarios: ``year=1995-1998,agecl=20-40``.

A profile names data columns and their values as the user has them: a factor column
and one of its levels (the scenario's ``[covariates.*]`` tables written by ``hsctsim
fit`` carry ``factor`` and ``level``), or a numeric covariate and its value. The
patients of the profile are the scenario's ``[patients]`` rows that match it, so
covariates the profile leaves out keep their joint mix among those patients; without
a ``[patients]`` table the profile must give every covariate.
"""

import dataclasses
import math

import numpy as np

__all__ = ["parse_profile", "profile_values", "ProfileError", "with_profile"]


class ProfileError(ValueError):
    """A profile that does not fit the scenario (the message says which key)."""


def parse_profile(text):
    """``"a=x,b=y"`` -> ``[("a", "x"), ("b", "y")]``."""
    out = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ProfileError(f"{item!r}: expected COLUMN=VALUE, e.g. year=1995-1998")
        out.append((key.strip(), value.strip()))
    if not out:
        raise ProfileError("expected COLUMN=VALUE,..., e.g. year=1995-1998,agecl=20-40")
    keys = [k for k, _ in out]
    for k in keys:
        if keys.count(k) > 1:
            raise ProfileError(f"{k!r} is given twice")
    return out


def profile_values(scenario, profile):
    """The covariate values a profile fixes: ``{covariate name: value}``."""
    covs = scenario.covariates
    factors = {}
    for c in covs:
        if c.factor:
            factors.setdefault(c.factor, []).append(c)
    numeric = {c.name: c for c in covs if not c.factor}
    fixed = {}
    for key, value in profile:
        if key in factors:
            levels = {c.level: c.name for c in factors[key]}
            reference = _reference(scenario, key)
            if value != reference and value not in levels:
                known = ([reference] if reference else []) + list(levels)
                raise ProfileError(f"{key}={value}: not a level of {key} "
                                   f"({', '.join(known)})")
            for c in factors[key]:
                fixed[c.name] = 1.0 if c.level == value else 0.0
        elif key in numeric:
            try:
                number = float(value)
            except ValueError:
                raise ProfileError(f"{key}={value}: expected a number") from None
            if not math.isfinite(number):
                raise ProfileError(f"{key}={value}: expected a finite number")
            fixed[key] = number
        else:
            known = list(factors) + list(numeric)
            raise ProfileError(f"{key!r} is not a covariate of {scenario.name} ("
                               + (", ".join(known) if known else "it has none") + ")")
    return fixed


def _reference(scenario, column):
    raw = scenario.raw.get("patients", {}) if isinstance(scenario.raw, dict) else {}
    return (raw.get("references") or {}).get(column, "")


def with_profile(scenario, profile):
    """The scenario whose patients are those of ``profile`` (see the module doc).

    Parameters
    ----------
    scenario : MultistateScenario
    profile : str or sequence of (str, str)

    Returns
    -------
    MultistateScenario
    """
    if isinstance(profile, str):
        profile = parse_profile(profile)
    fixed = profile_values(scenario, profile)
    names = [c.name for c in scenario.covariates]
    if scenario.patients:
        cols, rows, weights = scenario.patients
        keep = np.ones(len(rows), bool)
        for j, name in enumerate(cols):
            if name in fixed:
                keep &= rows[:, j] == fixed[name]
        if not keep.any():
            raise ProfileError(", ".join(f"{k}={v}" for k, v in profile)
                               + ": no patient of the scenario's [patients] has this profile")
        rows, weights = rows[keep], weights[keep] / weights[keep].sum()
        for j, name in enumerate(cols):   # a value beyond the data's (a numeric covariate)
            if name in fixed:
                rows[:, j] = fixed[name]
        return dataclasses.replace(scenario, patients=(cols, rows, weights))
    missing = [n for n in names if n not in fixed]
    if missing:
        raise ProfileError(f"give every covariate (the scenario has no [patients] table to "
                           f"draw the others from): missing {', '.join(missing)}")
    row = np.array([[fixed[n] for n in names]])
    return dataclasses.replace(scenario, patients=(tuple(names), row, np.ones(1)))
