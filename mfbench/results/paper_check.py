"""Does a task's summary reproduce the central claims of Huang et al. (2025, arXiv 2504.05565)?

Every number comes from the summary given (:func:`mfbench.results.summarize`: one row per
method, hyperparameters and fraction, with ``n_seeds``, ``n_train_frames`` and, for the energy
MAE in meV/atom, ``energy_mae_mev_per_atom_mean``, ``_ci_low`` and ``_ci_high``, the 95 %
interval of the mean over seeds). Nothing here is hand-written from the paper but the claims'
wording and the factor of ten of claim 3.

Which registered methods stand for the paper's Methods 2, 3 and 4 and for training from scratch
is data: the task's ``roles`` (``roles.paper`` and ``roles.scratch``, :class:`PaperCast`); a
task without them has no paper check. The claims, with the shipped tasks' baselines:

1. Refitting the elemental reference (Method 4, ``finetune-refit-atomref``) gives a lower energy
   MAE than fine-tuning with a trainable AtomRef (Method 2, ``finetune-trainable-atomref``) or
   with the frozen GGA one (Method 3, ``finetune-frozen-gga-atomref``), at every nonzero
   fraction of the task.
2. At small N, transfer from the GGA model (Method 4) beats training from scratch
   (``scratch``): at the task's smallest nonzero fraction, and at every other nonzero fraction
   with fewer training frames than the task's ``scaling_fit_min_frames`` (the paper's "~1K").
3. Data efficiency: scratch needs at least :data:`CLAIMED_FACTOR` times the frames to match
   Method 4 at Method 4's smallest nonzero fraction (the paper: ~1K r²SCAN frames with
   pretraining beat ~10K from scratch). The factor is
   :func:`mfbench.results.scaling.data_efficiency_factor`; it may only be a bound (e.g.
   ``> 8×`` when scratch never reaches the target within its measured frames).

Verdict rule of one comparison (one fraction, the claimed-better entry against the other):

- ``"not measurable"`` when an entry is missing from the summary, has one seed (no interval),
  or has no finite interval; the detail says which and why;
- otherwise, with at least 2 seeds per compared entry, ``"reproduced"`` when the claimed order
  holds and the two 95 % intervals do not overlap (upper end of the better entry below the
  lower end of the other), ``"not reproduced"`` when the opposite order holds with
  non-overlapping intervals, and ``"inconclusive"`` when the intervals overlap.

Claim 3 compares a factor with :data:`CLAIMED_FACTOR` instead: it is read three times, from the
means, pessimistically (Method 4 at the upper end of its interval against scratch at the lower
ends of its intervals) and optimistically (the other way round). ``"reproduced"`` when even the
pessimistic factor is at least :data:`CLAIMED_FACTOR`, ``"not reproduced"`` when even the
optimistic one is below it, else ``"inconclusive"``; a bound counts only where it decides
(``> 12×`` proves at least 10, ``≤ 4×`` proves less than 10).

A claim over several comparisons is ``"not reproduced"`` when any comparison is,
``"reproduced"`` when every comparison is, ``"not measurable"`` when none is measurable, and
``"inconclusive"`` otherwise (some comparisons reproduced or inconclusive, others not
measurable or inconclusive).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mfbench.errors import TaskError
from mfbench.results.scaling import Bound, data_efficiency_factor
from mfbench.tasks.definition import Task

logger = logging.getLogger(__name__)

#: The metric column every claim reads (meV/atom).
METRIC = "energy_mae_mev_per_atom"
UNIT = "meV/atom"
#: Claim 3: the paper's ~1K frames with pretraining against ~10K from scratch.
CLAIMED_FACTOR = 10.0

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_MEASURABLE = "not measurable"
#: Every verdict, in this order of strength.
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURABLE)

CLAIM_ATOMREF = (
    "Refitting the elemental reference (Method 4) gives a lower energy MAE than fine-tuning "
    "with a trainable (Method 2) or frozen GGA (Method 3) AtomRef, at every nonzero fraction"
)
CLAIM_SMALL_N = (
    "At small N, transfer from the GGA model (Method 4) beats training from scratch (energy MAE)"
)
CLAIM_EFFICIENCY = (
    "Data efficiency: with pretraining ~1K r²SCAN frames beat ~10K from scratch (scratch needs "
    f"≥ {CLAIMED_FACTOR:g}× the frames to match Method 4 at its smallest nonzero fraction)"
)


@dataclass(frozen=True)
class PaperCast:
    """The registered methods standing for the paper's methods on one task.

    Attributes:
        method_2, method_3, method_4: registry names of the paper's Methods 2 (trainable
            AtomRef), 3 (frozen GGA AtomRef) and 4 (refitted AtomRef).
        scratch: registry name of training from scratch.
    """

    method_2: str
    method_3: str
    method_4: str
    scratch: str

    @classmethod
    def of(cls, task: Task) -> PaperCast:
        """Read from ``task.roles``.

        Raises:
            TaskError: the task names no methods of the paper (no ``roles.paper``).
        """
        roles = task.roles
        if roles.paper is None or roles.scratch is None:
            raise TaskError(
                f"task {task.task} names no methods of the paper (roles.paper and roles.scratch "
                "in its definition): there is nothing to check"
            )
        paper = roles.paper
        return cls(paper.method_2, paper.method_3, paper.method_4, roles.scratch)

    def paper_name(self, method: str) -> str:
        """How the paper names ``method`` (``"Method 4"``, ``"scratch"``; others unchanged)."""
        names = {
            self.method_4: "Method 4",
            self.method_2: "Method 2",
            self.method_3: "Method 3",
            self.scratch: "scratch",
        }
        return names.get(method, method)


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
class _Point:
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


def check_paper_claims(summary: pd.DataFrame, task: Task) -> list[ClaimCheck]:
    """Check the paper's three claims on the summary of one task.

    Args:
        summary: :func:`mfbench.results.summarize` of the task's ranked runs, with at least
            ``method``, ``fraction``, ``n_seeds``, ``n_train_frames`` and
            ``energy_mae_mev_per_atom_{mean,ci_low,ci_high}``; rows of another task or task
            version (``task`` / ``task_version`` columns, when present) are ignored. A method
            with several entries at one fraction (other hyperparameters) is not measurable
            there: pass one entry per method.
        task: the task definition (its fractions, ``scaling_fit_min_frames``, ``citable`` and
            the ``roles`` naming the compared methods).

    Returns:
        Claims 1, 2 and 3, in that order (see the module docstring for the verdict rule).

    Raises:
        TaskError: the task names no methods of the paper (see :meth:`PaperCast.of`).
    """
    cast = PaperCast.of(task)
    rows = _task_rows(summary, task)
    note = (
        ""
        if task.citable
        else f" Task {task.task} is not citable (model-made labels): this is no evidence "
        "about r²SCAN itself."
    )
    checks = [
        _claim_atomref(rows, task, cast),
        _claim_small_n(rows, task, cast),
        _claim_efficiency(rows, cast),
    ]
    return [ClaimCheck(c.claim, c.verdict, c.detail + note, c.rows) if note else c for c in checks]


def _task_rows(summary: pd.DataFrame, task: Task) -> pd.DataFrame:
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


def _nonzero_fractions(task: Task) -> list[float]:
    return [f for f in task.fractions.values if f > 0]


def _point(rows: pd.DataFrame, method: str, fraction: float, cast: PaperCast) -> _Point | str:
    """The summary row of ``method`` at ``fraction``, or why there is none to compare."""
    name = cast.paper_name(method)
    if not len(rows):
        return f"{name} has no run at fraction {fraction:g}"
    found = rows[(rows["method"] == method) & _close(rows["fraction"], fraction)]
    if len(found) == 0:
        return f"{name} has no run at fraction {fraction:g}"
    if len(found) > 1:
        return (
            f"{name} has {len(found)} entries at fraction {fraction:g} (other hyperparameters); "
            "check one entry at a time"
        )
    row = found.iloc[0]
    return _Point(
        method=method,
        name=name,
        fraction=float(row["fraction"]),
        n_train_frames=int(row["n_train_frames"]),
        n_seeds=int(row["n_seeds"]),
        mean=_float(row.get(f"{METRIC}_mean")),
        low=_float(row.get(f"{METRIC}_ci_low")),
        high=_float(row.get(f"{METRIC}_ci_high")),
    )


def _close(values: pd.Series, fraction: float) -> pd.Series:
    return values.map(lambda v: math.isclose(float(v), fraction, rel_tol=1e-9, abs_tol=1e-12))


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


# ----------------------------------------------------------------------------- comparisons


def _compare(better: _Point, other: _Point) -> tuple[str, str]:
    """Verdict and reason of "``better`` has the lower MAE" (see the module docstring)."""
    reasons = [r for r in (better.why_unmeasurable(), other.why_unmeasurable()) if r]
    if reasons:
        return NOT_MEASURABLE, "; ".join(reasons)
    if better.high < other.low:
        return REPRODUCED, "intervals do not overlap"
    if better.low > other.high:
        return NOT_REPRODUCED, "intervals do not overlap, in the opposite order"
    return INCONCLUSIVE, "intervals overlap"


def _comparison(
    rows: pd.DataFrame, better: str, other: str, fraction: float, cast: PaperCast
) -> dict[str, Any]:
    """One evidence row: ``better`` against ``other`` at ``fraction``."""
    row: dict[str, Any] = {
        "fraction": fraction,
        "method": better,
        "other": other,
        "n_train_frames": None,
        **dict.fromkeys(("n_seeds", "mean", "ci_low", "ci_high"), None),
        **dict.fromkeys(("other_n_seeds", "other_mean", "other_ci_low", "other_ci_high"), None),
        "ratio": None,
    }
    first, second = _point(rows, better, fraction, cast), _point(rows, other, fraction, cast)
    for prefix, point in (("", first), ("other_", second)):
        if isinstance(point, _Point):
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
        verdict, reason = _compare(first, second)
        row.update(verdict=verdict, reason=reason)
    row["text"] = _comparison_text(row, first, second)
    return row


def _comparison_text(row: dict[str, Any], first: _Point | str, second: _Point | str) -> str:
    """One comparison in words.

    E.g. ``fraction 0.1 (375 frames, 3 seeds): Method 4 913 [880, 950] vs Method 3 16,816
    [16,500, 17,100] meV/atom (18× lower): reproduced (intervals do not overlap)``.
    """
    head = f"fraction {row['fraction']:g}"
    if isinstance(first, _Point) and isinstance(second, _Point):
        seeds = (
            f"{first.n_seeds} seed{'s' if first.n_seeds != 1 else ''}"
            if first.n_seeds == second.n_seeds
            else f"{first.n_seeds} and {second.n_seeds} seeds"
        )
        head += f" ({first.n_train_frames:,} frames, {seeds})"
        head += f": {first.name} {_value(first)} vs {second.name} {_value(second)} {UNIT}"
        if row["ratio"] is not None:
            head += f" ({_ratio_text(row['ratio'])})"
    return f"{head}: {row['verdict']} ({row['reason']})"


def _value(point: _Point) -> str:
    """``913 [880, 950]``, or the mean alone without an interval."""
    if point.n_seeds < 2 or not (math.isfinite(point.low) and math.isfinite(point.high)):
        return _number(point.mean)
    return f"{_number(point.mean)} [{_number(point.low)}, {_number(point.high)}]"


def _number(value: float) -> str:
    """Three significant digits, whole numbers from 100 on, thousands separated."""
    if not math.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _ratio_text(ratio: float) -> str:
    """``18× lower`` (the other's mean over the claimed-better one's), or ``1.3× higher``."""
    if ratio >= 1:
        return f"{_factor(ratio)} lower"
    return f"{_factor(1 / ratio)} higher" if ratio > 0 else "other MAE is 0"


def _factor(value: float) -> str:
    return f"{value:,.0f}×" if value >= 10 else f"{value:.3g}×"


def _combine(verdicts: Sequence[str]) -> str:
    """The verdict of a claim from those of its comparisons (see the module docstring)."""
    if not verdicts or all(v == NOT_MEASURABLE for v in verdicts):
        return NOT_MEASURABLE
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    return INCONCLUSIVE


def _claim_from_rows(claim: str, rows: list[dict[str, Any]], empty: str) -> ClaimCheck:
    """A claim judged by its comparisons; ``empty`` says why there is none."""
    if not rows:
        return ClaimCheck(claim, NOT_MEASURABLE, empty, [])
    verdict = _combine([r["verdict"] for r in rows])
    counts = ", ".join(
        f"{sum(r['verdict'] == v for r in rows)} {v}"
        for v in VERDICTS
        if any(r["verdict"] == v for r in rows)
    )
    detail = f"{len(rows)} comparison(s): {counts}. " + ". ".join(r["text"] for r in rows) + "."
    return ClaimCheck(claim, verdict, detail, rows)


# ----------------------------------------------------------------------------- the claims


def _claim_atomref(rows: pd.DataFrame, task: Task, cast: PaperCast) -> ClaimCheck:
    """Claim 1: Method 4 below Methods 2 and 3 at every nonzero fraction."""
    evidence = [
        _comparison(rows, cast.method_4, other, fraction, cast)
        for fraction in _nonzero_fractions(task)
        for other in (cast.method_2, cast.method_3)
    ]
    return _claim_from_rows(CLAIM_ATOMREF, evidence, f"task {task.task} has no nonzero fraction")


def small_fractions(rows: pd.DataFrame, task: Task) -> list[float]:
    """The "small N" fractions of claim 2.

    The task's smallest nonzero fraction, and every other nonzero fraction whose training
    frames (as the summary's rows of Method 4 or scratch state them) are fewer than the task's
    ``scaling_fit_min_frames``.

    Raises:
        TaskError: the task names no methods of the paper (see :meth:`PaperCast.of`).
    """
    cast = PaperCast.of(task)
    nonzero = _nonzero_fractions(task)
    if not nonzero:
        return []
    chosen = [nonzero[0]]
    if rows.empty:
        return chosen
    compared = rows[rows["method"].isin([cast.method_4, cast.scratch])]
    for fraction in nonzero[1:]:
        frames = compared.loc[_close(compared["fraction"], fraction), "n_train_frames"]
        if len(frames) and int(frames.max()) < task.scaling_fit_min_frames:
            chosen.append(fraction)
    return chosen


def _claim_small_n(rows: pd.DataFrame, task: Task, cast: PaperCast) -> ClaimCheck:
    """Claim 2: Method 4 below scratch at the small-N fractions."""
    evidence = [
        _comparison(rows, cast.method_4, cast.scratch, fraction, cast)
        for fraction in small_fractions(rows, task)
    ]
    return _claim_from_rows(CLAIM_SMALL_N, evidence, f"task {task.task} has no nonzero fraction")


def _curve(rows: pd.DataFrame, method: str, cast: PaperCast) -> list[_Point]:
    """A method's points with training frames > 0, sorted by frames (one entry per fraction)."""
    if not len(rows):
        return []
    found = rows[(rows["method"] == method) & (rows["n_train_frames"] > 0)]
    points = [_point(rows, method, float(f), cast) for f in sorted(found["fraction"].unique())]
    return sorted((p for p in points if isinstance(p, _Point)), key=lambda p: p.n_train_frames)


def _claim_efficiency(rows: pd.DataFrame, cast: PaperCast) -> ClaimCheck:
    """Claim 3: the data-efficiency factor of Method 4 against scratch."""
    refit, scratch = _curve(rows, cast.method_4, cast), _curve(rows, cast.scratch, cast)
    why = _efficiency_unmeasurable(rows, refit, scratch)
    if why is not None and not (refit and scratch):
        return ClaimCheck(CLAIM_EFFICIENCY, NOT_MEASURABLE, why, [])
    at = refit[0]
    central = _factor_from(at, scratch, lambda p: p.mean, lambda p: p.mean)
    row: dict[str, Any] = {
        "fraction": at.fraction,
        "n_train_frames": at.n_train_frames,
        "method": cast.method_4,
        "other": cast.scratch,
        "n_seeds": at.n_seeds,
        "mean": at.mean,
        "ci_low": at.low,
        "ci_high": at.high,
        "scratch_n_train_frames": [p.n_train_frames for p in scratch],
        "scratch_n_seeds": [p.n_seeds for p in scratch],
        "scratch_mean": [p.mean for p in scratch],
        **_bound_fields("factor", central),
        **_bound_fields("factor_pessimistic", None),
        **_bound_fields("factor_optimistic", None),
        "claimed_factor": CLAIMED_FACTOR,
    }
    head = (
        f"Method 4 at fraction {at.fraction:g} ({at.n_train_frames:,} frames, "
        f"{_seeds(at.n_seeds)}): {_value(at)} {UNIT}; scratch measured at "
        f"{', '.join(f'{p.n_train_frames:,}' for p in scratch)} frames "
        f"({', '.join(_value(p) for p in scratch)} {UNIT}). "
        f"Factor from the means: {_bound_text(central)}"
    )
    if why is not None:
        row.update(verdict=NOT_MEASURABLE, reason=why)
        return ClaimCheck(
            CLAIM_EFFICIENCY, NOT_MEASURABLE, f"{head}; not measurable: {why}.", [row]
        )
    pessimistic = _factor_from(at, scratch, lambda p: p.high, lambda p: p.low)
    optimistic = _factor_from(at, scratch, lambda p: p.low, lambda p: p.high)
    row.update(_bound_fields("factor_pessimistic", pessimistic))
    row.update(_bound_fields("factor_optimistic", optimistic))
    verdict, reason = _efficiency_verdict(pessimistic, optimistic)
    row.update(verdict=verdict, reason=reason)
    detail = (
        f"{head}; from the interval ends: pessimistic {_bound_text(pessimistic)}, optimistic "
        f"{_bound_text(optimistic)} (claimed ≥ {CLAIMED_FACTOR:g}×): {verdict} ({reason})."
    )
    return ClaimCheck(CLAIM_EFFICIENCY, verdict, detail, [row])


def _efficiency_unmeasurable(
    rows: pd.DataFrame, refit: list[_Point], scratch: list[_Point]
) -> str | None:
    """Why claim 3 cannot be judged (None when it can)."""
    if not refit:
        return "Method 4 has no run with training frames"
    if not scratch:
        return "scratch has no run with training frames"
    if not (math.isfinite(refit[0].mean) and refit[0].mean > 0):
        return "Method 4's MAE at its smallest fraction is not a positive number"
    if any(not (math.isfinite(p.mean) and p.mean > 0) for p in scratch):
        return "a scratch MAE is not a positive number"
    reasons = [r for p in (refit[0], *scratch) if (r := p.why_unmeasurable())]
    if reasons:
        return "; ".join(dict.fromkeys(reasons))
    return None


def _factor_from(
    at: _Point,
    scratch: list[_Point],
    target_of: Callable[[_Point], float],
    curve_of: Callable[[_Point], float],
) -> Bound | None:
    """A data-efficiency factor read off chosen ends of the intervals.

    :func:`data_efficiency_factor` with Method 4's MAE ``target_of(at)`` (meV/atom) against
    scratch's curve of ``curve_of(point)`` over its points.

    Returns:
        The factor (dimensionless), or None when a scratch value is not positive (no log scale).
    """
    n = [float(p.n_train_frames) for p in scratch]
    mae = [curve_of(p) for p in scratch]
    target = target_of(at)
    if not all(math.isfinite(y) and y > 0 for y in mae):
        return None
    if not (math.isfinite(target) and target > 0):
        # an MAE of 0 or below is never reached by scratch's measured curve
        return Bound(max(n) / at.n_train_frames, "more-than") if math.isfinite(target) else None
    method_curve = ([float(at.n_train_frames)], [target])
    return data_efficiency_factor(method_curve, (n, mae), float(at.n_train_frames))


def _efficiency_verdict(pessimistic: Bound | None, optimistic: Bound | None) -> tuple[str, str]:
    """Verdict and reason of claim 3 from its two extreme factors.

    Reproduced when even the pessimistic factor is at least :data:`CLAIMED_FACTOR`, not
    reproduced when even the optimistic one is below it; a bound counts only where it decides.
    """
    if (
        pessimistic is not None
        and pessimistic.kind != "at-most"
        and pessimistic.value >= CLAIMED_FACTOR
    ):
        return REPRODUCED, f"even the pessimistic factor is ≥ {CLAIMED_FACTOR:g}×"
    if (
        optimistic is not None
        and optimistic.kind != "more-than"
        and optimistic.value < CLAIMED_FACTOR
    ):
        return NOT_REPRODUCED, f"even the optimistic factor is < {CLAIMED_FACTOR:g}×"
    return INCONCLUSIVE, f"the interval ends leave the factor on both sides of {CLAIMED_FACTOR:g}×"


def _bound_fields(name: str, bound: Bound | None) -> dict[str, Any]:
    return {
        name: None if bound is None else bound.value,
        f"{name}_kind": None if bound is None else bound.kind,
    }


def _bound_text(bound: Bound | None) -> str:
    if bound is None:
        return "not computable (an interval end is not positive)"
    prefix = {"exact": "", "more-than": "> ", "at-most": "≤ "}[bound.kind]
    return f"{prefix}{_factor(bound.value)}"


def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")
