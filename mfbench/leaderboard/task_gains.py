"""A task's transfer gains: each entry against each of the task's ``roles.gain_baselines``.

The gain is ``1 - MAE / baseline MAE`` at the same training fraction
(:func:`mfbench.results.scaling.transfer_gain_table`); a task naming no gain baselines has
no gains, and its page says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from mfbench.html.numbers import MISSING, is_missing
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    fraction_cell,
    number_cell,
    text_cell,
)
from mfbench.leaderboard.view_model import (
    PLOT_METRICS,
)
from mfbench.metrics.catalogue import MetricInfo
from mfbench.results.scaling import transfer_gain_table
from mfbench.tasks.definition import Task


def gains_note(task: str, definition: Task | None) -> str:
    """Why a task has no transfer gains at all: it names no baseline for them (else empty)."""
    if definition is None:
        return "The task definition was not found, so its gain baselines are unknown."
    if not definition.roles.gain_baselines:
        return (
            f"Task {task} names no baselines for transfer gains (roles.gain_baselines in its "
            "definition), so none are shown."
        )
    return ""


def gain_table(summary: pd.DataFrame, stem: str, gain_baselines: Sequence[str]) -> Table | None:
    """Transfer gain of each entry against each of the task's gain baselines, fraction by fraction.

    The gain is ``1 - MAE / baseline MAE`` of the mean over seeds
    (:func:`mfbench.results.scaling.transfer_gain_table`), shown in percent: +40 % means 40 %
    lower error than the baseline at the same training fraction. None when no baseline ran.

    Args:
        summary: the labelled summary of the ranked runs.
        stem: the task page's path without suffix.
        gain_baselines: the task's ``roles.gain_baselines``, in column order.
    """
    metrics = [m for m in PLOT_METRICS if f"{m.key}_mean" in summary.columns]
    labels = set(summary["label"])
    baselines = [b for b in gain_baselines if b in labels]
    if not metrics or not baselines:
        return None
    columns: dict[tuple[MetricInfo, str], pd.Series] = {}
    base = summary[["label", "fraction", "n_train_frames"]].drop_duplicates(["label", "fraction"])
    for metric in metrics:
        column = f"{metric.key}_mean"
        curves = summary[["label", "fraction", column]].rename(columns={"label": "method"})
        gains = transfer_gain_table(curves, column, baselines)
        gains = gains.set_index(["method", "fraction"])
        for baseline in baselines:
            columns[metric, baseline] = gains[f"gain_vs_{baseline}"]
    rows, records = [], []
    for _, row in base.sort_values(["fraction", "label"]).iterrows():
        key = (row["label"], row["fraction"])
        values = {c: float(series.get(key, float("nan"))) for c, series in columns.items()}
        rows.append(
            [
                fraction_cell(row["fraction"]),
                number_cell(int(row["n_train_frames"])),
                text_cell(str(row["label"])),
                *(_percent_cell(v) for v in values.values()),
            ]
        )
        records.append(
            {
                "fraction": row["fraction"],
                "n_train_frames": int(row["n_train_frames"]),
                "method": row["label"],
                **{f"{m.key}_gain_vs_{b}": v for (m, b), v in values.items()},
            }
        )
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-gains",
        caption="Transfer gain: 1 − MAE / baseline MAE at the same training fraction",
        headers=[
            "Fraction",
            "Frames",
            "Method",
            *(f"{m.short} vs {b}" for m, b in columns),
        ],
        rows=rows,
        fields=list(records[0]) if records else ["fraction", "n_train_frames", "method"],
        records=records,
        download=f"{stem}.gains",
        note="Mean MAE over seeds of each entry against that of the baseline at the same "
        "fraction. Positive: lower error than the baseline (+50 % halves it); negative: higher. "
        "Empty where the baseline has no run at that fraction.",
    )


def _percent_cell(value: float) -> Cell:
    """A gain as a signed percentage, sorted by its value."""
    if is_missing(value) or not math.isfinite(value):
        return Cell(text=MISSING)
    return Cell(text=f"{100 * value:+.0f} %", sort=repr(float(value)))
