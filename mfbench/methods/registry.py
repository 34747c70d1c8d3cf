"""One registry of methods: entry points of group ``mfbench.methods`` and ``module:Class`` specs.

Packages publish methods with an entry point (``[project.entry-points."mfbench.methods"]``);
unpublished code is named as ``"my_package.module:MyMethod"``. Unknown names get "did you
mean …?"; two entry points claiming one name are an error.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from mfbench.errors import MfbenchError, UnknownNameError
from mfbench.methods.base import Method
from mfbench.methods.params import Parameter, method_parameters

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


@dataclass(frozen=True)
class MethodDescription:
    """What an author sees of a registered method (``mfbench methods list``).

    Attributes:
        name: the registry name, e.g. ``"finetune-refit-atomref"``.
        target: the class as ``"module:Class"`` (where it is defined).
        description: the first line of the class's docstring (``""`` when it has none).
        parameters: its hyperparameters in signature order, with annotations and defaults
            (those a constructor passes on with ``**kwargs`` included, as in ``get_params``).
        open_ended: whether the constructor accepts names beyond ``parameters``.
    """

    name: str
    target: str
    description: str
    parameters: tuple[Parameter, ...]
    open_ended: bool = False

    def defaults(self) -> dict[str, Any]:
        """Parameter name → default (``inspect.Parameter.empty`` when it has none)."""
        return {p.name: p.default for p in self.parameters}


def describe_method(spec: str) -> MethodDescription:
    """The :class:`MethodDescription` of a registered name or a ``module:Class`` spec.

    Raises:
        UnknownNameError, MfbenchError: as :func:`get_method`.
    """
    target = get_method(spec)
    doc = inspect.getdoc(target) or ""
    parameters, open_ended = method_parameters(target)
    return MethodDescription(
        name=(target.name or spec) if ":" in spec else spec,
        target=f"{target.__module__}:{target.__qualname__}",
        description=doc.strip().splitlines()[0] if doc.strip() else "",
        parameters=tuple(parameters),
        open_ended=open_ended,
    )


def describe_methods() -> list[MethodDescription]:
    """Every method published through entry points, described, sorted by name.

    Raises:
        MfbenchError: an entry point cannot be imported or is not a :class:`Method`.
    """
    return [describe_method(name) for name in method_names()]
