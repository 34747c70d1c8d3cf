"""Scaling-law plots (test MAE against training frames, log-log) as inline SVG.

Drawn with matplotlib's object API (:class:`matplotlib.figure.Figure`, no ``pyplot``), so no
GUI backend is chosen and no global figure state is kept; ``savefig(format="svg")`` renders
with matplotlib's SVG backend. Settings are fixed for each plot, starting from matplotlib's
defaults, so the output depends on nothing but the data and the matplotlib version:

- ``svg.fonttype = "none"``: text stays ``<text>`` elements (escaped by matplotlib, then checked
  again by :func:`mfbench.leaderboard.svg.inline_svg`), small and searchable; the viewer's
  sans-serif font draws it. ``"path"`` would also be safe but writes each label into an XML
  comment and a glyph per character.
- ``svg.hashsalt`` fixed and no metadata (no date): two builds give the same bytes.
- Names from records are drawn with ``parse_math=False``, so ``$...$`` in a method name is
  text, not mathtext.

Training fraction 0 (zero training frames) has no place on a log axis: it is drawn as a hollow
diamond on the left edge of the axes, at its MAE.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mfbench.leaderboard.safety import display_text
from mfbench.leaderboard.svg import inline_svg

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

#: Line colours, in the order of the sorted method labels (matplotlib's tab10).
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: Markers, changed after every len(COLORS) methods so that lines stay distinguishable.
MARKERS = ("o", "s", "^", "v", "P", "X")
#: Longest method label in a legend, in characters.
LABEL_LIMIT = 40
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mfbench-leaderboard",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class Fit:
    """A power law ``mae = prefactor * n ** slope`` fitted over ``n_min``–``n_max`` frames."""

    prefactor: float
    slope: float
    n_min: float
    n_max: float


@dataclass(frozen=True)
class Curve:
    """One method's learning curve on one metric.

    Attributes:
        label: the method's label in the legend (untrusted text).
        n_frames: training frames ``[k]``, each > 0, increasing.
        mean: MAE mean over seeds ``[k]``, in the metric's unit.
        low: lower end of the 95 % bootstrap interval ``[k]``.
        high: upper end ``[k]``.
        zero_shot: MAE at zero training frames (fraction 0), or None.
        fit: the power law fitted to the curve, or None.
    """

    label: str
    n_frames: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    zero_shot: float | None = None
    fit: Fit | None = None


def scaling_svg(title: str, ylabel: str, curves: Sequence[Curve], min_frames: float) -> str | None:
    """A log-log plot of MAE against training frames, one line per curve, as inline SVG.

    Measured means are joined by solid lines with the bootstrap interval as error bars; each
    power-law fit is a dashed line over the frames it was fitted on; zero-shot MAEs are hollow
    diamonds on the left edge.

    Args:
        title: plot title (e.g. task name and metric).
        ylabel: y-axis label with unit.
        curves: the methods' curves, in legend order.
        min_frames: smallest number of frames fitted, named in the legend.

    Returns:
        An ``<svg>`` element checked by :func:`inline_svg`, or None when no curve has a point
        with training frames > 0 and a positive MAE (nothing to draw on log axes).
    """
    drawable = [c for c in curves if np.any(_positive(c.n_frames, c.mean))]
    if not drawable:
        return None
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = Figure(figsize=(7.0, 4.2))
        axes = figure.add_subplot()
        edge = blended_transform_factory(axes.transAxes, axes.transData)
        handles: list[Line2D] = []
        labels: list[str] = []
        for index, curve in enumerate(curves):
            color, marker = (
                COLORS[index % len(COLORS)],
                MARKERS[(index // len(COLORS)) % len(MARKERS)],
            )
            handles.append(Line2D([], [], color=color, marker=marker))
            labels.append(_legend_label(curve))
            _draw_curve(axes, curve, color, marker)
            if curve.zero_shot is not None and curve.zero_shot > 0:
                axes.plot(
                    [0.0],
                    [curve.zero_shot],
                    transform=edge,
                    clip_on=False,
                    linestyle="none",
                    marker="D",
                    markersize=7,
                    markerfacecolor="none",
                    markeredgecolor=color,
                    markeredgewidth=1.5,
                    zorder=5,
                )
        if any(c.zero_shot is not None and c.zero_shot > 0 for c in curves):
            handles.append(
                Line2D([], [], color="0.3", marker="D", markerfacecolor="none", linestyle="none")
            )
            labels.append("0 training frames (left edge)")
        if any(c.fit is not None for c in curves):
            handles.append(Line2D([], [], color="0.3", linestyle="--"))
            labels.append(f"power-law fit, ≥ {min_frames:,.0f} frames")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("training frames")
        axes.set_ylabel(display_text(ylabel), parse_math=False)
        axes.set_title(display_text(title, 120), parse_math=False)
        axes.grid(True, which="both")
        legend = axes.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=8,
            frameon=False,
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=_NO_METADATA)
    prefix = "p" + hashlib.sha256(f"{title}\n{ylabel}".encode()).hexdigest()[:12]
    return inline_svg(buffer.getvalue(), prefix)


def _positive(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    return np.isfinite(n) & (n > 0) & np.isfinite(y) & (y > 0)


def _legend_label(curve: Curve) -> str:
    label = display_text(curve.label, LABEL_LIMIT)
    if curve.fit is not None:
        label += f" (slope {curve.fit.slope:.2f})"
    return label


def _draw_curve(axes: Axes, curve: Curve, color: str, marker: str) -> None:
    """The measured means with error bars, and the fitted power law."""
    keep = _positive(curve.n_frames, curve.mean)
    n = np.asarray(curve.n_frames, dtype=float)[keep]
    mean = np.asarray(curve.mean, dtype=float)[keep]
    low = np.asarray(curve.low, dtype=float)[keep]
    high = np.asarray(curve.high, dtype=float)[keep]
    if n.size:
        below = np.where(np.isfinite(low), np.clip(mean - low, 0.0, None), 0.0)
        above = np.where(np.isfinite(high), np.clip(high - mean, 0.0, None), 0.0)
        axes.errorbar(
            n,
            mean,
            yerr=np.vstack([below, above]),
            color=color,
            marker=marker,
            markersize=5,
            linewidth=1.2,
            capsize=2,
        )
    if curve.fit is not None and curve.fit.n_max > curve.fit.n_min > 0:
        xs = np.geomspace(curve.fit.n_min, curve.fit.n_max, 32)
        axes.plot(
            xs,
            curve.fit.prefactor * xs**curve.fit.slope,
            color=color,
            linestyle="--",
            linewidth=1.0,
        )
