"""A method's hyperparameters, read from its ``__init__`` signature, and checks of given values.

``mfbench run --param KEY=VALUE`` and ``mfbench sweep --param`` check every value here, before
any data is read or model loaded: an unknown name, or a value of the wrong type for the
parameter's annotation (``batch_size: int`` given ``"abc"``), is one clear error that lists the
method's parameters with their types and defaults.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mfbench.errors import MfbenchError
from mfbench.type_check import accepts_str, conforms, type_name


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter: its name, its annotation (``Any`` when none) and its default."""

    name: str
    annotation: Any
    default: Any

    def describe(self) -> str:
        """``name: type = default`` (``name: type`` when it has no default)."""
        text = f"{self.name}: {type_name(self.annotation)}"
        return text if self.default is inspect.Parameter.empty else f"{text} = {self.default!r}"


def method_parameters(method_class: type) -> tuple[list[Parameter], bool]:
    """The hyperparameters of ``method_class``, in signature order.

    A constructor taking ``**kwargs`` passes them on to its base class, whose parameters are
    added (a method such as ``MultiStage`` must report them in its own ``get_params``).

    Returns:
        ``(parameters, open)``: ``open`` is True when a constructor passes ``**kwargs`` on to
        no class that names them, so names beyond ``parameters`` may be accepted too.
    """
    found: dict[str, Parameter] = {}
    forwards = False
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
    return list(found.values()), forwards


def check_params(method_class: type, name: str, params: Mapping[str, Any]) -> None:
    """Refuse unknown or missing hyperparameters and values of the wrong type, before any work.

    Args:
        method_class: the method's class.
        name: how the user named it (for the message).
        params: the values given.

    Raises:
        MfbenchError: one line per problem, then the method's parameters with types and
            defaults.
    """
    parameters, open_ended = method_parameters(method_class)
    known = {p.name: p for p in parameters}
    problems = []
    for key, value in params.items():
        if key not in known:
            if not open_ended:
                problems.append(f"method {name} has no parameter {key!r}")
        elif not conforms(value, known[key].annotation):
            hint = ""
            if accepts_str(known[key].annotation) and not isinstance(value, str):
                hint = f"; a --param value is JSON: write {key}='\"{value}\"' for text"
            problems.append(
                f"parameter {key} of method {name} must be {type_name(known[key].annotation)}, "
                f"not {value!r} ({type(value).__name__}){hint}"
            )
    problems += [
        f"method {name} needs parameter {p.name!r} (no default)"
        for p in parameters
        if p.default is inspect.Parameter.empty and p.name not in params
    ]
    if problems:
        listing = "\n".join(f"  {p.describe()}" for p in known.values()) or "  (none)"
        raise MfbenchError("\n".join([*problems, f"parameters of {name}:", listing]))
