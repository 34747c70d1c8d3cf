"""``mfbench run``: one (task, fraction, method, seed) from training to a result record.

A run folder ``<out>/<task>/v<version>/<method>/fraction-<f>/seed-<s>/`` holds
``result.json`` (schema ``mfbench.result/3``, validated, written atomically last),
``predictions.npz`` (its sha256 is in the record) and the saved ``model/``. The record states
what produced the numbers: the method's code (its module's sha256 beside mfbench's git commit)
and every weights file the method read while fitting and predicting, with its sha256
(:mod:`mfbench.methods.checkpoint_log`); compliance is computed from these
(:mod:`mfbench.results.compliance`). One process at a time works in a run folder (a lock).
While a run is unfinished, ``checkpoints/`` holds what methods that resume wrote (the trained
baselines write one per epoch): a killed run started again with the same arguments continues
from there, and the folder is removed once the result is written. Runs given hyperparameters
(``params``) live under ``<method>@<first 8 hex of the params hash>``. A folder with a complete
result (record and predictions present and consistent, :func:`completed_record`) for the same
hyperparameters is skipped unless ``force`` is set; one for other
hyperparameters (e.g. written before a method's defaults changed) is an error (choose another
``out`` or ``force``). Metrics are computed by mfbench from the predictions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.atomic_write import write_bytes_atomic, write_json_atomic
from mfbench.data.checksum import fingerprint, sha256_file
from mfbench.data.frameset import FrameSet
from mfbench.errors import MfbenchError
from mfbench.evaluation import EvaluationFrames, predictions_bytes, predictions_file, score
from mfbench.locks import exclusive_lock
from mfbench.methods import FitContext, Method, get_method
from mfbench.methods.checkpoint_log import CheckpointLog
from mfbench.methods.params import check_params
from mfbench.paths import datasets_dir, home, locks_dir
from mfbench.provenance import environment
from mfbench.selection import applicable_grid, fit_and_select, grid_points
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

logger = logging.getLogger(__name__)

#: What a task or method name must look like to become a folder name.
_SAFE_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")
#: /2 added ``training`` and ``task.budget``; /3 ``checkpoints`` (the weights files the method
#: read, with sha256) and ``method.source`` (its module's sha256). A record of another schema is
#: rerun, not reused, and validation rejects it.
RESULT_SCHEMA = "mfbench.result/3"
_REQUIRED = {
    "schema", "task", "dataset", "method", "fraction", "n_train_frames", "seed",
    "auxiliary_used", "checkpoints", "coverage", "metrics", "per_element_energy_mae",
    "training", "timing", "environment", "predictions",
}  # fmt: skip
#: Fields a record may have: ``selection`` when the task's grid chose hyperparameters.
_OPTIONAL = {"selection"}


def run_folder(out: Path, task: str, version: int, method: str, fraction: float, seed: int) -> Path:
    """Where one run's files live: always a folder below ``out``.

    Raises:
        MfbenchError: the task or method name cannot name a folder (after ``:`` and ``/`` of a
            ``module:Class`` spec become ``_``, it must be letters, digits, ``.``, ``_``, ``-``
            and ``@``, starting with a letter or digit).
    """
    safe = method.replace(":", "_").replace("/", "_")
    for kind, name in (("task", task), ("method", safe)):
        if not _SAFE_FOLDER.fullmatch(name):
            raise MfbenchError(
                f"{kind} name {name!r} cannot name a folder: use letters, digits, '.', '_', "
                "'-' and '@', starting with a letter or digit"
            )
    return Path(out) / task / f"v{version}" / safe / f"fraction-{fraction:g}" / f"seed-{seed}"


def method_entry(method_spec: str, params: dict[str, Any] | None = None) -> tuple[Method, str]:
    """The method instance a run trains, and the name of its folder under the task.

    Runs with the default hyperparameters live under the method's registered name; runs with
    ``params`` under ``<name>@<first 8 hex digits of params_hash>``, so two sets of
    hyperparameters never share a folder.

    Raises:
        MfbenchError: unknown method (from :func:`mfbench.methods.get_method`), or a parameter
            it does not have, lacks or of the wrong type
            (:func:`mfbench.methods.params.check_params`).
            A constructor that rejects ``params`` (``TypeError``, ``ValueError``) is reported
            the same way.
    """
    method_class = get_method(method_spec)
    name = method_class.name or method_spec
    check_params(method_class, name, params or {})
    try:
        method: Method = method_class(**(params or {}))
    except (TypeError, ValueError) as exc:
        raise MfbenchError(f"method {name} rejects the parameters {params or {}}: {exc}") from exc
    entry = name
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
    missing, unknown = _REQUIRED - set(record), set(record) - _REQUIRED - _OPTIONAL
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
    One process at a time works in a run folder: a second one stops with
    :class:`mfbench.locks.LockedError` naming the first.

    Returns:
        The result record (also written to ``<run folder>/result.json``).

    Raises:
        FileExistsError: the folder holds a complete result for other hyperparameters.
        mfbench.locks.LockedError: another process is running in the same folder.
    """
    task = get_task(task_name)
    if fraction not in task.fractions.values:
        raise ValueError(
            f"fraction {fraction} is not one of task {task_name}'s {task.fractions.values}"
        )
    # the method first, before any data is read: its name and parameters are checked there;
    # watched from the import on: a module that loads weights when imported is recorded too
    checkpoint_log = CheckpointLog(ignore=[datasets_dir(), home() / "graphs"])
    with checkpoint_log.watching():
        method, entry = method_entry(method_spec, params)
    folder = run_folder(out, task_name, task.version, entry, fraction, seed)
    data = TaskData.load(task)
    if method.needs_training_frames and len(data.split.train_fraction(fraction)) == 0:
        raise MfbenchError(
            f"{entry} needs training frames, and fraction {fraction:g} of task {task_name} has "
            "none; use a zero-shot method there"
        )
    with exclusive_lock(run_lock(folder), what=f"run folder {folder}", wait=False):
        if not force:
            record = completed_record(folder, params_hash(method.get_params()))
            if record is not None:
                logger.info("skipping %s: already complete (use force to rerun)", folder)
                return record
        checkpoint_log.own_folder(folder)
        return _train_and_record(
            data, method, method_spec, fraction, seed, folder, checkpoint_log,
            given_params=params or {}, device=device, progress=progress, data_workers=data_workers,
        )  # fmt: skip


def run_lock(folder: Path) -> Path:
    """The lock file of a run folder (one process at a time works in it).

    It lies in ``$MFBENCH_HOME/locks``, named by a hash of the folder's resolved path, so that
    results folders hold only results.
    """
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:24]
    return locks_dir() / f"run-{key}.lock"


def completed_record(folder: Path, expected_params_hash: str) -> dict[str, Any] | None:
    """The record of the complete run in ``folder``, or None when it must run (again).

    A run is complete when ``result.json`` is a record of schema :data:`RESULT_SCHEMA` and its
    predictions file is present with the sha256 the record states. Anything less (no record,
    an unreadable or older one, predictions missing or changed) is logged as a warning naming
    the file, and the run is done again from its checkpoints.

    Raises:
        FileExistsError: the folder's record, complete or not, states other hyperparameters
            than ``expected_params_hash`` (rerunning would silently replace it).
    """
    path = Path(folder) / "result.json"
    if not path.exists():
        return None
    try:
        parsed: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        parsed, reason = None, f"unreadable ({exc})"
    else:
        stated = protocol_params_hash(parsed)
        if stated is not None and stated != expected_params_hash:
            raise FileExistsError(
                f"{folder} holds a result for other hyperparameters (params hash "
                f"{stated[:8]}…); rerun with force (--force) to replace it, or write to another "
                "--out"
            )
        reason = _why_incomplete(parsed, path.parent)
    if reason:
        logger.warning("%s: %s; running again", path, reason)
        return None
    return parsed


def protocol_params_hash(record: Any) -> str | None:
    """The params hash runs are grouped and resumed by (None when a record states none).

    That of the hyperparameters asked for: ``selection.requested_params_hash`` when the task's
    grid chose some of them (seeds may choose differently and are still one entry), else
    ``method.params_hash``.
    """
    selection = record.get("selection") if isinstance(record, dict) else None
    if isinstance(selection, dict) and isinstance(selection.get("requested_params_hash"), str):
        return selection["requested_params_hash"]
    method = record.get("method") if isinstance(record, dict) else None
    stated = method.get("params_hash") if isinstance(method, dict) else None
    return stated if isinstance(stated, str) else None


def _why_incomplete(record: Any, folder: Path) -> str:
    """Why a parsed ``result.json`` is not a complete run's record ("" when it is)."""
    if not isinstance(record, dict):
        return f"not a result record (a JSON {type(record).__name__})"
    if record.get("schema") != RESULT_SCHEMA:
        return f"written with schema {record.get('schema')!r}, not {RESULT_SCHEMA}"
    try:
        validate_result(record)
    except ValueError as exc:
        return str(exc)
    predictions = record["predictions"]
    if not isinstance(predictions, dict) or not isinstance(record["method"], dict):
        return "its method or predictions field is not an object"
    try:
        file = predictions_file(folder, predictions.get("file"))
    except ValueError as exc:
        return str(exc)
    if not file.is_file():
        return f"its predictions file {file} is missing"
    if sha256_file(file) != predictions.get("sha256"):
        return f"its predictions file {file} does not have the sha256 the record states"
    return ""


def method_source(method_class: type) -> dict[str, Any]:
    """Which code a method is: its module, the module file's sha256 and its distribution.

    Returns:
        ``{"module": "baselines.finetune", "file": "baselines/finetune.py", "sha256": hex,
        "distribution": "mfbench 0.1.0" or None}``; ``file`` is the module's path below its
        top-level package (its name alone for a script).

    Raises:
        MfbenchError: the class has no source file (defined interactively).
    """
    module_name = method_class.__module__
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        raise MfbenchError(
            f"method {method_class.__qualname__} has no source file (module {module_name}); "
            "define it in a .py module so its code can be recorded"
        )
    path, parts = Path(file), module_name.split(".")
    if module_name == "__main__":
        shown = path.name
    elif path.name == "__init__.py":
        shown = "/".join([*parts, path.name])
    else:
        shown = "/".join([*parts[:-1], path.name])
    return {
        "module": module_name,
        "file": shown,
        "sha256": sha256_file(Path(file)),
        "distribution": _distribution(parts[0]),
    }


def _distribution(top_level: str) -> str | None:
    """``"name version"`` of the installed distribution providing ``top_level``, or None."""
    names = metadata.packages_distributions().get(top_level, [])
    if not names:
        return None
    name = sorted(names)[0]
    return f"{name} {metadata.version(name)}"


def _train_and_record(
    data: TaskData,
    method: Method,
    method_spec: str,
    fraction: float,
    seed: int,
    folder: Path,
    checkpoint_log: CheckpointLog,
    *,
    given_params: dict[str, Any],
    device: str,
    progress: bool,
    data_workers: int | None,
) -> dict[str, Any]:
    """Fit, save, predict, score and write the record (the caller holds the folder's lock).

    ``checkpoint_log`` already holds what importing and building the method read.
    """
    method_class = type(method)
    source = method_source(method_class)
    checkpoints = folder / "checkpoints"
    found_checkpoints = checkpoints.is_dir() and any(checkpoints.iterdir())
    if found_checkpoints:
        logger.info("found checkpoints in %s: the method may resume from them", checkpoints)

    fidelity = data.task.target_fidelity
    train = FrameSet(data.store, data.split.train_fraction(fraction), fidelity)
    val = FrameSet(data.store, data.split.indices("val"), fidelity)
    auxiliary = _auxiliary_sources(data, fraction)
    used_auxiliary: list[str] = []

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
    grid = applicable_grid(spec.grid, requested, given_params) if spec else {}
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
    fingerprints = data.split.fingerprints()
    record: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "task": {
            "name": data.task.task, "version": data.task.version,
            "target_fidelity": fidelity, "split_fingerprint": fingerprints["split"],
            "test_fingerprint": fingerprints["test"],
            "train_fraction_fingerprint": fingerprint(train.frame_ids),
            "budget": data.task.budget.model_dump() if data.task.budget else None,
            "definition": data.task.definition(),
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
    validate_result(record)
    result_path = folder / "result.json"
    write_json_atomic(result_path, record)
    shutil.rmtree(checkpoints, ignore_errors=True)
    logger.info("wrote %s", result_path)
    return json.loads(result_path.read_text())


def load_saved_method(folder: Path, device: str = "cpu") -> Method:
    """The fitted method of a run folder (its ``method.json`` names the class), on ``device``.

    Raises:
        MfbenchError: the folder is not a run folder, its ``method.json`` is malformed, or it
            holds no saved model (committed results keep records and predictions, not weights).
    """
    folder = Path(folder)
    try:
        info = json.loads((folder / "method.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MfbenchError(f"{folder} is not a run folder (it has no method.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MfbenchError(f"{folder / 'method.json'} cannot be read ({exc})") from exc
    if not isinstance(info, dict) or not isinstance(info.get("class"), str):
        raise MfbenchError(f'{folder / "method.json"} names no method class ("class")')
    if not (folder / "model").is_dir():
        raise MfbenchError(
            f"{folder} holds no saved model (model/): it was removed, or the folder holds "
            "results only, as committed results do; run it again with `mfbench run` to score it"
        )
    return get_method(info["class"]).load(folder / "model", device=device)


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
