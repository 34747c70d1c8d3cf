"""``mfbench run``: train one method on one task fraction, predict, score."""

from __future__ import annotations

import argparse
from pathlib import Path

from mfbench.cli.options import DATA_WORKERS_HELP, parse_params
from mfbench.cli.output import print_evaluations


def cmd_run(args: argparse.Namespace) -> int:
    """Train, predict and score one run; print its metrics and timing."""
    from mfbench.models.device import resolve_device
    from mfbench.runner import run

    record = run(
        args.task, args.method, args.fraction, args.seed, out=Path(args.out),
        device=resolve_device(args.device), params=parse_params(args.param), force=args.force,
        data_workers=args.data_workers,
    )  # fmt: skip
    print_evaluations([{**record, "model": {"name": record["method"]["name"]}}])
    print(
        f"\nn_train_frames {record['n_train_frames']}, fit {record['timing']['fit_seconds']} s, "
        f"predict {record['timing']['predict_seconds']} s"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``run`` to the ``mfbench`` parser."""
    p = commands.add_parser("run", help="train a method on a task fraction, predict, score")
    p.add_argument("--task", required=True)
    p.add_argument("--method", required=True, help="registered name or module:Class")
    p.add_argument("--fraction", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method hyperparameter (JSON value), repeatable",
    )
    p.add_argument("--out", default="mfbench-results", help="results folder")
    p.add_argument("--force", action="store_true", help="rerun a completed run")
    p.add_argument("--data-workers", type=int, help=DATA_WORKERS_HELP)
    p.set_defaults(func=cmd_run)
