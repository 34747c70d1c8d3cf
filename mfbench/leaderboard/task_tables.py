"""A task's ranked tables, the summary at its largest fraction and its reference rows.

One ranked table per training fraction, the summary at the largest fraction, the reference
rows of non-compliant runs, and the all-fraction download.

Built from :func:`mfbench.results.summarize` of the task's comparable runs (mean, standard
deviation and 95 % Student-t interval of the mean over seeds, per entry and fraction). Entries
are ranked by the energy MAE on all test frames among those of the same fraction only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mfbench.html.numbers import format_number, is_missing
from mfbench.leaderboard.score_citations import citation_path
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    fraction_cell,
    metric_cell,
    number_cell,
    share_cell,
    text_cell,
)
from mfbench.leaderboard.view_model import (
    COVERED_SHARE,
    ENERGY,
    Entry,
)
from mfbench.metrics.catalogue import MetricInfo
from mfbench.results import summarize


def unique_metrics(metrics: Sequence[MetricInfo]) -> list[MetricInfo]:
    """``metrics`` without repeats, in first-seen order."""
    return list(dict.fromkeys(metrics))


def labelled_summary(
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


def results_table(
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
    cite_task: str | None = None,
) -> tuple[list[list[Cell]], list[dict[str, Any]]]:
    """Cells ``rank, method, metrics…, [train frames,] seeds[, cite]`` and download rows.

    The ranked metric comes right after the method, so that the three leading columns can
    stay in view on a narrow screen (:attr:`Table.sticky`). With ``cite_task`` (the task's
    slug), a last cell links to the row's citation
    (:func:`mfbench.leaderboard.score_citations.citation_path`).
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
                *([_cite_cell(cite_task, float(row["fraction"]), entry)] if cite_task else []),
            ]
        )
        records.append({"rank": rank, **_download_row(row, entry, metrics)})
    return rows, records


def _cite_cell(task_slug: str, fraction: float, entry: Entry) -> Cell:
    """A link to a ranked row's citation (plain text and BibTeX)."""
    return Cell(
        text="cite",
        sort="",
        href=citation_path(task_slug, fraction, entry.slug),
        title="citation of this row: plain text and BibTeX, with the leaderboard snapshot",
    )


def fraction_tables(
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
    task_slug = stem.rsplit("/", 1)[-1]
    cells, records = _ranked_rows(frame, entries, metrics, with_frames=False, cite_task=task_slug)
    frames = sorted({int(n) for n in rows["n_train_frames"]})
    seeds = sorted({int(n) for n in rows["n_seeds"]})
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-fraction-{fraction:g}",
        caption=f"Fraction {fraction:g}: {', '.join(format_number(n) for n in frames)} training "
        f"frames, {_count(seeds, 'seed')} per method",
        headers=["Rank", "Method", *(_header(m) for m in metrics), "Seeds", "Cite"],
        rows=cells,
        fields=[*_RANKED_FIELDS, *_metric_fields(metrics)],
        records=records,
        download=f"{stem}.fraction-{fraction:g}",
        note="Ranked by the energy MAE on all test frames (E MAE), among the methods of this "
        "fraction only. Cells: mean over seeds and, with two or more seeds, the 95 % Student-t "
        "interval of the mean in parentheses (none with one seed). Covered share: the test "
        "frames whose elements all occur in this training fraction; E MAE covered: the "
        "energy MAE on those frames. Ef MAE: formation energy. Cite: the row's citation "
        "(plain text and BibTeX) with the leaderboard snapshot it belongs to.",
        sticky=3,
    )


def _count(values: Sequence[int], noun: str) -> str:
    """``"3 seeds"``, ``"1 seed"`` or ``"1–3 seeds"`` for the distinct counts given."""
    low, high = min(values), max(values)
    text = f"{low}" if low == high else f"{low}–{high}"
    return f"{text} {noun}" + ("" if high == 1 else "s")


def summary_table(
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


#: Caption of the table of non-compliant runs.
REFERENCE_CAPTION = "Reference rows (not ranked: non-compliant)"


def reference_table(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    entries: dict[tuple[str, str], Entry],
    metrics: Sequence[MetricInfo],
    stem: str,
) -> Table:
    """Non-compliant entries × fractions, like the results table but unranked, with the reason.

    Args:
        summary: :func:`labelled_summary` of the task's non-compliant runs.
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


def int_or_none(value: Any) -> int | None:
    """``int(value)``, or None for None and NaN."""
    return None if is_missing(value) else int(value)


def seed_list(seeds: Any) -> str:
    """Seeds as ``"0 1 2"``."""
    return " ".join(str(int(s)) for s in seeds)
