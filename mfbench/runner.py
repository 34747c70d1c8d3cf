"""``mfbench run``: one (task, fraction, method, seed) from training to a result record.

A run folder ``<out>/<task>/v<version>/<method>/fraction-<f>/seed-<s>/`` holds
``result.json`` (schema ``mfbench.result/2``, validated, written atomically last),
``predictions.npz`` (its sha256 is in the record) and the saved ``model/``. While a run is
unfinished, ``checkpoints/`` holds what methods that resume wrote (the trained baselines write
one per epoch): a killed run started again with the same arguments continues from there, and
the folder is removed once the result is written. Runs given hyperparameters
(``params``) live under ``<method>@<first 8 hex of the params hash>``. A folder with a valid
result for the same hyperparameters is skipped unless ``force`` is set; one for other
hyperparameters (e.g. written before a method's defaults changed) is an error (choose another
``out`` or ``force``). Metrics are computed by mfbench from the predictions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.atomic import write_bytes_atomic, write_json_atomic
from mfbench.data.frameset import FrameSet
from mfbench.errors import MfbenchError
from mfbench.evaluation import EvaluationFrames, predictions_bytes, score
from mfbench.methods import FitContext, Method, get_method
from mfbench.provenance import environment
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.tasks.split import fingerprint

logger = logging.getLogger(__name__)

#: /2 added ``training`` and ``task.budget``; a record of another schema is rerun, not reused.
RESULT_SCHEMA = "mfbench.result/2"
_REQUIRED = {
    "schema", "task", "dataset", "method", "fraction", "n_train_frames", "seed",
    "auxiliary_used", "coverage", "metrics", "per_element_energy_mae", "training", "timing",
    "environment", "predictions",
}  # fmt: skip


def run_folder(out: Path, task: str, version: int, method: str, fraction: float, seed: int) -> Path:
    """Where one run's files live."""
    safe = method.replace(":", "_").replace("/", "_")
    return Path(out) / task / f"v{version}" / safe / f"fraction-{fraction:g}" / f"seed-{seed}"


def method_entry(method_spec: str, params: dict[str, Any] | None = None) -> tuple[Method, str]:
    """The method instance a run trains, and the name of its folder under the task.

    Runs with the default hyperparameters live under the method's registered name; runs with
    ``params`` under ``<name>@<first 8 hex digits of params_hash>``, so two sets of
    hyperparameters never share a folder.

    Raises:
        MfbenchError: unknown method (from :func:`mfbench.methods.get_method`).
        TypeError, ValueError: the constructor rejects ``params``.
    """
    method_class = get_method(method_spec)
    method: Method = method_class(**(params or {}))
    entry = method_class.name or method_spec
    if params:
        entry = f"{entry}@{params_hash(method.get_params())[:8]}"
    return method, entry


def default_data_workers() -> int:
    """``$MFBENCH_DATA_WORKERS``, else this machine's CPU count up to 8."""
    value = os.environ.get("MFBENCH_DATA_WORKERS")
    if value is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if not value.isdigit() or int(value) < 1:
        raise MfbenchError(f"MFBENCH_DATA_WORKERS must be a positive integer, not {value!r}")
    return int(value)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def params_hash(params: dict[str, Any]) -> str:
    """sha256 of the hyperparameters as canonical JSON."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def validate_result(record: dict[str, Any]) -> None:
    """Raise ``ValueError`` when a result record lacks a field or has an unknown one."""
    missing, unknown = _REQUIRED - set(record), set(record) - _REQUIRED
    if record.get("schema") != RESULT_SCHEMA or missing or unknown:
        raise ValueError(
            f"invalid result record: schema {record.get('schema')!r}, "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )


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

    ``data_workers`` is the number of processes the method may use to prepare its data
    (:attr:`mfbench.methods.FitContext.data_workers`; default :func:`default_data_workers`).

    Returns:
        The result record (also written to ``<run folder>/result.json``).
    """
    data = TaskData.load(get_task(task_name))
    if fraction not in data.task.fractions.values:
        raise ValueError(
            f"fraction {fraction} is not one of task {task_name}'s {data.task.fractions.values}"
        )
    method, entry = method_entry(method_spec, params)
    method_class = type(method)
    if method.needs_training_frames and len(data.split.train_fraction(fraction)) == 0:
        raise MfbenchError(
            f"{entry} needs training frames, and fraction {fraction:g} of task {task_name} has "
            "none; use a zero-shot method there"
        )
    folder = run_folder(out, task_name, data.task.version, entry, fraction, seed)
    result_path = folder / "result.json"
    if result_path.is_file() and not force:
        record = json.loads(result_path.read_text())
        if record.get("schema") != RESULT_SCHEMA:
            logger.warning(
                "%s was written with schema %s, not %s: running again",
                result_path, record.get("schema"), RESULT_SCHEMA,
            )  # fmt: skip
            return run(
                task_name, method_spec, fraction, seed, out=out, device=device, params=params,
                force=True, progress=progress,
            )  # fmt: skip
        validate_result(record)
        if record["method"]["params_hash"] != params_hash(method.get_params()):
            raise FileExistsError(
                f"{folder} holds a result for other hyperparameters "
                f"({record['method']['params']}); rerun with force (--force) to replace it, "
                "or write to another --out"
            )
        logger.info("skipping %s: already complete (use force to rerun)", folder)
        return record
    checkpoints = folder / "checkpoints"
    found_checkpoints = checkpoints.is_dir() and any(checkpoints.iterdir())
    if found_checkpoints:
        logger.info("found checkpoints in %s: the method may resume from them", checkpoints)

    seed_everything(seed)
    fidelity = data.task.target_fidelity
    train = FrameSet(data.store, data.split.train_fraction(fraction), fidelity)
    val = FrameSet(data.store, data.split.indices("val"), fidelity)
    context = FitContext(
        device=device, seed=seed, budget=data.task.budget,
        checkpoint_dir=checkpoints, progress=progress,
        auxiliary_sources=_auxiliary_sources(data, fraction),
        data_workers=default_data_workers() if data_workers is None else data_workers,
    )  # fmt: skip
    started = time.perf_counter()
    method.fit(train, val, context)
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
    predicted = method.predict(structures)
    predict_seconds = time.perf_counter() - started
    blob = predictions_bytes(data.store.frame_ids[frames.needed], predicted)
    write_bytes_atomic(folder / "predictions.npz", blob)

    method_params = method.get_params()
    fingerprints = data.split.fingerprints()
    record: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "task": {
            "name": data.task.task, "version": data.task.version,
            "target_fidelity": fidelity, "split_fingerprint": fingerprints["split"],
            "test_fingerprint": fingerprints["test"],
            "train_fraction_fingerprint": fingerprint(train.frame_ids),
            "budget": data.task.budget.model_dump() if data.task.budget else None,
        },
        "dataset": {
            "id": data.store.meta["dataset"]["id"],
            "version": data.store.meta["dataset"]["version"],
            "sha256": data.store.meta["source"]["sha256"],
            "checksum_status": data.store.meta["source"]["checksum_status"],
        },
        "method": {
            "name": method_class.name, "spec": method_spec,
            "class": f"{method_class.__module__}:{method_class.__qualname__}",
            "params": method_params, "params_hash": params_hash(method_params),
        },
        "fraction": fraction,
        "n_train_frames": len(train),
        "seed": seed,
        "auxiliary_used": list(context.used_auxiliary),
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
    validate_result(record)
    write_json_atomic(result_path, record)
    shutil.rmtree(checkpoints, ignore_errors=True)
    logger.info("wrote %s", result_path)
    return json.loads(result_path.read_text())


def load_saved_method(folder: Path, device: str = "cpu") -> Method:
    """The fitted method of a run folder (its ``method.json`` names the class), on ``device``."""
    info = json.loads((Path(folder) / "method.json").read_text())
    return get_method(info["class"]).load(Path(folder) / "model", device=device)


class MethodPredictor:
    """Adapts a fitted :class:`Method` to :class:`mfbench.evaluation.Predictor`."""

    def __init__(self, method: Method) -> None:
        self.method = method
        self.name = type(method).name or type(method).__name__

    def describe(self) -> dict[str, Any]:
        """Name, class and hyperparameters."""
        cls = type(self.method)
        return {"name": self.name, "class": f"{cls.__module__}:{cls.__qualname__}",
                "params": self.method.get_params()}  # fmt: skip

    def predict(self, structures: Any, *, progress: bool = True) -> Any:
        """The method's predictions (progress bars are the method's own)."""
        return self.method.predict(structures)
