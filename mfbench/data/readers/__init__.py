"""Dataset readers, one per source format, looked up by the registry's ``format`` name.

Each reader streams validated :class:`~mfbench.data.frame.Frame` objects from a source
path. Reader modules are imported only when used (ASE and the VASP parser are heavy).
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mfbench.data.frame import Frame
from mfbench.errors import DataError, UnknownNameError
from mfbench.type_check import conforms, type_name

Reader = Callable[..., Iterator[Frame]]

#: format name → "module:function" of its reader.
READERS: dict[str, str] = {
    "nested-json": "mfbench.data.readers.nested_json:iter_nested_json",
    "matpes": "mfbench.data.readers.matpes:iter_matpes",
    "extxyz": "mfbench.data.readers.extxyz:iter_extxyz",
    "vasp": "mfbench.data.readers.vasp:iter_vasp",
}


def get_reader(format_name: str) -> Reader:
    """The reader function registered for ``format_name``."""
    if format_name not in READERS:
        raise UnknownNameError("dataset format", format_name, READERS)
    module_name, function_name = READERS[format_name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def read_frames(format_name: str, source: Path, options: Mapping[str, Any]) -> Iterator[Frame]:
    """Stream frames from ``source`` with the reader for ``format_name``.

    ``options`` are the registry entry's reader options (the reader's keyword arguments);
    for ``nested-json`` the ``fidelities`` mapping is turned into
    :class:`~.nested_json.LabelKeys`.

    Raises:
        DataError: an option the reader does not take or of the wrong type, or a required one
            missing (the message lists the reader's options).
    """
    reader = get_reader(format_name)
    _check_options(reader, format_name, options)
    kwargs = dict(options)
    if format_name == "nested-json":
        from mfbench.data.readers.nested_json import LabelKeys

        try:
            kwargs["fidelities"] = {
                name: LabelKeys.from_mapping(keys) for name, keys in kwargs["fidelities"].items()
            }
        except (ValueError, TypeError) as exc:
            raise DataError(f"reader option fidelities: {exc}") from exc
    return reader(source, **kwargs)


def _check_options(reader: Reader, format_name: str, options: Mapping[str, Any]) -> None:
    """Every option must be one the reader takes, of its type; every required one given.

    Raises:
        DataError: listing the reader's options, with types and defaults.
    """
    try:
        hints = typing.get_type_hints(reader)
    except Exception:  # an annotation that cannot be resolved: types are not checked
        hints = {}
    parameters = [
        p
        for p in list(inspect.signature(reader).parameters.values())[1:]
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    known = {p.name: hints.get(p.name, Any) for p in parameters}
    problems = [f"unknown reader option {key}" for key in sorted(set(options) - set(known))]
    problems += [
        f"reader option {key} must be {type_name(known[key])}, not {value!r}"
        for key, value in options.items()
        if key in known and not conforms(value, known[key])
    ]
    problems += [
        f"reader option {p.name} is required"
        for p in parameters
        if p.default is inspect.Parameter.empty and p.name not in options
    ]
    if problems:
        described = ", ".join(
            f"{p.name}: {type_name(known[p.name])}"
            + ("" if p.default is inspect.Parameter.empty else f" = {p.default!r}")
            for p in parameters
        )
        raise DataError(
            f"{'; '.join(problems)} (format {format_name}); its options are: {described}"
        )
