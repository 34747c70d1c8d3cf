"""The task page's section "Does this reproduce the paper?" (:mod:`mfbench.results.paper_check`).

Only a task whose ``roles`` name the paper's methods is checked; the page says why otherwise.
"""

from __future__ import annotations

import pandas as pd

from mfbench.leaderboard.tables import (
    Table,
    text_cell,
)
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
