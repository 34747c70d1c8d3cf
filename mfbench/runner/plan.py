"""Decide what one run does before it does it: start, resume, reuse a finished result, or refuse.

:func:`plan_run` is the one decision ``mfbench run`` (:func:`mfbench.runner.run`) and
``mfbench sweep`` (:func:`mfbench.runner.sweep.plan`) both take, so a folder the sweep skips is
one the run would reuse, and a run the sweep launches is one the run would start:

- **refuse** when the fraction is not one of the task's, when the method needs training
  frames and the fraction has none, or (without ``force``) when the folder holds a result for
  other hyperparameters (rerunning would silently replace it);
- **reuse** (without ``force``) a complete record for the same hyperparameters
  (:func:`mfbench.results.record.existing_record`);
- **resume** when the folder holds ``checkpoints/`` a killed run left (the method may continue
  from them);
- **start** otherwise.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfbench.errors import MfbenchError
from mfbench.methods import Method, get_method
from mfbench.methods.params import check_params
from mfbench.paths import locks_dir
from mfbench.results.record import existing_record, params_hash, run_folder
from mfbench.runner.options import RunOptions

if TYPE_CHECKING:
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import Task

logger = logging.getLogger(__name__)


class Decision(enum.Enum):
    """What a planned run does."""

    START = "start"
    RESUME = "resume"
    REUSE = "reuse"
    REFUSE = "refuse"


class Refusal(enum.Enum):
    """Why a run may not start; the value is the exception :func:`mfbench.runner.run` raises."""

    #: the fraction is not one of the task's
    FRACTION = ValueError
    #: the method needs training frames and the fraction has none
    NO_TRAINING_FRAMES = MfbenchError
    #: the folder holds a result for other hyperparameters (without ``force``)
    OTHER_HYPERPARAMETERS = FileExistsError


@dataclass(frozen=True)
class PlannedMethod:
    """A method as a run trains it: the instance, its folder name and its params hash.

    Attributes:
        spec: the method spec as given (registered name or ``module:Class``).
        method: the instance, built with the run's hyperparameters.
        entry: its folder name under the task: the registered name, or
            ``<name>@<first 8 hex of params_hash>`` when hyperparameters were given.
        params_hash: :func:`mfbench.results.record.params_hash` of the instance's parameters
            (what a reusable record must state).
    """

    spec: str
    method: Method
    entry: str
    params_hash: str

    @classmethod
    def resolve(cls, method_spec: str, params: dict[str, Any] | None = None) -> PlannedMethod:
        """Build the method with ``params`` and name its folder.

        Raises:
            MfbenchError: unknown method (from :func:`mfbench.methods.get_method`), a parameter
                it does not have, lacks or of the wrong type
                (:func:`mfbench.methods.params.check_params`), or a constructor that rejects
                ``params`` (``TypeError``, ``ValueError``).
        """
        method_class = get_method(method_spec)
        name = method_class.name or method_spec
        check_params(method_class, name, params or {})
        try:
            method: Method = method_class(**(params or {}))
        except (TypeError, ValueError) as exc:
            raise MfbenchError(
                f"method {name} rejects the parameters {params or {}}: {exc}"
            ) from exc
        digest = params_hash(method.get_params())
        entry = f"{name}@{digest[:8]}" if params else name
        return cls(method_spec, method, entry, digest)


@dataclass(frozen=True)
class RunPlan:
    """One run and what it will do.

    Attributes:
        task: the task.
        method: the method as the run trains it.
        fraction: training fraction.
        seed: run seed.
        folder: the run folder (:func:`mfbench.results.record.run_folder`).
        options: how to run.
        decision: start, resume, reuse or refuse.
        reason: why (for a refusal: the message its error carries).
        record: the record a ``REUSE`` returns, else None.
        refusal: why a ``REFUSE`` refuses, else None.
    """

    task: Task
    method: PlannedMethod
    fraction: float
    seed: int
    folder: Path
    options: RunOptions
    decision: Decision
    reason: str = ""
    record: dict[str, Any] | None = None
    refusal: Refusal | None = None

    def raise_if_refused(self) -> None:
        """Raise the refusal's exception (:class:`Refusal`) with :attr:`reason`, if refused."""
        if self.refusal is not None:
            raise self.refusal.value(self.reason)


def fraction_problem(task: Task, fraction: float) -> str | None:
    """Why ``fraction`` cannot be run on ``task`` (it is not one of the task's), or None."""
    if fraction in task.fractions.values:
        return None
    return f"fraction {fraction} is not one of task {task.task}'s {task.fractions.values}"


def training_frames_problem(
    method: PlannedMethod, task: Task, data: TaskData, fraction: float
) -> str | None:
    """Why the method cannot run at ``fraction``: it needs training frames, there are none."""
    if not method.method.needs_training_frames or len(data.split.train_fraction(fraction)):
        return None
    return (
        f"{method.entry} needs training frames; fraction {fraction:g} of task {task.task} has "
        "none (use a zero-shot method there)"
    )


def plan_run(
    task: Task,
    method: PlannedMethod,
    fraction: float,
    seed: int,
    *,
    out: Path,
    options: RunOptions,
    data: TaskData,
) -> RunPlan:
    """Decide what the run (task, method, fraction, seed) under ``out`` does.

    Reads the run folder (its ``result.json`` and ``checkpoints/``); writes nothing. Call it
    holding the folder's lock (:func:`run_lock`) when the decision is acted on.

    Args:
        task: the task.
        method: the method (:meth:`PlannedMethod.resolve` with ``options.params``).
        fraction: training fraction.
        seed: run seed.
        out: results folder.
        options: how to run (``force`` skips the reading of an existing result).
        data: the task's data (to see whether the fraction has training frames).

    Returns:
        The plan; see the module docstring for the rules.

    Raises:
        MfbenchError: the task or method name cannot name a folder.
    """
    folder = run_folder(out, task.task, task.version, method.entry, fraction, seed)
    plan = {"task": task, "method": method, "fraction": fraction, "seed": seed,
            "folder": folder, "options": options}  # fmt: skip
    problem = fraction_problem(task, fraction)
    if problem:
        return RunPlan(**plan, decision=Decision.REFUSE, reason=problem, refusal=Refusal.FRACTION)
    problem = training_frames_problem(method, task, data, fraction)
    if problem:
        return RunPlan(
            **plan, decision=Decision.REFUSE, reason=problem, refusal=Refusal.NO_TRAINING_FRAMES
        )
    if not options.force:
        existing = existing_record(folder, method.params_hash)
        if existing.other_params_hash is not None:
            reason = (
                f"{folder} holds a result for other hyperparameters (params hash "
                f"{existing.other_params_hash[:8]}…); rerun with force (--force) to replace "
                "it, or write to another --out"
            )
            return RunPlan(
                **plan,
                decision=Decision.REFUSE,
                reason=reason,
                refusal=Refusal.OTHER_HYPERPARAMETERS,
            )
        if existing.reusable:
            return RunPlan(
                **plan, decision=Decision.REUSE, reason="complete", record=existing.record
            )
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        return RunPlan(**plan, decision=Decision.RESUME, reason=f"checkpoints in {checkpoints}")
    return RunPlan(**plan, decision=Decision.START)


def run_lock(folder: Path) -> Path:
    """The lock file of a run folder (one process at a time works in it).

    It lies in ``$MFBENCH_HOME/locks``, named by a hash of the folder's resolved path, so that
    results folders hold only results.
    """
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:24]
    return locks_dir() / f"run-{key}.lock"
