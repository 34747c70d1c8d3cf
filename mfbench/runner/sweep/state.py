"""A sweep's state: each run's status, job id, log and error, kept in a resumable state file.

The file is ``<out>/.sweep/<sweep id>.json`` (schema :data:`SWEEP_SCHEMA`), written atomically
after every change, so a sweep started again finds what its last invocation launched.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mfbench.atomic_write import write_json_atomic
from mfbench.errors import MfbenchError
from mfbench.runner.sweep.spec import RunSpec, SweepSpec

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
_TRACEBACK = "Traceback (most recent call last):"


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

    After :func:`mfbench.runner.sweep.sweep` the states hold the outcomes.
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


class StateFile:
    """Writes a plan's state file atomically; thread-safe.

    Args:
        plan: the sweep whose runs' states are written.
        executor: one line naming the executor and its settings.
        command: the ``mfbench sweep`` command line that reproduces the sweep.
    """

    def __init__(self, plan: Plan, executor: str, command: str) -> None:
        self.plan, self.executor, self.command = plan, executor, command
        self.lock = threading.Lock()

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
                "executor": self.executor,
                "command": self.command,
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


def carry_over(plan: Plan, previous: dict[str, Any], *, hold: bool) -> None:
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


def now() -> str:
    """The time in UTC, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def log_outcome(run: RunState, done: int, total: int) -> None:
    """One progress line per finished run."""
    if run.status == "succeeded":
        logger.info("[%d/%d] succeeded %s (%s s)", done, total, run.spec.label(), run.seconds)
    else:
        logger.error(
            "[%d/%d] FAILED %s: %s (log %s)", done, total, run.spec.label(), run.error, run.log
        )
