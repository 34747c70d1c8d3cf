"""The package's import graph flows one way (DESIGN.md: "Arrows point down this list only").

Every ``import`` and ``from … import`` of an mfbench module is read from the source (also those
inside functions and ``TYPE_CHECKING`` blocks: a lazy import is still a dependency), so the test
needs no imports of the modules themselves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mfbench"

#: Layers from the bottom up: a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "mfbench",
        "mfbench.errors",
        "mfbench.units",
        "mfbench.paths",
        "mfbench.atomic_write",
        "mfbench.epoch_checkpoint",
        "mfbench.locks",
        "mfbench.type_check",
        "mfbench.provenance",
        "mfbench.seeding",
    ),
    ("mfbench.data",),
    ("mfbench.metrics.catalogue",),
    ("mfbench.tasks",),
    ("mfbench.metrics",),
    ("mfbench.models",),
    ("mfbench.methods",),
    ("mfbench.results.record", "mfbench.results.predictions"),
    ("mfbench.evaluation",),
    ("mfbench.results", "mfbench.submissions"),
    ("mfbench.runner", "mfbench.testing"),
    ("mfbench.html",),
    ("mfbench.diagnostics",),
    ("mfbench.leaderboard",),
    ("mfbench.demo", "mfbench.cli", "mfbench.__main__"),
)

#: A module's line count above which it has too many jobs (issue 15: "no module over 600 lines").
MAX_LINES = 600


def module_names() -> dict[str, Path]:
    """Dotted name → file of every module of the package."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The mfbench modules ``name`` (defined in ``path``) imports, resolved to known modules."""

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # ``from mfbench.x import y`` imports the module mfbench.x.y when y is one
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            if target == "mfbench" or target.startswith("mfbench."):
                resolved = resolve(target)
                if resolved is not None and resolved != name:
                    yield resolved


def import_graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: set(imported_modules(name, path, known)) for name, path in known.items()}


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the most specific prefix that holds ``module``."""
    best, best_length = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_import_graph.py: add it")
    return best


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_import_graph_has_no_loop() -> None:
    assert cycles(import_graph()) == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_nothing_below_the_runner_imports_it() -> None:
    runner_layer = layer_of("mfbench.runner")
    into_runner = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if target.startswith("mfbench.runner") and layer_of(module) < runner_layer
    ]
    assert into_runner == []


def test_the_checker_sees_a_loop_and_an_upward_import() -> None:
    graph = {"mfbench.data.a": {"mfbench.tasks.b"}, "mfbench.tasks.b": {"mfbench.data.a"}}
    assert cycles(graph) == [["mfbench.data.a", "mfbench.tasks.b"]]
    assert layer_of("mfbench.tasks.b") > layer_of("mfbench.data.a")
    assert layer_of("mfbench.metrics.catalogue") < layer_of("mfbench.tasks.definition")


@pytest.mark.parametrize("name", sorted(module_names()))
def test_no_module_has_too_many_jobs(name: str) -> None:
    lines = module_names()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by job"
