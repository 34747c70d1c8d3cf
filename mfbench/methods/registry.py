"""One registry of methods: entry points of group ``mfbench.methods`` and ``module:Class`` specs.

Packages publish methods with an entry point (``[project.entry-points."mfbench.methods"]``);
unpublished code is named as ``"my_package.module:MyMethod"``. Unknown names get "did you
mean …?"; two entry points claiming one name are an error.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import metadata

from mfbench.errors import MfbenchError, UnknownNameError
from mfbench.methods.base import Method

ENTRY_POINT_GROUP = "mfbench.methods"


@cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found and found[entry.name].value != entry.value:
            raise MfbenchError(
                f"method name {entry.name!r} is claimed twice: {found[entry.name].value} "
                f"and {entry.value}"
            )
        found[entry.name] = entry
    return found


def method_names() -> list[str]:
    """Names of the methods published through entry points."""
    return sorted(_entry_points())


def get_method(spec: str) -> type[Method]:
    """The method class for a registered name or a ``module:Class`` spec.

    Raises:
        UnknownNameError: no such registered name (with suggestions).
        MfbenchError: the spec cannot be imported or is not a :class:`Method` subclass.
    """
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise MfbenchError(f"cannot import method {spec!r}: {exc}") from exc
    else:
        entries = _entry_points()
        if spec not in entries:
            raise UnknownNameError("method", spec, entries)
        target = entries[spec].load()
    if not (isinstance(target, type) and issubclass(target, Method)):
        raise MfbenchError(f"{spec!r} is not a subclass of mfbench.methods.Method")
    return target
