"""The result record: its schema, field check, hyperparameter hashes, folder and header.

One run (task, fraction, method, seed) writes one record, ``result.json`` (schema
:data:`RESULT_SCHEMA`), beside its predictions file, in the folder :func:`run_folder` names.
This module is the one home of what every reader and writer of records agrees on:

- the schema name and the fields a record has (:func:`check_record_keys`, a check of names
  only; :func:`mfbench.results.validation.validate_record` recomputes everything);
- how hyperparameters are hashed (:func:`params_hash`) and which hash groups runs
  (:func:`protocol_params_hash`);
- where a run's files live (:func:`run_folder`) and where its predictions lie
  (:func:`predictions_file`);
- the header of a record or an evaluation: which task, split and dataset the numbers are for
  (:func:`record_header`);
- whether a folder's record can be reused for a run (:func:`existing_record`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfbench.data.checksum import sha256_file
from mfbench.errors import MfbenchError
from mfbench.tasks.split import fingerprint

if TYPE_CHECKING:
    import numpy as np

    from mfbench.tasks.data import TaskData

logger = logging.getLogger(__name__)

#: /2 added ``training`` and ``task.budget``; /3 ``checkpoints`` (the weights files the method
#: read, with sha256) and ``method.source`` (its module's sha256). A record of another schema is
#: rerun, not reused, and validation rejects it.
RESULT_SCHEMA = "mfbench.result/3"
#: Fields every record has.
REQUIRED_FIELDS = frozenset({
    "schema", "task", "dataset", "method", "fraction", "n_train_frames", "seed",
    "auxiliary_used", "checkpoints", "coverage", "metrics", "per_element_energy_mae",
    "training", "timing", "environment", "predictions",
})  # fmt: skip
#: Fields a record may have: ``selection`` when the task's grid chose hyperparameters.
OPTIONAL_FIELDS = frozenset({"selection"})
#: What a task or method name must look like to become a folder name.
_SAFE_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")


def check_record_keys(record: dict[str, Any]) -> None:
    """Check a record's schema name and top-level field names (nothing of their values).

    Raises:
        ValueError: the schema is not :data:`RESULT_SCHEMA`, a field is missing or one is
            unknown.
    """
    missing = REQUIRED_FIELDS - set(record)
    unknown = set(record) - REQUIRED_FIELDS - OPTIONAL_FIELDS
    if record.get("schema") != RESULT_SCHEMA or missing or unknown:
        raise ValueError(
            f"invalid result record: schema {record.get('schema')!r}, "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )


def params_hash(params: dict[str, Any]) -> str:
    """sha256 (hex) of hyperparameters as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def protocol_params_hash(record: Any) -> str | None:
    """The params hash runs are grouped and resumed by (None when a record states none).

    That of the hyperparameters asked for: ``selection.requested_params_hash`` when the task's
    grid chose some of them (seeds may choose differently and are still one entry), else
    ``method.params_hash``.
    """
    selection = record.get("selection") if isinstance(record, dict) else None
    if isinstance(selection, dict) and isinstance(selection.get("requested_params_hash"), str):
        return selection["requested_params_hash"]
    method = record.get("method") if isinstance(record, dict) else None
    stated = method.get("params_hash") if isinstance(method, dict) else None
    return stated if isinstance(stated, str) else None


def run_folder(out: Path, task: str, version: int, method: str, fraction: float, seed: int) -> Path:
    """Where one run's files live: ``<out>/<task>/v<version>/<method>/fraction-<f>/seed-<s>``.

    ``method`` is the method's folder name (its registered name, or
    ``<name>@<first 8 hex of params_hash>`` for given hyperparameters); the ``:`` and ``/``
    of a ``module:Class`` spec become ``_``.

    Raises:
        MfbenchError: the task or method name cannot name a folder (it must be letters,
            digits, ``.``, ``_``, ``-`` and ``@``, starting with a letter or digit).
    """
    safe = method.replace(":", "_").replace("/", "_")
    for kind, name in (("task", task), ("method", safe)):
        if not _SAFE_FOLDER.fullmatch(name):
            raise MfbenchError(
                f"{kind} name {name!r} cannot name a folder: use letters, digits, '.', '_', "
                "'-' and '@', starting with a letter or digit"
            )
    return Path(out) / task / f"v{version}" / safe / f"fraction-{fraction:g}" / f"seed-{seed}"


def predictions_file(folder: Path, name: Any) -> Path:
    """The predictions file ``name`` (as a record's ``predictions.file`` states it) in ``folder``.

    Raises:
        ValueError: ``name`` is not a plain file name (a path could point anywhere).
    """
    if not isinstance(name, str) or name in {"", ".", ".."} or Path(name).name != name:
        raise ValueError(f"predictions file {name!r} must be a file name in its folder")
    return Path(folder) / name


def record_header(data: TaskData, *, train_frame_ids: np.ndarray | None = None) -> dict[str, Any]:
    """What a record's numbers are for: its ``task`` and ``dataset`` blocks.

    Args:
        data: the task with its prepared dataset.
        train_frame_ids: ``[n_train]`` frame ids a method was trained on; given for a run's
            record, which then also states their fingerprint, the task's budget and its whole
            definition (an evaluation of a shipped model states neither).

    Returns:
        ``{"task": {name, version, target_fidelity, split_fingerprint, test_fingerprint[,
        train_fraction_fingerprint, budget, definition]}, "dataset": {id, version, sha256,
        checksum_status}}``.
    """
    task, meta = data.task, data.store.meta
    fingerprints = data.split.fingerprints()
    task_block: dict[str, Any] = {
        "name": task.task,
        "version": task.version,
        "target_fidelity": task.target_fidelity,
        "split_fingerprint": fingerprints["split"],
        "test_fingerprint": fingerprints["test"],
    }
    if train_frame_ids is not None:
        task_block["train_fraction_fingerprint"] = fingerprint(train_frame_ids)
        task_block["budget"] = task.budget.model_dump() if task.budget else None
        task_block["definition"] = task.definition()
    return {
        "task": task_block,
        "dataset": {
            "id": meta["dataset"]["id"],
            "version": meta["dataset"]["version"],
            "sha256": meta["source"]["sha256"],
            "checksum_status": meta["source"]["checksum_status"],
        },
    }


@dataclass(frozen=True)
class ExistingRecord:
    """What a run folder holds, read against the hyperparameters a run asks for.

    Attributes:
        record: the parsed record when it is complete for the asked hyperparameters (the run
            may reuse it), else None.
        other_params_hash: the params hash the folder's record states when it differs from the
            one asked for (the run must not replace it silently), else None.
        reason: why the record cannot be reused (``""`` when it can or there is none).
    """

    record: dict[str, Any] | None = None
    other_params_hash: str | None = None
    reason: str = ""

    @property
    def reusable(self) -> bool:
        """True when the folder holds a complete record for the asked hyperparameters."""
        return self.record is not None


def existing_record(folder: Path, expected_params_hash: str) -> ExistingRecord:
    """Read ``folder``'s ``result.json`` and say whether a run may reuse it.

    A run is complete when ``result.json`` is a record of schema :data:`RESULT_SCHEMA` with
    every field and its predictions file is present with the sha256 the record states.
    Anything less (an unreadable or older record, predictions missing or changed) is logged as
    a warning naming the file: the run is done again. A record, complete or not, that states
    other hyperparameters than ``expected_params_hash`` is reported in
    :attr:`ExistingRecord.other_params_hash` and never reused.
    """
    path = Path(folder) / "result.json"
    if not path.exists():
        return ExistingRecord()
    try:
        parsed: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = f"unreadable ({exc})"
    else:
        stated = protocol_params_hash(parsed)
        if stated is not None and stated != expected_params_hash:
            return ExistingRecord(other_params_hash=stated, reason="other hyperparameters")
        reason = _why_incomplete(parsed, path.parent)
        if not reason:
            return ExistingRecord(record=parsed)
    logger.warning("%s: %s; running again", path, reason)
    return ExistingRecord(reason=reason)


def _why_incomplete(record: Any, folder: Path) -> str:
    """Why a parsed ``result.json`` is not a complete run's record (``""`` when it is)."""
    if not isinstance(record, dict):
        return f"not a result record (a JSON {type(record).__name__})"
    if record.get("schema") != RESULT_SCHEMA:
        return f"written with schema {record.get('schema')!r}, not {RESULT_SCHEMA}"
    try:
        check_record_keys(record)
    except ValueError as exc:
        return str(exc)
    predictions = record["predictions"]
    if not isinstance(predictions, dict) or not isinstance(record["method"], dict):
        return "its method or predictions field is not an object"
    try:
        file = predictions_file(folder, predictions.get("file"))
    except ValueError as exc:
        return str(exc)
    if not file.is_file():
        return f"its predictions file {file} is missing"
    if sha256_file(file) != predictions.get("sha256"):
        return f"its predictions file {file} does not have the sha256 the record states"
    return ""
