"""What a sweep runs: a task's matrix (:class:`SweepSpec`) and each run in it (:class:`RunSpec`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfbench.runner.options import RunOptions


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run; plain values, so it pickles for submitit.

    Attributes:
        task: task name.
        method: method spec as given (registered name or ``module:Class``).
        fraction: training fraction, one of the task's.
        seed: run seed (≥ 0).
        out: absolute results folder.
        options: the run's options (device ``"auto"`` is resolved by the worker), the same for
            every run of the sweep.
        env: ``MFBENCH_*`` environment variables the worker sets before the run.
        folder: the run folder where :func:`mfbench.runner.run` writes ``result.json``.
    """

    task: str
    method: str
    fraction: float
    seed: int
    out: str
    options: RunOptions
    env: dict[str, str]
    folder: str

    def label(self) -> str:
        """``"<method> fraction <f> seed <s>"``, how reports name the run."""
        return f"{self.method} fraction {self.fraction:g} seed {self.seed}"

    def cli_args(self) -> list[str]:
        """The ``mfbench run`` arguments of this run, every option included."""
        args = [
            "run", "--task", self.task, "--method", self.method,
            "--fraction", repr(self.fraction), "--seed", str(self.seed), "--out", self.out,
        ]  # fmt: skip
        return args + self.options.cli_args()


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
        data_workers: processes each run may use to prepare its data (``None``: the
            worker's :func:`mfbench.runner.options.default_data_workers`); not part of the
            sweep's identity, as results do not depend on it.
    """

    task: str
    methods: tuple[str, ...]
    fractions: tuple[float, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    out: Path = Path("mfbench-results")
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    data_workers: int | None = None

    def run_options(self) -> RunOptions:
        """The options every run of the sweep gets."""
        return RunOptions(
            device=self.device, params=dict(self.params), data_workers=self.data_workers
        )
