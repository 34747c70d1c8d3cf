"""The task page's section "Does this reproduce the paper?" and its head-to-head comparisons.

The paper's claims (:mod:`mfbench.results.paper_check`) are checked only on a task whose
``roles`` name the paper's methods; the page says why otherwise. The head-to-head comparisons
(:mod:`mfbench.results.head_to_head`) are those the task's ``roles.comparisons`` name.
"""

from __future__ import annotations

import pandas as pd

from mfbench.leaderboard.tables import (
    Cell,
    Table,
    fraction_cell,
    metric_cell,
    number_cell,
    text_cell,
)
from mfbench.results.head_to_head import compare_methods
from mfbench.results.paper_check import ClaimCheck, check_paper_claims
from mfbench.tasks.definition import Task

#: Columns of the paper check.
_PAPER_FIELDS = ["claim", "verdict", "detail", "evidence"]


def paper_check_table(
    summary: pd.DataFrame, definition: Task | None, stem: str
) -> tuple[Table | None, str]:
    """The section "Does this reproduce the paper?": :func:`check_paper_claims` as a table.

    Returns:
        ``(table, "")``, or ``(None, why there is none)``.
    """
    if definition is None:
        return None, "The task definition was not found, so the claims cannot be checked."
    if definition.roles.paper is None:
        return None, (
            f"Task {definition.task} names no methods of the paper (roles.paper in its "
            "definition), so its claims are not checked here."
        )
    checks: list[ClaimCheck] = check_paper_claims(summary, definition)
    if not checks:
        return None, "No claim of the paper applies to this task."
    rows = [[text_cell(c.claim), text_cell(c.verdict), text_cell(c.detail)] for c in checks]
    records = [
        {"claim": c.claim, "verdict": c.verdict, "detail": c.detail, "evidence": c.rows}
        for c in checks
    ]
    table = Table(
        key=f"{stem.rsplit('/', 1)[-1]}-paper-check",
        caption="The claims of Huang et al. (2025) on this task's ranked runs",
        headers=["Claim", "Verdict", "Detail"],
        rows=rows,
        fields=_PAPER_FIELDS,
        records=records,
        download=f"{stem}.paper-check",
        sortable=False,
        css_class="paper-check",
        note="Reproduced: the claimed order holds and the 95 % intervals over seeds do not "
        "overlap; not reproduced: the opposite order with intervals apart; inconclusive: the "
        "intervals overlap; not measurable: a method is missing or has one seed (no interval). "
        "The JSON download holds the evidence of each comparison.",
    )
    return table, ""


#: Columns of the head-to-head download that name the comparison and its metric.
_PAIR_FIELDS = ["question", "method", "other", "metric", "unit"]
#: Columns of the head-to-head download read from a comparison's row (one per fraction).
_ROW_FIELDS = [
    "fraction", "n_train_frames", "n_seeds", "mean", "ci_low", "ci_high", "other_n_seeds",
    "other_mean", "other_ci_low", "other_ci_high", "ratio", "outcome", "reason",
]  # fmt: skip
#: Columns of the head-to-head download (one row per comparison, metric and fraction).
_HEAD_TO_HEAD_FIELDS = _PAIR_FIELDS + _ROW_FIELDS
#: Column headers of the head-to-head table on the page.
_HEAD_TO_HEAD_HEADERS = [
    "Question", "Metric", "Fraction", "Frames", "Method", "MAE", "Other", "MAE", "Outcome",
]  # fmt: skip


def head_to_head_table(summary: pd.DataFrame, definition: Task | None, stem: str) -> Table | None:
    """The comparisons ``roles.comparisons`` names, one row per comparison, metric and fraction.

    Returns:
        The table, or None when the task names no comparison (or is not defined here).
    """
    if definition is None or not definition.roles.comparisons:
        return None
    rows: list[list[Cell]] = []
    records: list[dict[str, object]] = []
    for pair in compare_methods(summary, definition):
        for row in pair.rows:
            rows.append(
                [
                    text_cell(pair.question),
                    text_cell(f"{pair.metric.long} ({pair.metric.unit})"),
                    fraction_cell(row["fraction"]),
                    number_cell(row["n_train_frames"]),
                    text_cell(pair.method),
                    _mae_cell(row, ""),
                    text_cell(pair.other),
                    _mae_cell(row, "other_"),
                    text_cell(row["outcome"]),
                ]
            )
            records.append(
                {"question": pair.question, "method": pair.method, "other": pair.other}
                | {"metric": pair.metric.key, "unit": pair.metric.unit}
                | {k: row.get(k) for k in _ROW_FIELDS}
            )
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-head-to-head",
        caption="Head-to-head comparisons this task names (energy and force MAE)",
        headers=_HEAD_TO_HEAD_HEADERS,
        rows=rows,
        fields=_HEAD_TO_HEAD_FIELDS,
        records=records,
        download=f"{stem}.head-to-head",
        sortable=False,
        css_class="paper-check",
        note="Each metric's mean over seeds (95 % t-interval), energy and forces read "
        "separately. An outcome names the lower method "
        "only when the two intervals do not overlap; not measurable: a method has no run at "
        "that fraction or one seed (no interval).",
    )


def _mae_cell(row: dict[str, object], prefix: str) -> Cell:
    n_seeds = row.get(f"{prefix}n_seeds")
    return metric_cell(
        row.get(f"{prefix}mean"),
        row.get(f"{prefix}ci_low"),
        row.get(f"{prefix}ci_high"),
        None,
        int(n_seeds) if isinstance(n_seeds, int) else 0,
    )
