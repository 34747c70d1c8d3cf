"""The demo: the baselines of a demo task trained and scored on its embedded dataset.

Library code: each step of :class:`Demo` does one thing and returns what it made (a prepare
report, result records, a shift analysis, a site report); ``mfbench demo``
(:mod:`mfbench.cli.demo`) runs the steps in order and prints them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfbench.metrics.catalogue import (
    COVERED_ENERGY,
    DECOMPOSITION,
    ENERGY,
    FORCE,
    FORMATION,
    MAGMOM,
    STRESS,
    MetricInfo,
)

if TYPE_CHECKING:
    from mfbench.data.prepare import PrepareReport
    from mfbench.data.registry import DatasetEntry
    from mfbench.diagnostics.shift import ShiftAnalysis
    from mfbench.leaderboard.build import SiteReport
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import PaperMethods, Task

logger = logging.getLogger(__name__)

#: The task ``mfbench demo`` runs unless told otherwise.
DEFAULT_TASK = "sevennet-r2scan-quick"

#: The baselines the demo trains, in the order of the table: the floor, the paper's methods, then
#: the two that regularise the elemental reference (cheap, and they answer the demo's question of
#: which start to fine-tune from). ``multi-fidelity``, ``delta-learning`` and
#: ``sevennet-finetune`` take 2-3 times as long per run and are left to ``--method`` (the last
#: also needs the ``sevenn`` extra, which a plain install lacks).
DEMO_METHODS = (
    "gga-floor",
    "zero-shot",
    "scratch",
    "finetune-frozen-gga-atomref",
    "finetune-trainable-atomref",
    "finetune-refit-atomref",
    "multi-stage",
    "zero-shot-regularised",
    "finetune-residual-atomref",
)

#: The metric columns of the demo's table, in order: every record metric on all test frames,
#: with the energy MAE on the covered test frames beside the energy MAE.
TABLE_METRICS: tuple[MetricInfo, ...] = (
    ENERGY,
    COVERED_ENERGY,
    FORCE,
    STRESS,
    MAGMOM,
    FORMATION,
    DECOMPOSITION,
)


def default_fractions(task: Task) -> tuple[float, ...]:
    """The fractions the demo trains at by default: the task's two smallest non-zero ones."""
    return tuple(sorted(f for f in task.fractions.values if f > 0)[:2])


@dataclass(frozen=True)
class ReferencingEffect:
    """The paper's central finding at one fraction: Method 4 against Method 3.

    Attributes:
        fraction: the training fraction both ran at.
        referenced_mae: energy MAE (meV/atom) of the fine-tune that refits the reference.
        naive_mae: energy MAE (meV/atom) of the fine-tune that keeps the GGA reference.
    """

    fraction: float
    referenced_mae: float
    naive_mae: float

    @property
    def ratio(self) -> float:
        """How many times the naive fine-tune's energy MAE exceeds the referenced one's."""
        return self.naive_mae / self.referenced_mae


@dataclass(frozen=True)
class Demo:
    """One demo: which task, methods, fractions and seed, on which device, into which folder.

    Attributes:
        task: the task (a demo task trains in seconds on its embedded dataset).
        methods: method names or ``module:Class`` specs, in table order.
        fractions: training fractions, each run for every method.
        seed: the seed of every run.
        device: a resolved torch device name (``cpu``, ``cuda:0``).
        out: the results folder; finished runs there are reused.
        data_workers: graph-conversion processes (None: the runner's default).
    """

    task: Task
    methods: tuple[str, ...] = DEMO_METHODS
    fractions: tuple[float, ...] = field(default=())
    seed: int = 0
    device: str = "cpu"
    out: Path = Path("mfbench-results")
    data_workers: int | None = None

    @classmethod
    def plan(
        cls,
        task: str = DEFAULT_TASK,
        *,
        methods: Sequence[str] | None = None,
        fractions: Sequence[float] | None = None,
        seed: int = 0,
        device: str = "cpu",
        out: Path = Path("mfbench-results"),
        data_workers: int | None = None,
    ) -> Demo:
        """The demo of ``task``.

        Methods default to :data:`DEMO_METHODS`, fractions to :func:`default_fractions`.
        """
        from mfbench.tasks.definition import get_task

        definition = get_task(task)
        return cls(
            task=definition,
            methods=tuple(methods) if methods else DEMO_METHODS,
            fractions=tuple(fractions) if fractions else default_fractions(definition),
            seed=seed,
            device=device,
            out=Path(out),
            data_workers=data_workers,
        )

    @property
    def results_dir(self) -> Path:
        """Where the runs of the task go (``<out>/<task>``)."""
        return self.out / self.task.task

    @property
    def diagnostics_dir(self) -> Path:
        """The folder of shift-diagnostics outputs (``<out>/diagnostics``)."""
        return self.out / "diagnostics"

    @property
    def site_dir(self) -> Path:
        """The leaderboard site's folder (``<out>/site``)."""
        return self.out / "site"

    def dataset(self) -> DatasetEntry:
        """The registry entry of the task's dataset."""
        from mfbench.data.registry import get_dataset

        return get_dataset(self.task.dataset.id)

    def prepare_dataset(self) -> PrepareReport:
        """Prepare the task's (embedded) dataset; a store prepared from it already is kept."""
        from mfbench.data.prepare import prepare

        return prepare(self.dataset())

    def task_data(self) -> TaskData:
        """The task's split and fractions over the prepared dataset."""
        from mfbench.tasks.data import TaskData

        return TaskData.load(self.task)

    def run_methods(
        self, on_start: Callable[[int, str, float], None] | None = None
    ) -> list[dict[str, Any]]:
        """Train and score every method at every fraction; finished runs are reused.

        Args:
            on_start: called before each run with (1-based method position, method, fraction).

        Returns:
            The result records, fraction by fraction, methods in order.
        """
        from mfbench.runner import run

        records = []
        for fraction in self.fractions:
            for position, method in enumerate(self.methods, start=1):
                if on_start is not None:
                    on_start(position, method, fraction)
                records.append(
                    run(
                        self.task.task,
                        method,
                        fraction,
                        self.seed,
                        out=self.out,
                        device=self.device,
                        data_workers=self.data_workers,
                    )
                )
        return records

    def shift_diagnostics(self) -> ShiftAnalysis:
        """The shift diagnostics of the task's data, written to ``<diagnostics_dir>/<task>``."""
        from mfbench.diagnostics.run import shift_diagnostics, write_shift_outputs

        analysis = shift_diagnostics(task=self.task.task)
        write_shift_outputs(analysis, self.diagnostics_dir / self.task.task)
        return analysis

    def build_leaderboard(self) -> SiteReport:
        """The static site of the task's runs and the diagnostics, in :attr:`site_dir`."""
        from mfbench.leaderboard import build_site

        return build_site([self.results_dir], self.site_dir, diagnostics=[self.diagnostics_dir])


def table_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per record: method, fraction, training frames, :data:`TABLE_METRICS`, fit time.

    Metric values are formatted as the catalogue says ("nan" where a metric is missing or NaN);
    the fit time in whole seconds.
    """
    return [_table_row(record) for record in records]


def _table_row(record: dict[str, Any]) -> dict[str, Any]:
    values = dict(record["metrics"]["all"])
    values.update({f"covered_{k}": v for k, v in record["metrics"]["covered"].items()})
    row: dict[str, Any] = {
        "method": record["method"]["name"],
        "fraction": record["fraction"],
        "n train": record["n_train_frames"],
    }
    for metric in TABLE_METRICS:
        row[metric.header] = metric.format(values.get(metric.key))
    row["fit s"] = _formatted(record["timing"]["fit_seconds"], "{:.0f}")
    return row


def _formatted(value: Any, pattern: str) -> str:
    return "nan" if value is None or value != value else pattern.format(value)


def referencing_effects(
    records: Sequence[dict[str, Any]], paper: PaperMethods | None
) -> list[ReferencingEffect]:
    """Method 4 against Method 3 (energy MAE, all test frames) at each fraction both ran.

    Args:
        records: the demo's records.
        paper: the task's ``roles.paper`` (which methods stand for Methods 3 and 4); None: the
            task names none, and there is no effect to show.
    """
    if paper is None:
        return []
    energy: dict[tuple[str, float], float] = {
        (r["method"]["name"], r["fraction"]): r["metrics"]["all"][ENERGY.key] for r in records
    }
    effects = []
    for fraction in sorted({f for _, f in energy}):
        referenced = energy.get((paper.method_4, fraction))
        naive = energy.get((paper.method_3, fraction))
        if referenced and naive:
            effects.append(ReferencingEffect(fraction, referenced, naive))
    return effects
