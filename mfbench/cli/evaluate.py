"""``mfbench evaluate``: score shipped CHGNet models, or run folders, on a task's test split."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Any

from mfbench.cli.output import print_evaluations
from mfbench.errors import MfbenchError

logger = logging.getLogger(__name__)

#: The models ``evaluate`` scores when no ``--model`` is given.
DEFAULT_MODELS = ("chgnet-0.3.0", "chgnet-r2scan")


def _evaluate(data: Any, model: str, args: argparse.Namespace) -> dict[str, Any]:
    from mfbench.atomic_write import write_json_atomic
    from mfbench.evaluation import evaluate_predictor
    from mfbench.models.chgnet.pretrained import PretrainedChgnet

    task_name = data.task.task
    fraction = 1.0 if args.fraction is None else args.fraction
    if Path(model).is_dir():  # a run folder written by `mfbench run`
        from mfbench.runner.saved_method import MethodPredictor, load_saved_method

        predictor: Any = MethodPredictor(load_saved_method(Path(model), device=args.device))
        fraction = _run_fraction(Path(model), task_name, args.fraction)
        model = predictor.name
    else:
        predictor = PretrainedChgnet(model, device=args.device, batch_size=args.batch_size)
    if not _SAFE_FILE.fullmatch(model):
        raise MfbenchError(f"model name {model!r} cannot name a file under {args.out}")
    out = Path(args.out) / "evaluate" / task_name
    record = evaluate_predictor(
        data,
        predictor,
        fraction=fraction,
        predictions_path=out / f"{model}.predictions.npz",
    )
    write_json_atomic(out / f"{model}.json", record)
    logger.info("wrote %s", out / f"{model}.json")
    return record


#: What a model's name must look like to name its evaluation files.
_SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")


def _run_fraction(folder: Path, task_name: str, given: float | None) -> float:
    """The training fraction coverage is measured against when scoring a run folder.

    The run's own fraction (from its ``result.json``); ``--fraction`` may only repeat it, or
    stand in for it when the folder has no readable record or is a run of another task.
    """
    try:
        record = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise TypeError(f"a JSON {type(record).__name__}, not a result record")
        task, fraction = record["task"]["name"], float(record["fraction"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if given is not None:
            return given
        raise MfbenchError(
            f"{folder}: its result.json cannot be read ({exc}), so its training fraction is "
            "unknown: pass --fraction"
        ) from exc
    if task != task_name:
        if given is None:
            raise MfbenchError(
                f"{folder} is a run of task {task}, not {task_name}: pass --fraction to say "
                f"which training fraction of {task_name} coverage is measured against"
            )
        return given
    if given is not None and given != fraction:
        raise MfbenchError(
            f"{folder} was trained on fraction {fraction:g} of {task}; --fraction {given:g} "
            "would measure coverage against another training set (leave --fraction out)"
        )
    return fraction


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score each ``--model`` (default: both shipped models); write records and predictions."""
    from mfbench.models.device import resolve_device
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    args.device = resolve_device(args.device)  # refuse a device this machine lacks, up front
    data = TaskData.load(get_task(args.task))
    records = [_evaluate(data, model, args) for model in args.model or DEFAULT_MODELS]
    print_evaluations(records)
    print(f"\nrecords and predictions: {Path(args.out) / 'evaluate' / args.task}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``mfbench`` parser."""
    model_opts = argparse.ArgumentParser(add_help=False)
    model_opts.add_argument(
        "--model",
        action="append",
        metavar="MODEL",
        help="chgnet-0.3.0, chgnet-r2scan, or a run folder written by `mfbench run` "
        "(repeatable; default: both pretrained models)",
    )
    model_opts.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    model_opts.add_argument("--batch-size", type=int, default=32)
    model_opts.add_argument(
        "--fraction",
        type=float,
        default=None,
        help="training fraction that coverage is measured against (default: a run folder's "
        "own fraction; 1 for a pretrained model)",
    )
    model_opts.add_argument("--out", default="mfbench-results", help="results folder")

    p = commands.add_parser(
        "evaluate", parents=[model_opts], help="score a shipped CHGNet model on a task's test split"
    )
    p.add_argument("--task", required=True)
    p.set_defaults(func=cmd_evaluate)
