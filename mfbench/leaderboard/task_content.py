"""A task's content: ranked tables, reference rows, scaling fits and plots, details.

The tables are built from :func:`mfbench.results.summarize` of the task's comparable runs
(mean, standard deviation and 95 % bootstrap interval over seeds, per entry and fraction).
Non-compliant runs (:mod:`mfbench.results.compliance`, or of a non-compliant submission) are
summarised the same way in a table of their own; they enter no rank, no summary at the largest
fraction, no fit or plot.
Runs that are not comparable are listed apart with the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup

from mfbench.errors import MfbenchError
from mfbench.leaderboard.model import (
    ENERGY,
    GAIN_BASELINES,
    PLOT_METRICS,
    SCRATCH_METHOD,
    SUMMARY_METRICS,
    TABLE_METRICS,
    Entry,
    Metric,
    Plot,
    Runs,
    TaskContent,
)
from mfbench.leaderboard.plots import Curve, Fit, scaling_svg
from mfbench.leaderboard.safety import slug
from mfbench.leaderboard.tables import (
    MISSING,
    Cell,
    Table,
    count_table,
    format_number,
    fraction_cell,
    is_missing,
    key_value_table,
    metric_cell,
    number_cell,
    text_cell,
)
from mfbench.results import summarize
from mfbench.results.scaling import TABLE_COLUMNS, scaling_table, transfer_gain_table
from mfbench.tasks.definition import Task, get_task

logger = logging.getLogger(__name__)


def _definition(task: str) -> Task | None:
    try:
        return get_task(task)
    except MfbenchError as exc:
        logger.warning("task %s: definition not found (%s)", task, exc)
        return None


def _present(metrics: Iterable[Metric], frame: pd.DataFrame) -> list[Metric]:
    return [m for m in metrics if m.column in frame.columns]


def task_content(task: str, runs: Runs) -> TaskContent:
    """The index section and the page of one task."""
    frame, kept, apart, entries = runs.frame, runs.kept, runs.apart, runs.entries
    task_slug = slug(task)
    definition = _definition(task)
    rows = kept[kept["task"] == task] if len(kept) else kept
    metrics = _present(SUMMARY_METRICS, frame)
    summary = _labelled_summary(rows, metrics, entries)
    reference_rows = runs.reference
    if len(reference_rows):
        reference_rows = reference_rows[reference_rows["task"] == task]
    reference = _labelled_summary(reference_rows, metrics, entries)
    stem = f"tasks/{task_slug}"
    min_frames = float(definition.scaling_fit_min_frames if definition else 1000)
    scaling = _scaling_frames(summary, min_frames) if len(summary) else {}
    task_apart = apart[apart["task"] == task] if len(apart) else apart
    task_indices = [i for i in frame.index if frame.at[i, "task"] == task]
    return TaskContent(
        name=task,
        slug=task_slug,
        page=f"{stem}.html",
        anchor=f"task-{task_slug}",
        definition=definition,
        n_accepted=len(task_indices),
        n_ranked=len(rows),
        n_reference=len(reference_rows),
        results=_results_table(summary, entries, _present(TABLE_METRICS, frame), stem)
        if len(summary)
        else None,
        summary=_summary_table(summary, entries, metrics, stem) if len(summary) else None,
        reference=_reference_table(
            reference, reference_rows, entries, _present(TABLE_METRICS, frame), stem
        )
        if len(reference)
        else None,
        scaling=_scaling_table(scaling, stem, min_frames) if scaling else None,
        gains=_gain_table(summary, stem) if len(summary) else None,
        plots=_plots(task, summary, scaling, min_frames) if len(summary) else [],
        plot_note=_plot_note(summary, min_frames),
        set_apart=_set_apart_table(task_apart, entries, runs.paths, stem)
        if len(task_apart)
        else None,
        details=_task_details(task, definition, [runs.records[i] for i in task_indices], stem),
    )


def _labelled_summary(
    rows: pd.DataFrame, metrics: Sequence[Metric], entries: dict[tuple[str, str], Entry]
) -> pd.DataFrame:
    """:func:`mfbench.results.summarize` of ``rows`` with each entry's ``label`` (empty: none)."""
    if not len(rows):
        return pd.DataFrame()
    summary = summarize(rows, metrics=[m.column for m in metrics])
    return summary.assign(
        label=[
            entries[m, h].label
            for m, h in zip(summary["method"], summary["params_hash"], strict=True)
        ]
    )


def _ranks(values: pd.Series) -> pd.Series:
    """1 for the lowest value, ties share the lower rank, NaN unranked."""
    return values.rank(method="min", ascending=True, na_option="keep")


def _metric_cells(row: pd.Series, metrics: Sequence[Metric]) -> list[Cell]:
    return [
        metric_cell(
            row.get(f"{m.column}_mean"),
            row.get(f"{m.column}_ci_low"),
            row.get(f"{m.column}_ci_high"),
            row.get(f"{m.column}_std"),
            int(row["n_seeds"]),
        )
        for m in metrics
    ]


def _metric_fields(metrics: Sequence[Metric]) -> list[str]:
    return [f"{m.column}_{stat}" for m in metrics for stat in ("mean", "ci_low", "ci_high", "std")]


def entry_record(entry: Entry) -> dict[str, Any]:
    """The download columns naming an entry: its label, name and params hash."""
    return {"method": entry.label, "method_name": entry.name, "params_hash": entry.params_hash}


#: Download columns of the ranked tables, before the metrics.
_RANKED_FIELDS = ["rank", "method", "method_name", "params_hash", "fraction", "n_train_frames",
                  "n_seeds", "seeds"]  # fmt: skip


def _ranked(
    frame: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[Metric],
    show_fraction: bool,
) -> tuple[list[list[Cell]], list[dict[str, Any]]]:
    """Cells and download rows of summary rows that carry a ``rank`` column."""
    rows, records = [], []
    for _, row in frame.iterrows():
        cells, record = _entry_row(row, entries, metrics, show_fraction)
        rank = int_or_none(row["rank"])
        rows.append([number_cell(rank), *cells])
        records.append({"rank": rank, **record})
    return rows, records


def _entry_row(
    row: pd.Series,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[Metric],
    show_fraction: bool,
) -> tuple[list[Cell], dict[str, Any]]:
    """Cells (method, fraction, frames, seeds, metrics) and download fields of a summary row."""
    entry = entries[row["method"], row["params_hash"]]
    seeds = seed_list(row["seeds"])
    cells = [
        text_cell(entry.label, href=entry.page),
        *([fraction_cell(row["fraction"])] if show_fraction else []),
        number_cell(int(row["n_train_frames"])),
        number_cell(int(row["n_seeds"]), title=f"seeds {seeds}"),
        *_metric_cells(row, metrics),
    ]
    record = {
        **entry_record(entry),
        "fraction": float(row["fraction"]),
        "n_train_frames": int(row["n_train_frames"]),
        "n_seeds": int(row["n_seeds"]),
        "seeds": seeds,
        **{name: row.get(name) for name in _metric_fields(metrics)},
    }
    return cells, record


def _results_table(
    summary: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[Metric],
    stem: str,
) -> Table:
    """Entries × fractions: the mean (bootstrap interval) of each metric over seeds."""
    frame = summary.assign(
        rank=summary.groupby("fraction")[f"{ENERGY.column}_mean"].transform(_ranks)
    )
    frame = frame.sort_values(
        ["fraction", "rank", "label"], ascending=[False, True, True], na_position="last"
    )
    rows, records = _ranked(frame, entries, metrics, show_fraction=True)
    headers = ["Rank", "Method", "Fraction", "Train frames", "Seeds"]
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-results",
        caption="Every method and training fraction: mean over seeds (95 % bootstrap interval)",
        headers=[*headers, *(m.header for m in metrics)],
        rows=rows,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.results",
        note="Rank: by energy MAE among the methods of the same fraction. "
        "Click a column header to sort.",
    )


def _summary_table(
    summary: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[Metric],
    stem: str,
) -> Table:
    """The paper-style table (Huang et al. 2025, Table 1) at the largest fraction run."""
    largest = float(summary["fraction"].max())
    frame = summary[summary["fraction"] == largest]
    frame = frame.assign(rank=_ranks(frame[f"{ENERGY.column}_mean"]))
    frame = frame.sort_values(["rank", "label"], na_position="last")
    rows, records = _ranked(frame, entries, metrics, show_fraction=False)
    missing = sorted(set(summary["label"]) - set(frame["label"]))
    note = "Methods without runs at this fraction are not listed"
    note += f": {', '.join(missing)}." if missing else "."
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-summary",
        caption=f"Summary at the largest fraction run, {largest:g} "
        f"({format_number(int(frame['n_train_frames'].max()))} training frames)",
        headers=["Rank", "Method", "Train frames", "Seeds", *(m.header for m in metrics)],
        rows=rows,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.summary",
        note=note,
    )


#: Caption of the table of non-compliant runs.
REFERENCE_CAPTION = "Reference rows (not ranked: non-compliant)"


def _reference_table(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[Metric],
    stem: str,
) -> Table:
    """Non-compliant entries × fractions, like the results table but unranked, with the reason.

    Args:
        summary: :func:`_labelled_summary` of the task's non-compliant runs.
        runs: those runs, with their ``reason`` column.
        entries: every entry, by (name, params_hash).
        metrics: the metric columns shown (those of the results table).
        stem: the task's site path without suffix, e.g. ``"tasks/mp-r2scan"``.
    """
    reasons: dict[tuple[str, str, float], list[str]] = {}
    for _, run in runs.iterrows():
        key = (run["method"], run["params_hash"], float(run["fraction"]))
        if run["reason"] not in reasons.setdefault(key, []):
            reasons[key].append(run["reason"])
    frame = summary.sort_values(
        ["fraction", f"{ENERGY.column}_mean", "label"],
        ascending=[False, True, True],
        na_position="last",
    )
    rows, records = [], []
    for _, row in frame.iterrows():
        cells, record = _entry_row(row, entries, metrics, show_fraction=True)
        reason = "; ".join(reasons[row["method"], row["params_hash"], float(row["fraction"])])
        rows.append([*cells, text_cell(reason)])
        records.append({**record, "reason": reason})
    headers = ["Method", "Fraction", "Train frames", "Seeds"]
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-reference",
        caption=f"{REFERENCE_CAPTION}: mean over seeds (95 % bootstrap interval)",
        headers=[*headers, *(m.header for m in metrics), "Reason"],
        rows=rows,
        fields=[*_RANKED_FIELDS[1:], *_metric_fields(metrics), "reason"],
        records=records,
        download=f"{stem}.reference",
        note="These runs used target-fidelity knowledge beyond their training fraction (e.g. a "
        "checkpoint trained on the task's target labels), so they are shown for reference only: "
        "they take no rank and enter neither the summary at the largest fraction nor the "
        "scaling fits and plots.",
    )


def _scaling_frames(summary: pd.DataFrame, min_frames: float) -> dict[Metric, pd.DataFrame]:
    """:func:`mfbench.results.scaling.scaling_table` of each plotted metric, by entry label."""
    out = {}
    for metric in PLOT_METRICS:
        column = f"{metric.column}_mean"
        if column not in summary.columns:
            continue
        curves = (
            summary[["label", "n_train_frames", column]]
            .rename(columns={"label": "method", column: metric.column})
            .groupby(["method", "n_train_frames"], as_index=False, sort=True)
            .mean()
        )
        out[metric] = scaling_table(
            curves, metric.column, min_frames, scratch_method=SCRATCH_METHOD
        )
    return out


def _scaling_table(scaling: dict[Metric, pd.DataFrame], stem: str, min_frames: float) -> Table:
    """Power-law fits and data efficiency of each entry for each plotted metric."""
    rows, records = [], []
    for metric, table in scaling.items():
        for _, row in table.iterrows():
            factor, kind = row["data_efficiency_factor"], row["data_efficiency_kind"]
            bound = {"more-than": "> ", "at-most": "≤ "}.get(str(kind), "")
            efficiency = MISSING if is_missing(factor) else f"{bound}{format_number(factor)}"
            fitted = (
                MISSING
                if int(row["n_points"]) == 0
                else f"{format_number(row['fit_n_min'])}–{format_number(row['fit_n_max'])}"
            )
            rows.append(
                [
                    text_cell(metric.short),
                    text_cell(str(row["method"])),
                    number_cell(row["slope"]),
                    number_cell(row["prefactor"]),
                    number_cell(row["r2"]),
                    number_cell(int(row["n_points"])),
                    text_cell(fitted),
                    Cell(efficiency, sort=_sort_number(factor), title=f"bound: {kind}"),
                    number_cell(row["auc"]),
                ]
            )
            records.append({"metric": metric.column, **{k: row[k] for k in TABLE_COLUMNS}})
    fields = ["metric", *TABLE_COLUMNS]
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-scaling",
        caption=f"Power law MAE = a · n^b fitted to the mean MAE at n ≥ {min_frames:,.0f} "
        "training frames",
        headers=[
            "Metric",
            "Method",
            "Slope b",
            "Prefactor a",
            "R²",
            "Points fitted",
            "Frames fitted",
            f"Frames {SCRATCH_METHOD} needs (×)",
            "Mean MAE over shared range",
        ],
        rows=rows,
        fields=fields,
        records=records,
        download=f"{stem}.scaling",
        note=f"“Frames {SCRATCH_METHOD} needs”: how many times more training frames the "
        f"{SCRATCH_METHOD} entry needs to reach the method's MAE at its largest fraction "
        "(> : never reached in the frames measured). Mean MAE over shared range: the mean of the "
        "learning curve over log10(frames) on the range every method measured.",
    )


def _gain_table(summary: pd.DataFrame, stem: str) -> Table | None:
    """Transfer gain of each entry against each of :data:`GAIN_BASELINES`, fraction by fraction.

    The gain is ``1 - MAE / baseline MAE`` of the mean over seeds
    (:func:`mfbench.results.scaling.transfer_gain_table`), shown in percent: +40 % means 40 %
    lower error than the baseline at the same training fraction. None when no baseline ran.
    """
    metrics = [m for m in PLOT_METRICS if f"{m.column}_mean" in summary.columns]
    labels = set(summary["label"])
    baselines = [b for b in GAIN_BASELINES if b in labels]
    if not metrics or not baselines:
        return None
    columns: dict[tuple[Metric, str], pd.Series] = {}
    base = summary[["label", "fraction", "n_train_frames"]].drop_duplicates(["label", "fraction"])
    for metric in metrics:
        column = f"{metric.column}_mean"
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
                **{f"{m.column}_gain_vs_{b}": v for (m, b), v in values.items()},
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


def _sort_number(value: Any) -> str:
    return "" if is_missing(value) else repr(float(value))


def _plots(
    task: str, summary: pd.DataFrame, scaling: dict[Metric, pd.DataFrame], min_frames: float
) -> list[Plot]:
    """The scaling plots of one task (energy and force MAE)."""
    plots = []
    for metric in PLOT_METRICS:
        if f"{metric.column}_mean" not in summary.columns:
            continue
        fits = scaling.get(metric)
        curves = [
            _curve(label, rows, metric, fits) for label, rows in summary.groupby("label", sort=True)
        ]
        svg = scaling_svg(f"{task}: {metric.name}", metric.header, curves, min_frames)
        if svg is None:
            continue
        caption = (
            f"{metric.name} ({metric.unit}) against training frames, log-log: mean over seeds "
            "with the 95 % bootstrap interval; dashed: power-law fit."
        )
        plots.append(Plot(title=f"{metric.name} scaling", svg=Markup(svg), caption=caption))
    return plots


def _curve(label: str, rows: pd.DataFrame, metric: Metric, fits: pd.DataFrame | None) -> Curve:
    rows = rows.sort_values("n_train_frames")
    positive = rows[rows["n_train_frames"] > 0]
    zero = rows[rows["n_train_frames"] == 0][f"{metric.column}_mean"]
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
        label=str(label),
        n_frames=positive["n_train_frames"].to_numpy(dtype=float),
        mean=positive[f"{metric.column}_mean"].to_numpy(dtype=float),
        low=positive[f"{metric.column}_ci_low"].to_numpy(dtype=float),
        high=positive[f"{metric.column}_ci_high"].to_numpy(dtype=float),
        zero_shot=zero_shot,
        fit=fit,
    )


def _plot_note(summary: pd.DataFrame, min_frames: float) -> str:
    note = (
        f"Power laws are fitted only at ≥ {min_frames:,.0f} training frames (the task's "
        "scaling_fit_min_frames), as in Huang et al. (2025, Fig. 6)."
    )
    if len(summary) and (summary["n_train_frames"] == 0).any():
        note += (
            " Fraction 0 (zero training frames) has no place on a log axis: it is drawn as a "
            "hollow diamond on the left edge, at its MAE, and enters no fit."
        )
    return note


def _set_apart_table(
    apart: pd.DataFrame, entries: dict[tuple[str, str], Entry], paths: list[str], stem: str
) -> Table:
    """Accepted runs that are not compared, with the reason."""
    rows, records = [], []
    for index, row in apart.sort_values(["method", "fraction", "seed"]).iterrows():
        entry = entries[row["method"], row["params_hash"]]
        rows.append(
            [
                text_cell(entry.label, href=entry.page),
                fraction_cell(row["fraction"]),
                number_cell(int(row["seed"])),
                number_cell(int(row["task_version"])),
                text_cell(row["reason"]),
                text_cell(paths[index], code=True),
            ]
        )
        records.append(
            {
                **entry_record(entry),
                "fraction": float(row["fraction"]),
                "seed": int(row["seed"]),
                "task_version": int(row["task_version"]),
                "split_fingerprint": row["split_fingerprint"],
                "reason": row["reason"],
                "record": paths[index],
            }
        )
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-set-apart",
        caption="Valid runs set apart (not comparable with the ranked ones)",
        headers=["Method", "Fraction", "Seed", "Task version", "Reason", "Record"],
        rows=rows,
        fields=[
            "method",
            "method_name",
            "params_hash",
            "fraction",
            "seed",
            "task_version",
            "split_fingerprint",
            "reason",
            "record",
        ],
        records=records,
        download=f"{stem}.set-apart",
    )


def _task_details(
    task: str, definition: Task | None, records: list[dict[str, Any]], stem: str
) -> list[Table]:
    """The task page's tables: definition, dataset, changelog, split, fractions, budget."""
    key = stem.rsplit("/", 1)[-1]
    versions = sorted({int(r["task"]["version"]) for r in records})
    about: list[tuple[str, Any]] = [("task", task)]
    if definition is not None:
        about += [
            ("description", definition.description),
            ("current version", definition.version),
            ("target fidelity", definition.target_fidelity),
            (
                "dataset (definition)",
                f"{definition.dataset.id} version {definition.dataset.version}",
            ),
            (
                "split rule",
                f"{definition.split.rule}: train {definition.split.train:g}, "
                f"val {definition.split.val:g}, test {definition.split.test:g}",
            ),
            ("fractions", ", ".join(f"{v:g}" for v in definition.fractions.values)),
            ("scaling_fit_min_frames", definition.scaling_fit_min_frames),
            ("budget (definition)", _budget(definition)),
            (
                "auxiliary data",
                "; ".join(_auxiliary(a) for a in definition.auxiliary_data) or "none",
            ),
        ]
    about += [
        ("task versions in the records", ", ".join(map(str, versions))),
        ("valid records", len(records)),
    ]
    tables = [key_value_table(f"{key}-task", "Task", about, f"{stem}.task")]
    tables.append(
        count_table(
            f"{key}-dataset",
            "Dataset of the records",
            f"{stem}.dataset",
            records,
            [
                ("id", ("dataset", "id")),
                ("version", ("dataset", "version")),
                ("sha256", ("dataset", "sha256")),
                ("checksum status", ("dataset", "checksum_status")),
            ],
            code={"sha256"},
        )
    )
    if definition is not None:
        changes = [(c.version, c.date.isoformat(), c.change) for c in definition.changelog]
        tables.append(
            Table(
                key=f"{key}-changelog",
                caption="Changelog of the task definition",
                headers=["Version", "Date", "Change"],
                rows=[[number_cell(v), text_cell(d), text_cell(c)] for v, d, c in changes],
                fields=["version", "date", "change"],
                records=[{"version": v, "date": d, "change": c} for v, d, c in changes],
                download=f"{stem}.changelog",
                sortable=False,
            )
        )
    tables.append(
        count_table(
            f"{key}-split",
            "Split of the records",
            f"{stem}.split",
            records,
            [
                ("task version", ("task", "version")),
                ("split fingerprint", ("task", "split_fingerprint")),
                ("test fingerprint", ("task", "test_fingerprint")),
                ("test frames", ("coverage", "test_frames")),
                ("frames predicted", ("timing", "n_predicted_frames")),
            ],
            code={"split fingerprint", "test fingerprint"},
        )
    )
    tables.append(
        count_table(
            f"{key}-fractions",
            "Training fractions of the records",
            f"{stem}.fractions",
            records,
            [
                ("fraction", ("fraction",)),
                ("train frames", ("n_train_frames",)),
                ("train fraction fingerprint", ("task", "train_fraction_fingerprint")),
            ],
            code={"train fraction fingerprint"},
        )
    )
    tables.append(
        count_table(
            f"{key}-budget",
            "Training budget of the records",
            f"{stem}.budget",
            records,
            [
                ("epochs", ("task", "budget", "epochs")),
                ("max steps", ("task", "budget", "max_steps")),
                ("batch size", ("task", "budget", "batch_size")),
            ],
        )
    )
    return tables


def _budget(definition: Task) -> str:
    budget = definition.budget
    steps = f", at most {budget.max_steps} optimizer steps" if budget.max_steps else ""
    return f"{budget.epochs} epochs of batch size {budget.batch_size}{steps}"


def _auxiliary(aux: Any) -> str:
    source = f"dataset {aux.dataset.id} {aux.dataset.version}" if aux.dataset else "same frames"
    return f"{aux.fidelity} labels of {source} ({aux.scope})"


def int_or_none(value: Any) -> int | None:
    """``int(value)``, or None for None and NaN."""
    return None if is_missing(value) else int(value)


def seed_list(seeds: Any) -> str:
    """Seeds as ``"0 1 2"``."""
    return " ".join(str(int(s)) for s in seeds)
