"""Plots of one method's runs, for its page: parity, per-element errors, training curves.

Drawn like :mod:`mfbench.leaderboard.plots` (matplotlib's object API, its fixed settings, no
metadata, text as ``<text>``, checked by :func:`mfbench.html.svg.inline_svg`), in the
method's colour and marker (:func:`mfbench.leaderboard.plots.method_style`) so that a method
looks the same on its page as in the task plots. Same data, same bytes.

Every function takes plain arrays and returns an ``<svg>`` element, or None when there is
nothing to draw; reading records and predictions is :mod:`mfbench.leaderboard.method_content`'s.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mfbench.html.safety import display_text
from mfbench.html.svg import inline_svg
from mfbench.leaderboard.plots import _NO_METADATA, _RC, MARKER_CODES, method_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

#: Most points drawn in a parity plot (each is an SVG element).
PARITY_POINTS = 1000
#: Share of :data:`PARITY_POINTS` kept for the frames with the largest errors.
PARITY_WORST_SHARE = 0.1
#: Longest title, in characters.
_TITLE_LIMIT = 120


@dataclass(frozen=True)
class ElementError:
    """The energy MAE of the test frames holding one element.

    Attributes:
        symbol: element symbol, e.g. ``"Fe"``.
        z: atomic number (the plot's order).
        mae: energy MAE in meV/atom over the test frames that contain the element.
        n_frames: how many test frames contain it.
    """

    symbol: str
    z: int
    mae: float
    n_frames: int


@dataclass(frozen=True)
class TrainingSeries:
    """One run's training: its per-epoch energy MAEs, stage after stage.

    Attributes:
        label: legend text, e.g. ``"fraction 0.1 (stage1, stage2)"`` (untrusted text).
        steps: optimizer steps at the end of each epoch, counted from the run's first stage
            ``[k]``, increasing.
        val: validation energy MAE after each epoch, meV/atom ``[k]`` (NaN: not recorded).
        train: training energy MAE over each epoch, meV/atom ``[k]`` (NaN: not recorded).
        stage_starts: ``[s]`` optimizer steps at which a later stage begins (a dotted line each).
        shade: 0 draws the method's colour, up to 1 blends it towards white (smaller fractions
            lighter).
    """

    label: str
    steps: np.ndarray
    val: np.ndarray
    train: np.ndarray
    stage_starts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shade: float = 0.0


def subsample(errors: np.ndarray, limit: int = PARITY_POINTS) -> np.ndarray:
    """Which points a parity plot draws: all of them, or ``limit`` chosen deterministically.

    The ``PARITY_WORST_SHARE * limit`` points with the largest absolute error are kept (outliers
    are what a parity plot is read for), the rest are evenly spaced over the remaining points in
    their given order. No random draw: the same input gives the same points.

    Args:
        errors: ``[n]`` predicted minus reference, any unit.
        limit: most points returned.

    Returns:
        Sorted indices into ``errors``, at most ``limit`` of them.
    """
    n = len(errors)
    if n <= limit:
        return np.arange(n)
    worst_count = int(limit * PARITY_WORST_SHARE)
    order = np.argsort(-np.abs(np.asarray(errors, dtype=float)), kind="stable")
    worst = order[:worst_count]
    rest = np.setdiff1d(np.arange(n), worst)
    picks = np.linspace(0, len(rest) - 1, limit - worst_count).round().astype(np.int64)
    return np.union1d(worst, rest[np.unique(picks)])


def parity_svg(
    title: str, method: str, reference: np.ndarray, predicted: np.ndarray
) -> tuple[str, int] | None:
    """Predicted against reference energy per atom, with the diagonal.

    Args:
        title: plot title (task and run).
        method: the method name (its style).
        reference: ``[n]`` reference energies, eV/atom.
        predicted: ``[n]`` predicted energies, eV/atom.

    Returns:
        ``(svg, points drawn)``; the axes span every frame, drawn or not. None when there is no
        finite pair.
    """
    reference, predicted = np.asarray(reference, float), np.asarray(predicted, float)
    finite = np.isfinite(reference) & np.isfinite(predicted)
    if not finite.any():
        return None
    reference, predicted = reference[finite], predicted[finite]
    shown = subsample(predicted - reference)
    color, marker = method_style(method)
    low = float(min(reference.min(), predicted.min()))
    high = float(max(reference.max(), predicted.max()))
    pad = 0.03 * (high - low) if high > low else 0.5

    def draw(axes: Axes) -> None:
        axes.plot([low - pad, high + pad], [low - pad, high + pad], color="0.4", linewidth=0.8,
                  linestyle="--", zorder=1)  # fmt: skip
        axes.plot(reference[shown], predicted[shown], linestyle="none", color=color,
                  marker=MARKER_CODES[marker], markersize=3, alpha=0.6, markeredgewidth=0,
                  zorder=2)  # fmt: skip
        axes.set_xlim(low - pad, high + pad)
        axes.set_ylim(low - pad, high + pad)
        axes.set_aspect("equal")
        axes.set_xlabel("reference energy (eV/atom)")
        axes.set_ylabel("predicted energy (eV/atom)")

    svg = _render(title, draw, (4.2, 4.2), f"parity\n{method}")
    return svg, len(shown)


def per_element_svg(title: str, method: str, errors: Sequence[ElementError]) -> str | None:
    """Energy MAE per element as dots on stems, elements in order of atomic number.

    The axis is logarithmic when every MAE is > 0 (errors spread over decades), else linear
    from 0, so that an element with no error still shows.

    Args:
        title: plot title.
        method: the method name (its style).
        errors: one entry per element (any order; sorted by ``z`` here).

    Returns:
        The ``<svg>``, or None when no element has a finite MAE.
    """
    shown = sorted((e for e in errors if math.isfinite(e.mae) and e.mae >= 0), key=lambda e: e.z)
    if not shown:
        return None
    color, marker = method_style(method)
    width = min(14.0, max(4.5, 0.14 * len(shown) + 1.5))
    y = np.array([e.mae for e in shown])
    log = bool(np.all(y > 0))

    def draw(axes: Axes) -> None:
        x = np.arange(len(shown))
        axes.vlines(x, y.min() / 1.5 if log else 0.0, y, color=color, linewidth=0.8, alpha=0.5)
        axes.plot(x, y, linestyle="none", color=color, marker=MARKER_CODES[marker], markersize=4)
        if log:
            axes.set_yscale("log")
        else:
            axes.set_ylim(bottom=0)
        axes.set_xticks(x, [display_text(e.symbol, 3) for e in shown], fontsize=7, rotation=90)
        axes.set_xlim(-0.7, len(shown) - 0.3)
        axes.set_ylabel("energy MAE (meV/atom)")
        axes.grid(True, axis="y", which="both")
        axes.grid(False, axis="x")

    return _render(title, draw, (width, 3.0), f"elements\n{method}")


def training_svg(title: str, method: str, series: Sequence[TrainingSeries]) -> str | None:
    """Energy MAE per epoch against optimizer steps: validation solid, training dashed.

    Args:
        title: plot title.
        method: the method name (its colour and marker; a series' ``shade`` lightens it).
        series: one per run, in legend order; a run's stages follow each other.

    Returns:
        The ``<svg>``, or None when no series has a finite MAE > 0.
    """
    drawable = [s for s in series if _positive(s.val).any() or _positive(s.train).any()]
    if not drawable:
        return None
    color, marker = method_style(method)

    def draw(axes: Axes) -> None:
        from matplotlib.lines import Line2D

        handles: list[Line2D] = []
        labels: list[str] = []
        for s in drawable:
            shade = _lighten(color, s.shade)
            for values, style in ((s.val, "-"), (s.train, "--")):
                keep = _positive(values)
                if keep.any():
                    axes.plot(s.steps[keep], values[keep], color=shade, linestyle=style,
                              marker=MARKER_CODES[marker], markersize=4, linewidth=1.2)  # fmt: skip
            for start in s.stage_starts:
                axes.axvline(start, color=shade, linestyle=":", linewidth=1.0)
            handles.append(Line2D([], [], color=shade, marker=MARKER_CODES[marker]))
            labels.append(display_text(s.label, 60))
        handles += [Line2D([], [], color="0.3"), Line2D([], [], color="0.3", linestyle="--")]
        labels += ["validation", "training (running mean)"]
        if any(len(s.stage_starts) for s in drawable):
            handles.append(Line2D([], [], color="0.3", linestyle=":"))
            labels.append("next stage begins")
        axes.set_yscale("log")
        axes.set_xlim(left=0)
        axes.set_xlabel("optimizer steps")
        axes.set_ylabel("energy MAE (meV/atom)")
        legend = axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                             fontsize=8, frameon=False)  # fmt: skip
        for text in legend.get_texts():
            text.set_parse_math(False)

    return _render(title, draw, (6.0, 3.2), f"training\n{method}")


def _positive(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.isfinite(values) & (values > 0)


def _lighten(color: str, amount: float) -> str:
    """``#rrggbb`` blended towards white by ``amount`` in [0, 1] (0: unchanged)."""
    amount = min(max(amount, 0.0), 1.0)
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (255 - c) * amount) for c in channels]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _render(title: str, draw: Callable[[Axes], None], size: tuple[float, float], key: str) -> str:
    """One axes drawn by ``draw`` with the site's plot settings, as a checked ``<svg>``.

    Args:
        title: the axes title (untrusted text, drawn without mathtext).
        draw: draws on the axes.
        size: figure size in inches.
        key: with ``title``, makes the ids of the SVG unique on its page.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = Figure(figsize=size)
        axes = figure.add_subplot()
        draw(axes)
        axes.set_title(display_text(title, _TITLE_LIMIT), parse_math=False, fontsize=9)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=_NO_METADATA)
    prefix = "m" + hashlib.sha256(f"{key}\n{title}".encode()).hexdigest()[:12]
    return inline_svg(buffer.getvalue(), prefix)
