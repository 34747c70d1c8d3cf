"""Head-to-head comparisons of two methods that a task's ``roles.comparisons`` name.

The paper check (:mod:`mfbench.results.paper_check`) tests claims with a direction; these
comparisons have none. Each names two methods and a question (e.g. "Does joint training on the
GGA frames beat Method 4?") and is read at every nonzero fraction of the task from the
summary's energy MAE (meV/atom) and its 95 % interval over seeds, with the verdict rule of
:mod:`mfbench.results.comparison`, said without a direction:

- ``"<method> lower"``: the two intervals do not overlap and ``method``'s is below;
- ``"<other> lower"``: the intervals do not overlap and ``other``'s is below;
- ``"intervals overlap"``: the seeds do not separate the two;
- ``"not measurable"``: a method has no run at that fraction, one seed, or no finite interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

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

#: What the direction-free reading says for each verdict of "``method`` is lower".
OVERLAP = "intervals overlap"


@dataclass(frozen=True)
class HeadToHead:
    """One comparison of two methods across the task's nonzero fractions.

    Attributes:
        question: the task's words for it.
        method, other: registry names of the compared methods.
        rows: one entry per nonzero fraction: ``fraction``, ``n_train_frames``, each method's
            ``n_seeds``, ``mean``, ``ci_low``, ``ci_high`` (meV/atom; ``other_`` prefixed for
            ``other``), ``ratio`` (other's mean over method's), ``outcome`` (see the module
            docstring), ``reason`` and ``text`` (the row in words). JSON-ready.
    """

    question: str
    method: str
    other: str
    rows: list[dict[str, Any]]

    @property
    def outcomes(self) -> list[str]:
        """Each fraction's outcome, in the task's order of fractions."""
        return [row["outcome"] for row in self.rows]


def compare_methods(summary: pd.DataFrame, task: Task) -> list[HeadToHead]:
    """Every comparison ``task.roles.comparisons`` names, on the task's rows of ``summary``.

    Args:
        summary: :func:`mfbench.results.summarize` of ranked runs (as for
            :func:`mfbench.results.paper_check.check_paper_claims`); rows of other tasks or
            task versions are ignored.
        task: the task definition.

    Returns:
        One :class:`HeadToHead` per named comparison, in the task's order (empty when it
        names none).
    """
    rows = task_rows(summary, task)
    return [_head_to_head(rows, task, pair) for pair in task.roles.comparisons]


def _head_to_head(rows: pd.DataFrame, task: Task, pair: MethodComparison) -> HeadToHead:
    evidence = []
    for fraction in nonzero_fractions(task):
        row = comparison(rows, pair.method, pair.other, fraction, say=lambda v: _outcome(v, pair))
        row["outcome"] = _outcome(row.pop("verdict"), pair)
        evidence.append(row)
    return HeadToHead(pair.question, pair.method, pair.other, evidence)


def _outcome(verdict: str, pair: MethodComparison) -> str:
    return {
        REPRODUCED: f"{pair.method} lower",
        NOT_REPRODUCED: f"{pair.other} lower",
        INCONCLUSIVE: OVERLAP,
        NOT_MEASURABLE: NOT_MEASURABLE,
    }[verdict]
