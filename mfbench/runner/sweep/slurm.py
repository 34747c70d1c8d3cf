"""The Slurm executor: one submitit array task per run (one GPU each by default).

``submitit.AutoExecutor(folder=log_dir, cluster=cluster)`` and ``map_array(execute_run,
specs)``. ``cluster="local"`` runs the same code path through submitit's local executor (real
pickling, subprocesses and log files; no Slurm) and exists for tests. Jobs resolve
``device="auto"`` on their node, not on the login node.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mfbench.runner.sweep.spec import RunSpec
from mfbench.runner.sweep.state import Plan, RunState, exception_line, log_outcome, now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlurmOptions:
    """``executor="slurm"``: one Slurm array task per run, through submitit.

    Attributes:
        partition: Slurm partition (``None``: the cluster's default).
        gpus_per_node: GPUs per run (``None``: 0 when the device is ``"cpu"``, else 1).
        time_min: wall-clock limit per run (minutes).
        mem_gb: memory per run (GB; ``None``: the cluster's default).
        cpus_per_task: CPU cores per run (``None``: submitit's default).
        array_parallelism: most array tasks running at once (``None``: submitit's default).
        log_dir: submitit's folder (``None``: ``<out>/.sweep/submitit``); one sub-folder per job.
        cluster: passed to ``submitit.AutoExecutor(cluster=…)``; ``None`` means ``"slurm"``,
            ``"local"`` runs the jobs as local processes (for tests).
    """

    partition: str | None = None
    gpus_per_node: int | None = None
    time_min: int = 240
    mem_gb: float | None = None
    cpus_per_task: int | None = None
    array_parallelism: int | None = None
    log_dir: Path | None = None
    cluster: str | None = None

    def describe(self) -> str:
        """One line for the report."""
        where = f"partition {self.partition}" if self.partition else "default partition"
        cluster = f" (submitit cluster {self.cluster!r})" if self.cluster else ""
        return f"slurm{cluster}, {where}, {self.time_min} min per run"

    def cli_args(self) -> list[str]:
        """The ``mfbench sweep`` options that select these settings."""
        args = ["--executor", "slurm", "--time", str(self.time_min)]
        for flag, value in (
            ("--partition", self.partition), ("--gpus-per-node", self.gpus_per_node),
            ("--mem-gb", self.mem_gb), ("--cpus-per-task", self.cpus_per_task),
            ("--slurm-array-parallelism", self.array_parallelism),
            ("--log-dir", self.log_dir), ("--cluster", self.cluster),
        ):  # fmt: skip
            if value is not None:
                args += [flag, str(value)]
        return args


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run ``spec`` in this process (the function each Slurm array task calls).

    Sets ``spec.env``, resolves the device on this node and calls :func:`mfbench.runner.run`
    with every option of ``spec.options``; an exception propagates, so submitit records the
    job as failed with its traceback.

    Returns:
        ``{"folder", "energy_mae_mev_per_atom", "fit_seconds"}`` of the written record.
    """
    os.environ.update(spec.env)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from mfbench.models.chgnet_pretrained import resolve_device
    from mfbench.runner import run

    logger.info("run %s → %s", spec.label(), spec.folder)
    options = replace(spec.options, device=resolve_device(spec.options.device))
    record = run(
        spec.task, spec.method, spec.fraction, spec.seed, out=Path(spec.out),
        device=options.device, params=options.params or None, force=options.force,
        progress=False, data_workers=options.data_workers,
    )  # fmt: skip
    return {
        "folder": spec.folder,
        "energy_mae_mev_per_atom": record["metrics"]["all"].get("energy_mae_mev_per_atom"),
        "fit_seconds": record["timing"]["fit_seconds"],
    }


def launch_submitit(
    todo: list[RunState], options: SlurmOptions, plan: Plan, save: Callable[[], None]
) -> None:
    """Submit ``todo`` as one submitit job array and wait for every job."""
    import submitit

    folder = Path(options.log_dir or Path(plan.spec.out) / ".sweep" / "submitit").resolve()
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=options.cluster or "slurm")
    gpus = options.gpus_per_node
    if gpus is None:
        gpus = 0 if plan.spec.device == "cpu" else 1
    parameters: dict[str, Any] = {
        "name": f"mfbench-{plan.sweep_id}", "timeout_min": options.time_min,
        "gpus_per_node": gpus, "slurm_partition": options.partition, "mem_gb": options.mem_gb,
        "cpus_per_task": options.cpus_per_task,
        "slurm_array_parallelism": options.array_parallelism,
    }  # fmt: skip
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    try:
        jobs = executor.map_array(execute_run, [run.spec for run in todo])
    except Exception as exc:  # sbatch refused: every run failed to launch
        for run in todo:
            run.status, run.error = "failed", f"submission failed: {exception_line(str(exc))}"
        logger.error("submission failed: %s", exc)
        return
    started, launched_at = time.perf_counter(), now()
    by_job = {}
    for run, job in zip(todo, jobs, strict=True):
        run.status, run.job_id, run.log = "launched", str(job.job_id), str(job.paths.stderr)
        run.launched_at = launched_at
        by_job[id(job)] = run
    save()
    poll = 1.0 if options.cluster == "local" else 30.0
    for done, job in enumerate(submitit.helpers.as_completed(jobs, poll_frequency=poll), 1):
        run = by_job[id(job)]
        run.seconds = round(time.perf_counter() - started, 1)
        try:
            error = job.exception()
        except Exception as exc:  # the job left no result at all (cancelled, node failure)
            error = exc
        if error is None:
            run.status = "succeeded"
        else:
            run.status, run.error = "failed", exception_line(str(error))
        save()
        log_outcome(run, done, len(todo))
