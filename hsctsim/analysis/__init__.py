"""Estimators, endpoints and figures over simulated cohorts.
"""

# the submodules (imported by name: ``from hsctsim.analysis import kernel``)
__all__ = ["by_design", "ceaplots", "costeffectiveness", "endpoints", "estimators", "fit", "hazard_families",
           "msdata", "occupation", "plotting", "response", "sweep_plots", "trials",
           "validation"]
