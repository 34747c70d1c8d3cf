"""Scaling laws and data efficiency of learning curves (test MAE against training frames).

A *learning curve* is a pair of 1-D arrays: ``n_frames`` (number of training frames, a count)
and ``mae`` (the mean absolute error on the test split, in the metric's own unit: meV/atom,
meV/Å, GPa, μB, ...). One point per training fraction, usually the mean over seeds.

Huang et al. (2025, arXiv 2504.05565, Fig. 6) fit straight lines on log-log axes,
``log10(mae) = log10(a) + b * log10(n)``, only above about 1,000 training frames; a task states
its own threshold as ``scaling_fit_min_frames``. Fraction 0 (zero-shot, ``n = 0``) never enters
a log-log fit nor an area in ``log10(n)``.

A power law is fitted only through at least :data:`MIN_FIT_FRAMES` distinct training-frame counts
at or above that threshold: a line through two points always has R² = 1 and says nothing about
the shape of the curve. When there are seeds, each seed's curve is fitted on its own and the
reported slope and ``log10`` prefactor are the means over the seeds, with a Student-t interval
over the seeds (:func:`fit_power_law_seeds`; no interval with fewer than two seeds fitted).

Pure numpy/pandas, so that the leaderboard CLI stays fast.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mfbench.results.aggregate import t_interval

logger = logging.getLogger(__name__)

#: Fewest distinct training-frame counts a power law is fitted through.
MIN_FIT_FRAMES = 3

#: A learning curve: (training frames ``[n_points]``, MAE ``[n_points]`` in the metric's unit).
Curve = tuple[npt.ArrayLike, npt.ArrayLike]

#: How a :class:`Bound` relates to the true value: equal to it (interpolated inside the measured
#: range), a strict lower bound (``"more-than"``) or an upper bound (``"at-most"``).
BoundKind = Literal["exact", "more-than", "at-most"]


@dataclass(frozen=True)
class PowerLaw:
    """A fitted power law ``mae = prefactor * n ** slope``.

    Attributes:
        prefactor: ``a``, the MAE extrapolated to one training frame, in the metric's unit.
        slope: ``b``, dimensionless; negative when the MAE falls with more frames.
        r2: coefficient of determination of the fit in ``log10(mae)`` space; NaN when every
            fitted MAE is the same (R² undefined).
        n_points: number of points fitted (a repeated ``n``, one per seed, counts each time).
        n_range: smallest and largest fitted number of training frames.
    """

    prefactor: float
    slope: float
    r2: float
    n_points: int
    n_range: tuple[float, float]

    def predict(self, n_frames: npt.ArrayLike) -> float | np.ndarray:
        """MAE predicted at ``n_frames`` training frames, in the metric's unit.

        Args:
            n_frames: number(s) of training frames, scalar or array of any shape.

        Returns:
            A float for a scalar input, otherwise an array of the input's shape.
        """
        n = np.asarray(n_frames, dtype=float)
        predicted = self.prefactor * n**self.slope
        return float(predicted) if predicted.ndim == 0 else predicted


@dataclass(frozen=True)
class Bound:
    """A value read off a measured curve, possibly only bounded by the measurements.

    Attributes:
        value: the number (frames, or a ratio of frames).
        kind: ``"exact"``: the true value, interpolated inside the measured range;
            ``"more-than"``: the true value is larger than ``value``;
            ``"at-most"``: the true value is ``value`` or smaller.
    """

    value: float
    kind: BoundKind

    def format(self, spec: str = ".3g") -> str:
        """The value with ``>`` or ``≤`` in front when it is only a bound, e.g. ``"> 1e+05"``."""
        prefix = {"exact": "", "more-than": "> ", "at-most": "≤ "}[self.kind]
        return f"{prefix}{self.value:{spec}}"

    def __str__(self) -> str:
        return self.format()


def _as_arrays(n_frames: npt.ArrayLike, mae: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as 1-D floats of equal length; ``ValueError`` otherwise."""
    n = np.asarray(n_frames, dtype=float)
    y = np.asarray(mae, dtype=float)
    if n.ndim != 1 or y.ndim != 1 or n.shape != y.shape:
        raise ValueError(
            f"n_frames and mae must be 1-D arrays of equal length, got shapes {n.shape} and "
            f"{y.shape}"
        )
    return n, y


def _sorted_curve(
    n_frames: npt.ArrayLike, mae: npt.ArrayLike, *, positive_mae: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A validated learning curve sorted by ``n``.

    Args:
        n_frames: training frames ``[n_points]``; each finite, > 0 and distinct.
        mae: MAE ``[n_points]``; each finite (and > 0 when ``positive_mae``).
        positive_mae: require MAE > 0 (needed for log-log interpolation).

    Raises:
        ValueError: on an empty curve, ``n <= 0`` (zero-shot points belong elsewhere), repeated
            ``n`` (average the seeds first), or an MAE that is not finite (or not positive).
    """
    n, y = _as_arrays(n_frames, mae)
    if n.size == 0:
        raise ValueError("a learning curve needs at least one point")
    if not np.all(np.isfinite(n) & (n > 0)):
        raise ValueError(
            f"n_frames must be finite and > 0 (leave out zero-shot points), got {n.tolist()}"
        )
    bad_mae = ~np.isfinite(y)
    if positive_mae:
        bad_mae |= y <= 0
    if np.any(bad_mae):
        need = "finite and > 0" if positive_mae else "finite"
        raise ValueError(f"mae must be {need}, got {y[bad_mae].tolist()} at n={n[bad_mae]}")
    order = np.argsort(n, kind="stable")
    n, y = n[order], y[order]
    if np.any(np.diff(n) == 0):
        raise ValueError(
            f"n_frames must be distinct (average seeds before building a curve), got {n.tolist()}"
        )
    return n, y


def _fit_points(
    n_frames: npt.ArrayLike, mae: npt.ArrayLike, min_frames: float
) -> tuple[np.ndarray, np.ndarray]:
    """The points a power law may go through: ``n >= min_frames``, ``n > 0``, MAE finite > 0."""
    n, y = _as_arrays(n_frames, mae)
    in_range = np.isfinite(n) & (n > 0) & (n >= min_frames)
    usable = in_range & np.isfinite(y) & (y > 0)
    if np.any(in_range & ~usable):
        logger.warning(
            "power-law fit leaves out %d point(s) at n >= %g whose MAE is not finite and > 0",
            int(np.sum(in_range & ~usable)),
            min_frames,
        )
    return n[usable], y[usable]


def no_fit_reason(n_frames: npt.ArrayLike, mae: npt.ArrayLike, min_frames: float) -> str | None:
    """Why no power law is fitted to a curve, in words; None when one is.

    Args:
        n_frames: training frames ``[n_points]`` (one per fraction, or repeated per seed).
        mae: test MAE ``[n_points]`` in the metric's unit.
        min_frames: smallest number of training frames fitted (``scaling_fit_min_frames``).

    Returns:
        E.g. ``"only 2 fractions with ≥ 100 training frames; a power law needs 3"``.
    """
    n, _ = _fit_points(n_frames, mae, min_frames)
    distinct = int(np.unique(n).size)
    if distinct >= MIN_FIT_FRAMES:
        return None
    counted = (
        "no fraction"
        if distinct == 0
        else f"only {distinct} fraction" + ("" if distinct == 1 else "s")
    )
    return (
        f"{counted} with ≥ {min_frames:,.0f} training frames (and a positive MAE); "
        f"a power law needs {MIN_FIT_FRAMES}"
    )


def fit_power_law(
    n_frames: npt.ArrayLike, mae: npt.ArrayLike, min_frames: float
) -> PowerLaw | None:
    """Least-squares fit of ``log10(mae) = log10(a) + b * log10(n)``.

    Only points with ``n >= min_frames``, ``n > 0`` and a finite MAE > 0 are fitted, each with the
    same weight; a repeated ``n`` (one point per seed) is allowed.

    Args:
        n_frames: training frames ``[n_points]``.
        mae: test MAE ``[n_points]`` in the metric's unit.
        min_frames: smallest number of training frames fitted (a task's
            ``scaling_fit_min_frames``).

    Returns:
        The fit, or None when fewer than :data:`MIN_FIT_FRAMES` distinct ``n`` qualify (see
        :func:`no_fit_reason` for the reason in words).
    """
    n, y = _fit_points(n_frames, mae, min_frames)
    if np.unique(n).size < MIN_FIT_FRAMES:
        return None
    x, logy = np.log10(n), np.log10(y)
    dx, dy = x - x.mean(), logy - logy.mean()
    slope = float(np.sum(dx * dy) / np.sum(dx * dx))
    intercept = float(logy.mean() - slope * x.mean())
    return PowerLaw(
        prefactor=10.0**intercept,
        slope=slope,
        r2=_r2(x, logy, intercept, slope),
        n_points=int(n.size),
        n_range=(float(n.min()), float(n.max())),
    )


def _r2(x: np.ndarray, logy: np.ndarray, intercept: float, slope: float) -> float:
    """R² of the line ``intercept + slope * x`` in ``log10`` space; NaN for a constant ``logy``."""
    if np.ptp(logy) == 0:
        return float("nan")
    residual = logy - (intercept + slope * x)
    return 1.0 - float(np.sum(residual**2)) / float(np.sum((logy - logy.mean()) ** 2))


@dataclass(frozen=True)
class SeedPowerLaw:
    """A power law from the seeds' own fits, with intervals over the seeds.

    Attributes:
        law: the reported law: slope and ``log10`` prefactor are the means over the seeds
            fitted; ``r2`` is that of this line on every fitted point of every seed (log10
            space); ``n_points`` counts those points; ``n_range`` spans them.
        n_seeds: seeds whose own curve had a fit (at least :data:`MIN_FIT_FRAMES` distinct
            ``n``); seeds without one are left out.
        slope_ci: 95 % Student-t interval of the mean slope over the seeds; NaN with one seed.
        log10_prefactor_ci: the same for ``log10(prefactor)`` (``log10`` of the metric's unit).
    """

    law: PowerLaw
    n_seeds: int
    slope_ci: tuple[float, float]
    log10_prefactor_ci: tuple[float, float]


def fit_power_law_seeds(
    seed_curves: Sequence[Curve], min_frames: float, level: float = 0.95
) -> SeedPowerLaw | None:
    """Fit each seed's learning curve on its own, then average the parameters over the seeds.

    Args:
        seed_curves: one ``(n_frames, mae)`` per seed, MAE in the metric's unit.
        min_frames: smallest number of training frames fitted (``scaling_fit_min_frames``).
        level: coverage of the intervals.

    Returns:
        The averaged law and the intervals (:class:`SeedPowerLaw`), or None when no seed's
        curve has :data:`MIN_FIT_FRAMES` distinct qualifying ``n``.
    """
    fits, points = [], []
    for n_frames, mae in seed_curves:
        fit = fit_power_law(n_frames, mae, min_frames)
        if fit is not None:
            fits.append(fit)
            points.append(_fit_points(n_frames, mae, min_frames))
    if not fits:
        return None
    slopes = np.array([f.slope for f in fits])
    intercepts = np.log10([f.prefactor for f in fits])
    slope, intercept = float(slopes.mean()), float(intercepts.mean())
    n = np.concatenate([p[0] for p in points])
    y = np.concatenate([p[1] for p in points])
    law = PowerLaw(
        prefactor=10.0**intercept,
        slope=slope,
        r2=_r2(np.log10(n), np.log10(y), intercept, slope),
        n_points=int(n.size),
        n_range=(float(n.min()), float(n.max())),
    )
    return SeedPowerLaw(
        law=law,
        n_seeds=len(fits),
        slope_ci=t_interval(slopes, level),
        log10_prefactor_ci=t_interval(intercepts, level),
    )


def mae_at_frames(n_frames: npt.ArrayLike, mae: npt.ArrayLike, at_frames: float) -> float:
    """MAE of a learning curve at ``at_frames``, interpolated linearly in log-log.

    Args:
        n_frames: training frames ``[n_points]``, distinct and > 0.
        mae: test MAE ``[n_points]``, finite and > 0, in the metric's unit.
        at_frames: where to read the curve; must lie inside the measured range.

    Returns:
        The MAE in the metric's unit.

    Raises:
        ValueError: when ``at_frames`` lies outside the measured range (no extrapolation).
    """
    n, y = _sorted_curve(n_frames, mae, positive_mae=True)
    if not n[0] <= at_frames <= n[-1]:
        raise ValueError(
            f"at_frames={at_frames:g} lies outside the measured range [{n[0]:g}, {n[-1]:g}]"
        )
    return float(10.0 ** np.interp(math.log10(at_frames), np.log10(n), np.log10(y)))


def frames_to_reach(n_frames: npt.ArrayLike, mae: npt.ArrayLike, target: float) -> Bound:
    """Training frames at which a learning curve first reaches ``target`` MAE.

    The curve is read piecewise-linearly in ``log10(n)``-``log10(mae)``, walking from the
    smallest ``n``: the answer is the first crossing, so a curve that dips below ``target`` and
    rises again (seed noise) is credited with its first dip.

    Args:
        n_frames: training frames ``[n_points]``, distinct and > 0.
        mae: test MAE ``[n_points]``, finite and > 0, in the metric's unit.
        target: the MAE to reach, > 0, in the same unit.

    Returns:
        ``Bound(n, "exact")`` when the crossing lies inside the measured range;
        ``Bound(largest n, "more-than")`` when no measured point reaches ``target``;
        ``Bound(smallest n, "at-most")`` when the smallest measured ``n`` already reaches it.
    """
    if not (math.isfinite(target) and target > 0):
        raise ValueError(f"target MAE must be finite and > 0, got {target}")
    n, y = _sorted_curve(n_frames, mae, positive_mae=True)
    reached = np.flatnonzero(y <= target)
    if reached.size == 0:
        return Bound(float(n[-1]), "more-than")
    first = int(reached[0])
    if first == 0:
        return Bound(float(n[0]), "at-most")
    x0, x1 = math.log10(n[first - 1]), math.log10(n[first])
    y0, y1 = math.log10(y[first - 1]), math.log10(y[first])
    t = (math.log10(target) - y0) / (y1 - y0)
    return Bound(float(10.0 ** (x0 + t * (x1 - x0))), "exact")


def data_efficiency_factor(method_curve: Curve, scratch_curve: Curve, at_frames: float) -> Bound:
    """How many times more frames training from scratch needs to match a method.

    The method's MAE at ``at_frames`` (log-log interpolation) is the target; the factor is
    ``n_scratch / at_frames`` with ``n_scratch`` from :func:`frames_to_reach` on the scratch curve.
    A factor of 10 means scratch needs ten times the data; below 1 the method is worse than
    scratch. The bound kind carries over: ``"more-than"`` when scratch never reaches the target
    within its measured frames, ``"at-most"`` when its smallest measured ``n`` already does.

    Args:
        method_curve: ``(n_frames, mae)`` of the method, MAE in the metric's unit.
        scratch_curve: ``(n_frames, mae)`` of training from scratch, same metric.
        at_frames: training frames at which the method is read; inside its measured range.

    Returns:
        The factor (dimensionless) and its kind.
    """
    target = mae_at_frames(*method_curve, at_frames)
    needed = frames_to_reach(*scratch_curve, target)
    return Bound(needed.value / at_frames, needed.kind)


def transfer_gain(method_mae: npt.ArrayLike, baseline_mae: npt.ArrayLike) -> float | np.ndarray:
    """Relative MAE reduction ``1 - method / baseline``.

    Positive when the method's MAE is lower than the baseline's (0.25: 25 % lower), zero when equal,
    negative when the method is worse (-1: twice the baseline's MAE). Used against the zero-shot
    and the from-scratch MAE of the same fraction.

    Args:
        method_mae: MAE(s) of the method, any shape, in the metric's unit.
        baseline_mae: MAE(s) of the baseline, broadcastable to ``method_mae``, same unit; > 0.

    Returns:
        A float for scalar inputs, otherwise an array of the broadcast shape. NaN inputs give NaN.
    """
    method = np.asarray(method_mae, dtype=float)
    baseline = np.asarray(baseline_mae, dtype=float)
    if np.any(baseline <= 0):
        raise ValueError(f"baseline MAE must be > 0, got {baseline.tolist()}")
    gain = 1.0 - method / baseline
    return float(gain) if gain.ndim == 0 else gain


def transfer_gain_table(df: pd.DataFrame, metric: str, baselines: Sequence[str]) -> pd.DataFrame:
    """:func:`transfer_gain` of every method against each baseline at the same fraction.

    Args:
        df: per-(method, fraction) summary with columns ``method``, ``fraction`` and ``metric``
            (mean over seeds, in the metric's unit); one row per (method, fraction).
        metric: the MAE column.
        baselines: method names to compare against (a task's ``roles.gain_baselines``).

    Returns:
        Columns ``method``, ``fraction``, ``metric`` and one ``gain_vs_<baseline>`` per
        baseline (``1 - MAE / baseline MAE``; NaN where the baseline has no run at that
        fraction or its MAE is not positive), sorted by fraction then method.
    """
    table = df[["method", "fraction", metric]].sort_values(["fraction", "method"])
    table = table.reset_index(drop=True)
    for baseline in baselines:
        reference = df.loc[df["method"] == baseline].set_index("fraction")[metric]
        base = table["fraction"].map(reference).to_numpy(dtype=float)
        usable = np.isfinite(base) & (base > 0)
        gain = np.full(len(table), np.nan)
        gain[usable] = transfer_gain(table[metric].to_numpy(dtype=float)[usable], base[usable])
        table[f"gain_vs_{baseline}"] = gain
    return table


def learning_curve_area(
    n_frames: npt.ArrayLike, mae: npt.ArrayLike, n_min: float, n_max: float
) -> float:
    """Mean MAE of a learning curve over ``log10(n)`` from ``n_min`` to ``n_max``.

    The area under ``mae`` against ``log10(n)`` (trapezoids between measured points; the MAE at
    ``n_min`` and ``n_max`` interpolated linearly in ``log10(n)``), divided by
    ``log10(n_max / n_min)``. The result is therefore in the metric's unit: a constant curve gives
    that constant. Every decade of training frames weighs the same; lower is better.

    Args:
        n_frames: training frames ``[n_points]``, distinct and > 0.
        mae: test MAE ``[n_points]``, finite, in the metric's unit.
        n_min: lower bound in training frames, inside the measured range.
        n_max: upper bound in training frames, inside the measured range, > ``n_min``.

    Raises:
        ValueError: when ``n_min >= n_max`` or a bound lies outside the measured range.
    """
    n, y = _sorted_curve(n_frames, mae, positive_mae=False)
    if not 0 < n_min < n_max:
        raise ValueError(f"need 0 < n_min < n_max, got n_min={n_min:g}, n_max={n_max:g}")
    if n_min < n[0] or n_max > n[-1]:
        raise ValueError(
            f"[{n_min:g}, {n_max:g}] is not inside the measured range [{n[0]:g}, {n[-1]:g}]"
        )
    x = np.log10(n)
    x_lo, x_hi = math.log10(n_min), math.log10(n_max)
    inside = (x > x_lo) & (x < x_hi)
    xs = np.concatenate([[x_lo], x[inside], [x_hi]])
    ys = np.interp(xs, x, y)
    area = float(np.sum(0.5 * (ys[1:] + ys[:-1]) * np.diff(xs)))
    return area / (x_hi - x_lo)
