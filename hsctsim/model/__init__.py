"""The HSCT model: scenarios (TOML to frozen objects), the processes of the
post-transplant course and their ties, calibration, and the simulated cohort.
"""
