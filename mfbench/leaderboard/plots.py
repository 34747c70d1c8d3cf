"""Scaling-law plots (test MAE against training frames, log-log) as inline SVG.

Drawn with matplotlib's object API (:class:`matplotlib.figure.Figure`, no ``pyplot``), so no
GUI backend is chosen and no global figure state is kept; ``savefig(format="svg")`` renders
with matplotlib's SVG backend. Settings are fixed for each plot, starting from matplotlib's
defaults, so the output depends on nothing but the data and the matplotlib version:

- ``svg.fonttype = "none"``: text stays ``<text>`` elements (escaped by matplotlib, then checked
  again by :func:`mfbench.html.svg.inline_svg`), small and searchable; the viewer's
  sans-serif font draws it. ``"path"`` would also be safe but writes each label into an XML
  comment and a glyph per character.
- ``svg.hashsalt`` fixed and no metadata (no date): two builds give the same bytes.
- Names from records are drawn with ``parse_math=False``, so ``$...$`` in a method name is
  text, not mathtext.

Every method keeps one colour and marker on every page (:func:`method_style`, from its name
alone). Tick labels of the log axes are plain numbers at powers of ten (or 1-2-5 steps when an
axis spans less than two decades), never matplotlib's ``10^k`` mathtext.

Training fraction 0 (zero training frames) has no place on a log axis: it is drawn as the
method's marker, hollow, on the left edge of the axes, at its MAE.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mfbench.html.safety import display_text
from mfbench.html.svg import inline_svg

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

#: Colour palette (matplotlib's tab10, which is readable on white and in print).
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
#: Marker names returned by :func:`method_style`, and matplotlib's code for each.
MARKER_CODES = {
    "circle": "o",
    "square": "s",
    "triangle": "^",
    "diamond": "D",
    "cross": "X",
    "star": "*",
    "plus": "P",
    "triangle-down": "v",
    "pentagon": "p",
    "hexagon": "h",
}
#: Fixed styles of the built-in baselines (entry points ``mfbench.methods``): each its own colour
#: and marker, so that the shipped methods never share a look on any page.
BASELINE_STYLES = {
    "gga-floor": ("#7f7f7f", "diamond"),
    "zero-shot": ("#8c564b", "triangle-down"),
    "scratch": ("#d62728", "cross"),
    "finetune-refit-atomref": ("#1f77b4", "circle"),
    "finetune-trainable-atomref": ("#ff7f0e", "square"),
    "finetune-frozen-gga-atomref": ("#2ca02c", "triangle"),
    "multi-stage": ("#9467bd", "star"),
}
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


def method_style(method: str) -> tuple[str, str]:
    """The colour and marker a method has on every page and plot of the site.

    Depends on the method name alone (not on which other methods share a page), so a method
    looks the same everywhere. Built-in baselines have fixed, distinct styles
    (:data:`BASELINE_STYLES`); any other name is hashed (sha256, no hash seed) onto one of
    ``len(COLORS) * len(MARKER_CODES)`` colour/marker pairs.

    Args:
        method: the method name (``record["method"]["name"]``, e.g. ``"scratch"``).

    Returns:
        ``(colour, marker)``: a ``#rrggbb`` colour and a marker name, a key of
        :data:`MARKER_CODES` (``"circle"``, ``"square"``, ``"triangle"``, ...).
    """
    if method in BASELINE_STYLES:
        return BASELINE_STYLES[method]
    digest = int.from_bytes(hashlib.sha256(method.encode("utf-8")).digest()[:8], "big")
    markers = tuple(MARKER_CODES)
    return COLORS[digest % len(COLORS)], markers[(digest // len(COLORS)) % len(markers)]


@dataclass(frozen=True)
class Fit:
    """A power law ``mae = prefactor * n ** slope`` fitted over ``n_min``–``n_max`` frames."""

    prefactor: float
    slope: float
    n_min: float
    n_max: float


@dataclass(frozen=True)
class Curve:
    """One entry's learning curve on one metric.

    Attributes:
        label: the entry's label in the legend (untrusted text).
        n_frames: training frames ``[k]``, each > 0, increasing.
        mean: MAE mean over seeds ``[k]``, in the metric's unit.
        low: lower end of the 95 % interval of the mean ``[k]`` (NaN: none, e.g. one seed).
        high: upper end ``[k]``.
        zero_shot: MAE at zero training frames (fraction 0), or None.
        fit: the power law fitted to the curve, or None.
        method: the method name that fixes colour and marker (:func:`method_style`);
            empty: ``label``.
        variant: 0 for the first entry of a method name, 1, 2, ... for entries with other
            hyperparameters (drawn with other line styles in the same colour and marker).
    """

    label: str
    n_frames: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    zero_shot: float | None = None
    fit: Fit | None = None
    method: str = ""
    variant: int = 0


#: Line styles of the entries of one method name, by :attr:`Curve.variant`.
VARIANT_LINES = ("-", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
#: Most tick labels on a log axis (powers of ten are thinned beyond this).
MAX_TICKS = 7


def scaling_svg(title: str, ylabel: str, curves: Sequence[Curve], min_frames: float) -> str | None:
    """A log-log plot of MAE against training frames, one line per curve, as inline SVG.

    Measured means are joined by lines with the 95 % interval as error bars (none where a
    point has no interval); each power-law fit is a dashed line over the frames it was fitted
    on; zero-shot MAEs are hollow markers on the left edge. Each method keeps its colour and
    marker (:func:`method_style`); tick labels are plain numbers (``100``, ``1,000``).

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

    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = Figure(figsize=(7.0, 4.2))
        axes = figure.add_subplot()
        handles: list[Line2D] = []
        labels: list[str] = []
        for curve in curves:
            color, marker = _style(curve)
            linestyle = VARIANT_LINES[curve.variant % len(VARIANT_LINES)]
            handles.append(Line2D([], [], color=color, marker=marker, linestyle=linestyle))
            labels.append(_legend_label(curve))
            _draw_curve(axes, curve, color, marker, linestyle)
            _draw_zero_shot(axes, curve, color, marker)
        if any(c.zero_shot is not None and c.zero_shot > 0 for c in curves):
            handles.append(
                Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="none")
            )
            labels.append("0 training frames (hollow, left edge)")
        if any(c.fit is not None for c in curves):
            handles.append(Line2D([], [], color="0.3", linestyle="--"))
            labels.append(f"power-law fit, ≥ {min_frames:,.0f} frames")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("training frames")
        axes.set_ylabel(display_text(ylabel), parse_math=False)
        axes.set_title(display_text(title, 120), parse_math=False)
        axes.grid(True, which="both")
        _plain_log_ticks(axes)
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


def _style(curve: Curve) -> tuple[str, str]:
    """Colour and matplotlib marker code of a curve's method."""
    color, marker = method_style(curve.method or curve.label)
    return color, MARKER_CODES[marker]


def _positive(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    return np.isfinite(n) & (n > 0) & np.isfinite(y) & (y > 0)


def _legend_label(curve: Curve) -> str:
    label = display_text(curve.label, LABEL_LIMIT)
    if curve.fit is not None:
        label += f" (slope {curve.fit.slope:.2f})"
    return label


def _draw_curve(axes: Axes, curve: Curve, color: str, marker: str, linestyle: object) -> None:
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
            linestyle=linestyle,
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


def _draw_zero_shot(axes: Axes, curve: Curve, color: str, marker: str) -> None:
    """The MAE at zero training frames: the method's marker, hollow, on the left edge."""
    if curve.zero_shot is None or not curve.zero_shot > 0:
        return
    from matplotlib.transforms import blended_transform_factory

    axes.plot(
        [0.0],
        [curve.zero_shot],
        transform=blended_transform_factory(axes.transAxes, axes.transData),
        clip_on=False,
        linestyle="none",
        marker=marker,
        markersize=7,
        markerfacecolor="none",
        markeredgecolor=color,
        markeredgewidth=1.5,
        zorder=5,
    )


def _plain_log_ticks(axes: Axes) -> None:
    """Major ticks of both log axes at :func:`log_ticks`, labelled by :func:`tick_label`.

    Minor ticks stay (for the grid) but carry no label, so labels never overlap and never
    read ``1e+02`` or ``2×10^1``.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    axes.autoscale_view()
    for axis, limits in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
        ticks = log_ticks(*limits)
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda value, _: tick_label(value)))
        axis.set_minor_formatter(NullFormatter())
    axes.set_xlim(*axes.get_xlim())
    axes.set_ylim(*axes.get_ylim())


def log_ticks(low: float, high: float) -> list[float]:
    """Tick positions of a log axis from ``low`` to ``high`` (both > 0), in data units.

    Powers of ten when the range holds at least three (every second, third, ... one beyond
    :data:`MAX_TICKS`); otherwise 1-2-5 steps, then 1, 1.5, 2, 2.5, 3, ..., 9 times a power
    of ten, whichever first gives 2 to :data:`MAX_TICKS` ticks; an axis narrower than that gets
    evenly spaced round numbers (matplotlib's ``MaxNLocator``).
    """
    low, high = sorted((float(low), float(high)))
    if not (low > 0 and math.isfinite(high)):
        return []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))

    def within(mantissas: tuple[float, ...]) -> list[float]:
        return [
            float(f"{m}e{e}")
            for e in range(first, last + 1)
            for m in mantissas
            if low <= m * 10.0**e <= high
        ]

    decades = within((1,))
    if len(decades) >= 3:
        return decades[:: math.ceil(len(decades) / MAX_TICKS)]
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = within(mantissas)
        if 2 <= len(ticks) <= MAX_TICKS:
            return ticks
    if len(decades) == 2:
        return decades
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    return [float(t) for t in ticks if low <= t <= high and t > 0]


def tick_label(value: float) -> str:
    """A tick value as a plain number: ``100``, ``1,000``, ``20,000``, ``0.05``, ``2.5``."""
    if not (math.isfinite(value) and value > 0):
        return ""
    decimals = max(0, -math.floor(math.log10(value)) + 1) if value < 1 else 0
    text = f"{value:,.{decimals}f}"
    if value < 1 or not float(value).is_integer():
        text = f"{value:,.{max(decimals, 3)}f}".rstrip("0").rstrip(".")
    return text
