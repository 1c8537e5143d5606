"""The package's layers: imports run one way, with no circle and no private names.

apps -> api / sim -> model, analysis -> engine (model and analysis may use each other
only as listed in LAYERS); checked on the source, so a new import that climbs back
up, or closes a circle, fails here with the modules named.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hsctsim"

# each layer and the layers it may import (itself included)
LAYERS = {
    "_version": {"_version"},
    "engine": {"engine"},
    "model": {"model", "engine", "_version"},
    "analysis": {"analysis", "model", "engine", "_version"},
    "sim": {"sim", "analysis", "model", "engine", "_version"},
    "api": {"api", "sim", "analysis", "model", "engine", "_version"},
    "apps": {"apps", "api", "sim", "analysis", "model", "engine", "_version"},
    "__init__": set(LAYERS_ALL := ("_version", "engine", "model", "analysis", "sim", "api",
                                   "apps", "__init__", "__main__")),
    "__main__": {"apps"},
}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _imports(path):
    """``(imported module, names, line)`` of every import in a file, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            if target.startswith("hsctsim"):
                yield target, names, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hsctsim"):
                    yield alias.name, [], node.lineno


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def _graph():
    """``{module: {imported module}}`` of hsctsim's own modules (submodules resolved)."""
    modules = {_module_name(p): p for p in _sources()}
    graph = {}
    for module, path in modules.items():
        edges = set()
        for target, names, _ in _imports(path):
            for name in names or [None]:
                sub = f"{target}.{name}" if name else None
                edges.add(sub if sub in modules else target)
        graph[module] = {e for e in edges if e in modules and e != module}
    return graph


def test_imports_run_one_way():
    wrong = []
    for path in _sources():
        module = _module_name(path)
        allowed = LAYERS[_layer(module)]
        for target, _, line in _imports(path):
            if _layer(target) not in allowed and module != "hsctsim":
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({_layer(module)}) "
                             f"imports {target} ({_layer(target)})")
    assert not wrong, "imports that climb a layer:\n" + "\n".join(wrong)


def test_no_private_name_crosses_modules():
    wrong = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} from {target}"
             for path in _sources() for target, names, line in _imports(path)
             for name in names if name.startswith("_") and not name.startswith("__")]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = _graph()
    graph.pop("hsctsim", None)  # the package's lazy attribute table names everything
    for node in graph.values():
        node.discard("hsctsim")
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_exports(path):
    if path.name in ("__main__.py",):
        pytest.skip("a script")
    tree = ast.parse(path.read_text())
    assert any(isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        for node in tree.body), f"{path.relative_to(PACKAGE.parent)} has no __all__"


def test_imports_inside_functions_say_why():
    """An import inside a function defers a heavy or optional module (matplotlib,
    numba.cuda, dask, pyarrow) or breaks a deliberate dependency; it says which on
    its line.  None may dodge an import circle (there are none: see above)."""
    silent = []
    for path in _sources():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
                text = " ".join(lines[node.lineno - 1:node.end_lineno])
                if "#" not in text:
                    silent.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                                  f"{lines[node.lineno - 1].strip()}")
    assert not silent, "imports inside functions without a reason:\n" + "\n".join(silent)


def test_the_command_line_starts_without_the_heavy_modules():
    """``hsctsim --help`` and every command's start import no figure, fit or optional
    library: those wait for the command that uses them (start-up time)."""
    import subprocess
    import sys

    heavy = ("matplotlib", "scipy.optimize", "scipy.interpolate", "dask", "pandas", "pyarrow",
             "numba.cuda")
    code = ("import sys, hsctsim.apps.cli; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
