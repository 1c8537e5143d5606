"""numba's disk cache, keyed on the sources of the whole engine.

numba checks a cached function against its own file only (numba issue #1833, open
since 2016): a function of ``kernel.py`` that calls or inlines one of
``hazards.py``, or reads a constant of ``processes.py``, keeps its old machine code
after an edit to that other file alone; so does ``engine/counts.py``
after an edit to ``kernel.py``.  Each module with cached functions therefore ends
with ``key_on_engine(globals())``, which adds a hash of every engine source to the
stamp numba compares on load: an edit anywhere in the engine, or an installed
upgrade, recompiles what was cached (an edit to ``reference.py`` costs one
needless recompile; a stale kernel would cost wrong results).

The hook uses numba internals (``Dispatcher._cache._cache_file._source_stamp``,
there since numba 0.2x); where they are missing, or the sources cannot be read,
it does nothing and numba's own check remains (``tests/engine/test_jitcache.py`` then
skips, saying so).
"""

import functools
import hashlib
from pathlib import Path

__all__ = ["engine_digest", "ENGINE_DIR", "key_on_engine", "key_on_sources", "sources_digest"]

ENGINE_DIR = Path(__file__).resolve().parent


def sources_digest(paths):
    """SHA-256 hex digest of the named files' names and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def engine_digest():
    """:func:`sources_digest` of every ``.py`` file of ``hsctsim/engine``."""
    return sources_digest(ENGINE_DIR.glob("*.py"))


def key_on_sources(namespace, digest):
    """Add ``digest`` to the cache stamp of each cached numba function defined in
    ``namespace`` (a module's ``globals()``); imported ones are left to their module.

    Returns
    -------
    int
        How many functions were keyed (0 where numba's internals differ, or with
        ``NUMBA_DISABLE_JIT``).
    """
    keyed = 0
    for value in list(namespace.values()):
        cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
        stamp = getattr(cache_file, "_source_stamp", None)
        py_func = getattr(value, "py_func", None)
        if (stamp is None or py_func is None
                or py_func.__module__ != namespace.get("__name__")):
            continue
        if not (isinstance(stamp, tuple) and len(stamp) == 2 and stamp[1] == digest):
            cache_file._source_stamp = (stamp, digest)
        keyed += 1
    return keyed


def key_on_engine(namespace):
    """:func:`key_on_sources` with :func:`engine_digest`; 0 if the engine's sources
    cannot be read (e.g. a zipped install: numba's own stamp then stands alone)."""
    try:
        digest = engine_digest()
    except OSError:
        return 0
    return key_on_sources(namespace, digest)
