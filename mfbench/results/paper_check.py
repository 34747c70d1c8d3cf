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

Each comparison of claims 1 and 2 follows :mod:`mfbench.results.comparison`'s verdict rule.

Claim 3 compares a factor with :data:`CLAIMED_FACTOR` instead: it is read three times, from the
means, pessimistically (Method 4 at the upper end of its interval against scratch at the lower
ends of its intervals) and optimistically (the other way round). ``"reproduced"`` when even the
pessimistic factor is at least :data:`CLAIMED_FACTOR`, ``"not reproduced"`` when even the
optimistic one is below it, else ``"inconclusive"``; a bound counts only where it decides
(``> 12×`` proves at least 10, ``≤ 4×`` proves less than 10).

A claim over several comparisons is combined as :func:`mfbench.results.comparison.combine`
says.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mfbench.errors import TaskError
from mfbench.results.comparison import (
    INCONCLUSIVE,
    NOT_MEASURABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNIT,
    VERDICTS,
    ClaimCheck,
    Entry,
    claim_from_rows,
    close_to,
    comparison,
    entry,
    factor_text,
    nonzero_fractions,
    seeds_text,
    task_rows,
    value_text,
)
from mfbench.results.scaling import Bound, data_efficiency_factor
from mfbench.tasks.definition import Task

logger = logging.getLogger(__name__)

__all__ = [
    "CLAIMED_FACTOR", "INCONCLUSIVE", "NOT_MEASURABLE", "NOT_REPRODUCED", "REPRODUCED",
    "VERDICTS", "ClaimCheck", "PaperCast", "check_paper_claims", "small_fractions",
]  # fmt: skip

#: Claim 3: the paper's ~1K frames with pretraining against ~10K from scratch.
CLAIMED_FACTOR = 10.0

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
    rows = task_rows(summary, task)
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


# ----------------------------------------------------------------------------- the claims


def _claim_atomref(rows: pd.DataFrame, task: Task, cast: PaperCast) -> ClaimCheck:
    """Claim 1: Method 4 below Methods 2 and 3 at every nonzero fraction."""
    evidence = [
        comparison(rows, cast.method_4, other, fraction, cast.paper_name)
        for fraction in nonzero_fractions(task)
        for other in (cast.method_2, cast.method_3)
    ]
    return claim_from_rows(CLAIM_ATOMREF, evidence, f"task {task.task} has no nonzero fraction")


def small_fractions(rows: pd.DataFrame, task: Task) -> list[float]:
    """The "small N" fractions of claim 2.

    The task's smallest nonzero fraction, and every other nonzero fraction whose training
    frames (as the summary's rows of Method 4 or scratch state them) are fewer than the task's
    ``scaling_fit_min_frames``.

    Raises:
        TaskError: the task names no methods of the paper (see :meth:`PaperCast.of`).
    """
    cast = PaperCast.of(task)
    nonzero = nonzero_fractions(task)
    if not nonzero:
        return []
    chosen = [nonzero[0]]
    if rows.empty:
        return chosen
    compared = rows[rows["method"].isin([cast.method_4, cast.scratch])]
    for fraction in nonzero[1:]:
        frames = compared.loc[close_to(compared["fraction"], fraction), "n_train_frames"]
        if len(frames) and int(frames.max()) < task.scaling_fit_min_frames:
            chosen.append(fraction)
    return chosen


def _claim_small_n(rows: pd.DataFrame, task: Task, cast: PaperCast) -> ClaimCheck:
    """Claim 2: Method 4 below scratch at the small-N fractions."""
    evidence = [
        comparison(rows, cast.method_4, cast.scratch, fraction, cast.paper_name)
        for fraction in small_fractions(rows, task)
    ]
    return claim_from_rows(CLAIM_SMALL_N, evidence, f"task {task.task} has no nonzero fraction")


def _curve(rows: pd.DataFrame, method: str, cast: PaperCast) -> list[Entry]:
    """A method's points with training frames > 0, sorted by frames (one entry per fraction)."""
    if not len(rows):
        return []
    found = rows[(rows["method"] == method) & (rows["n_train_frames"] > 0)]
    points = [
        entry(rows, method, float(f), cast.paper_name) for f in sorted(found["fraction"].unique())
    ]
    return sorted((p for p in points if isinstance(p, Entry)), key=lambda p: p.n_train_frames)


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
        f"{seeds_text(at.n_seeds)}): {value_text(at)} {UNIT}; scratch measured at "
        f"{', '.join(f'{p.n_train_frames:,}' for p in scratch)} frames "
        f"({', '.join(value_text(p) for p in scratch)} {UNIT}). "
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
    rows: pd.DataFrame, refit: list[Entry], scratch: list[Entry]
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
    at: Entry,
    scratch: list[Entry],
    target_of: Callable[[Entry], float],
    curve_of: Callable[[Entry], float],
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
    return f"{prefix}{factor_text(bound.value)}"
