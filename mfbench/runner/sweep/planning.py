"""Plan a sweep: expand a task's matrix, validate it, and decide each run with ``plan_run``.

Every problem is collected and reported together (:func:`plan` raises once), and nothing is
launched when there is one. Each run's decision is :func:`mfbench.runner.plan.plan_run`'s, the
one ``mfbench run`` takes: a run it would reuse is ``skipped``, one it would start or resume is
``pending``, one it would refuse is a planning error (except a method that needs training
frames at a fraction with none, left out when the fractions are the task's own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mfbench.errors import MfbenchError
from mfbench.runner.sweep.spec import RunSpec, SweepSpec
from mfbench.runner.sweep.state import Plan, RunState

logger = logging.getLogger(__name__)

#: Environment variables a worker takes over from the planning process.
_PASSED_ENV = ("MFBENCH_TASKS", "MFBENCH_REGISTRY")


def plan(spec: SweepSpec) -> Plan:
    """Validate ``spec`` and decide every run with :func:`mfbench.runner.plan.plan_run`.

    Launches nothing.

    With the task's fractions (``spec.fractions`` None), a method that needs training frames
    (:attr:`mfbench.methods.Method.needs_training_frames`) is not planned at a fraction with
    none (fraction 0); naming such a fraction explicitly is an error.

    Raises:
        MfbenchError: listing every problem found (unknown task or method, a parameter a
            method rejects, a fraction not in the task or without the training frames a method
            needs, a duplicate or negative value, an unprepared dataset, an existing result
            that cannot be reused).
    """
    from mfbench.paths import home
    from mfbench.runner.plan import (
        Decision,
        PlannedMethod,
        Refusal,
        fraction_problem,
        plan_run,
    )
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    task = get_task(spec.task)  # an unknown task suggests the closest names
    problems: list[str] = []
    fractions = tuple(spec.fractions) if spec.fractions is not None else task.fractions.values
    problems += _duplicates("method", spec.methods) + _duplicates("fraction", fractions)
    problems += _duplicates("seed", spec.seeds)
    if not spec.methods:
        problems.append("no methods given")
    if not fractions:
        problems.append("no fractions given")
    if not spec.seeds:
        problems.append("no seeds given")
    problems += [
        f"fraction {f:g} is not one of task {task.task}'s fractions "
        f"{', '.join(f'{v:g}' for v in task.fractions.values)}"
        for f in fractions
        if fraction_problem(task, f)
    ]
    problems += [f"seed {s} is negative (seeds are ≥ 0)" for s in spec.seeds if s < 0]
    methods: dict[str, PlannedMethod] = {}
    for method in dict.fromkeys(spec.methods):
        try:
            methods[method] = PlannedMethod.resolve(method, spec.params)
        except MfbenchError as exc:
            problems.append(str(exc))
    problems += _shared_folders(methods)
    try:
        data = TaskData.load(task)
    except MfbenchError as exc:
        problems.append(str(exc))
    if problems:
        raise MfbenchError(_bullets("invalid sweep", problems))

    out = Path(spec.out).resolve()
    env = {"MFBENCH_HOME": str(home().resolve())}
    env.update({k: os.environ[k] for k in _PASSED_ENV if k in os.environ})
    options = spec.run_options()
    runs: list[RunState] = []
    no_frames: dict[str, None] = {}  # refusals for want of training frames, in matrix order
    left_out: dict[tuple[str, float], None] = {}
    refused: list[str] = []
    for method in spec.methods:
        for fraction in fractions:
            for seed in spec.seeds:
                decided = plan_run(
                    task, methods[method], fraction, seed, out=out, options=options, data=data
                )
                if decided.refusal is Refusal.NO_TRAINING_FRAMES:
                    no_frames[decided.reason] = None
                    left_out[(method, fraction)] = None
                    continue
                if decided.refusal is not None:
                    refused.append(f"{decided.reason}; or delete the folder")
                    continue
                run = RunSpec(
                    task=task.task, method=method, fraction=float(fraction), seed=int(seed),
                    out=str(out), options=options, env=env, folder=str(decided.folder),
                )  # fmt: skip
                status = "skipped" if decided.decision is Decision.REUSE else "pending"
                runs.append(RunState(run, status))
    if no_frames and spec.fractions is not None:
        raise MfbenchError(_bullets("invalid sweep", list(no_frames)))
    if refused:
        raise MfbenchError(_bullets("cannot reuse existing results", refused))
    if left_out:
        logger.info(
            "fraction(s) %s have no training frames: left out for %s",
            ", ".join(f"{f:g}" for f in sorted({f for _, f in left_out})),
            ", ".join(dict.fromkeys(m for m, _ in left_out)),
        )
    chosen = tuple(float(f) for f in fractions)
    resolved = replace(spec, out=out, fractions=chosen)
    return Plan(sweep_id(resolved, task.version), resolved, task.version, chosen, runs)


def sweep_id(spec: SweepSpec, version: int) -> str:
    """``<task>-<8 hex>``: the same matrix (in any order) gives the same id.

    The id is that of the task, its version, the sorted methods, fractions and seeds, and the
    params; run options that do not change results (device, data workers) are not part of it.
    """
    key = {
        "task": spec.task, "version": version, "methods": sorted(spec.methods),
        "fractions": sorted(spec.fractions or ()), "seeds": sorted(spec.seeds),
        "params": spec.params,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return f"{spec.task}-{digest[:8]}"


def _bullets(title: str, problems: list[str]) -> str:
    return f"{title}:\n" + "\n".join(f"  - {p}" for p in problems)


def _duplicates(kind: str, values: Iterable[Any]) -> list[str]:
    """One problem per value given more than once (no silent de-duplication)."""
    counts = Counter(values)
    return [f"{kind} {v!r} is given {n} times" for v, n in counts.items() if n > 1]


def _shared_folders(methods: dict[str, Any]) -> list[str]:
    """One problem per run-folder name that several method specs share.

    E.g. a registered name and its ``module:Class``: their runs would overwrite each other.
    """
    claims: dict[str, list[str]] = {}
    for spec, method in methods.items():
        claims.setdefault(method.entry, []).append(spec)
    return [
        f"methods {' and '.join(map(repr, specs))} are the same method (run folder {entry!r})"
        for entry, specs in claims.items()
        if len(specs) > 1
    ]
