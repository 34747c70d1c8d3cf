"""Exceptions raised by mfbench, each naming where the problem is."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MfbenchError(Exception):
    """Base class of every error mfbench raises on purpose."""


class DataError(MfbenchError):
    """A dataset file, frame or field is missing, malformed or unsupported."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        material: str | None = None,
        frame: str | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.material, self.frame, self.field = file, material, frame, field
        where = ", ".join(
            f"{name} {value!r}"
            for name, value in (
                ("file", file),
                ("material", material),
                ("frame", frame),
                ("field", field),
            )
            if value is not None
        )
        super().__init__(f"{where}: {message}" if where else message)


class ChecksumError(MfbenchError):
    """A source file's sha256 does not match the registry."""


class TaskError(MfbenchError):
    """A task file is invalid or a task cannot be resolved."""


class NotPreparedError(TaskError):
    """A task's dataset is not prepared on this machine; :attr:`command` prepares it."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class UnknownNameError(MfbenchError, KeyError):
    """A name (dataset, task, model) is not registered; suggests the closest ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        self.message = f"unknown {kind} {name!r}.{hint} Known: {', '.join(known) or 'none'}."
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
