"""Find result records and validate them by recomputing their metrics from the predictions.

A record (``result.json``, schema :data:`mfbench.results.record.RESULT_SCHEMA`) is trusted only
as far as mfbench can check it. :func:`validate_record` reads the predictions file next to the
record, checks its sha256, loads the record's task as currently defined (its version and split
fingerprints must equal the record's), maps the predictions onto the frames the task asks for
and scores them with :func:`mfbench.evaluation.score`. Every stored value that this recomputes
(coverage, both metric blocks, the per-element energy MAE, the training-fraction size and
fingerprint, the dataset identity) must agree within the metric's tolerance
(:mod:`mfbench.results.agreement`); NaN (stored as JSON ``null``) equals NaN. What cannot be
recomputed (timings, environment, hyperparameters) is only checked for presence by the schema.

A record ends in one of three states (:attr:`ValidationReport.status`):

- ``accepted``: every check passed;
- ``rejected``: the record, its predictions or its metrics are wrong (each problem names the
  file, and the field or frame);
- ``not checked``: this machine cannot check it (its task is not defined here, is another
  version, or its dataset is not prepared or was prepared from another source). That is no
  verdict on the record: :attr:`ValidationReport.fix` says which command makes the check
  possible. The embedded dataset is prepared on demand, so it never causes this.

Validation never raises: an unreadable file, malformed predictions or an unexpected error on
one record become problem lines of that record, and the others are still checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.data.labels import LabelTable
from mfbench.errors import MfbenchError, NotPreparedError, UnknownNameError
from mfbench.evaluation import EvaluationFrames, score
from mfbench.methods.checkpoint_log import ENTRY_TYPES as CHECKPOINT_ENTRY_TYPES
from mfbench.results.agreement import differences
from mfbench.results.predictions import InvalidPredictionsError, parse_predictions
from mfbench.results.record import RESULT_SCHEMA, check_record_keys, params_hash, predictions_file
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.tasks.split import fingerprint

logger = logging.getLogger(__name__)

#: How many frame ids a problem line names before it says "and N more".
_SHOW_IDS = 10

#: Task name → the loaded task and its evaluation frames, or ``(why it cannot be loaded here,
#: the command that would allow it)``; shared between records.
TaskCache = dict[str, tuple[TaskData, EvaluationFrames] | tuple[str, str]]


@dataclass
class ValidationReport:
    """The outcome of validating one result record.

    Attributes:
        path: the ``result.json`` file.
        ok: True when the record was checked and there are no problems.
        problems: one readable line per problem, in the order found (for a record that was not
            checked: why).
        record: the parsed record, or None when the file could not be read as a JSON object.
        fix: for a record that could not be checked, the command that makes the check
            possible (e.g. ``mfbench data prepare mp-r2scan --source PATH``); else None.
        recomputed: what mfbench computed from the predictions (``coverage``, ``metrics``,
            ``per_element_energy_mae``), whether or not it agrees; None when the metrics could
            not be recomputed.
    """

    path: Path
    ok: bool
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    fix: str | None = None
    recomputed: dict[str, Any] | None = None

    @property
    def checked(self) -> bool:
        """False when this machine could not check the record (see :attr:`fix`)."""
        return self.fix is None

    @property
    def status(self) -> str:
        """``"accepted"``, ``"rejected"`` or ``"not checked"``."""
        if not self.checked:
            return "not checked"
        return "accepted" if self.ok else "rejected"

    def summary(self) -> str:
        """``path: ok``, ``path: REJECTED`` or ``path: NOT CHECKED``, then indented lines."""
        if self.ok:
            return f"{self.path}: ok"
        lines = [f"{self.path}: {self.status.upper()}", *(f"  - {p}" for p in self.problems)]
        if self.fix is not None:
            lines.append(f"  to check it: {self.fix}")
        return "\n".join(lines)


class _RecordError(Exception):
    """A problem that stops the validation of one record (its message is the problem line)."""


class _CannotCheckError(Exception):
    """This machine cannot check the record: ``str(exc)`` says why, :attr:`fix` what to run."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.fix = fix


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
    recomputed: dict[str, Any] | None = None
    try:
        record = _read_record(path)
        _check_identity(record, problems)
        _check_provenance(record, problems)
        predicted_ids, predicted = _read_predictions(path, record, problems)
        data, frames = _task_data(record, cache if cache is not None else {})
        _check_task(record, data, problems)
        table = _align(predicted_ids, predicted, data, frames, problems)
        _check_training_fraction(record, data, problems)
        recomputed = _check_scores(record, data, frames, table, problems)
    except _RecordError as exc:
        problems.append(str(exc))
    except _CannotCheckError as exc:
        if not problems:  # nothing found wrong, and the rest cannot be checked here
            report = ValidationReport(path, False, [str(exc)], record, exc.fix)
            logger.debug("%s", report.summary())
            return report
        problems.append(f"metrics not recomputed: {exc}")
    except Exception as exc:  # a record is untrusted input: no shape of it may stop the others
        logger.debug("unexpected error validating %s", path, exc_info=True)
        problems.append(f"{path}: cannot be validated ({type(exc).__name__}: {exc})")
    report = ValidationReport(path, not problems, problems, record, recomputed=recomputed)
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
        check_record_keys(record)
    except ValueError as exc:
        raise _RecordError(f"{path}: {exc} (expected schema {RESULT_SCHEMA!r})") from exc
    return record


#: A sha256 as records write it.
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Fields of a record's ``method.source`` and their types (those of ``checkpoints`` entries are
#: :data:`mfbench.methods.checkpoint_log.ENTRY_TYPES`).
_SOURCE_FIELDS = {"module": str, "file": str, "sha256": str, "distribution": (str, type(None))}


def _check_identity(record: dict[str, Any], problems: list[str]) -> None:
    """The run's seed and hyperparameters: how runs are grouped, so they must be what they say.

    The seed must be an integer in [0, 2**63); ``method.params`` an object whose sha256
    (:func:`mfbench.results.record.params_hash`) is the record's ``method.params_hash``.
    """
    seed = record["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        problems.append(f"seed: {seed!r} is not an integer in [0, 2**63)")
    method = _get(record, "method", dict)
    params = method.get("params")
    if not isinstance(params, dict):
        problems.append(f"method.params: {params!r} is not an object")
    elif method.get("params_hash") != params_hash(params):
        problems.append(
            f"method.params_hash: stored {method.get('params_hash')!r}, the hyperparameters "
            f"stated hash to {params_hash(params)!r}"
        )
    if "selection" in record:
        _check_selection(record["selection"], params, problems)


def _check_selection(selection: Any, params: Any, problems: list[str]) -> None:
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


def _check_provenance(record: dict[str, Any], problems: list[str]) -> None:
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
    entries.append(("method.source", _get(record, "method", dict).get("source"), _SOURCE_FIELDS))
    for where, entry, fields in entries:
        if not isinstance(entry, dict) or set(entry) != set(fields):
            problems.append(f"{where}: {entry!r} does not have exactly the fields {sorted(fields)}")
            continue
        for key, kind in fields.items():
            value = entry[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                problems.append(f"{where}.{key}: {value!r} is not a {_type_names(kind)}")
        if not (isinstance(entry["sha256"], str) and _SHA256.fullmatch(entry["sha256"])):
            problems.append(f"{where}.sha256: {entry['sha256']!r} is not a sha256 in hex")


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
    try:
        file = predictions_file(path.parent, name)
    except ValueError as exc:
        raise _RecordError(f"{path}: {exc}") from exc
    try:
        blob = file.read_bytes()
    except OSError as exc:
        raise _RecordError(f"{file}: cannot read the predictions file ({exc})") from exc
    actual_sha = hashlib.sha256(blob).hexdigest()
    if actual_sha != stored_sha:
        problems.append(f"{file}: sha256 {actual_sha} differs from the record's {stored_sha}")
    try:
        return parse_predictions(file, blob)
    except InvalidPredictionsError as exc:
        raise _RecordError(str(exc)) from exc


def _task_data(record: dict[str, Any], cache: TaskCache) -> tuple[TaskData, EvaluationFrames]:
    """The record's task as currently defined, with its dataset and evaluation frames.

    Raises:
        _CannotCheckError: the task is not defined here, or its dataset cannot be opened (e.g.
            a user-supplied dataset that is not prepared, or a home folder that cannot be
            written); the embedded dataset is prepared on demand by :meth:`TaskData.load`.
    """
    name = _get(record, "task.name", str)
    if name not in cache:
        try:
            data = TaskData.load(get_task(name))
            cache[name] = (data, EvaluationFrames.of(data))
        except UnknownNameError as exc:
            cache[name] = (
                f"task {name!r} is not defined here ({exc})",
                f"add the definition of task {name!r} to the task folder, or check it with the "
                "mfbench release that defines it",
            )
        except NotPreparedError as exc:
            cache[name] = (f"task {name!r}: {exc}", exc.command)
        except (MfbenchError, OSError) as exc:
            cache[name] = (
                f"task {name!r} cannot be loaded here ({exc})",
                "fix the task or dataset problem named, then validate again",
            )
    loaded = cache[name]
    if isinstance(loaded[0], str):
        raise _CannotCheckError(*loaded)
    return loaded


def _check_task(record: dict[str, Any], data: TaskData, problems: list[str]) -> None:
    """The record's task version, split fingerprints and dataset must be the current ones.

    Raises:
        _CannotCheckError: the record is of another task version than this mfbench defines,
            or of a dataset prepared from another source than the store here (one its registry
            pin allows: the pinned file, or any file when the record states an accepted
            mismatch or the registry pins none).
        _RecordError: the split differs although task version and dataset agree, or the
            record claims a dataset source its registry pin rules out.
    """
    task = data.task
    version = _get(record, "task.version", int)
    if version != task.version:
        raise _CannotCheckError(
            f"the record is of task {task.task} version {version}, this mfbench defines version "
            f"{task.version}; metrics not recomputed",
            f"validate it with an mfbench release whose task {task.task} is version {version} "
            f"(see the changelog in tasks/{task.task}.yaml)",
        )
    _check_dataset_source(record, data)
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
    }
    for key, value in expected.items():
        stored = _get(record, key, (str, type(None)))
        if stored != value:
            problems.append(f"{key}: stored {stored!r}, the prepared dataset has {value!r}")


def _check_dataset_source(record: dict[str, Any], data: TaskData) -> None:
    """The record's dataset source must be the store's, or one its registry pin allows."""
    source = data.store.meta["source"]
    stored = _get(record, "dataset.sha256", (str, type(None)))
    if stored == source["sha256"]:
        return
    dataset = data.store.meta["dataset"]["id"]
    pin = source.get("expected_sha256")
    accepted = _get(record, "dataset.checksum_status", (str, type(None))) == "mismatch-accepted"
    if pin is not None and stored != pin and not accepted:
        raise _RecordError(
            f"dataset.sha256: the record has {stored}, but the registry pins {dataset} to "
            f"{pin} and the record states no accepted checksum mismatch; metrics not recomputed"
        )
    override = " --accept-checksum-mismatch" if pin is not None and stored != pin else ""
    raise _CannotCheckError(
        f"the record was computed on {dataset} from a source with sha256 {stored}; the store "
        f"prepared here is from {source['sha256']}; metrics not recomputed",
        f"mfbench data prepare {dataset} --overwrite{override} --source FILE (FILE: the source "
        f"whose sha256 is {stored})",
    )


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
) -> dict[str, Any]:
    """Recompute coverage and metrics with mfbench's code and compare with the record.

    Returns:
        What mfbench computes: ``coverage``, ``metrics``, ``per_element_energy_mae``.
    """
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
    return {key: recomputed[key] for key in ("coverage", "metrics", "per_element_energy_mae")}


def _compare_into(problems: list[str], key: str, stored: Any, recomputed: Any) -> None:
    """Append one problem line for every place where ``stored`` and ``recomputed`` differ."""
    problems.extend(differences(key, stored, recomputed))
