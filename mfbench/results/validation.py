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
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.data.checksum import fingerprint
from mfbench.data.labels import LabelTable
from mfbench.errors import MfbenchError, NotPreparedError, UnknownNameError
from mfbench.evaluation import EvaluationFrames, score
from mfbench.results.agreement import differences
from mfbench.results.predictions import InvalidPredictionsError, parse_predictions
from mfbench.results.record import predictions_file
from mfbench.results.record_fields import (
    RecordError,
    check_identity,
    check_provenance,
    get_field,
    read_record,
)
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

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
        record = read_record(path)
        check_identity(record, problems)
        check_provenance(record, problems)
        predicted_ids, predicted = _read_predictions(path, record, problems)
        data, frames = _task_data(record, cache if cache is not None else {})
        _check_task(record, data, problems)
        table = _align(predicted_ids, predicted, data, frames, problems)
        _check_training_fraction(record, data, problems)
        recomputed = _check_scores(record, data, frames, table, problems)
    except RecordError as exc:
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


def _read_predictions(
    path: Path, record: dict[str, Any], problems: list[str]
) -> tuple[list[str], LabelTable]:
    """Frame ids and predictions from the file the record names; checks its sha256.

    Returns:
        ``(frame_ids, table)``: the ``[n]`` frame ids of the file, in its row order, and the
        predictions as a :class:`LabelTable` with ``n`` frames.
    """
    name = get_field(record, "predictions.file", str)
    stored_sha = get_field(record, "predictions.sha256", str)
    try:
        file = predictions_file(path.parent, name)
    except ValueError as exc:
        raise RecordError(f"{path}: {exc}") from exc
    try:
        blob = file.read_bytes()
    except OSError as exc:
        raise RecordError(f"{file}: cannot read the predictions file ({exc})") from exc
    actual_sha = hashlib.sha256(blob).hexdigest()
    if actual_sha != stored_sha:
        problems.append(f"{file}: sha256 {actual_sha} differs from the record's {stored_sha}")
    try:
        return parse_predictions(file, blob)
    except InvalidPredictionsError as exc:
        raise RecordError(str(exc)) from exc


def _task_data(record: dict[str, Any], cache: TaskCache) -> tuple[TaskData, EvaluationFrames]:
    """The record's task as currently defined, with its dataset and evaluation frames.

    Raises:
        _CannotCheckError: the task is not defined here, or its dataset cannot be opened (e.g.
            a user-supplied dataset that is not prepared, or a home folder that cannot be
            written); the embedded dataset is prepared on demand by :meth:`TaskData.load`.
    """
    name = get_field(record, "task.name", str)
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
        RecordError: the split differs although task version and dataset agree, or the
            record claims a dataset source its registry pin rules out.
    """
    task = data.task
    version = get_field(record, "task.version", int)
    if version != task.version:
        raise _CannotCheckError(
            f"the record is of task {task.task} version {version}, this mfbench defines version "
            f"{task.version}; metrics not recomputed",
            f"validate it with an mfbench release whose task {task.task} is version {version} "
            f"(see the changelog in mfbench/tasks/shipped/{task.task}.yaml)",
        )
    _check_dataset_source(record, data)
    fingerprints = data.split.fingerprints()
    for key in ("split", "test"):
        stored = get_field(record, f"task.{key}_fingerprint", str)
        if stored != fingerprints[key]:
            raise RecordError(
                f"task.{key}_fingerprint: the record has {stored}, task {task.task} "
                f"version {task.version} gives {fingerprints[key]}; metrics not recomputed"
            )
    fidelity = get_field(record, "task.target_fidelity", str)
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
        stored = get_field(record, key, (str, type(None)))
        if stored != value:
            problems.append(f"{key}: stored {stored!r}, the prepared dataset has {value!r}")


def _check_dataset_source(record: dict[str, Any], data: TaskData) -> None:
    """The record's dataset source must be the store's, or one its registry pin allows."""
    source = data.store.meta["source"]
    stored = get_field(record, "dataset.sha256", (str, type(None)))
    if stored == source["sha256"]:
        return
    dataset = data.store.meta["dataset"]["id"]
    pin = source.get("expected_sha256")
    accepted = (
        get_field(record, "dataset.checksum_status", (str, type(None))) == "mismatch-accepted"
    )
    if pin is not None and stored != pin and not accepted:
        raise RecordError(
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
        raise RecordError(
            f"predictions lack {len(missing)} of the {len(needed)} frame(s) task "
            f"{data.task.task} asks for: {_name_ids(missing)}; metrics not recomputed"
        )
    table = predicted.subset([row_of[i] for i in needed])
    expected_atoms = np.diff(data.store.atom_offsets[:])[frames.needed]
    wrong = [needed[k] for k in np.flatnonzero(table.n_atoms != expected_atoms)]
    if wrong:
        raise RecordError(
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
    fraction = get_field(record, "fraction", (int, float))
    if fraction not in data.task.fractions.values:
        raise RecordError(
            f"fraction: {fraction} is not one of task {data.task.task}'s "
            f"{data.task.fractions.values}; metrics not recomputed"
        )
    train = data.split.train_fraction(fraction)
    _compare_into(problems, "n_train_frames", get_field(record, "n_train_frames", int), len(train))
    stored = get_field(record, "task.train_fraction_fingerprint", str)
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
    fraction = get_field(record, "fraction", (int, float))
    try:
        recomputed = score(data, frames, predicted, float(fraction))
    except ValueError as exc:
        raise RecordError(f"the predictions cannot be scored: {exc}") from exc
    for key in ("coverage", "metrics", "per_element_energy_mae"):
        _compare_into(problems, key, record[key], recomputed[key])
    _compare_into(
        problems,
        "timing.n_predicted_frames",
        get_field(record, "timing.n_predicted_frames", int),
        len(frames.needed),
    )
    return {key: recomputed[key] for key in ("coverage", "metrics", "per_element_energy_mae")}


def _compare_into(problems: list[str], key: str, stored: Any, recomputed: Any) -> None:
    """Append one problem line for every place where ``stored`` and ``recomputed`` differ."""
    problems.extend(differences(key, stored, recomputed))
