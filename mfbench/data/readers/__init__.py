"""Dataset readers, one per source format, looked up by the registry's ``format`` name.

Each reader streams validated :class:`~mfbench.data.frame.Frame` objects from a source
path. Reader modules are imported only when used (ASE and the VASP parser are heavy).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mfbench.data.frame import Frame
from mfbench.errors import DataError, UnknownNameError

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
        DataError: an option the reader does not take (the message lists those it takes).
    """
    reader = get_reader(format_name)
    accepted = [
        name
        for name, parameter in list(inspect.signature(reader).parameters.items())[1:]
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"unknown reader option(s) {', '.join(unknown)} for format {format_name}; its "
            f"options are: {', '.join(accepted) or 'none'}"
        )
    kwargs = dict(options)
    if format_name == "nested-json":
        from mfbench.data.readers.nested_json import LabelKeys

        kwargs["fidelities"] = {
            name: LabelKeys.from_mapping(keys) for name, keys in kwargs["fidelities"].items()
        }
    return reader(source, **kwargs)
