"""The general event engine: parametric hazards, engine arrays, the numba kernels
and their plain-Python reference.  Knows nothing of HSCT, TOML or files.
"""
