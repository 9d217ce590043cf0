"""The layering of refdropout: every module sits in a layer, and imports go down, never up.

The import graph is read statically with ``ast`` from the package's sources: every ``import`` and
``from ... import`` anywhere in a module, inside functions and under ``TYPE_CHECKING`` included,
since a deferred import is a dependency all the same. A module imports modules of its own layer
or below (LAYERS, bottom to top); every module of the package must be placed in a layer, so a new
one is placed consciously. The one import cycle is the deliberate circle of the engine's core:
Tensor's operator overloads call refdropout.ops, and the ops build Tensors (autograd, which
records the graph, is part of it). And an implementation under test, an adapter or a mutant, is
written with the engine and the contract only and runs without the checks: making one and calling
it loads neither scipy nor any module of refdropout.conformance, refdropout.stats or
refdropout.reports.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

import refdropout

PACKAGE = Path(refdropout.__file__).resolve().parent

# The layers, bottom to top. A pattern "x.*" is the package x and every module under it.
LAYERS: dict[float, tuple[str, ...]] = {
    0: ("refdropout.dtypes", "refdropout.shapes", "refdropout.spec",  # the ground: the engine's formats and
        "refdropout.stats", "refdropout.stats.*",                     # shapes, the spec, the decision procedures,
        "refdropout.tables", "refdropout.options",                    # text tables, the run options' definitions,
        "refdropout.textfiles",                                       # the input files read line by line,
        "refdropout.values"),                                         # a caller's values taken and shown
    1: ("refdropout.tensor", "refdropout.autograd", "refdropout.ops", "refdropout.ops.*",  # the engine's core
        "refdropout.random", "refdropout.gradcheck",
        "refdropout.exact", "refdropout.exact.*"),  # frameworks' streams recomputed (JAX threefry, TF Philox)
    2: ("refdropout.functional", "refdropout.functional.*"),  # the dropout family as ops
    3: ("refdropout.nn", "refdropout.nn.*", "refdropout.theory", "refdropout.theory.*"),  # modules, exact theory
    3.5: ("refdropout",),  # the package's own __init__: re-exports engine names, so above all of the engine
    4: ("refdropout.contract", "refdropout.contract.*"),  # what an implementation is, under both sides
    5: ("refdropout.adapters", "refdropout.adapters.*", "refdropout.mutants", "refdropout.mutants.*"),
    6: ("refdropout.conformance", "refdropout.conformance.*"),  # the checks and the one run path
    7: ("refdropout.reports", "refdropout.reports.*"),  # documents generated from runs
    8: ("refdropout.cli", "refdropout.pytest_plugin", "refdropout.__main__"),  # entry points
}

# The deliberate cycle: Tensor's operator overloads call refdropout.ops and the ops build Tensors;
# autograd records the graph the ops build and names Tensor in its types.
DELIBERATE_CYCLE = ("refdropout.tensor", "refdropout.autograd", "refdropout.ops", "refdropout.ops.*")

# What an implementation under test must run without: the statistics and the checks.
CHECK_SIDE = ("scipy", "refdropout.conformance", "refdropout.stats", "refdropout.reports")
# The implementations under test, written with the engine and the contract only: of the ground, never
# the statistics that judge them (nor the spec's text).
IMPLEMENTATIONS = ("refdropout.adapters", "refdropout.adapters.*", "refdropout.mutants", "refdropout.mutants.*")
NOT_FOR_IMPLEMENTATIONS = ("refdropout.stats", "refdropout.stats.*", "refdropout.spec")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").is_file()


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, tree: ast.AST) -> set[str]:
    """The package's modules that module ``name`` imports anywhere in ``tree``: for ``from m import
    x``, the module m.x where x is one, else m."""
    package = name if is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a name inside a.b: the module a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH: dict[str, set[str]] = {
    name: imported_modules(name, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    for name, path in MODULES.items()
}


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or (p.endswith(".*") and fnmatchcase(name, p)) for p in patterns)


def layer_of(name: str) -> float | None:
    found = [layer for layer, patterns in LAYERS.items() if matches(name, patterns)]
    assert len(found) <= 1, f"{name} is placed in layers {found}: place it in one"
    return found[0] if found else None


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
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
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def path_within(component: set[str], start: str) -> list[str]:
    """A shortest import path from ``start`` back to itself inside ``component``, to show a cycle."""
    paths = {w: [start, w] for w in GRAPH[start] & component}
    frontier = list(paths)
    while start not in paths:
        next_frontier = []
        for v in frontier:
            for w in sorted(GRAPH[v] & component):
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    next_frontier.append(w)
        frontier = next_frontier
    return paths[start]


def upward_imports(name: str) -> list[str]:
    """The modules that ``name`` imports from a layer above its own (modules in no layer aside)."""
    own = layer_of(name)
    return sorted(target for target in GRAPH[name]
                  if None not in (own, layer_of(target)) and layer_of(target) > own)


def test_the_reader_sees_every_form_of_import() -> None:
    source = (
        "import refdropout.contract.arrays\n"  # absolute: the module itself
        "from ..contract import Policies\n"  # a name from a package: the package
        "from . import import_framework\n"  # a name from this module's own package
        "from ..nn import mc\n"  # a module from a package: the module
        "def make():\n"
        "    from ..theory.networks import Network\n"  # inside a function
    )
    assert imported_modules("refdropout.adapters.torch", ast.parse(source)) == {
        "refdropout.contract.arrays", "refdropout.contract", "refdropout.adapters", "refdropout.nn.mc",
        "refdropout.theory.networks",
    }
    assert "refdropout.ops" in GRAPH["refdropout.tensor"]  # `from . import ops`, at the end of the module
    assert "refdropout.tensor" in GRAPH["refdropout.autograd"]  # under TYPE_CHECKING


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in MODULES if layer_of(name) is None]
    assert not unplaced, f"modules in no layer of LAYERS (place each one in the layer it belongs to): {unplaced}"


def test_imports_go_down() -> None:
    """No module imports a module of a higher layer."""
    upward = [f"{name} (layer {layer_of(name):g}) imports {target} (layer {layer_of(target):g})"
              for name in sorted(GRAPH) for target in upward_imports(name)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_implementations_use_only_the_engine_and_the_contract() -> None:
    found = [f"{name} imports {target}" for name in sorted(GRAPH) if matches(name, IMPLEMENTATIONS)
             for target in sorted(GRAPH[name]) if matches(target, NOT_FOR_IMPLEMENTATIONS)]
    assert not found, "adapters and mutants import the checks' side of the ground:\n" + "\n".join(found)


def test_the_only_cycle_is_tensor_and_ops() -> None:
    unexpected = [component for component in cycles(GRAPH)
                  if not all(matches(name, DELIBERATE_CYCLE) for name in component)]
    shown = [" -> ".join(path_within(c, min(n for n in c if not matches(n, DELIBERATE_CYCLE)))) for c in unexpected]
    assert not unexpected, "import cycles besides the deliberate Tensor <-> ops one:\n" + "\n".join(shown)


# module to import, and a statement that makes its implementation
MADE = {
    "refdropout.adapters.reference": "ReferenceDropout()",
    "refdropout.adapters.numpy": "NumpyDropout()",
    "refdropout.adapters.torch": "TorchDropout()",
    "refdropout.mutants": "next(iter(MUTANTS.values())).make()",
}
FRAMEWORKS = {"refdropout.adapters.numpy": "numpy", "refdropout.adapters.torch": "torch"}


@pytest.mark.parametrize("module", MADE)
def test_an_implementation_runs_without_the_checks(module: str) -> None:
    """Importing an adapter (or the mutants), making one and calling it loads no check, no statistics."""
    framework = FRAMEWORKS.get(module)
    if framework is not None and importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    program = (
        "import sys\n"
        f"from {module} import *\n"
        "from refdropout.tensor import Tensor\n"
        f"impl = {MADE[module]}\n"
        "impl.dropout(Tensor.from_flat([1.0, 2.0, 3.0], (3,)), 0.5, training=True, seed=1)\n"
        f"side = {CHECK_SIDE!r}\n"
        "loaded = [m for m in sys.modules if any(m == s or m.startswith(s + '.') for s in side)]\n"
        "print(*sorted({m if m.startswith('refdropout.') else m.partition('.')[0] for m in loaded}))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, f"{module}: the program failed:\n{result.stderr}"
    loaded = result.stdout.split()
    assert not loaded, f"{module} loaded modules of the checks' side: {loaded}"
