"""Head-to-head comparisons of two methods that a task's ``roles.comparisons`` name.

The paper check (:mod:`mfbench.results.paper_check`) tests claims with a direction; these
comparisons have none. Each names two methods and a question (e.g. "Does joint training on the
GGA frames beat Method 4?") and is read at every nonzero fraction of the task, on the energy
MAE (meV/atom) and on the force MAE (meV/Å) separately (a start can win in one and lose in the
other), from the summary's mean and 95 % interval over seeds, with the verdict rule of
:mod:`mfbench.results.comparison`, said without a direction:

- ``"<method> lower"``: the two intervals do not overlap and ``method``'s is below;
- ``"<other> lower"``: the intervals do not overlap and ``other``'s is below;
- ``"intervals overlap"``: the seeds do not separate the two;
- ``"not measurable"``: a method has no run at that fraction, one seed, or no finite interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mfbench.metrics.catalogue import ENERGY, FORCE, MetricInfo
from mfbench.results.comparison import (
    INCONCLUSIVE,
    NOT_MEASURABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    comparison,
    nonzero_fractions,
    task_rows,
)
from mfbench.tasks.definition import MethodComparison, Task

#: The metrics each comparison is read on, in the order of the site's table.
METRICS: tuple[MetricInfo, ...] = (ENERGY, FORCE)

#: What the direction-free reading says for each verdict of "``method`` is lower".
OVERLAP = "intervals overlap"


@dataclass(frozen=True)
class HeadToHead:
    """One comparison of two methods on one metric across the task's nonzero fractions.

    Attributes:
        question: the task's words for it.
        method, other: registry names of the compared methods.
        metric: the metric it is read on (its ``key``, ``long`` name and ``unit``).
        rows: one entry per nonzero fraction: ``fraction``, ``n_train_frames``, each method's
            ``n_seeds``, ``mean``, ``ci_low``, ``ci_high`` (in ``metric.unit``; ``other_``
            prefixed for ``other``), ``ratio`` (other's mean over method's), ``outcome`` (see
            the module docstring), ``reason`` and ``text`` (the row in words). JSON-ready.
    """

    question: str
    method: str
    other: str
    metric: MetricInfo
    rows: list[dict[str, Any]]

    @property
    def outcomes(self) -> list[str]:
        """Each fraction's outcome, in the task's order of fractions."""
        return [row["outcome"] for row in self.rows]


def compare_methods(
    summary: pd.DataFrame, task: Task, metrics: Sequence[MetricInfo] = METRICS
) -> list[HeadToHead]:
    """Every comparison ``task.roles.comparisons`` names, on the task's rows of ``summary``.

    Args:
        summary: :func:`mfbench.results.summarize` of ranked runs (as for
            :func:`mfbench.results.paper_check.check_paper_claims`); rows of other tasks or
            task versions are ignored. A metric whose columns it lacks is not measurable.
        task: the task definition.
        metrics: the metrics to read each comparison on (default :data:`METRICS`).

    Returns:
        One :class:`HeadToHead` per named comparison and metric, comparisons in the task's
        order, metrics in ``metrics``' order within each (empty when it names none).
    """
    rows = task_rows(summary, task)
    return [
        _head_to_head(rows, task, pair, metric)
        for pair in task.roles.comparisons
        for metric in metrics
    ]


def _head_to_head(
    rows: pd.DataFrame, task: Task, pair: MethodComparison, metric: MetricInfo
) -> HeadToHead:
    evidence = []
    for fraction in nonzero_fractions(task):
        row = comparison(
            rows, pair.method, pair.other, fraction,
            say=lambda v: _outcome(v, pair), metric=metric,
        )  # fmt: skip
        row["outcome"] = _outcome(row.pop("verdict"), pair)
        evidence.append(row)
    return HeadToHead(pair.question, pair.method, pair.other, metric, evidence)


def _outcome(verdict: str, pair: MethodComparison) -> str:
    return {
        REPRODUCED: f"{pair.method} lower",
        NOT_REPRODUCED: f"{pair.other} lower",
        INCONCLUSIVE: OVERLAP,
        NOT_MEASURABLE: NOT_MEASURABLE,
    }[verdict]
