"""A task's content: ranked tables, reference rows, the paper check, scaling fits and plots.

The tables are built from :func:`mfbench.results.summarize` of the task's comparable runs
(mean, standard deviation and 95 % Student-t interval of the mean over seeds, per entry and
fraction; no interval with one seed). Each training fraction has a ranked table of its own:
entries are ranked by the energy MAE on all test frames among those of the same fraction only.
Non-compliant runs (:mod:`mfbench.results.compliance`, or of a non-compliant submission) are
summarised the same way in a table of their own; they enter no rank, no summary at the largest
fraction, no paper check, fit or plot. Runs that are not comparable are listed apart with the
reason. A task whose labels are not citable (``Task.citable`` False) carries a notice
(:func:`mfbench.tasks.citability.citability_notice`) that its pages, downloads and badges show.

Each part has a module of its own: ``task_tables`` (ranked and reference tables),
``task_paper_check``, ``task_scaling`` (fits, data efficiency, plots), ``task_gains`` and
``task_details`` (runs set apart, the definition and provenance).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from mfbench.errors import MfbenchError
from mfbench.html.safety import slug
from mfbench.leaderboard.task_details import set_apart_table, task_details
from mfbench.leaderboard.task_gains import gain_table, gains_note
from mfbench.leaderboard.task_paper_check import head_to_head_table, paper_check_table
from mfbench.leaderboard.task_scaling import (
    fit_notes,
    fits_table,
    plot_note,
    scaling_fits,
    scaling_plots,
)
from mfbench.leaderboard.task_tables import (
    fraction_tables,
    labelled_summary,
    reference_table,
    results_table,
    summary_table,
    unique_metrics,
)
from mfbench.leaderboard.view_model import (
    FRACTION_METRICS,
    SUMMARY_METRICS,
    TABLE_METRICS,
    Runs,
    TaskContent,
)
from mfbench.metrics.catalogue import MetricInfo
from mfbench.tasks.citability import citability_notice
from mfbench.tasks.definition import Roles, Task, get_task

logger = logging.getLogger(__name__)


def _definition(task: str) -> Task | None:
    try:
        return get_task(task)
    except MfbenchError as exc:
        logger.warning("task %s: definition not found (%s)", task, exc)
        return None


def _present(metrics: Iterable[MetricInfo], frame: pd.DataFrame) -> list[MetricInfo]:
    return [m for m in metrics if m.key in frame.columns]


def task_content(task: str, runs: Runs) -> TaskContent:
    """The index section and the page of one task."""
    frame, kept, apart, entries = runs.frame, runs.kept, runs.apart, runs.entries
    task_slug = slug(task)
    definition = _definition(task)
    rows = kept[kept["task"] == task] if len(kept) else kept
    metrics = _present(SUMMARY_METRICS, frame)
    fraction_metrics = _present(FRACTION_METRICS, frame)
    summary = labelled_summary(rows, unique_metrics([*metrics, *fraction_metrics]), entries)
    reference_rows = runs.reference
    if len(reference_rows):
        reference_rows = reference_rows[reference_rows["task"] == task]
    reference = labelled_summary(reference_rows, metrics, entries)
    stem = f"tasks/{task_slug}"
    min_frames = float(definition.scaling_fit_min_frames if definition else 1000)
    roles = definition.roles if definition else Roles()
    scaling = (
        scaling_fits(summary, rows, entries, min_frames, roles.scratch) if len(summary) else {}
    )
    task_apart = apart[apart["task"] == task] if len(apart) else apart
    task_indices = [i for i in frame.index if frame.at[i, "task"] == task]
    paper_check, paper_note = paper_check_table(summary, definition, stem)
    return TaskContent(
        name=task,
        slug=task_slug,
        page=f"{stem}.html",
        anchor=f"task-{task_slug}",
        definition=definition,
        n_accepted=len(task_indices),
        n_ranked=len(rows),
        n_reference=len(reference_rows),
        results=results_table(summary, entries, _present(TABLE_METRICS, frame), stem)
        if len(summary)
        else None,
        summary=summary_table(summary, entries, metrics, stem) if len(summary) else None,
        reference=reference_table(
            reference, reference_rows, entries, _present(TABLE_METRICS, frame), stem
        )
        if len(reference)
        else None,
        scaling=fits_table(scaling, stem, min_frames, roles.scratch) if scaling else None,
        gains=gain_table(summary, stem, roles.gain_baselines) if len(summary) else None,
        gains_note=gains_note(task, definition),
        plots=scaling_plots(task, summary, scaling, min_frames, entries) if len(summary) else [],
        plot_note=plot_note(summary, min_frames),
        set_apart=set_apart_table(task_apart, entries, runs.paths, stem)
        if len(task_apart)
        else None,
        details=task_details(task, definition, [runs.records[i] for i in task_indices], stem),
        notice=citability_notice(task, definition),
        fractions=fraction_tables(summary, entries, fraction_metrics, stem) if len(summary) else [],
        paper_check=paper_check,
        paper_check_note=paper_note,
        head_to_head=head_to_head_table(summary, definition, stem),
        fit_notes=fit_notes(scaling, min_frames),
    )
