"""The local executor: each run a ``python -m mfbench.cli run …`` subprocess, ``jobs`` at a time.

A subprocess rather than a ``ProcessPoolExecutor`` worker because (a) a run that crashes or is
killed by the kernel's OOM killer fails alone, while a dead pool worker breaks the whole pool
and every pending run with it; (b) its whole output, C extensions' and tqdm's included, goes to
its log file at the file-descriptor level; (c) each run starts from fresh global state (the
runner seeds every RNG and switches torch to deterministic kernels); (d) the log file starts
with the command, which reproduces the run by hand. With ``jobs > 1`` and no
``OMP_NUM_THREADS`` set, each run gets ``cpu_count // jobs`` threads (and, unless the sweep
was given ``data_workers`` or ``MFBENCH_DATA_WORKERS`` is set, as many graph-conversion
workers) so parallel runs do not oversubscribe the CPU.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from mfbench.runner.sweep.spec import RunSpec
from mfbench.runner.sweep.state import RunState, exception_line, log_outcome, now


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


def log_path(spec: RunSpec) -> Path:
    """``<out>/.sweep/logs/<run folder relative to out>.log``."""
    relative = Path(spec.folder).relative_to(spec.out)
    return Path(spec.out) / ".sweep" / "logs" / relative.parent / f"{relative.name}.log"


def launch_local(todo: list[RunState], options: LocalOptions, save: Callable[[], None]) -> None:
    """Run ``todo`` as ``mfbench run`` subprocesses, ``options.jobs`` at a time; wait for all."""
    threads = None
    if options.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = str(max(1, (os.cpu_count() or 1) // options.jobs))
    for run in todo:
        run.status, run.log = "launched", str(log_path(run.spec))
    save()
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = {pool.submit(_run_subprocess, run, threads, save): run for run in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            run = futures[future]
            future.result()  # _run_subprocess records failures itself; this re-raises bugs
            save()
            log_outcome(run, done, len(todo))


def _run_subprocess(run: RunState, threads: str | None, save: Callable[[], None]) -> None:
    """One ``python -m mfbench.cli run`` with its output appended to ``run.log``."""
    spec = run.spec
    command = [sys.executable, "-m", "mfbench.cli", *spec.cli_args()]
    env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
        env.setdefault("MFBENCH_DATA_WORKERS", threads)
    log = Path(run.log or log_path(spec))
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run.launched_at = now()
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
