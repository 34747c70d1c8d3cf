"""The scaling table: one row per method, its power-law fit and its data efficiency.

Built from a summary of learning curves (mean over seeds per method and training fraction) with
the functions of :mod:`mfbench.results.scaling`; the site and ``mfbench results summarize``
print it.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from mfbench.results.scaling import (
    Curve,
    data_efficiency_factor,
    fit_power_law,
    fit_power_law_seeds,
    learning_curve_area,
    no_fit_reason,
)

logger = logging.getLogger(__name__)


TABLE_COLUMNS = (
    "method",
    "slope",
    "slope_ci_low",
    "slope_ci_high",
    "prefactor",
    "log10_prefactor",
    "log10_prefactor_ci_low",
    "log10_prefactor_ci_high",
    "r2",
    "n_points",
    "n_seed_fits",
    "fit_n_min",
    "fit_n_max",
    "no_fit_reason",
    "efficiency_at_frames",
    "data_efficiency_factor",
    "data_efficiency_kind",
    "auc",
    "auc_n_min",
    "auc_n_max",
)


def _curves_by_method(df: pd.DataFrame, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each method's learning curve with ``n > 0`` and a finite MAE, sorted by ``n``."""
    missing = {"method", "n_train_frames", metric} - set(df.columns)
    if missing:
        raise ValueError(f"summary frame lacks column(s) {sorted(missing)}")
    repeated = df.duplicated(["method", "n_train_frames"])
    if repeated.any():
        rows = df.loc[repeated, ["method", "n_train_frames"]].to_dict("records")
        raise ValueError(f"one row per (method, n_train_frames) expected (mean over seeds): {rows}")
    curves = {}
    for method, group in df.groupby("method", sort=True):
        group = group[group["n_train_frames"] > 0]
        finite = np.isfinite(group[metric].to_numpy(dtype=float))
        if not finite.all():
            logger.warning(
                "%s: %d row(s) of %s with no finite value left out of its learning curve",
                method,
                int((~finite).sum()),
                metric,
            )
        group = group[finite].sort_values("n_train_frames")
        curves[str(method)] = (
            group["n_train_frames"].to_numpy(dtype=float),
            group[metric].to_numpy(dtype=float),
        )
    return curves


def _common_range(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """The range of training frames measured by every method that has a positive-n point."""
    spans = [(n[0], n[-1]) for n, _ in curves.values() if n.size]
    if not spans:
        return (math.nan, math.nan)
    return (float(max(lo for lo, _ in spans)), float(min(hi for _, hi in spans)))


def _seed_curves(per_seed: pd.DataFrame | None, method: str, metric: str) -> list[Curve]:
    """Each seed's curve of ``method`` (rows with ``n > 0``), from a per-run table."""
    if per_seed is None:
        return []
    rows = per_seed[(per_seed["method"] == method) & (per_seed["n_train_frames"] > 0)]
    return [
        (group["n_train_frames"].to_numpy(dtype=float), group[metric].to_numpy(dtype=float))
        for _, group in rows.groupby("seed", sort=True)
    ]


def _fit_columns(
    curve: tuple[np.ndarray, np.ndarray], seeds: list[Curve], min_frames: float
) -> dict[str, object]:
    """The fit columns of one method: from the seeds' own fits when any, else the mean curve."""
    n, y = curve
    seeded = fit_power_law_seeds(seeds, min_frames) if seeds else None
    fit = seeded.law if seeded is not None else fit_power_law(n, y, min_frames)
    nan2 = (math.nan, math.nan)
    slope_ci = seeded.slope_ci if seeded is not None else nan2
    log_ci = seeded.log10_prefactor_ci if seeded is not None else nan2
    return {
        "slope": fit.slope if fit else math.nan,
        "slope_ci_low": slope_ci[0],
        "slope_ci_high": slope_ci[1],
        "prefactor": fit.prefactor if fit else math.nan,
        "log10_prefactor": math.log10(fit.prefactor) if fit else math.nan,
        "log10_prefactor_ci_low": log_ci[0],
        "log10_prefactor_ci_high": log_ci[1],
        "r2": fit.r2 if fit else math.nan,
        "n_points": fit.n_points if fit else 0,
        "n_seed_fits": seeded.n_seeds if seeded is not None else 0,
        "fit_n_min": fit.n_range[0] if fit else math.nan,
        "fit_n_max": fit.n_range[1] if fit else math.nan,
        "no_fit_reason": None if fit else no_fit_reason(n, y, min_frames),
    }


def _method_row(
    method: str,
    curve: tuple[np.ndarray, np.ndarray],
    scratch: tuple[np.ndarray, np.ndarray] | None,
    min_frames: float,
    auc_range: tuple[float, float],
    seeds: list[Curve],
) -> dict[str, object]:
    """One row of :func:`scaling_table`."""
    n, y = curve
    row: dict[str, object] = {
        "method": method,
        **_fit_columns(curve, seeds, min_frames),
        "efficiency_at_frames": float(n[-1]) if n.size else math.nan,
        "data_efficiency_factor": math.nan,
        "data_efficiency_kind": None,
        "auc": math.nan,
        "auc_n_min": auc_range[0],
        "auc_n_max": auc_range[1],
    }
    if n.size and scratch is not None and scratch[0].size:
        bound = data_efficiency_factor(curve, scratch, float(n[-1]))
        row["data_efficiency_factor"] = bound.value
        row["data_efficiency_kind"] = bound.kind
    lo, hi = auc_range
    if n.size and lo < hi and n[0] <= lo and hi <= n[-1]:
        row["auc"] = learning_curve_area(n, y, lo, hi)
    return row


def scaling_table(
    df: pd.DataFrame,
    metric: str,
    min_frames: float,
    scratch_method: str | None,
    auc_range: tuple[float, float] | None = None,
    per_seed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scaling-law summary of one task and one metric, one row per method.

    Rows with ``n_train_frames == 0`` (zero-shot) are left out of every column, since
    ``log10(0)`` has no value; a method with only such rows gets NaN everywhere and
    ``n_points = 0``.

    Args:
        df: per-(method, fraction) summary with columns ``method``, ``n_train_frames`` and
            ``metric`` (mean over seeds, in the metric's unit); one row per
            (method, n_train_frames); other columns are ignored.
        metric: the MAE column to use, e.g. ``"energy_mae"``.
        min_frames: smallest ``n_train_frames`` in the power-law fit (``scaling_fit_min_frames``).
        scratch_method: the method that trains from scratch, the reference of the data
            efficiency (a task's ``roles.scratch``). When None or absent from ``df``, the
            efficiency columns are NaN / None.
        auc_range: ``(n_min, n_max)`` of the learning-curve area. Default: the range measured by
            every method with a positive-``n`` point, so areas are comparable across methods. A
            method that does not cover the range gets NaN.
        per_seed: one row per run, with columns ``method``, ``seed``, ``n_train_frames`` and
            ``metric``: the power law is then :func:`fit_power_law_seeds` of each method's
            seeds, with intervals. Without it (or when no seed's own curve can be fitted) the
            law is :func:`fit_power_law` of the mean curve, without intervals.

    Returns:
        Columns :data:`TABLE_COLUMNS`: ``slope`` (dimensionless) with ``slope_ci_low`` /
        ``slope_ci_high``, ``prefactor`` (the metric's unit) and ``log10_prefactor`` with its
        interval ends (NaN with fewer than two seeds fitted), ``r2``, ``n_points``,
        ``n_seed_fits`` (seeds fitted on their own, 0 without ``per_seed``),
        ``fit_n_min``/``fit_n_max`` (NaN and 0 points when no fit, with the reason in words in
        ``no_fit_reason``, else None);
        ``data_efficiency_factor`` and ``data_efficiency_kind`` (a :data:`BoundKind`) of
        :func:`data_efficiency_factor` at ``efficiency_at_frames``, the method's largest
        measured ``n``; ``auc`` of :func:`learning_curve_area` over ``auc_n_min``-``auc_n_max``.
    """
    curves = _curves_by_method(df, metric)
    scratch = curves.get(scratch_method) if scratch_method is not None else None
    if scratch_method is not None and scratch is None:
        logger.warning("no %r rows: data efficiency left empty", scratch_method)
    span = auc_range if auc_range is not None else _common_range(curves)
    if not span[0] < span[1]:
        logger.warning("no range of training frames shared by all methods: auc left empty")
    if per_seed is not None:
        missing = {"method", "seed", "n_train_frames", metric} - set(per_seed.columns)
        if missing:
            raise ValueError(f"per-seed frame lacks column(s) {sorted(missing)}")
    rows = [
        _method_row(
            method, curve, scratch, min_frames, span, _seed_curves(per_seed, method, metric)
        )
        for method, curve in curves.items()
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
