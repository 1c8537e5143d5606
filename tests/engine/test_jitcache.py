"""numba's disk cache is keyed on the whole engine, not only a function's own file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hsctsim.engine.counts as landmark_counts
import hsctsim.engine.hazards as hazards
import hsctsim.engine.kernel as kernel
from hsctsim.engine.jitcache import engine_digest

ROOT = Path(__file__).resolve().parents[2]
CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef step():\n    return {}\n"
CALLER = """from numba import njit

from .callee import step


@njit(cache=True)
def total():
    return step() + 10
"""
KEYED = """
from pathlib import Path

from hsctsim.engine.jitcache import key_on_sources, sources_digest

key_on_sources(globals(), sources_digest(Path(__file__).parent.glob("*.py")))
"""


@pytest.mark.parametrize("module", [hazards, kernel, landmark_counts])
def test_every_cached_function_is_keyed_on_the_engine(module):
    own = [v for v in vars(module).values()
           if getattr(v, "py_func", None) is not None and v.py_func.__module__ == module.__name__]
    cached = [v for v in own if v._cache.__class__.__name__ != "NullCache"]
    if not all(hasattr(getattr(v._cache, "_cache_file", None), "_source_stamp") for v in cached):
        # a numba release moved the internals the hook relies on: results stay right
        # for users (installed sources do not change); only developers editing
        # hazards.py alone would again need to clear the cache by hand
        pytest.skip("numba's cache internals moved: the engine-wide cache key is inactive")
    assert cached and len(cached) == len(own)
    assert all(v._cache._cache_file._source_stamp[1] == engine_digest() for v in cached)


def test_an_edit_to_a_callee_file_alone_recompiles_the_caller(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plain.py").write_text(CALLER)
    (package / "keyed.py").write_text(CALLER + KEYED)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])

    def run(step):
        (package / "callee.py").write_text(CALLEE.format(step))
        out = subprocess.run(
            [sys.executable, "-c", "from pkg import keyed, plain; "
             "print(plain.total(), keyed.total(), sum(keyed.total.stats.cache_hits.values()))"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
        return tuple(int(word) for word in out.stdout.split())

    assert run(1) == (11, 11, 0)
    assert run(1) == (11, 11, 1)  # unchanged sources: loaded from the cache
    # numba's own check misses the edit to callee.py (numba issue #1833: `plain` still
    # answers 11 in numba 0.68); keyed recompiles
    assert run(2)[1:] == (12, 0)
