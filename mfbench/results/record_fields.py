"""A record's own fields, checked for shape: what :mod:`mfbench.results.validation` reads first.

These checks need neither the predictions nor the task: the record must parse as a JSON object
with the schema's keys (:func:`read_record`), its seed and hyperparameters must be what they say
(:func:`check_identity`, with the selection block), and its provenance entries must have the
runner's form (:func:`check_provenance`). A problem that stops the check of a record raises
:class:`RecordError`; the others are appended to the caller's list of problem lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mfbench.methods.checkpoint_log import ENTRY_TYPES as CHECKPOINT_ENTRY_TYPES
from mfbench.results.record import RESULT_SCHEMA, check_record_keys, params_hash


class RecordError(Exception):
    """A problem that stops the validation of one record (its message is the problem line)."""


def read_record(path: Path) -> dict[str, Any]:
    """The parsed record, checked against the result schema."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: cannot read the result record ({exc})") from exc
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a result record must be a JSON object")
    try:
        check_record_keys(record)
    except ValueError as exc:
        raise RecordError(f"{path}: {exc} (expected schema {RESULT_SCHEMA!r})") from exc
    return record


#: A sha256 as records write it.
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Fields of a record's ``method.source`` and their types (those of ``checkpoints`` entries are
#: :data:`mfbench.methods.checkpoint_log.ENTRY_TYPES`).
_SOURCE_FIELDS = {"module": str, "file": str, "sha256": str, "distribution": (str, type(None))}


def check_identity(record: dict[str, Any], problems: list[str]) -> None:
    """The run's seed and hyperparameters: how runs are grouped, so they must be what they say.

    The seed must be an integer in [0, 2**63); ``method.params`` an object whose sha256
    (:func:`mfbench.results.record.params_hash`) is the record's ``method.params_hash``.
    """
    seed = record["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        problems.append(f"seed: {seed!r} is not an integer in [0, 2**63)")
    method = get_field(record, "method", dict)
    params = method.get("params")
    if not isinstance(params, dict):
        problems.append(f"method.params: {params!r} is not an object")
    elif method.get("params_hash") != params_hash(params):
        problems.append(
            f"method.params_hash: stored {method.get('params_hash')!r}, the hyperparameters "
            f"stated hash to {params_hash(params)!r}"
        )
    if "selection" in record:
        check_selection(record["selection"], params, problems)


def check_selection(selection: Any, params: Any, problems: list[str]) -> None:
    """A selection block must hash right and choose one of its own scored candidates."""
    if not isinstance(selection, dict):
        problems.append(f"selection: {type(selection).__name__}, not an object")
        return
    requested, chosen = selection.get("requested_params"), selection.get("chosen")
    candidates = selection.get("candidates")
    if not (isinstance(requested, dict) and isinstance(chosen, dict)
            and isinstance(candidates, list)):  # fmt: skip
        problems.append("selection: requested_params, chosen and candidates must be given")
        return
    if selection.get("requested_params_hash") != params_hash(requested):
        problems.append(
            f"selection.requested_params_hash: stored {selection.get('requested_params_hash')!r},"
            f" the requested hyperparameters hash to {params_hash(requested)!r}"
        )
    if params != {**requested, **chosen}:
        problems.append("method.params are not the requested ones with the chosen grid values")
    scored = [
        c.get("params") for c in candidates if isinstance(c, dict) and c.get("status") == "ok"
    ]
    if chosen not in scored:
        problems.append(f"selection.chosen {chosen} is not a scored candidate")


def check_provenance(record: dict[str, Any], problems: list[str]) -> None:
    """``checkpoints`` and ``method.source`` must have the runner's form (compliance reads them).

    They cannot be recomputed (they say what the run read), but a malformed entry would hide
    a checkpoint from :mod:`mfbench.results.compliance`, so it rejects the record.
    """
    checkpoints = record["checkpoints"]
    if not isinstance(checkpoints, list):
        problems.append(f"checkpoints: {type(checkpoints).__name__}, not a list")
        checkpoints = []
    entries = [
        (f"checkpoints[{i}]", entry, CHECKPOINT_ENTRY_TYPES) for i, entry in enumerate(checkpoints)
    ]
    entries.append(
        ("method.source", get_field(record, "method", dict).get("source"), _SOURCE_FIELDS)
    )
    for where, entry, fields in entries:
        if not isinstance(entry, dict) or set(entry) != set(fields):
            problems.append(f"{where}: {entry!r} does not have exactly the fields {sorted(fields)}")
            continue
        for key, kind in fields.items():
            value = entry[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                problems.append(f"{where}.{key}: {value!r} is not a {type_names(kind)}")
        if not (isinstance(entry["sha256"], str) and _SHA256.fullmatch(entry["sha256"])):
            problems.append(f"{where}.sha256: {entry['sha256']!r} is not a sha256 in hex")


def get_field(record: dict[str, Any], dotted: str, kind: type | tuple[type, ...]) -> Any:
    """The value at ``dotted`` (``"task.name"``) in ``record``, which must be a ``kind``."""
    value: Any = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise RecordError(f"record field {dotted} is missing")
        value = value[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise RecordError(f"record field {dotted} is {value!r}, not a {type_names(kind)}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def type_names(kind: type | tuple[type, ...]) -> str:
    """``"str or NoneType"``: the names of ``kind`` for a problem line."""
    return " or ".join(k.__name__ for k in _as_tuple(kind))
