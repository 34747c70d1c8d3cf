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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup

from mfbench.errors import MfbenchError
from mfbench.html.numbers import MISSING, format_number, is_missing
from mfbench.html.safety import slug
from mfbench.leaderboard.coverage_content import coverage_table
from mfbench.leaderboard.plots import Curve, Fit, scaling_svg
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    count_table,
    fraction_cell,
    key_value_table,
    metric_cell,
    number_cell,
    share_cell,
    text_cell,
)
from mfbench.leaderboard.view_model import (
    COVERED_SHARE,
    ENERGY,
    FRACTION_METRICS,
    PLOT_METRICS,
    SUMMARY_METRICS,
    TABLE_METRICS,
    Entry,
    Plot,
    Runs,
    TaskContent,
)
from mfbench.metrics.catalogue import MetricInfo
from mfbench.results import summarize
from mfbench.results.paper_check import ClaimCheck, check_paper_claims
from mfbench.results.scaling import TABLE_COLUMNS, scaling_table, transfer_gain_table
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
    summary = _labelled_summary(rows, _unique_metrics([*metrics, *fraction_metrics]), entries)
    reference_rows = runs.reference
    if len(reference_rows):
        reference_rows = reference_rows[reference_rows["task"] == task]
    reference = _labelled_summary(reference_rows, metrics, entries)
    stem = f"tasks/{task_slug}"
    min_frames = float(definition.scaling_fit_min_frames if definition else 1000)
    roles = definition.roles if definition else Roles()
    scaling = (
        _scaling_frames(summary, rows, entries, min_frames, roles.scratch) if len(summary) else {}
    )
    task_apart = apart[apart["task"] == task] if len(apart) else apart
    task_indices = [i for i in frame.index if frame.at[i, "task"] == task]
    paper_check, paper_note = _paper_check(summary, definition, stem)
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
        scaling=_scaling_table(scaling, stem, min_frames, roles.scratch) if scaling else None,
        gains=_gain_table(summary, stem, roles.gain_baselines) if len(summary) else None,
        gains_note=_gains_note(task, definition),
        plots=_plots(task, summary, scaling, min_frames, entries) if len(summary) else [],
        plot_note=_plot_note(summary, min_frames),
        set_apart=_set_apart_table(task_apart, entries, runs.paths, stem)
        if len(task_apart)
        else None,
        details=_task_details(task, definition, [runs.records[i] for i in task_indices], stem),
        notice=citability_notice(task, definition),
        fractions=_fraction_tables(summary, entries, fraction_metrics, stem)
        if len(summary)
        else [],
        paper_check=paper_check,
        paper_check_note=paper_note,
        fit_notes=_fit_notes(scaling, min_frames),
    )


def _unique_metrics(metrics: Sequence[MetricInfo]) -> list[MetricInfo]:
    """``metrics`` without repeats, in first-seen order."""
    return list(dict.fromkeys(metrics))


def _labelled_summary(
    rows: pd.DataFrame, metrics: Sequence[MetricInfo], entries: dict[tuple[str, str], Entry]
) -> pd.DataFrame:
    """:func:`mfbench.results.summarize` of ``rows`` with each entry's ``label`` (empty: none)."""
    if not len(rows):
        return pd.DataFrame()
    summary = summarize(rows, metrics=[m.key for m in metrics])
    return summary.assign(
        label=[
            entries[m, h].label
            for m, h in zip(summary["method"], summary["params_hash"], strict=True)
        ]
    )


def _ranks(values: pd.Series) -> pd.Series:
    """1 for the lowest value, ties share the lower rank, NaN unranked."""
    return values.rank(method="min", ascending=True, na_option="keep")


def _metric_cells(row: pd.Series, metrics: Sequence[MetricInfo]) -> list[Cell]:
    """One cell per metric: mean (interval) of an MAE, a percentage for the covered share."""
    return [
        share_cell(row.get(f"{m.key}_mean"))
        if m == COVERED_SHARE
        else metric_cell(
            row.get(f"{m.key}_mean"),
            row.get(f"{m.key}_ci_low"),
            row.get(f"{m.key}_ci_high"),
            row.get(f"{m.key}_std"),
            int(row["n_seeds"]),
        )
        for m in metrics
    ]


def _header(metric: MetricInfo) -> str:
    """A column header; the covered share is shown in percent."""
    return "Covered share" if metric == COVERED_SHARE else metric.header


def _metric_fields(metrics: Sequence[MetricInfo]) -> list[str]:
    return [f"{m.key}_{stat}" for m in metrics for stat in ("mean", "ci_low", "ci_high", "std")]


def entry_record(entry: Entry) -> dict[str, Any]:
    """The download columns naming an entry: its label, name and params hash."""
    return {"method": entry.label, "method_name": entry.name, "params_hash": entry.params_hash}


#: Download columns of the ranked tables, before the metrics.
_RANKED_FIELDS = ["rank", "method", "method_name", "params_hash", "fraction", "n_train_frames",
                  "n_seeds", "seeds"]  # fmt: skip


def _ranked(
    frame: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
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
    metrics: Sequence[MetricInfo],
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
    return cells, _download_row(row, entry, metrics)


def _download_row(row: pd.Series, entry: Entry, metrics: Sequence[MetricInfo]) -> dict[str, Any]:
    """The download fields of a summary row: entry, fraction, frames, seeds, metrics."""
    return {
        **entry_record(entry),
        "fraction": float(row["fraction"]),
        "n_train_frames": int(row["n_train_frames"]),
        "n_seeds": int(row["n_seeds"]),
        "seeds": seed_list(row["seeds"]),
        **{name: row.get(name) for name in _metric_fields(metrics)},
    }


def _results_table(
    summary: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    stem: str,
) -> Table:
    """Entries × fractions in one table, for download: each row ranked within its fraction."""
    frame = summary.assign(rank=summary.groupby("fraction")[f"{ENERGY.key}_mean"].transform(_ranks))
    frame = frame.sort_values(
        ["fraction", "rank", "label"], ascending=[False, True, True], na_position="last"
    )
    rows, records = _ranked(frame, entries, metrics, show_fraction=True)
    headers = ["Rank", "Method", "Fraction", "Train frames", "Seeds"]
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-results",
        caption="Every method and training fraction: mean over seeds (95 % t-interval of the "
        "mean with two or more seeds)",
        headers=[*headers, *(m.header for m in metrics)],
        rows=rows,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.results",
        note="Rank: by energy MAE among the methods of the same fraction only.",
    )


def _ranked_rows(
    frame: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    with_frames: bool,
) -> tuple[list[list[Cell]], list[dict[str, Any]]]:
    """Cells ``rank, method, metrics…, [train frames,] seeds`` and download rows.

    The ranked metric comes right after the method, so that the three leading columns can
    stay in view on a narrow screen (:attr:`Table.sticky`).
    """
    rows, records = [], []
    for _, row in frame.iterrows():
        entry = entries[row["method"], row["params_hash"]]
        seeds = seed_list(row["seeds"])
        rank = int_or_none(row["rank"])
        rows.append(
            [
                number_cell(rank),
                text_cell(entry.label, href=entry.page),
                *_metric_cells(row, metrics),
                *([number_cell(int(row["n_train_frames"]))] if with_frames else []),
                number_cell(int(row["n_seeds"]), title=f"seeds {seeds}"),
            ]
        )
        records.append({"rank": rank, **_download_row(row, entry, metrics)})
    return rows, records


def _fraction_tables(
    summary: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    stem: str,
) -> list[Table]:
    """One ranked table per training fraction, the largest fraction first."""
    return [
        _fraction_table(summary[summary["fraction"] == fraction], entries, metrics, stem)
        for fraction in sorted(summary["fraction"].unique(), reverse=True)
    ]


def _fraction_table(
    rows: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    stem: str,
) -> Table:
    """The entries of one fraction, ranked by energy MAE on all test frames."""
    fraction = float(rows["fraction"].iloc[0])
    frame = rows.assign(rank=_ranks(rows[f"{ENERGY.key}_mean"]))
    frame = frame.sort_values(["rank", "label"], na_position="last")
    cells, records = _ranked_rows(frame, entries, metrics, with_frames=False)
    frames = sorted({int(n) for n in rows["n_train_frames"]})
    seeds = sorted({int(n) for n in rows["n_seeds"]})
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-fraction-{fraction:g}",
        caption=f"Fraction {fraction:g}: {', '.join(format_number(n) for n in frames)} training "
        f"frames, {_count(seeds, 'seed')} per method",
        headers=["Rank", "Method", *(_header(m) for m in metrics), "Seeds"],
        rows=cells,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.fraction-{fraction:g}",
        note="Ranked by the energy MAE on all test frames (E MAE), among the methods of this "
        "fraction only. Cells: mean over seeds and, with two or more seeds, the 95 % Student-t "
        "interval of the mean in parentheses (none with one seed). Covered share: the test "
        "frames whose elements all occur in this training fraction; E MAE covered: the "
        "energy MAE on those frames. Ef MAE: formation energy.",
        sticky=3,
    )


def _count(values: Sequence[int], noun: str) -> str:
    """``"3 seeds"``, ``"1 seed"`` or ``"1–3 seeds"`` for the distinct counts given."""
    low, high = min(values), max(values)
    text = f"{low}" if low == high else f"{low}–{high}"
    return f"{text} {noun}" + ("" if high == 1 else "s")


def _summary_table(
    summary: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    stem: str,
) -> Table:
    """The paper-style table (Huang et al. 2025, Table 1) at the largest fraction run."""
    largest = float(summary["fraction"].max())
    frame = summary[summary["fraction"] == largest]
    frame = frame.assign(rank=_ranks(frame[f"{ENERGY.key}_mean"]))
    frame = frame.sort_values(["rank", "label"], na_position="last")
    rows, records = _ranked_rows(frame, entries, metrics, with_frames=True)
    missing = sorted(set(summary["label"]) - set(frame["label"]))
    note = "Mean over seeds (95 % Student-t interval of the mean with two or more seeds). "
    note += "Methods without runs at this fraction are not listed"
    note += f": {', '.join(missing)}." if missing else "."
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-summary",
        caption=f"Summary at the largest fraction run, {largest:g} "
        f"({format_number(int(frame['n_train_frames'].max()))} training frames)",
        headers=["Rank", "Method", *(m.header for m in metrics), "Train frames", "Seeds"],
        rows=rows,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.summary",
        note=note,
        sticky=3,
    )


#: Columns of the paper check.
_PAPER_FIELDS = ["claim", "verdict", "detail", "evidence"]


def _paper_check(
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


#: Caption of the table of non-compliant runs.
REFERENCE_CAPTION = "Reference rows (not ranked: non-compliant)"


def _reference_table(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
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
        ["fraction", f"{ENERGY.key}_mean", "label"],
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
        caption=f"{REFERENCE_CAPTION}: mean over seeds (95 % t-interval with two or more seeds)",
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


def _scaling_frames(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    min_frames: float,
    scratch: str | None,
) -> dict[MetricInfo, pd.DataFrame]:
    """:func:`mfbench.results.scaling.scaling_table` of each plotted metric, by entry label.

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


def _scaling_table(
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


def _fit_notes(scaling: dict[MetricInfo, pd.DataFrame], min_frames: float) -> list[str]:
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


def _gains_note(task: str, definition: Task | None) -> str:
    """Why a task has no transfer gains at all: it names no baseline for them (else empty)."""
    if definition is None:
        return "The task definition was not found, so its gain baselines are unknown."
    if not definition.roles.gain_baselines:
        return (
            f"Task {task} names no baselines for transfer gains (roles.gain_baselines in its "
            "definition), so none are shown."
        )
    return ""


def _gain_table(summary: pd.DataFrame, stem: str, gain_baselines: Sequence[str]) -> Table | None:
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


def _sort_number(value: Any) -> str:
    return "" if is_missing(value) else repr(float(value))


def _plots(
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


def _plot_note(summary: pd.DataFrame, min_frames: float) -> str:
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
            ("hyperparameter selection", _selection(definition)),
            ("labels citable", "yes" if definition.citable else "no: labels come from models"),
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
    coverage = coverage_table(definition, stem) if definition is not None else None
    if coverage is not None:
        tables.append(coverage)
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


def _selection(definition: Task) -> str:
    """The task's grid in words, or that methods keep their own hyperparameters."""
    spec = definition.selection
    if spec is None:
        return "none: each method runs with its own hyperparameters"
    grid = "; ".join(f"{name} in {{{', '.join(f'{v:g}' for v in values)}}}"
                     for name, values in spec.grid.items())  # fmt: skip
    return (
        f"{grid}, chosen per run on the validation split by {spec.metric} (for every method "
        "that has the parameter and was not given it)"
    )


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
