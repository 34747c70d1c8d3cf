"""``mfbench sweep``: a task's run matrix (methods × fractions × seeds), locally or on Slurm.

One run is one :func:`mfbench.runner.run` call, so a sweep's results land in the same run
folders as ``mfbench run``'s, under one ``out`` folder that ``mfbench leaderboard build
--results`` reads.

What a sweep does, in order:

1. **Plan and validate** (:func:`plan`): the task, every method (constructed with the
   ``params``, so an unknown hyperparameter is caught here), every fraction (one of the
   task's), every seed, the prepared dataset, and every existing ``result.json`` in the matrix.
   All problems are reported together and nothing is launched when there is one.
2. **Skip** the runs that are complete by :func:`mfbench.runner.completed_record`, the rule
   ``mfbench run`` uses: a record of schema :data:`mfbench.runner.RESULT_SCHEMA` with the same
   hyperparameter hash, and its predictions file present with the sha256 it states (status
   ``skipped``). Anything less (an older schema, an unreadable record, missing predictions)
   is run again; a complete record for other hyperparameters is a planning error naming its
   folder.
3. **Launch** the others and wait for them:

   - ``local``: one ``python -m mfbench.cli run …`` subprocess per run, at most ``jobs`` at a
     time (threads that wait on the subprocesses). A subprocess rather than a
     ``ProcessPoolExecutor`` worker because (a) a run that crashes or is killed by the
     kernel's OOM killer fails alone, while a dead pool worker breaks the whole pool and
     every pending run with it; (b) its whole output, C extensions' and tqdm's included, goes
     to its log file at the file-descriptor level; (c) each run starts from fresh global state
     (the runner seeds every RNG and switches torch to deterministic kernels); (d) the log
     file starts with the command, which reproduces the run by hand. With ``jobs > 1`` and no
     ``OMP_NUM_THREADS`` set, each run gets ``cpu_count // jobs`` threads (and as many
     graph-conversion workers, ``MFBENCH_DATA_WORKERS``) so parallel runs do not
     oversubscribe the CPU.
   - ``slurm``: ``submitit.AutoExecutor(folder=log_dir, cluster=cluster)`` and
     ``map_array(execute_run, specs)``, one run per array task (one GPU each by default,
     as DESIGN asks). ``cluster="local"`` runs the same code path through submitit's
     local executor (real pickling, subprocesses and log files; no Slurm) and exists for
     tests. Jobs resolve ``device="auto"`` on their node, not on the login node.

   Workers set the ``MFBENCH_*`` variables seen at planning time (``MFBENCH_HOME`` resolved),
   so jobs read the same prepared datasets and task files even when Slurm does not export
   the submitting environment.
4. **Record** each run's status, job id, log path and, for a failure, the exception's line
   in ``<out>/.sweep/<sweep id>.json`` (written atomically after every change). The sweep id
   is ``<task>-<8 hex>`` of the task, its version, the sorted methods, fractions, seeds and
   the params, so the same sweep always finds its own state file whatever the executor.

Running the same command again relaunches every run that is not complete; with
``retry_failed`` only the runs the state file records as ``failed`` are relaunched (use it
while other runs of the sweep are still queued, so they are not submitted twice). The sweep
waits for its runs; if the waiting process is stopped, Slurm jobs keep running and the state
file keeps their job ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mfbench.atomic_write import write_json_atomic
from mfbench.errors import MfbenchError

logger = logging.getLogger(__name__)

#: Schema of the state file ``<out>/.sweep/<sweep id>.json``.
SWEEP_SCHEMA = "mfbench.sweep/1"
#: What a run's ``status`` means in a sweep's report and state file.
STATUSES = {
    "skipped": "its result.json was complete before this sweep started",
    "pending": "to be launched (where a dry run stops)",
    "launched": "submitted or running; no outcome recorded yet",
    "succeeded": "finished in this sweep; result.json written",
    "failed": "raised, or its process died; see error and log",
    "held": "not launched: retry_failed relaunches only runs recorded as failed",
}
#: Environment variables a worker takes over from the planning process.
_PASSED_ENV = ("MFBENCH_TASKS", "MFBENCH_REGISTRY")
_TRACEBACK = "Traceback (most recent call last):"


# ----------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run; plain values, so it pickles for submitit.

    Attributes:
        task: task name.
        method: method spec as given (registered name or ``module:Class``).
        fraction: training fraction, one of the task's.
        seed: run seed (≥ 0).
        out: absolute results folder.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``; the worker resolves ``"auto"``.
        params: method hyperparameters (JSON values).
        env: ``MFBENCH_*`` environment variables the worker sets before the run.
        folder: the run folder where :func:`mfbench.runner.run` writes ``result.json``.
    """

    task: str
    method: str
    fraction: float
    seed: int
    out: str
    device: str
    params: dict[str, Any]
    env: dict[str, str]
    folder: str

    def label(self) -> str:
        """``"<method> fraction <f> seed <s>"``, how reports name the run."""
        return f"{self.method} fraction {self.fraction:g} seed {self.seed}"

    def cli_args(self) -> list[str]:
        """The ``mfbench run`` arguments of this run."""
        args = [
            "run", "--task", self.task, "--method", self.method,
            "--fraction", repr(self.fraction), "--seed", str(self.seed),
            "--out", self.out, "--device", self.device,
        ]  # fmt: skip
        return args + param_args(self.params)


def param_args(params: dict[str, Any]) -> list[str]:
    """``--param KEY=VALUE`` arguments that ``mfbench run``/``sweep`` parse back to ``params``.

    Values are written as JSON, except strings that are not JSON text, written bare as
    the CLI keeps them (``gate=/tmp/x``, but ``name="8"`` so that it stays a string).
    """
    args = []
    for key, value in params.items():
        text = json.dumps(value)
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                text = value
        args += ["--param", f"{key}={text}"]
    return args


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run ``spec`` in this process (the function each Slurm array task calls).

    Sets ``spec.env``, resolves the device on this node and calls :func:`mfbench.runner.run`;
    an exception propagates, so submitit records the job as failed with its traceback.

    Returns:
        ``{"folder", "energy_mae_mev_per_atom", "fit_seconds"}`` of the written record.
    """
    os.environ.update(spec.env)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from mfbench.models.device import resolve_device
    from mfbench.runner import run

    logger.info("run %s → %s", spec.label(), spec.folder)
    record = run(
        spec.task, spec.method, spec.fraction, spec.seed, out=Path(spec.out),
        device=resolve_device(spec.device), params=spec.params or None, progress=False,
    )  # fmt: skip
    return {
        "folder": spec.folder,
        "energy_mae_mev_per_atom": record["metrics"]["all"].get("energy_mae_mev_per_atom"),
        "fit_seconds": record["timing"]["fit_seconds"],
    }


def exception_line(text: str) -> str:
    """The line naming the exception at the end of a traceback or log (``"ValueError: …"``).

    With a traceback, the first unindented line after its last frame; without one (e.g.
    ``mfbench: error: …``), the last non-empty line; ``"(no output)"`` for empty text.
    """
    lines = [line.rstrip() for line in text.replace("\r", "\n").splitlines()]
    headers = [i for i, line in enumerate(lines) if line.strip() == _TRACEBACK]
    if headers:
        for line in lines[headers[-1] + 1 :]:
            if line and not line.startswith(" "):
                return line
    filled = [line for line in lines if line.strip()]
    return filled[-1].strip() if filled else "(no output)"


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SweepSpec:
    """What to run: the matrix of one task.

    Attributes:
        task: task name.
        methods: method specs, in report order.
        fractions: training fractions; ``None`` means all of the task's.
        seeds: seeds (≥ 0).
        out: results folder (``mfbench leaderboard build --results`` reads it).
        params: hyperparameters given to every method (each must accept them).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
    """

    task: str
    methods: tuple[str, ...]
    fractions: tuple[float, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    out: Path = Path("mfbench-results")
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"


@dataclass
class RunState:
    """One run's status in a sweep: a row of the state file.

    Attributes:
        spec: the run.
        status: one of :data:`STATUSES`.
        job_id: subprocess id (local) or Slurm job id, once launched.
        log: the run's log file (submitit's stderr file on Slurm), once launched.
        error: the exception's line, for a failed run.
        launched_at: when it was launched (ISO 8601, UTC, ms).
        seconds: wall-clock seconds from launch to outcome (s; on Slurm, queueing included).
    """

    spec: RunSpec
    status: str
    job_id: str | None = None
    log: str | None = None
    error: str | None = None
    launched_at: str | None = None
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The state-file row."""
        spec = self.spec
        return {
            "method": spec.method, "fraction": spec.fraction, "seed": spec.seed,
            "folder": spec.folder, "status": self.status, "job_id": self.job_id,
            "log": self.log, "error": self.error, "launched_at": self.launched_at,
            "seconds": self.seconds,
        }  # fmt: skip


@dataclass
class Plan:
    """A validated sweep: its id, resolved matrix and one :class:`RunState` per run.

    After :func:`sweep` the states hold the outcomes.
    """

    sweep_id: str
    spec: SweepSpec
    task_version: int
    fractions: tuple[float, ...]
    runs: list[RunState]
    dry_run: bool = False

    @property
    def state_path(self) -> Path:
        """``<out>/.sweep/<sweep id>.json``."""
        return Path(self.spec.out) / ".sweep" / f"{self.sweep_id}.json"

    def count(self, status: str) -> int:
        """How many runs have ``status``."""
        return sum(run.status == status for run in self.runs)

    def failed(self) -> list[RunState]:
        """The failed runs, in matrix order."""
        return [run for run in self.runs if run.status == "failed"]

    def summary_rows(self) -> list[dict[str, Any]]:
        """Per method and in total: planned, skipped (done), launched, succeeded, failed.

        A dry run shows ``to launch`` instead of the last three columns; a ``held`` column
        appears when ``retry_failed`` held runs back.
        """
        rows = []
        for method in [*self.spec.methods, None]:
            runs = [r for r in self.runs if method is None or r.spec.method == method]
            statuses = Counter(r.status for r in runs)
            row: dict[str, Any] = {
                "method": method or "total",
                "planned": len(runs),
                "skipped (done)": statuses["skipped"],
            }
            if self.dry_run:
                row["to launch"] = statuses["pending"]
            else:
                row["launched"] = len(runs) - statuses["skipped"] - statuses["held"]
                row["succeeded"], row["failed"] = statuses["succeeded"], statuses["failed"]
            if self.count("held"):
                row["held"] = statuses["held"]
            rows.append(row)
        return rows


def plan(spec: SweepSpec) -> Plan:
    """Validate ``spec`` and find which runs are complete; launches nothing.

    With the task's fractions (``spec.fractions`` None), a method that needs training frames
    (:attr:`mfbench.methods.Method.needs_training_frames`) is not planned at a fraction with
    none (fraction 0); naming such a fraction explicitly is an error.

    Raises:
        MfbenchError: listing every problem found (unknown task or method, a parameter a
            method rejects, a fraction not in the task or without the training frames a method
            needs, a duplicate or negative value, an unprepared dataset, an existing result
            that cannot be reused).
    """
    from mfbench.methods import get_method
    from mfbench.paths import home
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
        if f not in task.fractions.values
    ]
    problems += [f"seed {s} is negative (seeds are ≥ 0)" for s in spec.seeds if s < 0]
    entries: dict[str, tuple[str, str]] = {}  # method → (folder name, params hash)
    for method in dict.fromkeys(spec.methods):
        try:
            entries[method] = _method_entry(method, spec.params)
        except MfbenchError as exc:
            problems.append(str(exc))
    problems += _shared_folders(entries)
    try:
        data = TaskData.load(task)
    except MfbenchError as exc:
        problems.append(str(exc))
    if problems:
        raise MfbenchError(_bullets("invalid sweep", problems))
    empty = {f for f in fractions if len(data.split.train_fraction(f)) == 0}
    trained = [m for m in entries if get_method(m).needs_training_frames]
    if empty and trained and spec.fractions is not None:
        raise MfbenchError(
            _bullets(
                "invalid sweep",
                [
                    f"{m} needs training frames; fraction {f:g} has none"
                    for m in trained
                    for f in sorted(empty)
                ],
            )
        )
    if empty and trained:
        logger.info(
            "fraction(s) %s have no training frames: left out for %s",
            ", ".join(f"{f:g}" for f in sorted(empty)), ", ".join(trained),
        )  # fmt: skip

    out = Path(spec.out).resolve()
    env = {"MFBENCH_HOME": str(home().resolve())}
    env.update({k: os.environ[k] for k in _PASSED_ENV if k in os.environ})
    from mfbench.runner import run_folder

    runs: list[RunState] = []
    for method in spec.methods:
        entry, expected_hash = entries[method]
        for fraction in fractions:
            if fraction in empty and method in trained:
                continue
            for seed in spec.seeds:
                folder = run_folder(out, task.task, task.version, entry, fraction, seed)
                run = RunSpec(
                    task=task.task, method=method, fraction=float(fraction), seed=int(seed),
                    out=str(out), device=spec.device, params=dict(spec.params), env=env,
                    folder=str(folder),
                )  # fmt: skip
                try:
                    complete = _is_complete(folder / "result.json", expected_hash)
                except MfbenchError as exc:
                    problems.append(str(exc))
                    continue
                runs.append(RunState(run, "skipped" if complete else "pending"))
    if problems:
        raise MfbenchError(_bullets("cannot reuse existing results", problems))
    chosen = tuple(float(f) for f in fractions)
    resolved = replace(spec, out=out, fractions=chosen)
    return Plan(_sweep_id(resolved, task.version), resolved, task.version, chosen, runs)


def _bullets(title: str, problems: list[str]) -> str:
    return f"{title}:\n" + "\n".join(f"  - {p}" for p in problems)


def _duplicates(kind: str, values: Iterable[Any]) -> list[str]:
    """One problem per value given more than once (no silent de-duplication)."""
    counts = Counter(values)
    return [f"{kind} {v!r} is given {n} times" for v, n in counts.items() if n > 1]


def _shared_folders(entries: dict[str, tuple[str, str]]) -> list[str]:
    """One problem per run-folder name that several method specs share.

    E.g. a registered name and its ``module:Class``: their runs would overwrite each other.
    """
    claims: dict[str, list[str]] = {}
    for method, (entry, _) in entries.items():
        claims.setdefault(entry, []).append(method)
    return [
        f"methods {' and '.join(map(repr, methods))} are the same method (run folder {entry!r})"
        for entry, methods in claims.items()
        if len(methods) > 1
    ]


def _method_entry(method: str, params: dict[str, Any]) -> tuple[str, str]:
    """The run-folder name and params hash :func:`mfbench.runner.run` uses for ``method``.

    See :func:`mfbench.runner.method_entry`.

    Raises:
        MfbenchError: unknown method, or ``params`` rejected by its constructor.
    """
    from mfbench.runner import method_entry, params_hash

    instance, entry = method_entry(method, params)
    return entry, params_hash(instance.get_params())


def _is_complete(path: Path, expected_hash: str) -> bool:
    """Whether ``path`` is a result :func:`mfbench.runner.run` would reuse.

    The one rule is :func:`mfbench.runner.completed_record`: a record and its predictions,
    present and consistent; anything less is pending (the run warns and starts again).

    Raises:
        MfbenchError: the record is for other hyperparameters (the run would fail), naming
            the folder.
    """
    from mfbench.runner import completed_record

    try:
        return completed_record(path.parent, expected_hash) is not None
    except FileExistsError as exc:
        raise MfbenchError(f"{exc}; or delete the folder") from exc


def _sweep_id(spec: SweepSpec, version: int) -> str:
    """``<task>-<8 hex>``: the same matrix (in any order) gives the same id."""
    key = {
        "task": spec.task, "version": version, "methods": sorted(spec.methods),
        "fractions": sorted(spec.fractions or ()), "seeds": sorted(spec.seeds),
        "params": spec.params,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return f"{spec.task}-{digest[:8]}"


# ----------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class LocalOptions:
    """``executor="local"``: at most ``jobs`` runs at a time on this machine."""

    jobs: int = 1

    def describe(self) -> str:
        """One line for the report."""
        return f"local, {self.jobs} parallel"

    def cli_args(self) -> list[str]:
        """The ``mfbench sweep`` options that select these settings."""
        return ["--executor", "local", "--jobs", str(self.jobs)]


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
    args += param_args(spec.params) + options.cli_args()
    if retry_failed:
        args.append("--retry-failed")
    return shlex.join(args)


# ----------------------------------------------------------------------------- the sweep


class _StateFile:
    """Writes a plan's state file atomically; thread-safe."""

    def __init__(self, plan: Plan, options: ExecutorOptions) -> None:
        self.plan, self.options, self.lock = plan, options, threading.Lock()

    def save(self) -> None:
        """Write every run's current state to :attr:`Plan.state_path`."""
        plan = self.plan
        with self.lock:
            payload = {
                "schema": SWEEP_SCHEMA,
                "sweep_id": plan.sweep_id,
                "updated": datetime.now(UTC).isoformat(timespec="seconds"),
                "task": plan.spec.task,
                "task_version": plan.task_version,
                "executor": self.options.describe(),
                "command": sweep_command(plan, self.options),
                "counts": {s: plan.count(s) for s in STATUSES if plan.count(s)},
                "runs": [run.to_json() for run in plan.runs],
            }
            write_json_atomic(plan.state_path, payload)


def read_state(path: Path) -> dict[str, Any]:
    """A sweep state file.

    Raises:
        MfbenchError: the file is missing, unreadable or of another schema.
    """
    if not Path(path).is_file():
        raise MfbenchError(f"no state file {path}: this sweep never launched runs")
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MfbenchError(f"{path} is not readable JSON: {exc}") from exc
    if state.get("schema") != SWEEP_SCHEMA:
        raise MfbenchError(f"{path} has schema {state.get('schema')!r}, not {SWEEP_SCHEMA}")
    return state


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
        from mfbench.models.device import resolve_device

        try:  # jobs run here: a device this machine lacks is an error now
            resolve_device(spec.device)
        except RuntimeError as exc:
            raise MfbenchError(str(exc)) from exc
    previous = (
        read_state(result.state_path) if retry_failed or result.state_path.is_file() else None
    )
    if previous is not None:
        _carry_over(result, previous, hold=retry_failed)
    todo = [run for run in result.runs if run.status == "pending"]
    if dry_run:
        result.dry_run = True
        return result
    state = _StateFile(result, options)
    if todo:
        logger.info(
            "sweep %s: launching %d of %d runs (%s)",
            result.sweep_id, len(todo), len(result.runs), options.describe(),
        )  # fmt: skip
    try:
        if todo and isinstance(options, LocalOptions):
            _launch_local(todo, options, state.save)
        elif todo:
            _launch_submitit(todo, options, result, state.save)
    finally:  # also on Ctrl-C: Slurm jobs keep running, the state file keeps their ids
        state.save()
    return result


def _carry_over(plan: Plan, previous: dict[str, Any], *, hold: bool) -> None:
    """Take job ids and logs over from the last state file; with ``hold``, hold runs back.

    A skipped run keeps the job id and log that completed it. With ``hold``, every pending
    run that ``previous`` does not record as failed becomes ``held`` and keeps its previous
    job id and log (e.g. a job still queued on Slurm).
    """
    rows = {row["folder"]: row for row in previous["runs"]}
    for run in plan.runs:
        row = rows.get(run.spec.folder)
        if run.status == "pending" and hold and (row is None or row["status"] != "failed"):
            run.status = "held"
        if row is not None and run.status in ("skipped", "held"):
            run.job_id, run.log = row["job_id"], row["log"]


def _log_path(spec: RunSpec) -> Path:
    """``<out>/.sweep/logs/<run folder relative to out>.log``."""
    relative = Path(spec.folder).relative_to(spec.out)
    return Path(spec.out) / ".sweep" / "logs" / relative.parent / f"{relative.name}.log"


def _launch_local(todo: list[RunState], options: LocalOptions, save: Callable[[], None]) -> None:
    """Run ``todo`` as ``mfbench run`` subprocesses, ``options.jobs`` at a time."""
    threads = None
    if options.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = str(max(1, (os.cpu_count() or 1) // options.jobs))
    for run in todo:
        run.status, run.log = "launched", str(_log_path(run.spec))
    save()
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = {pool.submit(_run_subprocess, run, threads, save): run for run in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            run = futures[future]
            future.result()  # _run_subprocess records failures itself; this re-raises bugs
            save()
            _log_outcome(run, done, len(todo))


def _run_subprocess(run: RunState, threads: str | None, save: Callable[[], None]) -> None:
    """One ``python -m mfbench.cli run`` with its output appended to ``run.log``."""
    spec = run.spec
    command = [sys.executable, "-m", "mfbench.cli", *spec.cli_args()]
    env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
        env.setdefault("MFBENCH_DATA_WORKERS", threads)
    log = Path(run.log or _log_path(spec))
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run.launched_at = _now()
    with log.open("a") as handle:
        variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items())
        handle.write(f"### {run.launched_at} mfbench sweep: {variables} {shlex.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        run.job_id = str(process.pid)
        save()
        code = process.wait()
    run.seconds = round(time.perf_counter() - started, 1)
    if code == 0:
        run.status = "succeeded"
    else:
        run.status = "failed"
        run.error = _failure_line(code, log)


def _failure_line(code: int, log: Path) -> str:
    """Why a subprocess failed: its signal, or the exception's line at the end of its log."""
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - 16_384))
        tail = handle.read().decode(errors="replace")
    return exception_line(tail)


def _launch_submitit(
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
    started, launched_at = time.perf_counter(), _now()
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
        _log_outcome(run, done, len(todo))


def _now() -> str:
    """The time in UTC, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _log_outcome(run: RunState, done: int, total: int) -> None:
    """One progress line per finished run."""
    if run.status == "succeeded":
        logger.info("[%d/%d] succeeded %s (%s s)", done, total, run.spec.label(), run.seconds)
    else:
        logger.error(
            "[%d/%d] FAILED %s: %s (log %s)", done, total, run.spec.label(), run.error, run.log
        )
