"""A task's scaling section: power-law fits, data efficiency and the learning-curve plots.

The data efficiency is measured against the task's ``roles.scratch``
(:func:`mfbench.results.scaling_table.scaling_table`); a task without it leaves the column empty
and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup

from mfbench.html.numbers import MISSING, format_number, is_missing
from mfbench.leaderboard.plots import Curve, Fit, scaling_svg
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    number_cell,
    text_cell,
)
from mfbench.leaderboard.view_model import (
    PLOT_METRICS,
    Entry,
    Plot,
)
from mfbench.metrics.catalogue import MetricInfo
from mfbench.results.scaling_table import TABLE_COLUMNS, scaling_table


def scaling_fits(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    min_frames: float,
    scratch: str | None,
) -> dict[MetricInfo, pd.DataFrame]:
    """:func:`mfbench.results.scaling_table.scaling_table` of each plotted metric, by entry label.

    Args:
        summary: the labelled summary of the ranked runs.
        runs: those runs, one row per seed: each seed's curve is fitted on its own.
        entries: every entry, by (name, params_hash).
        min_frames: the task's ``scaling_fit_min_frames``.
        scratch: the task's ``roles.scratch``, the reference of the data efficiency (None: none).
    """
    labels = [entries[m, h].label for m, h in zip(runs["method"], runs["params_hash"], strict=True)]
    out = {}
    for metric in PLOT_METRICS:
        column = f"{metric.key}_mean"
        if column not in summary.columns:
            continue
        curves = (
            summary[["label", "n_train_frames", column]]
            .rename(columns={"label": "method", column: metric.key})
            .groupby(["method", "n_train_frames"], as_index=False, sort=True)
            .mean()
        )
        per_seed = runs[["seed", "n_train_frames", metric.key]].assign(method=labels)
        out[metric] = scaling_table(
            curves,
            metric.key,
            min_frames,
            scratch_method=scratch,
            per_seed=per_seed,
        )
    return out


def _interval_text(value: Any, low: Any, high: Any, digits: str = ".2f") -> str:
    """``"-0.40 (-0.52 to -0.28)"``; the value alone without an interval; – when missing."""
    if is_missing(value):
        return MISSING
    text = f"{float(value):{digits}}".replace("-", "−")
    if not (is_missing(low) or is_missing(high)):
        ends = [f"{float(v):{digits}}".replace("-", "−") for v in (low, high)]
        text += f" ({ends[0]} to {ends[1]})"
    return text


def _prefactor_text(row: pd.Series) -> str:
    """The prefactor with the interval of its log10 turned back into the metric's unit."""
    low, high = row["log10_prefactor_ci_low"], row["log10_prefactor_ci_high"]
    text = format_number(row["prefactor"])
    if not (is_missing(row["prefactor"]) or is_missing(low) or is_missing(high)):
        text += f" ({format_number(10.0**low)} to {format_number(10.0**high)})"
    return text


def fits_table(
    scaling: dict[MetricInfo, pd.DataFrame], stem: str, min_frames: float, scratch: str | None
) -> Table:
    """Power-law fits and data efficiency of each entry for each plotted metric.

    ``scratch`` is the task's ``roles.scratch``; without it the data efficiency is empty.
    """
    rows, records = [], []
    for metric, table in scaling.items():
        for _, row in table.iterrows():
            factor, kind = row["data_efficiency_factor"], row["data_efficiency_kind"]
            bound = {"more-than": "> ", "at-most": "≤ "}.get(str(kind), "")
            efficiency = MISSING if is_missing(factor) else f"{bound}{format_number(factor)}"
            fitted = (
                Cell("no fit", title=str(row["no_fit_reason"]))
                if int(row["n_points"]) == 0
                else text_cell(
                    f"{format_number(row['fit_n_min'])}–{format_number(row['fit_n_max'])}"
                )
            )
            rows.append(
                [
                    text_cell(metric.short),
                    text_cell(str(row["method"])),
                    Cell(
                        _interval_text(row["slope"], row["slope_ci_low"], row["slope_ci_high"]),
                        sort=_sort_number(row["slope"]),
                    ),
                    Cell(_prefactor_text(row), sort=_sort_number(row["prefactor"])),
                    number_cell(row["r2"]),
                    number_cell(int(row["n_seed_fits"])),
                    fitted,
                    Cell(efficiency, sort=_sort_number(factor), title=f"bound: {kind}"),
                    number_cell(row["auc"]),
                ]
            )
            records.append({"metric": metric.key, **{k: row[k] for k in TABLE_COLUMNS}})
    fields = ["metric", *TABLE_COLUMNS]
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-scaling",
        caption=f"Power law MAE = a · n^b through ≥ 3 fractions with n ≥ {min_frames:,.0f} "
        "training frames",
        headers=[
            "Metric",
            "Method",
            "Slope b (95 % interval)",
            "Prefactor a (95 % interval)",
            "R²",
            "Seeds fitted",
            "Frames fitted",
            f"Frames {scratch or 'scratch'} needs (×)",
            "Mean MAE over shared range",
        ],
        rows=rows,
        fields=fields,
        records=records,
        download=f"{stem}.scaling",
        note="Each seed's learning curve is fitted on its own (log-log least squares); b and "
        "log10 a are the means over the seeds fitted, with the 95 % Student-t interval over "
        "them (none with one seed); R² is that of the mean line on every seed's points. "
        + _efficiency_note(scratch)
        + " Mean MAE over shared range: the mean of the "
        "learning curve over log10(frames) on the range every method measured.",
    )


def _efficiency_note(scratch: str | None) -> str:
    """What the data-efficiency column holds, or why it is empty (no ``roles.scratch``)."""
    if scratch is None:
        return (
            "“Frames scratch needs”: empty, since the task names no method that trains from "
            "scratch (roles.scratch in its definition)."
        )
    return (
        f"“Frames {scratch} needs”: how many times more training frames the "
        f"{scratch} entry needs to reach the method's MAE at its largest fraction "
        "(> : never reached in the frames measured)."
    )


def fit_notes(scaling: dict[MetricInfo, pd.DataFrame], min_frames: float) -> list[str]:
    """Why entries have no power-law fit: one sentence per reason, naming the entries."""
    reasons: dict[str, dict[str, None]] = {}
    for table in scaling.values():
        for _, row in table[table["n_points"] == 0].iterrows():
            reason = row["no_fit_reason"] or f"no fit at ≥ {min_frames:,.0f} training frames"
            reasons.setdefault(str(reason), {})[str(row["method"])] = None
    everyone = {str(m) for t in scaling.values() for m in t["method"]}
    notes = []
    for reason, methods in reasons.items():
        who = "any method" if set(methods) == everyone else ", ".join(sorted(methods))
        notes.append(f"No power law for {who}: {reason}.")
    return notes


def _sort_number(value: Any) -> str:
    return "" if is_missing(value) else repr(float(value))


def scaling_plots(
    task: str,
    summary: pd.DataFrame,
    scaling: dict[MetricInfo, pd.DataFrame],
    min_frames: float,
    entries: dict[tuple[str, str], Entry],
) -> list[Plot]:
    """The scaling plots of one task (energy and force MAE)."""
    names = {e.label: e.name for e in entries.values()}
    variants = _variants(sorted(set(summary["label"])), names)
    plots = []
    for metric in PLOT_METRICS:
        if f"{metric.key}_mean" not in summary.columns:
            continue
        fits = scaling.get(metric)
        curves = [
            _curve(str(label), rows, metric, fits, names[label], variants[label])
            for label, rows in summary.groupby("label", sort=True)
        ]
        svg = scaling_svg(f"{task}: {metric.long}", metric.header, curves, min_frames)
        if svg is None:
            continue
        caption = (
            f"{metric.long} ({metric.unit}) against training frames, log-log: mean over seeds "
            "with the 95 % Student-t interval of the mean (no bar with one seed); dashed: "
            "power-law fit."
        )
        plots.append(Plot(title=f"{metric.long} scaling", svg=Markup(svg), caption=caption))
    return plots


def _variants(labels: Sequence[str], names: dict[str, str]) -> dict[str, int]:
    """0 for the first label of each method name, 1, 2, ... for the next ones (line styles)."""
    seen: dict[str, int] = {}
    out = {}
    for label in labels:
        name = names[label]
        out[label] = seen.get(name, 0)
        seen[name] = out[label] + 1
    return out


def _curve(
    label: str,
    rows: pd.DataFrame,
    metric: MetricInfo,
    fits: pd.DataFrame | None,
    method: str,
    variant: int,
) -> Curve:
    rows = rows.sort_values("n_train_frames")
    positive = rows[rows["n_train_frames"] > 0]
    zero = rows[rows["n_train_frames"] == 0][f"{metric.key}_mean"]
    zero_shot = float(zero.mean()) if len(zero) and not zero.isna().all() else None
    fit = None
    if fits is not None:
        match = fits[fits["method"] == label]
        if len(match) and int(match["n_points"].iloc[0]) > 0:
            row = match.iloc[0]
            fit = Fit(
                float(row["prefactor"]),
                float(row["slope"]),
                float(row["fit_n_min"]),
                float(row["fit_n_max"]),
            )
    return Curve(
        label=label,
        n_frames=positive["n_train_frames"].to_numpy(dtype=float),
        mean=positive[f"{metric.key}_mean"].to_numpy(dtype=float),
        low=positive[f"{metric.key}_ci_low"].to_numpy(dtype=float),
        high=positive[f"{metric.key}_ci_high"].to_numpy(dtype=float),
        zero_shot=zero_shot,
        fit=fit,
        method=method,
        variant=variant,
    )


def plot_note(summary: pd.DataFrame, min_frames: float) -> str:
    """What the scaling plots show and leave out, in words."""
    note = (
        f"Power laws are fitted only through at least 3 fractions with ≥ {min_frames:,.0f} "
        "training frames (the task's scaling_fit_min_frames), as in Huang et al. (2025, "
        "Fig. 6): a line through two points always fits perfectly and says nothing. Each "
        "method keeps its colour and marker on every page."
    )
    if len(summary) and (summary["n_train_frames"] == 0).any():
        note += (
            " Fraction 0 (zero training frames) has no place on a log axis: it is drawn as the "
            "method's marker, hollow, on the left edge, at its MAE, and enters no fit."
        )
    return note
