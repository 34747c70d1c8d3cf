"""``mfbench sweep``: every (method, fraction, seed) of a task, locally or on Slurm."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mfbench.cli.options import DATA_WORKERS_HELP, parse_params
from mfbench.cli.output import table
from mfbench.errors import MfbenchError


def cmd_sweep(args: argparse.Namespace) -> int:
    """Plan and launch a sweep; 1 when a run failed (with the resubmit command)."""
    from mfbench.runner.sweep import LocalOptions, SlurmOptions, SweepSpec, sweep, sweep_command

    slurm_flags = {
        "--partition": args.partition, "--gpus-per-node": args.gpus_per_node,
        "--time": args.time, "--mem-gb": args.mem_gb, "--cpus-per-task": args.cpus_per_task,
        "--slurm-array-parallelism": args.slurm_array_parallelism, "--log-dir": args.log_dir,
        "--cluster": args.cluster,
    }  # fmt: skip
    options: Any
    if args.executor == "local":
        misplaced = [flag for flag, value in slurm_flags.items() if value is not None]
        if misplaced:
            raise MfbenchError(f"{', '.join(misplaced)}: only for --executor slurm")
        options = LocalOptions(jobs=1 if args.jobs is None else args.jobs)
    else:
        if args.jobs is not None:
            raise MfbenchError("--jobs is for --executor local; use --slurm-array-parallelism")
        options = SlurmOptions(
            partition=args.partition, gpus_per_node=args.gpus_per_node,
            time_min=240 if args.time is None else args.time, mem_gb=args.mem_gb,
            cpus_per_task=args.cpus_per_task, array_parallelism=args.slurm_array_parallelism,
            log_dir=args.log_dir, cluster=args.cluster,
        )  # fmt: skip
    spec = SweepSpec(
        task=args.task, methods=tuple(args.methods),
        fractions=None if args.fractions is None else tuple(args.fractions),
        seeds=tuple(args.seeds), out=Path(args.out), params=parse_params(args.param),
        device=args.device, data_workers=args.data_workers,
    )  # fmt: skip
    plan = sweep(spec, options, retry_failed=args.retry_failed, dry_run=args.dry_run)
    print(
        f"sweep {plan.sweep_id}: {len(spec.methods)} methods × {len(plan.fractions)} fractions "
        f"× {len(spec.seeds)} seeds = {len(plan.runs)} runs of {spec.task} "
        f"v{plan.task_version}; executor {options.describe()}"
        + (" — DRY RUN, nothing launched" if args.dry_run else "")
    )
    print(table(plan.summary_rows()))
    if args.dry_run:
        pending = [run.spec for run in plan.runs if run.status == "pending"]
        print(f"\nwould launch {len(pending)} runs:" if pending else "\nnothing to launch")
        for run in pending:
            print(f"  {run.label():<48} → {run.folder}")
        return 0
    if plan.count("held"):
        print(
            f"\n{plan.count('held')} runs held back by --retry-failed (not recorded as failed; "
            "rerun without --retry-failed to launch them)"
        )
    print(f"\nstate   {plan.state_path}")
    print(f"results {plan.spec.out}  (mfbench leaderboard build --results {plan.spec.out})")
    failed = plan.failed()
    if not failed:
        return 0
    print(f"\n{len(failed)} runs FAILED:", file=sys.stderr)
    for run in failed:
        print(f"  {run.spec.label()}: {run.error}\n    log: {run.log}", file=sys.stderr)
    print(
        "\nfix the cause, then resubmit the failed runs with\n  "
        f"{sweep_command(plan, options, retry_failed=True)}\n"
        "(or rerun the same command: completed runs are skipped)",
        file=sys.stderr,
    )
    return 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``sweep`` to the ``mfbench`` parser."""
    p = commands.add_parser(
        "sweep",
        help="run the matrix methods × fractions × seeds of a task, locally or on Slurm; "
        "completed runs are skipped",
        description="Run every (method, fraction, seed) of a task into one results folder. "
        "Everything is validated before anything launches; runs with a complete result.json "
        "are skipped; each run's status, job id and log go to <out>/.sweep/<sweep id>.json. "
        "Exits 1 when a run failed, printing the command that resubmits it.",
    )
    p.add_argument("--task", required=True)
    p.add_argument(
        "--methods", nargs="+", required=True, metavar="METHOD",
        help="registered names or module:Class specs",
    )  # fmt: skip
    p.add_argument(
        "--fractions", nargs="+", type=float, metavar="F",
        help="training fractions (default: all of the task's)",
    )  # fmt: skip
    p.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="S", help="default: 0")
    p.add_argument("--out", default="mfbench-results", help="results folder")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="hyperparameter (JSON value) given to every method, repeatable",
    )  # fmt: skip
    p.add_argument(
        "--device", default="auto",
        help="auto, cpu or cuda[:i] (with slurm, auto is resolved on the compute node)",
    )  # fmt: skip
    p.add_argument("--data-workers", type=int, help=DATA_WORKERS_HELP + " (for every run)")
    p.add_argument(
        "--executor", choices=["local", "slurm"], default="local",
        help="local: subprocesses on this machine (default); slurm: a submitit job array",
    )  # fmt: skip
    p.add_argument("--jobs", type=int, metavar="N", help="local: most runs at a time (default 1)")
    slurm = p.add_argument_group("slurm (through submitit; one array task per run)")
    slurm.add_argument("--partition", help="default: the cluster's")
    slurm.add_argument(
        "--gpus-per-node", type=int, metavar="N",
        help="GPUs per run (default: 0 with --device cpu, else 1)",
    )  # fmt: skip
    slurm.add_argument("--time", type=int, metavar="MINUTES", help="limit per run (default 240)")
    slurm.add_argument("--mem-gb", type=float, metavar="GB", help="memory per run (GB)")
    slurm.add_argument("--cpus-per-task", type=int, metavar="N", help="CPU cores per run")
    slurm.add_argument(
        "--slurm-array-parallelism", type=int, metavar="N", help="most array tasks at once"
    )
    slurm.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="submitit folder (default: <out>/.sweep/submitit)",
    )
    slurm.add_argument(
        "--cluster",
        help="submitit cluster (default slurm); 'local' runs the jobs as local processes "
        "through submitit, for testing",
    )
    p.add_argument(
        "--retry-failed", action="store_true",
        help="relaunch only the runs this sweep's state file records as failed",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the plan; launch nothing")
    p.set_defaults(func=cmd_sweep)
