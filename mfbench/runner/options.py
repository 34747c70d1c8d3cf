"""The options of one run that are not its identity (task, method, fraction, seed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from mfbench.errors import MfbenchError


@dataclass(frozen=True)
class RunOptions:
    """How to run: everything ``mfbench run`` takes besides task, method, fraction and seed.

    Plain values, so that a sweep can pickle them for submitit and write them back as
    ``mfbench run`` arguments (:meth:`cli_args`): a run the sweep starts again (e.g. over a
    record of an older schema) gets every option the sweep was given.

    Attributes:
        device: ``"cpu"``, ``"cuda[:i]"``, or ``"auto"`` (resolved by whoever executes the run).
        params: method hyperparameters (JSON values); empty for the method's defaults.
        data_workers: processes the method may use to prepare its data
            (:attr:`mfbench.methods.FitContext.data_workers`); None for
            :func:`default_data_workers`. Results do not depend on it.
        force: run again even when the folder holds a complete result, or one for other
            hyperparameters.
    """

    device: str = "cpu"
    params: dict[str, Any] = field(default_factory=dict)
    data_workers: int | None = None
    force: bool = False

    def cli_args(self) -> list[str]:
        """These options as ``mfbench run`` arguments (``--device``, ``--param``s, …)."""
        args = ["--device", self.device, *param_args(self.params)]
        if self.data_workers is not None:
            args += ["--data-workers", str(self.data_workers)]
        if self.force:
            args.append("--force")
        return args


def param_args(params: dict[str, Any]) -> list[str]:
    """``--param KEY=VALUE`` arguments that ``mfbench run``/``sweep`` parse back to ``params``.

    Values are written as JSON, except strings that are not JSON text, written bare as
    the CLI keeps them (``gate=/tmp/x``, but ``name="8"`` so that it stays a string).
    """
    args = []
    for key, value in params.items():
        text = json.dumps(value)
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                text = value
        args += ["--param", f"{key}={text}"]
    return args


def default_data_workers() -> int:
    """``$MFBENCH_DATA_WORKERS``, else this machine's CPU count up to 8.

    Raises:
        MfbenchError: ``MFBENCH_DATA_WORKERS`` is not a positive integer.
    """
    value = os.environ.get("MFBENCH_DATA_WORKERS")
    if value is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if not value.isdigit() or int(value) < 1:
        raise MfbenchError(f"MFBENCH_DATA_WORKERS must be a positive integer, not {value!r}")
    return int(value)
