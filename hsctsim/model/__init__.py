"""The HSCT model: scenarios (TOML to frozen objects), the processes of the
post-transplant course and their ties, calibration, and the simulated cohort.
"""

# the submodules (imported by name: ``from hsctsim.model import kernel``)
__all__ = ["autologous", "calibrate", "cohort", "covariates", "economics", "extensions", "hints",
           "hsct", "mscohort", "multistate", "process_table", "scenario", "schema",
           "solid", "specs", "timing", "tomlwrite", "whatif"]
