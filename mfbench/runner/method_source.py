"""Which code a method is: what a run's record states in ``method.source``."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from mfbench.data.checksum import sha256_file
from mfbench.errors import MfbenchError


def method_source(method_class: type) -> dict[str, Any]:
    """Which code a method is: its module, the module file's sha256 and its distribution.

    Returns:
        ``{"module": "baselines.finetune", "file": "baselines/finetune.py", "sha256": hex,
        "distribution": "mfbench 0.1.0" or None}``; ``file`` is the module's path below its
        top-level package (its name alone for a script).

    Raises:
        MfbenchError: the class has no source file (defined interactively).
    """
    module_name = method_class.__module__
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        raise MfbenchError(
            f"method {method_class.__qualname__} has no source file (module {module_name}); "
            "define it in a .py module so its code can be recorded"
        )
    path, parts = Path(file), module_name.split(".")
    if module_name == "__main__":
        shown = path.name
    elif path.name == "__init__.py":
        shown = "/".join([*parts, path.name])
    else:
        shown = "/".join([*parts[:-1], path.name])
    return {
        "module": module_name,
        "file": shown,
        "sha256": sha256_file(Path(file)),
        "distribution": _distribution(parts[0]),
    }


def _distribution(top_level: str) -> str | None:
    """``"name version"`` of the installed distribution providing ``top_level``, or None."""
    names = metadata.packages_distributions().get(top_level, [])
    if not names:
        return None
    name = sorted(names)[0]
    return f"{name} {metadata.version(name)}"
