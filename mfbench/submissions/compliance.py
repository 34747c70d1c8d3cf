"""A submission's compliance with the data rules, computed from its metadata and records.

See :mod:`mfbench.submissions` for the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mfbench.data.checkpoints import identify_checkpoint
from mfbench.results.compliance import non_compliance
from mfbench.submissions.layout import run_path
from mfbench.tasks.definition import Task, get_task

logger = logging.getLogger(__name__)

_FRAMES_RANK = {"train-fraction": 0, "train-split": 1, "all": 2, "subset": 2}


@dataclass(frozen=True)
class Compliance:
    """Whether a submission kept to the benchmark's data rules.

    Attributes:
        reasons: one line per rule broken or use left undeclared; empty when compliant.
    """

    reasons: tuple[str, ...] = ()

    @property
    def compliant(self) -> bool:
        """True when there is no reason to flag the submission."""
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        """``{"compliant": bool, "reasons": [str, ...]}``."""
        return {"compliant": self.compliant, "reasons": list(self.reasons)}


def check_compliance(meta: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Compliance:
    """Judge a submission against the data rules (see the module docstring).

    Args:
        meta: validated submission metadata (:func:`load_submission_meta`).
        records: the submission's result records (parsed ``result.json``); their tasks are
            loaded by name from the task folder.

    Returns:
        The compliance, with one reason per rule broken (each naming the field or task).

    Raises:
        mfbench.errors.UnknownNameError: a record names a task that does not exist.
    """
    reasons: dict[str, None] = {}
    declared: list[Mapping[str, Any]] = list(meta.get("training_data") or [])
    checkpoint = meta.get("starting_checkpoint")
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_task.setdefault(str(record["task"]["name"]), []).append(record)
    for name in sorted(by_task):
        task = get_task(name)
        for reason in (
            *_declared_data_reasons(task, declared),
            *_checkpoint_reasons(task, checkpoint),
            *_undeclared_use_reasons(task, by_task[name], declared),
        ):
            reasons[reason] = None
    for reason in _record_reasons(sorted(records, key=lambda r: run_path(r).as_posix())):
        reasons[reason] = None
    return Compliance(tuple(reasons))


def _declared_data_reasons(task: Task, declared: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    target, own = task.target_fidelity, task.dataset.id
    granted = {a.fidelity: a.scope for a in task.auxiliary_data if a.kind == "same-frames"}
    for index, entry in enumerate(declared):
        dataset, fidelity, frames = entry["dataset"], entry["fidelity"], entry["frames"]
        where = f"training_data[{index}] ({fidelity} labels of {dataset}, frames {frames})"
        if fidelity == target and dataset != own:
            yield (
                f"{where}: {target} labels from outside task {task.task}'s dataset {own}; "
                f"{target} labels may only come from the run's training fraction"
            )
        elif fidelity == target and frames != "train-fraction":
            yield (
                f"{where}: {target} labels beyond the run's training fraction of task "
                f"{task.task} (only frames: train-fraction is allowed)"
            )
        elif fidelity != target and dataset == own:
            scope = granted.get(fidelity)
            if scope is None:
                yield f"{where}: task {task.task} grants no {fidelity} labels of {own}"
            elif _FRAMES_RANK[frames] > _FRAMES_RANK[scope]:
                yield f"{where}: task {task.task} grants {fidelity} labels of {own} ({scope} only)"


def _checkpoint_reasons(task: Task, checkpoint: Mapping[str, Any] | None) -> Iterable[str]:
    if not checkpoint:
        return
    name = str(checkpoint["name"])
    known = identify_checkpoint(name=name, sha256=checkpoint.get("sha256"))
    if known is not None and known.seen(task.target_fidelity) is not None:
        yield (
            f"starting_checkpoint {name!r} is {known.name}, trained on {task.target_fidelity} "
            f"labels of {known.seen(task.target_fidelity)}, so it has seen them beyond the "
            f"training fraction of task {task.task}"
        )


def _record_reasons(records: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    """The record-level findings (:func:`mfbench.results.compliance.non_compliance`)."""
    for record in records:
        flag = non_compliance(record)
        if flag is not None:
            yield f"{run_path(record).as_posix()}: {flag.reason}"


def _undeclared_use_reasons(
    task: Task, records: Sequence[Mapping[str, Any]], declared: Sequence[Mapping[str, Any]]
) -> Iterable[str]:
    pairs = {(entry["dataset"], entry["fidelity"]) for entry in declared}
    own, target = task.dataset.id, task.target_fidelity
    if any(int(r["n_train_frames"]) > 0 for r in records) and (own, target) not in pairs:
        yield (
            f"runs of task {task.task} learn from its {target} training fraction, but "
            f"training_data does not declare {{dataset: {own}, fidelity: {target}, "
            "frames: train-fraction}"
        )
    used = sorted({str(name) for r in records for name in r.get("auxiliary_used") or []})
    for fidelity in used:
        sources = [
            own if aux.kind == "same-frames" or aux.dataset is None else aux.dataset.id
            for aux in task.auxiliary_data
            if aux.fidelity == fidelity
        ]
        for dataset in sources:
            if (dataset, fidelity) not in pairs:
                yield (
                    f"runs of task {task.task} used the auxiliary {fidelity} labels of "
                    f"{dataset}, but training_data does not declare them"
                )
