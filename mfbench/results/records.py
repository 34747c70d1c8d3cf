"""Find result records and validate them by recomputing their metrics from the predictions.

A record (``result.json``, schema :data:`mfbench.runner.RESULT_SCHEMA`) is trusted only as far
as mfbench can check it. :func:`validate_record` reads the predictions file next to the record,
checks its sha256, loads the record's task as currently defined (its version and split
fingerprints must equal the record's), maps the predictions onto the frames the task asks for
and scores them with :func:`mfbench.evaluation.score`. Every stored value that this recomputes
(coverage, both metric blocks, the per-element energy MAE, the training-fraction size and
fingerprint, the dataset identity) must agree within a relative tolerance of
:data:`RELATIVE_TOLERANCE`; NaN (stored as JSON ``null``) equals NaN. What cannot be recomputed
(timings, environment, hyperparameters) is only checked for presence by the schema.

Problems never raise: an unreadable file, a missing predictions file or a task that cannot be
loaded becomes a problem line naming the file, and the record is rejected.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.data.labels import LabelTable
from mfbench.errors import MfbenchError
from mfbench.evaluation import EvaluationFrames, score
from mfbench.runner import RESULT_SCHEMA, validate_result
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.tasks.split import fingerprint

logger = logging.getLogger(__name__)

#: Stored and recomputed numbers agree when ``|a - b| <= RELATIVE_TOLERANCE * max(|a|, |b|)``.
RELATIVE_TOLERANCE = 1e-9
#: The arrays a predictions file holds (see :func:`mfbench.evaluation.predictions_bytes`).
PREDICTION_ARRAYS = ("frame_ids", "energy_per_atom", "forces", "stress", "magmoms", "atom_offsets")
#: How many frame ids a problem line names before it says "and N more".
_SHOW_IDS = 10

#: Task name → the loaded task and its evaluation frames, shared between records.
TaskCache = dict[str, tuple[TaskData, EvaluationFrames]]


@dataclass
class ValidationReport:
    """The outcome of validating one result record.

    Attributes:
        path: the ``result.json`` file.
        ok: True when there are no problems.
        problems: one readable line per problem, in the order found.
        record: the parsed record, or None when the file could not be read as a JSON object.
    """

    path: Path
    ok: bool
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None

    def summary(self) -> str:
        """``path: ok`` or ``path: REJECTED`` followed by one indented line per problem."""
        if self.ok:
            return f"{self.path}: ok"
        return "\n".join([f"{self.path}: REJECTED", *(f"  - {p}" for p in self.problems)])


class _RecordError(Exception):
    """A problem that stops the validation of one record (its message is the problem line)."""


def find_records(paths: Iterable[Path | str]) -> list[Path]:
    """Every ``result.json`` under ``paths``.

    Args:
        paths: files (taken as records whatever their name) and folders (searched recursively
            for files named ``result.json``).

    Returns:
        The record files, without repeats, sorted.

    Raises:
        FileNotFoundError: a path does not exist (the message names it).
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(p for p in path.rglob("result.json") if p.is_file())
        else:
            raise FileNotFoundError(f"{path}: no such file or folder of result records")
    return sorted(found)


def validate_records(paths: Iterable[Path | str]) -> list[ValidationReport]:
    """Validate every record found under ``paths`` (see :func:`find_records`).

    Each task is loaded once and shared between its records.
    """
    cache: TaskCache = {}
    return [validate_record(path, cache=cache) for path in find_records(paths)]


def validate_record(path: Path | str, *, cache: TaskCache | None = None) -> ValidationReport:
    """Check one result record against its schema, its predictions file and its task.

    Args:
        path: the ``result.json`` file; its predictions file lies in the same folder.
        cache: loaded tasks to reuse between calls (filled as tasks are loaded).

    Returns:
        A report; ``ok`` is False when any check failed or a stored metric disagrees with
        the one recomputed from the predictions.
    """
    path = Path(path)
    problems: list[str] = []
    record: dict[str, Any] | None = None
    try:
        record = _read_record(path)
        predicted_ids, predicted = _read_predictions(path, record, problems)
        data, frames = _task_data(record, cache if cache is not None else {})
        _check_task(record, data, problems)
        table = _align(predicted_ids, predicted, data, frames, problems)
        _check_training_fraction(record, data, problems)
        _check_scores(record, data, frames, table, problems)
    except _RecordError as exc:
        problems.append(str(exc))
    report = ValidationReport(path, not problems, problems, record)
    logger.debug("%s", report.summary())
    return report


def _read_record(path: Path) -> dict[str, Any]:
    """The parsed record, checked against the result schema."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _RecordError(f"{path}: cannot read the result record ({exc})") from exc
    if not isinstance(record, dict):
        raise _RecordError(f"{path}: a result record must be a JSON object")
    try:
        validate_result(record)
    except ValueError as exc:
        raise _RecordError(f"{path}: {exc} (expected schema {RESULT_SCHEMA!r})") from exc
    return record


def _get(record: dict[str, Any], dotted: str, kind: type | tuple[type, ...]) -> Any:
    """The value at ``dotted`` (``"task.name"``) in ``record``, which must be a ``kind``."""
    value: Any = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise _RecordError(f"record field {dotted} is missing")
        value = value[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise _RecordError(f"record field {dotted} is {value!r}, not a {_type_names(kind)}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _read_predictions(
    path: Path, record: dict[str, Any], problems: list[str]
) -> tuple[list[str], LabelTable]:
    """Frame ids and predictions from the file the record names; checks its sha256.

    Returns:
        ``(frame_ids, table)``: the ``[n]`` frame ids of the file, in its row order, and the
        predictions as a :class:`LabelTable` with ``n`` frames.
    """
    name = _get(record, "predictions.file", str)
    stored_sha = _get(record, "predictions.sha256", str)
    if name in {"", ".", ".."} or Path(name).name != name:
        raise _RecordError(f"{path}: predictions file {name!r} must be a file name in its folder")
    file = path.parent / name
    try:
        blob = file.read_bytes()
    except OSError as exc:
        raise _RecordError(f"{file}: cannot read the predictions file ({exc})") from exc
    actual_sha = hashlib.sha256(blob).hexdigest()
    if actual_sha != stored_sha:
        problems.append(f"{file}: sha256 {actual_sha} differs from the record's {stored_sha}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            missing = [key for key in PREDICTION_ARRAYS if key not in saved.files]
            if missing:
                raise _RecordError(f"{file}: predictions file lacks arrays {missing}")
            arrays = {key: np.asarray(saved[key]) for key in PREDICTION_ARRAYS}
        table = LabelTable(
            energy_per_atom=arrays["energy_per_atom"].astype(np.float64),
            forces=arrays["forces"].astype(np.float64),
            stress=arrays["stress"].astype(np.float64),
            magmoms=arrays["magmoms"].astype(np.float64),
            atom_offsets=arrays["atom_offsets"].astype(np.int64),
        )
    except (OSError, ValueError, TypeError) as exc:
        raise _RecordError(f"{file}: not a valid predictions file ({exc})") from exc
    frame_ids = [str(i) for i in arrays["frame_ids"].tolist()]
    if len(frame_ids) != table.n_frames:
        raise _RecordError(
            f"{file}: {len(frame_ids)} frame ids for {table.n_frames} predicted frames"
        )
    return frame_ids, table


def _task_data(record: dict[str, Any], cache: TaskCache) -> tuple[TaskData, EvaluationFrames]:
    """The record's task as currently defined, with its dataset and evaluation frames."""
    name = _get(record, "task.name", str)
    if name not in cache:
        try:
            data = TaskData.load(get_task(name))
        except MfbenchError as exc:
            raise _RecordError(
                f"task {name!r} cannot be loaded, metrics not recomputed: {exc}"
            ) from exc
        cache[name] = (data, EvaluationFrames.of(data))
    return cache[name]


def _check_task(record: dict[str, Any], data: TaskData, problems: list[str]) -> None:
    """The record's task version, split fingerprints and dataset must be the current ones.

    Raises:
        _RecordError: the version or split differs, so the metrics cannot be recomputed.
    """
    task = data.task
    version = _get(record, "task.version", int)
    if version != task.version:
        raise _RecordError(
            f"task.version: the record has version {version}, the task definition "
            f"{task.task} has version {task.version}; metrics not recomputed"
        )
    fingerprints = data.split.fingerprints()
    for key in ("split", "test"):
        stored = _get(record, f"task.{key}_fingerprint", str)
        if stored != fingerprints[key]:
            raise _RecordError(
                f"task.{key}_fingerprint: the record has {stored}, task {task.task} "
                f"version {task.version} gives {fingerprints[key]}; metrics not recomputed"
            )
    fidelity = _get(record, "task.target_fidelity", str)
    if fidelity != task.target_fidelity:
        problems.append(
            f"task.target_fidelity: stored {fidelity!r}, the task has {task.target_fidelity!r}"
        )
    meta = data.store.meta
    expected = {
        "dataset.id": meta["dataset"]["id"],
        "dataset.version": meta["dataset"]["version"],
        "dataset.sha256": meta["source"]["sha256"],
    }
    for key, value in expected.items():
        stored = _get(record, key, (str, type(None)))
        if stored != value:
            problems.append(f"{key}: stored {stored!r}, the prepared dataset has {value!r}")


def _align(
    frame_ids: list[str],
    predicted: LabelTable,
    data: TaskData,
    frames: EvaluationFrames,
    problems: list[str],
) -> LabelTable:
    """The predictions reordered to ``frames.needed`` (one row per needed frame).

    Missing, repeated and extra frame ids are problems; missing ones stop the validation.
    """
    row_of: dict[str, int] = {}
    repeated = []
    for row, frame_id in enumerate(frame_ids):
        if frame_id in row_of:
            repeated.append(frame_id)
        row_of.setdefault(frame_id, row)
    needed = [str(i) for i in data.store.frame_ids[frames.needed].tolist()]
    needed_set = set(needed)
    if repeated:
        problems.append(f"predictions repeat {_name_ids(repeated)}")
    extra = sorted(set(row_of) - needed_set)
    if extra:
        problems.append(
            f"predictions hold {len(extra)} frame(s) task {data.task.task} does not ask for: "
            f"{_name_ids(extra)}"
        )
    missing = [i for i in needed if i not in row_of]
    if missing:
        raise _RecordError(
            f"predictions lack {len(missing)} of the {len(needed)} frame(s) task "
            f"{data.task.task} asks for: {_name_ids(missing)}; metrics not recomputed"
        )
    table = predicted.subset([row_of[i] for i in needed])
    expected_atoms = np.diff(data.store.atom_offsets[:])[frames.needed]
    wrong = [needed[k] for k in np.flatnonzero(table.n_atoms != expected_atoms)]
    if wrong:
        raise _RecordError(
            f"predictions have the wrong number of atoms for {_name_ids(wrong)}; "
            "metrics not recomputed"
        )
    return table


def _name_ids(ids: list[str]) -> str:
    """The first few ids, quoted, and how many more there are."""
    shown = ", ".join(repr(i) for i in ids[:_SHOW_IDS])
    return shown if len(ids) <= _SHOW_IDS else f"{shown} and {len(ids) - _SHOW_IDS} more"


def _check_training_fraction(record: dict[str, Any], data: TaskData, problems: list[str]) -> None:
    """The fraction must be one of the task's; its size and fingerprint must match."""
    fraction = _get(record, "fraction", (int, float))
    if fraction not in data.task.fractions.values:
        raise _RecordError(
            f"fraction: {fraction} is not one of task {data.task.task}'s "
            f"{data.task.fractions.values}; metrics not recomputed"
        )
    train = data.split.train_fraction(fraction)
    _compare_into(problems, "n_train_frames", _get(record, "n_train_frames", int), len(train))
    stored = _get(record, "task.train_fraction_fingerprint", str)
    computed = fingerprint(data.store.frame_ids[train])
    if stored != computed:
        problems.append(f"task.train_fraction_fingerprint: stored {stored}, computed {computed}")


def _check_scores(
    record: dict[str, Any],
    data: TaskData,
    frames: EvaluationFrames,
    predicted: LabelTable,
    problems: list[str],
) -> None:
    """Recompute coverage and metrics with mfbench's code and compare with the record."""
    fraction = _get(record, "fraction", (int, float))
    try:
        recomputed = score(data, frames, predicted, float(fraction))
    except ValueError as exc:
        raise _RecordError(f"the predictions cannot be scored: {exc}") from exc
    for key in ("coverage", "metrics", "per_element_energy_mae"):
        _compare_into(problems, key, record[key], recomputed[key])
    _compare_into(
        problems,
        "timing.n_predicted_frames",
        _get(record, "timing.n_predicted_frames", int),
        len(frames.needed),
    )


def _compare_into(problems: list[str], key: str, stored: Any, recomputed: Any) -> None:
    """Append one problem line for every place where ``stored`` and ``recomputed`` differ."""
    problems.extend(differences(key, stored, recomputed))


def differences(key: str, stored: Any, recomputed: Any) -> list[str]:
    """Readable lines naming every disagreement between a stored and a recomputed value.

    Dicts are compared key by key, lists item by item (lists of dicts with an ``element``
    key by element), numbers within :data:`RELATIVE_TOLERANCE` with ``None`` read as NaN and
    NaN equal to NaN, anything else by equality.

    Args:
        key: dotted name of the value, used as the prefix of every line.
        stored: the value in the record (parsed JSON).
        recomputed: the value mfbench computes.

    Returns:
        Lines such as ``metrics.all.energy_mae_mev_per_atom: stored 12.5, recomputed 12.25,
        difference 0.25``; empty when the values agree.
    """
    if isinstance(stored, dict) and isinstance(recomputed, dict):
        return _dict_differences(key, stored, recomputed)
    if isinstance(stored, list) and isinstance(recomputed, list):
        return _list_differences(key, stored, recomputed)
    if _is_number(stored) and _is_number(recomputed):
        return _number_differences(key, stored, recomputed)
    if stored != recomputed or (type(stored) is bool) != (type(recomputed) is bool):
        return [f"{key}: stored {stored!r}, recomputed {recomputed!r}"]
    return []


def _dict_differences(key: str, stored: dict, recomputed: dict) -> list[str]:
    lines = []
    for name in recomputed:
        if name not in stored:
            lines.append(f"{key}.{name}: missing from the record (recomputed {recomputed[name]!r})")
        else:
            lines.extend(differences(f"{key}.{name}", stored[name], recomputed[name]))
    lines.extend(
        f"{key}.{name}: stored {stored[name]!r}, but mfbench computes no such value"
        for name in stored
        if name not in recomputed
    )
    return lines


def _list_differences(key: str, stored: list, recomputed: list) -> list[str]:
    by_element = _keyed_by_element(stored), _keyed_by_element(recomputed)
    if by_element[0] is not None and by_element[1] is not None:
        return _dict_differences(key, *by_element)
    if len(stored) != len(recomputed):
        return [f"{key}: stored {len(stored)} items, recomputed {len(recomputed)}"]
    lines = []
    for index, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
        lines.extend(differences(f"{key}[{index}]", a, b))
    return lines


def _keyed_by_element(items: list) -> dict[str, Any] | None:
    """``{element: item}`` for a list of per-element dicts, else None."""
    if not all(isinstance(item, dict) and "element" in item for item in items):
        return None
    keyed = {str(item["element"]): item for item in items}
    return keyed if len(keyed) == len(items) else None


def _is_number(value: Any) -> bool:
    """True for ints, floats, NumPy numbers and ``None`` (JSON's NaN), False for bools."""
    if isinstance(value, bool | np.bool_):
        return False
    return value is None or isinstance(value, int | float | np.integer | np.floating)


def _number_differences(key: str, stored: Any, recomputed: Any) -> list[str]:
    a = math.nan if stored is None else float(stored)
    b = math.nan if recomputed is None else float(recomputed)
    if (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE):
        return []
    difference = a - b
    return [
        f"{key}: stored {_show(stored)}, recomputed {_show(recomputed)}, "
        f"difference {difference!r} (stored - recomputed)"
    ]


def _show(value: Any) -> str:
    """A number at full precision (``None`` shown as NaN)."""
    if value is None:
        return "NaN (null)"
    return repr(value.item() if isinstance(value, np.generic) else value)
