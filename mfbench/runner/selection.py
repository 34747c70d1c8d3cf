"""Hyperparameter selection on the validation split: the protocol a task's ``selection`` declares.

A task may declare a small grid (``selection: {grid: {learning_rate: [...]}, metric:
energy_mae}``). For every method that has a grid parameter among its hyperparameters and was
not given it explicitly, the runner fits one candidate per grid point on the same training
frames, budget and seed, scores each on the validation split, and keeps the best (the first
in grid order on a tie). The test split is never seen before the choice. What was tried, the
validation scores and the choice are recorded in the result (``selection``), and the run
costs every candidate's fit.

A candidate whose training diverges (NaN loss) is recorded as such and not chosen; the run
fails only when every candidate does.
"""

from __future__ import annotations

import gc
import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mfbench.data.frameset import FrameSet
from mfbench.errors import MfbenchError
from mfbench.methods import FitContext, FitDivergedError, Method
from mfbench.metrics.catalogue import ENERGY, FORCE, SELECTION_METRICS, STRESS
from mfbench.metrics.errors import error_metrics

logger = logging.getLogger(__name__)

#: Selection metrics a task may name, and the key of :func:`error_metrics` each reads.
METRIC_KEYS = {m.name: m.key for m in SELECTION_METRICS}
#: Validation scores recorded per candidate (name → :func:`error_metrics` key).
RECORDED = {m.name: m.key for m in (ENERGY, FORCE, STRESS)}


class SelectionFailedError(MfbenchError):
    """Every candidate of the grid diverged or could not be scored."""


@dataclass
class Selected:
    """The fitted best candidate and what the record says about the selection."""

    method: Method
    record: dict[str, Any]
    fit_seconds: float  # every candidate's fit and validation prediction together


def applicable_grid(
    grid: Mapping[str, Sequence[Any]], method_params: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """The grid's parameters this method has and was not given explicitly (grid order kept)."""
    return {
        name: list(values)
        for name, values in grid.items()
        if name in method_params and name not in given
    }


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first parameter varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def fit_and_select(
    build: Callable[[dict[str, Any]], Method],
    points: Sequence[dict[str, Any]],
    train: FrameSet,
    val: FrameSet,
    context_for: Callable[[int], FitContext],
    metric: str,
) -> Selected:
    """Fit one candidate per grid point, score each on ``val``, return the best.

    Args:
        build: grid point → a fresh, unfitted method with those hyperparameters.
        points: the grid points, in grid order.
        train: the training fraction.
        val: the validation split (scores the candidates).
        context_for: candidate index → its fit context (own checkpoint folder, shared log).
        metric: a key of :data:`METRIC_KEYS`; lower is better.

    Raises:
        SelectionFailedError: no candidate could be fitted and scored.
    """
    if metric not in METRIC_KEYS:
        raise ValueError(f"unknown selection metric {metric!r}; known: {sorted(METRIC_KEYS)}")
    reference = val.labels()
    structures = val.structures()
    candidates: list[dict[str, Any]] = []
    best: tuple[float, int, Method] | None = None
    started = time.perf_counter()
    for index, point in enumerate(points):
        method = build(point)
        tick = time.perf_counter()
        entry: dict[str, Any] = {"params": point}
        try:
            method.fit(train, val, context_for(index))
        except FitDivergedError as exc:
            logger.warning("candidate %s diverged: %s", point, exc)
            candidates.append({**entry, "status": f"diverged: {exc}", "val": None,
                               "fit_seconds": round(time.perf_counter() - tick, 3)})  # fmt: skip
            continue
        scores = error_metrics(reference, method.predict(structures))
        val_scores = {name: _finite(scores.get(key)) for name, key in RECORDED.items()}
        candidates.append({
            **entry, "status": "ok", "val": val_scores,
            "steps_run": getattr(method, "steps_run_", None),
            "fit_seconds": round(time.perf_counter() - tick, 3),
        })  # fmt: skip
        value = val_scores[metric]
        logger.info("candidate %s: validation %s %s", point, metric, value)
        if value is not None and (best is None or value < best[0]):
            best = (value, index, method)
        del method
        gc.collect()
    if best is None:
        raise SelectionFailedError(
            f"no candidate of the grid {list(points)} could be fitted and scored on the "
            "validation split (see the warnings above)"
        )
    _, chosen, method = best
    return Selected(
        method=method,
        record={
            "split": "val",
            "metric": metric,
            "candidates": candidates,
            "chosen": dict(points[chosen]),
        },
        fit_seconds=time.perf_counter() - started,
    )


def _finite(value: Any) -> float | None:
    """A finite float, or None (a metric with no labels is NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
