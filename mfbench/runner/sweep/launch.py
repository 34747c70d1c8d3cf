"""Run a sweep: plan it, launch the runs that are not complete, wait, record each outcome."""

from __future__ import annotations

import logging
import shlex
import shutil

from mfbench.errors import MfbenchError
from mfbench.runner.options import param_args
from mfbench.runner.sweep.local import LocalOptions, launch_local
from mfbench.runner.sweep.planning import plan
from mfbench.runner.sweep.slurm import SlurmOptions, launch_submitit
from mfbench.runner.sweep.spec import SweepSpec
from mfbench.runner.sweep.state import Plan, StateFile, carry_over, read_state

logger = logging.getLogger(__name__)

ExecutorOptions = LocalOptions | SlurmOptions


def check_options(options: ExecutorOptions) -> None:
    """Raise :class:`MfbenchError` for settings that cannot work, before anything launches."""
    if isinstance(options, LocalOptions):
        if options.jobs < 1:
            raise MfbenchError(f"--jobs must be ≥ 1, got {options.jobs}")
        return
    for name in ("gpus_per_node", "time_min", "mem_gb", "cpus_per_task", "array_parallelism"):
        value = getattr(options, name)
        minimum = 0 if name == "gpus_per_node" else 1
        if value is not None and value < minimum:
            raise MfbenchError(f"Slurm option {name} must be ≥ {minimum}, got {value}")
    try:
        import submitit  # noqa: F401
    except ImportError as exc:
        raise MfbenchError("--executor slurm needs submitit: pip install 'submitit>=1.5'") from exc
    if (options.cluster or "slurm") == "slurm" and shutil.which("sbatch") is None:
        raise MfbenchError(
            "--executor slurm: sbatch is not on PATH; run the sweep on a Slurm login node, "
            "or use --executor local"
        )


def sweep_command(plan: Plan, options: ExecutorOptions, *, retry_failed: bool = False) -> str:
    """The ``mfbench sweep`` command line that reproduces ``plan`` with ``options``."""
    spec = plan.spec
    args = [
        "mfbench", "sweep", "--task", spec.task, "--methods", *spec.methods,
        "--fractions", *(f"{f:g}" for f in plan.fractions),
        "--seeds", *map(str, spec.seeds), "--out", str(spec.out), "--device", spec.device,
    ]  # fmt: skip
    args += param_args(spec.params)
    if spec.data_workers is not None:
        args += ["--data-workers", str(spec.data_workers)]
    args += options.cli_args()
    if retry_failed:
        args.append("--retry-failed")
    return shlex.join(args)


def sweep(
    spec: SweepSpec,
    options: ExecutorOptions,
    *,
    retry_failed: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Plan ``spec``, launch the runs that are not complete, wait for them, record outcomes.

    Args:
        spec: the matrix.
        options: :class:`LocalOptions` or :class:`SlurmOptions`.
        retry_failed: relaunch only the runs the last state file records as failed (the
            others that are not complete are ``held``).
        dry_run: plan and validate only; statuses are ``skipped`` or ``pending``.

    Returns:
        The plan with each run's outcome; :meth:`Plan.failed` lists the failures.

    Raises:
        MfbenchError: invalid spec or options (nothing was launched), or ``retry_failed``
            without a state file.
    """
    check_options(options)
    result = plan(spec)
    if isinstance(options, LocalOptions):
        from mfbench.models.chgnet_pretrained import resolve_device

        try:  # jobs run here: a device this machine lacks is an error now
            resolve_device(spec.device)
        except RuntimeError as exc:
            raise MfbenchError(str(exc)) from exc
    previous = (
        read_state(result.state_path) if retry_failed or result.state_path.is_file() else None
    )
    if previous is not None:
        carry_over(result, previous, hold=retry_failed)
    todo = [run for run in result.runs if run.status == "pending"]
    if dry_run:
        result.dry_run = True
        return result
    state = StateFile(result, options.describe(), sweep_command(result, options))
    if todo:
        logger.info(
            "sweep %s: launching %d of %d runs (%s)",
            result.sweep_id, len(todo), len(result.runs), options.describe(),
        )  # fmt: skip
    try:
        if todo and isinstance(options, LocalOptions):
            launch_local(todo, options, state.save)
        elif todo:
            launch_submitit(todo, options, result, state.save)
    finally:  # also on Ctrl-C: Slurm jobs keep running, the state file keeps their ids
        state.save()
    return result
