"""A method's hyperparameters, read from its ``__init__`` signature, and checks of given values.

``mfbench run --param KEY=VALUE`` and ``mfbench sweep --param`` check every value here, before
any data is read or model loaded: an unknown name, or a value of the wrong type for the
parameter's annotation (``batch_size: int`` given ``"abc"``), is one clear error that lists the
method's parameters with their types and defaults.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mfbench.errors import MfbenchError


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter: its name, its annotation (``Any`` when none) and its default."""

    name: str
    annotation: Any
    default: Any

    def describe(self) -> str:
        """``name: type = default`` (``name: type`` when it has no default)."""
        text = f"{self.name}: {_type_name(self.annotation)}"
        return text if self.default is inspect.Parameter.empty else f"{text} = {self.default!r}"


def method_parameters(method_class: type) -> list[Parameter]:
    """The hyperparameters of ``method_class``, in signature order.

    A constructor taking ``**kwargs`` passes them on to its base class, whose parameters are
    added (as :meth:`mfbench.methods.Method.get_params` of such a method reports them).
    """
    found: dict[str, Parameter] = {}
    for klass in method_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # an annotation that cannot be resolved: types are not checked
            hints = {}
        forwards = False
        for parameter in list(inspect.signature(init).parameters.values())[1:]:
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
            elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                found.setdefault(
                    parameter.name,
                    Parameter(parameter.name, hints.get(parameter.name, Any), parameter.default),
                )
        if not forwards:
            break
    return list(found.values())


def check_params(method_class: type, name: str, params: Mapping[str, Any]) -> None:
    """Refuse unknown hyperparameters and values of the wrong type, before any work.

    Args:
        method_class: the method's class.
        name: how the user named it (for the message).
        params: the values given.

    Raises:
        MfbenchError: one line per problem, then the method's parameters with types and
            defaults.
    """
    known = {p.name: p for p in method_parameters(method_class)}
    problems = []
    for key, value in params.items():
        if key not in known:
            problems.append(f"method {name} has no parameter {key!r}")
        elif not conforms(value, known[key].annotation):
            problems.append(
                f"parameter {key} of method {name} must be {_type_name(known[key].annotation)}, "
                f"not {value!r} ({type(value).__name__})"
            )
    if problems:
        listing = "\n".join(f"  {p.describe()}" for p in known.values()) or "  (none)"
        raise MfbenchError("\n".join([*problems, f"parameters of {name}:", listing]))


def conforms(value: Any, annotation: Any) -> bool:
    """Whether ``value`` (as JSON gives it) fits ``annotation``.

    Checked: ``int`` (not ``bool``), ``float`` (an int is fine), ``bool``, ``str``, ``None``,
    unions, ``Literal``, and the container type of ``list``, ``tuple`` (a list will do) and
    ``dict`` annotations (not their items). Anything else is accepted.
    """
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if tuple in (origin, annotation):  # JSON has no tuples: a list stands for one
        return isinstance(value, list | tuple)
    if origin is not None:
        return not isinstance(origin, type) or isinstance(value, origin)
    if annotation in (None, type(None)):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def _type_name(annotation: Any) -> str:
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")
