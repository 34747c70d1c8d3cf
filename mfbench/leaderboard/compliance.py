"""Runs the leaderboard shows but does not rank: those that broke the data rules.

The rule is the one of :mod:`mfbench.submissions`: a run may learn target-fidelity labels
(the task's ``target_fidelity``, r2SCAN) only from its own training fraction. A record shows
that it broke the rule when one of its hyperparameters (``method.params``, at any depth, under
any key: ``base_model``, ``checkpoint``, …) is a string naming a checkpoint known to be trained
on those labels (:func:`mfbench.submissions.target_trained_checkpoint`, e.g. chgnet's shipped
``r2scan`` model, trained on all of MP-r2SCAN). Such runs are reference rows: shown apart with
the reason, never ranked, summarised or fitted.

Checkpoints are recognised by name only, as in submissions; what a record cannot show (a
renamed checkpoint, target labels read by the method itself) is for a submission's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mfbench.leaderboard.safety import display_text
from mfbench.submissions import target_trained_checkpoint

#: Characters of a hyperparameter's path kept in an entry's tag and a reason.
_PATH_SHOWN = 60


@dataclass(frozen=True)
class NonCompliance:
    """Why a run is not ranked.

    Attributes:
        tag: the hyperparameters that name target-trained checkpoints, as the entry's label
            shows them, e.g. ``"base_model=r2scan"`` (paths of untrusted keys, shortened).
        reason: one sentence per such hyperparameter, joined with ``"; "``, e.g.
            ``"method.params.base_model is 'r2scan': CHGNet's released r2scan model, trained
            on all of MP-r2SCAN, so the run has seen r2scan labels beyond its training fraction
            of task mp-r2scan"``.
    """

    tag: str
    reason: str


def non_compliance(record: Mapping[str, Any]) -> NonCompliance | None:
    """Why the run of a valid ``record`` must not be ranked, or None when nothing shows it.

    Args:
        record: a result record accepted by :func:`mfbench.results.validate_records` (so its
            ``task.target_fidelity`` is the task's).
    """
    task = record["task"]
    fidelity, name = str(task["target_fidelity"]), str(task["name"])
    hits = [
        (path, value, seen)
        for path, value in _strings(record["method"].get("params"))
        if (seen := target_trained_checkpoint(value, fidelity)) is not None
    ]
    if not hits:
        return None
    shown = [(display_text(path or "(params)", _PATH_SHOWN), v, seen) for path, v, seen in hits]
    return NonCompliance(
        tag=", ".join(f"{path}={value}" for path, value, _ in shown),
        reason="; ".join(
            f"method.params.{path} is {value!r}: {seen}, so the run has seen {fidelity} labels "
            f"beyond its training fraction of task {name}"
            for path, value, seen in shown
        ),
    )


def _strings(params: Any) -> list[tuple[str, str]]:
    """``(path, value)`` of every string in ``params``, e.g. ``("stages[0].model", "r2scan")``.

    Walked without recursion, so no nesting depth hides a value; sorted by path.
    """
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", params)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found.append((path, value))
        elif isinstance(value, Mapping):
            stack += [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            stack += [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    return sorted(found)
