"""The general event engine: parametric hazards, engine arrays, the numba kernels
and their plain-Python reference, and the backend object (:mod:`.backend`) through
which everything above reaches them.  Knows nothing of HSCT, TOML or files.
"""

# the submodules (imported by name: ``from hsctsim.engine import kernel``); the CUDA
# ones import numba.cuda, an optional dependency, so a star import leaves them out
__all__ = ["backend", "counts", "hazards", "jitcache", "kernel", "processes", "reference",
           "resume"]
