"""Interval comparisons of two methods of one task summary, and the verdicts they give.

A comparison reads two rows of a summary (:func:`mfbench.results.summarize`: one row per
method, hyperparameters and fraction, with ``n_seeds``, ``n_train_frames`` and, for each metric,
e.g. the energy MAE in meV/atom, ``energy_mae_mev_per_atom_mean``, ``_ci_low`` and ``_ci_high``,
the 95 % interval of the mean over seeds) and asks whether the claimed-better one has the lower
MAE. The paper's claims are read on the energy MAE (the default); other comparisons may name
another metric.
:mod:`mfbench.results.paper_check` builds the paper's claims from these; the site's other
comparisons (e.g. of two starts) use them too.

Verdict rule of one comparison (one fraction, the claimed-better entry against the other):

- ``"not measurable"`` when an entry is missing from the summary, has one seed (no interval),
  or has no finite interval; the detail says which and why;
- otherwise, with at least 2 seeds per compared entry, ``"reproduced"`` when the claimed order
  holds and the two 95 % intervals do not overlap (upper end of the better entry below the
  lower end of the other), ``"not reproduced"`` when the opposite order holds with
  non-overlapping intervals, and ``"inconclusive"`` when the intervals overlap.

A claim over several comparisons is ``"not reproduced"`` when any comparison is,
``"reproduced"`` when every comparison is, ``"not measurable"`` when none is measurable, and
``"inconclusive"`` otherwise (some comparisons reproduced or inconclusive, others not
measurable or inconclusive).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mfbench.metrics.catalogue import ENERGY, MetricInfo
from mfbench.tasks.definition import Task

#: The metric the paper's claims are read on, its summary column stem and its unit.
METRIC = ENERGY.key
UNIT = ENERGY.unit

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_MEASURABLE = "not measurable"
#: Every verdict, from the strongest support of a claim to none at all.
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURABLE)

#: How a comparison names a method (the paper's names, or the registry's).
Namer = Callable[[str], str]


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one claim of the paper.

    Attributes:
        claim: the claim, in words.
        verdict: one of :data:`VERDICTS`.
        detail: the evidence in words: means, 95 % intervals (meV/atom), seeds, ratios, and why
            a comparison is not measurable.
        rows: the evidence per fraction, plain values (JSON-ready; NaN where unknown).
    """

    claim: str
    verdict: str
    detail: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Entry:
    """One summary row: a method at one fraction (MAE in meV/atom), named as the paper does."""

    method: str
    name: str
    fraction: float
    n_train_frames: int
    n_seeds: int
    mean: float
    low: float
    high: float

    def why_unmeasurable(self) -> str | None:
        """Why this entry has no usable interval (None when it has one)."""
        if self.n_seeds < 2:
            return f"{self.name}: one seed, no interval"
        if not all(math.isfinite(v) for v in (self.mean, self.low, self.high)):
            return f"{self.name}: no finite interval"
        return None


def task_rows(summary: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The rows of ``task`` (all rows when the summary has no task columns)."""
    missing = {"method", "fraction", "n_seeds", "n_train_frames", f"{METRIC}_mean"} - set(
        summary.columns
    )
    if len(summary) and missing:
        raise ValueError(f"the summary lacks column(s) {sorted(missing)}")
    rows = summary
    if "task" in rows.columns:
        rows = rows[rows["task"] == task.task]
    if "task_version" in rows.columns:
        rows = rows[rows["task_version"] == task.version]
    return rows


def nonzero_fractions(task: Task) -> list[float]:
    """The task's training fractions above 0, in its order."""
    return [f for f in task.fractions.values if f > 0]


def entry(
    rows: pd.DataFrame,
    method: str,
    fraction: float,
    name_of: Namer = str,
    metric: MetricInfo = ENERGY,
) -> Entry | str:
    """The summary row of ``method`` at ``fraction``, or why there is none to compare.

    The entry's mean and interval are those of ``metric`` (default: the energy MAE, meV/atom),
    in its unit.
    """
    name = name_of(method)
    if not len(rows):
        return f"{name} has no run at fraction {fraction:g}"
    found = rows[(rows["method"] == method) & close_to(rows["fraction"], fraction)]
    if len(found) == 0:
        return f"{name} has no run at fraction {fraction:g}"
    if len(found) > 1:
        return (
            f"{name} has {len(found)} entries at fraction {fraction:g} (other hyperparameters); "
            "check one entry at a time"
        )
    row = found.iloc[0]
    return Entry(
        method=method,
        name=name,
        fraction=float(row["fraction"]),
        n_train_frames=int(row["n_train_frames"]),
        n_seeds=int(row["n_seeds"]),
        mean=_float(row.get(f"{metric.key}_mean")),
        low=_float(row.get(f"{metric.key}_ci_low")),
        high=_float(row.get(f"{metric.key}_ci_high")),
    )


def close_to(values: pd.Series, fraction: float) -> pd.Series:
    """Which of ``values`` (training fractions) equal ``fraction`` up to float round-off."""
    return values.map(lambda v: math.isclose(float(v), fraction, rel_tol=1e-9, abs_tol=1e-12))


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def compare(better: Entry, other: Entry) -> tuple[str, str]:
    """Verdict and reason of "``better`` has the lower MAE" (see the module docstring)."""
    reasons = [r for r in (better.why_unmeasurable(), other.why_unmeasurable()) if r]
    if reasons:
        return NOT_MEASURABLE, "; ".join(reasons)
    if better.high < other.low:
        return REPRODUCED, "intervals do not overlap"
    if better.low > other.high:
        return NOT_REPRODUCED, "intervals do not overlap, in the opposite order"
    return INCONCLUSIVE, "intervals overlap"


def comparison(
    rows: pd.DataFrame,
    better: str,
    other: str,
    fraction: float,
    name_of: Namer = str,
    say: Callable[[str], str] = str,
    metric: MetricInfo = ENERGY,
) -> dict[str, Any]:
    """One evidence row: ``better`` against ``other`` at ``fraction``, on ``metric``.

    ``name_of`` names the methods in the row's ``text``; ``say`` words its verdict there.
    ``metric`` defaults to the energy MAE (meV/atom).
    """
    row: dict[str, Any] = {
        "fraction": fraction,
        "method": better,
        "other": other,
        "n_train_frames": None,
        **dict.fromkeys(("n_seeds", "mean", "ci_low", "ci_high"), None),
        **dict.fromkeys(("other_n_seeds", "other_mean", "other_ci_low", "other_ci_high"), None),
        "ratio": None,
    }
    first = entry(rows, better, fraction, name_of, metric)
    second = entry(rows, other, fraction, name_of, metric)
    for prefix, point in (("", first), ("other_", second)):
        if isinstance(point, Entry):
            row.update(
                {f"{prefix}n_seeds": point.n_seeds, f"{prefix}mean": point.mean,
                 f"{prefix}ci_low": point.low, f"{prefix}ci_high": point.high}
            )  # fmt: skip
            row["n_train_frames"] = point.n_train_frames
    if isinstance(first, str) or isinstance(second, str):
        missing = [p for p in (first, second) if isinstance(p, str)]
        row.update(verdict=NOT_MEASURABLE, reason="; ".join(missing))
    else:
        if first.mean > 0 and math.isfinite(second.mean):
            row["ratio"] = second.mean / first.mean
        verdict, reason = compare(first, second)
        row.update(verdict=verdict, reason=reason)
    row["text"] = comparison_text(row, first, second, say(row["verdict"]), metric.unit)
    return row


def comparison_text(
    row: dict[str, Any],
    first: Entry | str,
    second: Entry | str,
    verdict: str | None = None,
    unit: str = UNIT,
) -> str:
    """One comparison in words.

    E.g. ``fraction 0.1 (375 frames, 3 seeds): Method 4 913 [880, 950] vs Method 3 16,816
    [16,500, 17,100] meV/atom (18× lower): reproduced (intervals do not overlap)``.
    """
    head = f"fraction {row['fraction']:g}"
    if isinstance(first, Entry) and isinstance(second, Entry):
        seeds = (
            f"{first.n_seeds} seed{'s' if first.n_seeds != 1 else ''}"
            if first.n_seeds == second.n_seeds
            else f"{first.n_seeds} and {second.n_seeds} seeds"
        )
        head += f" ({first.n_train_frames:,} frames, {seeds})"
        head += f": {first.name} {value_text(first)} vs {second.name} {value_text(second)} {unit}"
        if row["ratio"] is not None:
            head += f" ({ratio_text(row['ratio'])})"
    return f"{head}: {verdict or row['verdict']} ({row['reason']})"


def value_text(point: Entry) -> str:
    """``913 [880, 950]``, or the mean alone without an interval."""
    if point.n_seeds < 2 or not (math.isfinite(point.low) and math.isfinite(point.high)):
        return number_text(point.mean)
    return f"{number_text(point.mean)} [{number_text(point.low)}, {number_text(point.high)}]"


def number_text(value: float) -> str:
    """Three significant digits, whole numbers from 100 on, thousands separated."""
    if not math.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def ratio_text(ratio: float) -> str:
    """``18× lower`` (the other's mean over the claimed-better one's), or ``1.3× higher``."""
    if ratio >= 1:
        return f"{factor_text(ratio)} lower"
    return f"{factor_text(1 / ratio)} higher" if ratio > 0 else "other MAE is 0"


def factor_text(value: float) -> str:
    """``18×``, or ``1.3×`` below ten."""
    return f"{value:,.0f}×" if value >= 10 else f"{value:.3g}×"


def combine(verdicts: Sequence[str]) -> str:
    """The verdict of a claim from those of its comparisons (see the module docstring)."""
    if not verdicts or all(v == NOT_MEASURABLE for v in verdicts):
        return NOT_MEASURABLE
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    return INCONCLUSIVE


def claim_from_rows(claim: str, rows: list[dict[str, Any]], empty: str) -> ClaimCheck:
    """A claim judged by its comparisons; ``empty`` says why there is none."""
    if not rows:
        return ClaimCheck(claim, NOT_MEASURABLE, empty, [])
    verdict = combine([r["verdict"] for r in rows])
    counts = ", ".join(
        f"{sum(r['verdict'] == v for r in rows)} {v}"
        for v in VERDICTS
        if any(r["verdict"] == v for r in rows)
    )
    detail = f"{len(rows)} comparison(s): {counts}. " + ". ".join(r["text"] for r in rows) + "."
    return ClaimCheck(claim, verdict, detail, rows)


def seeds_text(n: int) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} seed" + ("" if n == 1 else "s")
