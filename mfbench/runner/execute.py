"""``mfbench run``: one (task, fraction, method, seed) from training to a result record.

A run folder ``<out>/<task>/v<version>/<method>/fraction-<f>/seed-<s>/``
(:func:`mfbench.results.record.run_folder`) holds ``result.json`` (schema
:data:`mfbench.results.record.RESULT_SCHEMA`, checked, written atomically last),
``predictions.npz`` (its sha256 is in the record) and the saved ``model/``. The record states
what produced the numbers: the method's code (its module's sha256 beside mfbench's git commit)
and every weights file the method read while fitting and predicting, with its sha256
(:mod:`mfbench.methods.checkpoint_log`); compliance is computed from these
(:mod:`mfbench.results.compliance`). One process at a time works in a run folder (a lock).
While a run is unfinished, ``checkpoints/`` holds what methods that resume wrote (the trained
baselines write one per epoch): a killed run started again with the same arguments continues
from there, and the folder is removed once the result is written. Runs given hyperparameters
(``params``) live under ``<method>@<first 8 hex of the params hash>``. Whether a run starts,
resumes, reuses a complete result or is refused is decided by
:func:`mfbench.runner.plan.plan_run`, as for ``mfbench sweep``. Metrics are computed by
mfbench from the predictions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.atomic_write import write_bytes_atomic, write_json_atomic
from mfbench.data.frameset import FrameSet
from mfbench.evaluation import EvaluationFrames, predictions_bytes, score
from mfbench.locks import exclusive_lock
from mfbench.methods import FitContext
from mfbench.methods.checkpoint_log import CheckpointLog
from mfbench.paths import datasets_dir, home
from mfbench.provenance import environment
from mfbench.results.record import (
    RESULT_SCHEMA,
    check_record_keys,
    params_hash,
    record_header,
    run_folder,
)
from mfbench.runner.method_source import method_source
from mfbench.runner.options import RunOptions, default_data_workers
from mfbench.runner.plan import (
    Decision,
    PlannedMethod,
    RunPlan,
    fraction_problem,
    plan_run,
    run_lock,
)
from mfbench.runner.selection import applicable_grid, fit_and_select, grid_points
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

logger = logging.getLogger(__name__)


def run(
    task_name: str,
    method_spec: str,
    fraction: float,
    seed: int,
    *,
    out: Path,
    device: str = "cpu",
    params: dict[str, Any] | None = None,
    force: bool = False,
    progress: bool = True,
    data_workers: int | None = None,
) -> dict[str, Any]:
    """Train ``method_spec`` on the task's training fraction, predict, score, record.

    ``device``, ``params``, ``force`` and ``data_workers`` are the run's
    :class:`~mfbench.runner.options.RunOptions` (``data_workers``: processes the method may use
    to prepare its data, :attr:`mfbench.methods.FitContext.data_workers`; default
    :func:`~mfbench.runner.options.default_data_workers`). One process at a time works in a
    run folder: a second one stops with :class:`mfbench.locks.LockedError` naming the first.

    Returns:
        The result record (also written to ``<run folder>/result.json``), or the complete
        record the folder already holds for the same hyperparameters (unless ``force``).

    Raises:
        ValueError: the fraction is not one of the task's.
        MfbenchError: unknown method or parameters it rejects; the method needs training
            frames and the fraction has none.
        FileExistsError: the folder holds a result for other hyperparameters (without
            ``force``).
        mfbench.locks.LockedError: another process is running in the same folder.
    """
    options = RunOptions(
        device=device, params=dict(params or {}), data_workers=data_workers, force=force
    )
    task = get_task(task_name)
    problem = fraction_problem(task, fraction)
    if problem:
        raise ValueError(problem)
    # the method first, before any data is read: its name and parameters are checked there;
    # watched from the import on: a module that loads weights when imported is recorded too
    checkpoint_log = CheckpointLog(ignore=[datasets_dir(), home() / "graphs"])
    with checkpoint_log.watching():
        method = PlannedMethod.resolve(method_spec, options.params)
    folder = run_folder(out, task.task, task.version, method.entry, fraction, seed)
    data = TaskData.load(task)
    with exclusive_lock(run_lock(folder), what=f"run folder {folder}", wait=False):
        plan = plan_run(task, method, fraction, seed, out=out, options=options, data=data)
        plan.raise_if_refused()
        if plan.decision is Decision.REUSE and plan.record is not None:
            logger.info("skipping %s: already complete (use force to rerun)", plan.folder)
            return plan.record
        checkpoint_log.own_folder(plan.folder)
        return execute_plan(plan, data, checkpoint_log, progress=progress)


def _auxiliary_sources(data: TaskData, fraction: float) -> dict[str, Callable[[], FrameSet]]:
    sources: dict[str, Callable[[], FrameSet]] = {}
    for aux in data.task.auxiliary_data:
        if aux.kind == "same-frames":
            if aux.scope == "train-fraction":
                indices = data.split.train_fraction(fraction)
            elif aux.scope == "train-split":
                indices = data.split.indices("train")
            else:
                indices = np.arange(len(data.store))
            sources[aux.fidelity] = lambda i=indices, f=aux.fidelity: FrameSet(data.store, i, f)
        else:
            from mfbench.data.registry import get_dataset
            from mfbench.data.store import FrameStore

            entry = get_dataset(aux.dataset.id)  # type: ignore[union-attr]

            def load(entry=entry, fidelity=aux.fidelity) -> FrameSet:
                store = FrameStore.open(entry.store_path())
                return FrameSet(store, np.arange(len(store)), fidelity)

            sources[aux.fidelity] = load
    return sources


def execute_plan(
    plan: RunPlan, data: TaskData, checkpoint_log: CheckpointLog, *, progress: bool = True
) -> dict[str, Any]:
    """Fit, save, predict, score and write the record of a plan that starts or resumes.

    The caller holds the folder's lock (:func:`mfbench.runner.plan.run_lock`);
    ``checkpoint_log`` already holds what importing and building the method read.

    Returns:
        The written record, as read back from ``result.json``.
    """
    method, method_spec = plan.method.method, plan.method.spec
    fraction, seed, folder, options = plan.fraction, plan.seed, plan.folder, plan.options
    device = options.device
    method_class = type(method)
    source = method_source(method_class)
    checkpoints = folder / "checkpoints"
    found_checkpoints = plan.decision is Decision.RESUME
    if found_checkpoints:
        logger.info("found checkpoints in %s: the method may resume from them", checkpoints)

    fidelity = data.task.target_fidelity
    train = FrameSet(data.store, data.split.train_fraction(fraction), fidelity)
    val = FrameSet(data.store, data.split.indices("val"), fidelity)
    auxiliary = _auxiliary_sources(data, fraction)
    used_auxiliary: list[str] = []
    data_workers = options.data_workers

    def context_for(checkpoint_dir: Path) -> FitContext:
        seed_everything(seed)
        return FitContext(
            device=device, seed=seed, budget=data.task.budget,
            checkpoint_dir=checkpoint_dir, progress=progress, auxiliary_sources=auxiliary,
            used_auxiliary=used_auxiliary,
            data_workers=default_data_workers() if data_workers is None else data_workers,
            checkpoints=checkpoint_log,
        )  # fmt: skip

    requested = method.get_params()
    spec = data.task.selection
    grid = applicable_grid(spec.grid, requested, options.params) if spec else {}
    selection: dict[str, Any] | None = None
    started = time.perf_counter()
    with checkpoint_log.watching():
        if spec and grid:
            selected = fit_and_select(
                lambda point: method_class(**{**requested, **point}), grid_points(grid),
                train, val, lambda index: context_for(checkpoints / f"candidate-{index}"),
                spec.metric,
            )  # fmt: skip
            method = selected.method
            selection = {"requested_params": requested,
                         "requested_params_hash": params_hash(requested), "grid": grid,
                         **selected.record}  # fmt: skip
        else:
            method.fit(train, val, context_for(checkpoints))
    fit_seconds = time.perf_counter() - started
    method.save(folder / "model")
    write_json_atomic(
        folder / "method.json",
        {"spec": method_spec, "class": f"{method_class.__module__}:{method_class.__qualname__}",
         "params": method.get_params()},
    )  # fmt: skip

    frames = EvaluationFrames.of(data)
    structures = [data.store.structure(int(i)) for i in frames.needed]
    started = time.perf_counter()
    with checkpoint_log.watching():
        predicted = method.predict(structures)
    predict_seconds = time.perf_counter() - started
    blob = predictions_bytes(data.store.frame_ids[frames.needed], predicted)
    write_bytes_atomic(folder / "predictions.npz", blob)

    method_params = method.get_params()
    record: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        **record_header(data, train_frame_ids=train.frame_ids),
        "method": {
            "name": method_class.name, "spec": method_spec,
            "class": f"{method_class.__module__}:{method_class.__qualname__}",
            "params": method_params, "params_hash": params_hash(method_params),
            "source": source,
        },
        "fraction": fraction,
        "n_train_frames": len(train),
        "seed": seed,
        "auxiliary_used": list(used_auxiliary),
        "checkpoints": checkpoint_log.entries(),
        **score(data, frames, predicted, fraction),
        "training": {
            "steps_run": getattr(method, "steps_run_", None),
            "history": getattr(method, "history_", None),
        },
        "timing": {
            "fit_seconds": round(fit_seconds, 3),
            "predict_seconds": round(predict_seconds, 3),
            "device": device,
            "device_hours": round((fit_seconds + predict_seconds) / 3600, 6),
            "n_predicted_frames": len(frames.needed),
            # whether a killed run left checkpoints; fit_seconds counts this process only,
            # the training history's per-epoch seconds count every epoch
            "checkpoints_found_at_start": found_checkpoints,
        },
        "environment": environment(),
        "predictions": {"file": "predictions.npz", "sha256": hashlib.sha256(blob).hexdigest()},
    }  # fmt: skip
    if selection is not None:
        record["selection"] = selection
    check_record_keys(record)
    result_path = folder / "result.json"
    write_json_atomic(result_path, record)
    shutil.rmtree(checkpoints, ignore_errors=True)
    logger.info("wrote %s", result_path)
    return json.loads(result_path.read_text())
