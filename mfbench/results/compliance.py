"""Whether a run kept the data rule, computed from its record: never taken from a declaration.

The rule: a run may learn target-fidelity labels (its task's ``target_fidelity``, r2SCAN) only
from its own training fraction. A record shows that it broke the rule when

- a weights file the run read (``checkpoints``, recorded by the runner with its sha256, see
  :mod:`mfbench.methods.checkpoint_log`) is a known checkpoint trained on the target fidelity
  (:mod:`mfbench.data.checkpoints`: CHGNet's released ``r2scan`` model, SevenNet-MF-0, …),
  recognised by sha256, file name or name; or
- one of its hyperparameters (``method.params``, at any depth, under any key) is a string
  naming such a checkpoint.

Such runs are reference rows: shown apart with the reason, never ranked, summarised or fitted.
What no record can show (weights built into a method's source, target labels read by native
code) is for review of the submitted code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mfbench.data.checkpoints import KnownCheckpoint, identify_checkpoint

#: Characters of a sha256 shown in a reason.
_SHA_SHOWN = 12


@dataclass(frozen=True)
class NonCompliance:
    """Why a run is not ranked.

    Attributes:
        tag: short, for the entry's label, e.g. ``"base_model=r2scan"`` or
            ``"loaded chgnet-r2scan"``.
        reason: one sentence per finding, joined with ``"; "``, e.g. ``"the run read
            chgnet/pretrained/r2scan/….pth.tar (sha256 8eba3db0f35a…), chgnet-r2scan: trained
            on r2scan labels of all of MP-r2SCAN, so it has seen r2scan labels beyond its
            training fraction of task mp-r2scan"``.
    """

    tag: str
    reason: str


def non_compliance(record: Mapping[str, Any]) -> NonCompliance | None:
    """Why the run of ``record`` must not be ranked, or None when nothing shows it.

    Args:
        record: a result record (schema ``mfbench.result/3``) that validation accepted.
    """
    task = record["task"]
    fidelity, name = str(task["target_fidelity"]), str(task["name"])
    tags: list[str] = []
    reasons: list[str] = []
    for entry in _checkpoint_entries(record.get("checkpoints")):
        known = identify_checkpoint(
            name=entry.get("name"), sha256=entry.get("sha256"), file=entry.get("file")
        )
        if known is not None and known.seen(fidelity) is not None:
            tags.append(f"loaded {known.name}")
            sha = str(entry.get("sha256", ""))[:_SHA_SHOWN]
            reasons.append(
                f"the run read {entry.get('file')} (sha256 {sha}…), {_saw(known, fidelity)}, "
                f"so it has seen {fidelity} labels beyond its training fraction of task {name}"
            )
    for path, value in _strings(record["method"].get("params")):
        known = identify_checkpoint(name=value)
        if known is not None and known.seen(fidelity) is not None:
            tags.append(f"{path or '(params)'}={value}")
            reasons.append(
                f"method.params.{path} is {value!r}: {_saw(known, fidelity)}, so the run has "
                f"seen {fidelity} labels beyond its training fraction of task {name}"
            )
    if not reasons:
        return None
    return NonCompliance(", ".join(dict.fromkeys(tags)), "; ".join(dict.fromkeys(reasons)))


def _saw(known: KnownCheckpoint, fidelity: str) -> str:
    return f"{known.name}: trained on {fidelity} labels of {known.seen(fidelity)}"


def _checkpoint_entries(value: Any) -> list[Mapping[str, Any]]:
    """The entries of a record's ``checkpoints`` that are objects (validation checks the rest)."""
    return [entry for entry in value or [] if isinstance(entry, Mapping)]


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
