"""The task page's element-coverage table: what each training fraction covers of the test split.

Computed from the task's data (:meth:`mfbench.tasks.data.TaskData.summary`), not from records,
so it shows every fraction the task defines, run or not. A task whose dataset is not prepared on
the building machine gets no table (the embedded datasets are prepared on demand).
"""

from __future__ import annotations

import logging

from mfbench.errors import MfbenchError
from mfbench.leaderboard.tables import Table, number_cell, share_cell, text_cell
from mfbench.tasks.definition import Task

logger = logging.getLogger(__name__)

FIELDS = [
    "fraction", "n_frames", "n_materials", "n_elements", "test_elements_covered",
    "test_elements", "test_frames_covered_share",
]  # fmt: skip


def coverage_table(definition: Task, stem: str) -> Table | None:
    """One row per training fraction: frames, materials, elements, test coverage.

    Args:
        definition: the task.
        stem: download path without suffix, e.g. ``"tasks/sevennet-r2scan"``.

    Returns:
        The table, or None when the task's data cannot be loaded here.
    """
    from mfbench.tasks.data import TaskData

    try:
        fractions = TaskData.load(definition).summary()["fractions"]
    except MfbenchError as exc:
        logger.info("task %s: no coverage table (%s)", definition.task, exc)
        return None
    key = stem.rsplit("/", 1)[-1]
    rows = [
        [
            text_cell(f"{row['fraction']:g}"),
            number_cell(row["n_frames"]),
            number_cell(row["n_materials"]),
            number_cell(row["n_elements"]),
            text_cell(f"{row['test_elements_covered']} of {row['test_elements']}"),
            share_cell(row["test_frames_covered_share"]),
        ]
        for row in fractions
    ]
    return Table(
        key=f"{key}-coverage",
        caption=(
            "Element coverage by training fraction: a test frame is covered when all its "
            "elements occur in the fraction's training frames"
        ),
        headers=[
            "Fraction",
            "Train frames",
            "Materials",
            "Elements",
            "Test elements covered",
            "Test frames covered",
        ],
        rows=rows,
        fields=FIELDS,
        records=[{name: row[name] for name in FIELDS} for row in fractions],
        download=f"{stem}.coverage",
        sortable=False,
    )
