"""Does a value decoded from JSON (a ``--param``, a registry option) fit a type annotation?

Shared by the method parameters (:mod:`mfbench.methods.params`) and the reader options
(:mod:`mfbench.data.readers`), so both refuse ``batch_size="abc"`` or
``check_functional="false"`` before any work, with the annotation named in words.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

#: Types JSON gives values of; a value for any other class (``Path``, an ``Enum``) is written as
#: a string, which the class's constructor then takes.
_JSON_TYPES = (bool, int, float, str, list, dict, type(None))


def conforms(value: Any, annotation: Any) -> bool:
    """Whether ``value`` (as JSON gives it) fits ``annotation``.

    Checked: ``int`` (not ``bool``), ``float`` (an int is fine), ``bool``, ``str``, ``None``,
    unions, ``Literal`` (value and type), and the container of ``list``, ``tuple`` (a list will
    do), ``dict``, ``Sequence`` and ``Mapping`` annotations (not their items; a string is no
    sequence here). A class JSON has no values of (``Path``) takes a string. Anything else is
    accepted.
    """
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(annotation))
    if annotation in (None, type(None)):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    container = origin if origin is not None else annotation
    if container is tuple:  # JSON has no tuples: a list stands for one
        return isinstance(value, list | tuple)
    if isinstance(container, type) and issubclass(container, Mapping):
        return isinstance(value, Mapping)
    if isinstance(container, type) and issubclass(container, Sequence):
        return isinstance(value, list | tuple)
    if origin is not None:
        return not isinstance(origin, type) or isinstance(value, origin)
    if isinstance(annotation, type) and annotation not in _JSON_TYPES:
        return isinstance(value, annotation | str)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def accepts_str(annotation: Any) -> bool:
    """Whether ``annotation`` takes a string (``str``, ``str | None``, ``Path``, …)."""
    return conforms("text", annotation)


def type_name(annotation: Any) -> str:
    """``annotation`` in words, e.g. ``int``, ``float | None``, ``Literal['a', 'b']``."""
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    text = re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", str(annotation))
    return text.replace("NoneType", "None")
