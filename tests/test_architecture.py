"""Baselines are written against the declared author API, as an outside author would write them.

``baselines/*.py`` may import ``mfbench.methods`` and ``mfbench.models.*`` (architecture
adapters), nothing else of mfbench; and ``mfbench.methods`` exports what ``Method``'s
signatures name.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import mfbench.methods
from mfbench.methods import Method

BASELINES = Path(__file__).resolve().parents[1] / "baselines"


def _allowed(module: str) -> bool:
    """Whether a baseline may import ``module``."""
    if module != "mfbench" and not module.startswith("mfbench."):
        return True
    return module == "mfbench.methods" or module.startswith(("mfbench.models.",))


def mfbench_imports(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every mfbench module a source imports (at any depth, lazily too).

    ``from mfbench import units`` counts as an import of ``mfbench.units``.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mfbench":
                found += [(node.lineno, f"mfbench.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "mfbench" or m.startswith("mfbench.")]


@pytest.mark.parametrize("path", sorted(BASELINES.glob("*.py")), ids=lambda p: p.name)
def test_baselines_import_only_the_author_api(path: Path) -> None:
    bad = [
        f"{path.name}:{line} imports {module}"
        for line, module in mfbench_imports(path.read_text())
        if not _allowed(module)
    ]
    assert not bad, "baselines may import mfbench.methods and mfbench.models.* only:\n" + (
        "\n".join(bad)
    )


def test_the_import_check_sees_every_form_of_import() -> None:
    source = (
        "import mfbench.errors\n"
        "from mfbench import units\n"
        "from mfbench.data.frameset import FrameSet\n"
        "def f():\n    from mfbench.graph_cache import GraphCache\n"
        "from mfbench.methods import Method\n"
        "from mfbench.models.chgnet import load_pretrained\n"
        "import numpy\n"
    )
    bad = [m for _, m in mfbench_imports(source) if not _allowed(m)]
    assert bad == [
        "mfbench.errors",
        "mfbench.units",
        "mfbench.data.frameset",
        "mfbench.graph_cache",
    ]


def test_the_types_the_method_interface_names_are_exported() -> None:
    names = set()
    for function in (Method.fit, Method.predict, Method.load):
        names |= {str(p.annotation) for p in inspect.signature(function).parameters.values()}
        names.add(str(inspect.signature(function).return_annotation))
    names |= {"Budget", "MfbenchError"}
    names -= {
        "Self",
        "Path",
        "str",
        "Sequence[Structure]",
        "inspect._empty",
        "<class 'inspect._empty'>",
    }
    assert names <= set(mfbench.methods.__all__), names - set(mfbench.methods.__all__)
