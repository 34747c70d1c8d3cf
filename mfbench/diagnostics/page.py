"""A standalone static HTML page for a shift report (``index.html`` next to ``report.json``).

The page has no script and loads nothing: a Content-Security-Policy allows inline styles only,
every figure is inline SVG checked by :func:`mfbench.html.svg.inline_svg` (allow-listed
elements, no links outside the SVG), and the template is rendered with autoescape on. Figures:

- a periodic-table heatmap of the per-element offsets high − low (eV/atom), drawn directly as
  SVG (one ``<rect>`` and two ``<text>`` per element, the details in a ``<title>`` tooltip);
- parity plots, low against high fidelity: energy per atom raw and referenced, formation
  energies with and without the low fidelity's MP2020 anion corrections (matplotlib; at most
  :data:`MAX_POINTS` points per panel, a seeded subsample beyond that);
- the fitted offsets against CHGNet's shipped AtomRef difference, when loaded;
- per-element importance bars of the formation-energy difference, both correction variants.

Matplotlib is used through its object API with fixed settings (text as ``<text>``, fixed hash
salt, no date), so the same report gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup
from pymatgen.core import Element

from mfbench.diagnostics.report import Agreement, ShiftReport, SubsetAgreement
from mfbench.html.safety import display_text, xml_text
from mfbench.html.svg import SVG_NS, inline_svg

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mfbench.diagnostics.shift import ParityPoints, ShiftAnalysis

#: The page's template, among those of :mod:`mfbench.html`.
TEMPLATE = "diagnostics.html.j2"
#: Most points drawn in one parity panel.
MAX_POINTS = 4000
#: Elements shown in the importance bars.
N_IMPORTANCE = 15
#: No script, no fetch: inline styles only.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
TRAIN_COLOR, HELD_OUT_COLOR = "#8c959f", "#0969da"
VARIANT_LABELS = {
    "without_anion_corrections": "without MP2020 anion corrections",
    "with_anion_corrections": "with MP2020 anion corrections",
}
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mfbench-diagnostics",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _prefix(*parts: str) -> str:
    return "d" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _figure_svg(figure: Figure, prefix: str) -> Markup:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=_NO_METADATA)
    return Markup(inline_svg(buffer.getvalue(), prefix))


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _subsample(n: int, seed: int = 0) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_POINTS, replace=False))


def _parity_panel(
    axes: Axes, low: np.ndarray, high: np.ndarray, held_out: np.ndarray, title: str, unit: str
) -> int:
    """One low-vs-high scatter with the y = x line; returns the points drawn."""
    ok = np.isfinite(low) & np.isfinite(high)
    low, high, held_out = low[ok], high[ok], held_out[ok]
    keep = _subsample(len(low))
    low, high, held_out = low[keep], high[keep], held_out[keep]
    for mask, color, label in (
        (~held_out, TRAIN_COLOR, "train"),
        (held_out, HELD_OUT_COLOR, "held out"),
    ):
        if mask.any():
            axes.scatter(
                low[mask], high[mask], s=5, color=color, alpha=0.6, linewidths=0, label=label
            )
    if len(low):
        lo = float(min(low.min(), high.min()))
        hi = float(max(low.max(), high.max()))
        axes.plot([lo, hi], [lo, hi], color="0.3", linewidth=0.8, linestyle="--", label="y = x")
    lines = "\n".join(display_text(line, 120) for line in title.split("\n"))
    axes.set_title(lines, parse_math=False, fontsize=9)
    axes.set_xlabel(f"low fidelity ({unit})")
    axes.set_ylabel(f"high fidelity ({unit})")
    legend = axes.legend(fontsize=7, loc="upper left", frameon=False)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return len(low)


def _stat(value: Agreement) -> str:
    if value.pearson is None:
        return f"n = {value.n}"
    return f"Pearson {value.pearson:.3f}, MAE {value.mae_mev_per_atom or 0:,.0f} meV/atom"


def parity_svg(report: ShiftReport, points: ParityPoints) -> Markup:
    """A 2 × 2 figure: E/N raw, E/N referenced, formation energy without / with corrections."""
    import matplotlib as mpl

    energy, formation = report.energy, report.formation
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = _new_figure(8.4, 7.6)
        panels = figure.subplots(2, 2)
        _parity_panel(
            panels[0, 0], points.low_energy, points.high_energy, points.held_out,
            f"energy per atom, raw\n{_stat(energy.all.raw)}", "eV/atom",
        )  # fmt: skip
        _parity_panel(
            panels[0, 1], points.low_referenced, points.high_referenced, points.held_out,
            f"energy per atom, referenced\n{_stat(energy.all.referenced)}", "eV/atom",
        )  # fmt: skip
        for axes, variant in zip(
            panels[1], ("without_anion_corrections", "with_anion_corrections"), strict=True
        ):
            _parity_panel(
                axes, points.formation_low[variant], points.formation_high,
                points.formation_held_out,
                f"formation energy, {VARIANT_LABELS[variant]}\n"
                f"{_stat(formation.corrections[variant].all)}",
                "eV/atom",
            )  # fmt: skip
        figure.tight_layout()
        return _figure_svg(figure, _prefix("parity", report.name))


def atomref_svg(report: ShiftReport) -> Markup | None:
    """Fitted offsets against CHGNet's AtomRef difference, or None when it was not loaded."""
    elements = [
        e
        for e in report.offsets.elements
        if e.identifiable and e.atomref_difference_ev_per_atom is not None
    ]
    if not elements:
        return None
    import matplotlib as mpl

    x = np.array([e.atomref_difference_ev_per_atom or 0.0 for e in elements])
    y = np.array([e.offset_ev_per_atom for e in elements])
    err = np.array([e.stderr_ev_per_atom or 0.0 for e in elements])
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = _new_figure(5.2, 4.6)
        axes = figure.add_subplot()
        axes.errorbar(x, y, yerr=err, fmt="o", markersize=3.5, color=HELD_OUT_COLOR, elinewidth=0.8)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        axes.plot([lo, hi], [lo, hi], color="0.3", linewidth=0.8, linestyle="--")
        labelled = {e.symbol for e in report.top_offsets(5)}
        deviation = np.abs(y - x)
        labelled |= {elements[i].symbol for i in np.argsort(-deviation)[:3]}
        for element, xi, yi in zip(elements, x, y, strict=True):
            if element.symbol in labelled:
                axes.annotate(
                    element.symbol, (xi, yi), textcoords="offset points", xytext=(4, -8), fontsize=8
                )
        axes.set_xlabel("CHGNet AtomRef, r2scan − MPtrj (eV/atom)")
        axes.set_ylabel("fitted offset, high − low (eV/atom)")
        axes.set_title("per-element offsets vs shipped AtomRef shift", fontsize=9)
        figure.tight_layout()
        return _figure_svg(figure, _prefix("atomref", report.name))


def importance_svg(report: ShiftReport) -> Markup | None:
    """Grouped horizontal bars of the most important elements, both correction variants."""
    variants = {v: r for v, r in report.importance.variants.items() if r.elements}
    if not variants:
        return None
    import matplotlib as mpl

    best: dict[str, float] = {}
    for result in variants.values():
        for e in result.elements:
            best[e.symbol] = max(best.get(e.symbol, 0.0), e.importance_mev_per_atom)
    symbols = sorted(best, key=lambda s: (-best[s], Element(s).Z))[:N_IMPORTANCE]
    positions = np.arange(len(symbols))
    height = 0.8 / len(variants)
    colors = {"without_anion_corrections": "#cf222e", "with_anion_corrections": HELD_OUT_COLOR}
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_RC)
        figure = _new_figure(6.4, 0.3 * len(symbols) + 1.4)
        axes = figure.add_subplot()
        for i, (variant, result) in enumerate(sorted(variants.items())):
            values = {e.symbol: e for e in result.elements}
            widths = [values[s].importance_mev_per_atom if s in values else 0.0 for s in symbols]
            errors = [
                (values[s].importance_std_mev_per_atom or 0.0) if s in values else 0.0
                for s in symbols
            ]
            axes.barh(
                positions + (i - (len(variants) - 1) / 2) * height,
                widths,
                height=height,
                xerr=errors if any(errors) else None,
                color=colors.get(variant, "0.5"),
                label=VARIANT_LABELS.get(variant, variant),
            )
        axes.set_yticks(positions, symbols)
        axes.invert_yaxis()
        axes.set_xlabel("importance (meV/atom)")
        axes.set_title(
            f"formation-energy difference high − low, {report.importance.model} model",
            fontsize=9,
        )
        axes.legend(fontsize=7, loc="lower right", frameon=False)
        figure.tight_layout()
        return _figure_svg(figure, _prefix("importance", report.name))


# ----------------------------------------------------------------------------- periodic table

_CELL_W, _CELL_H, _GAP = 44, 44, 2
_LEFT, _TOP = 4, 4


def _grid_position(z: int) -> tuple[int, int]:
    """(row, column), 1-based; lanthanides and actinides in rows 8 and 9 from column 3."""
    if 57 <= z <= 71:
        return 8, 3 + z - 57
    if 89 <= z <= 103:
        return 9, 3 + z - 89
    element = Element.from_Z(z)
    return int(element.row), int(element.group)


def _cell_xy(row: int, column: int) -> tuple[float, float]:
    y = _TOP + (row - 1) * (_CELL_H + _GAP) + (_CELL_H / 2 if row >= 8 else 0)
    return _LEFT + (column - 1) * (_CELL_W + _GAP), y


def _color(value: float, limit: float) -> tuple[str, str]:
    """(fill, text colour) on a blue–white–red scale over [−limit, limit] (0 is white)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    rgba = colormaps["RdBu_r"](0.5 + 0.5 * max(-1.0, min(1.0, value / limit)))
    luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
    return to_hex(rgba), "#ffffff" if luminance < 0.5 else "#1f2328"


def _short(value: float) -> str:
    text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return text.replace("-", "−")


def periodic_table_svg(report: ShiftReport) -> Markup:
    """Periodic-table heatmap of the per-element offsets high − low (eV/atom), as inline SVG."""
    elements = {e.z: e for e in report.offsets.elements}
    shown = [e.offset_ev_per_atom for e in elements.values() if e.identifiable]
    # one scale for both signs (equal eV per colour step); the bar shows the range in use
    low, high = min([*shown, 0.0]), max([*shown, 0.0])
    if low == high:
        low, high = -1.0, 1.0
    limit = max(-low, high)
    width = _LEFT * 2 + 18 * (_CELL_W + _GAP)
    height = _TOP * 2 + 9 * (_CELL_H + _GAP) + _CELL_H / 2 + 4
    parts = [
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height:g}" '
        f'viewBox="0 0 {width} {height:g}" role="img" '
        "font-family=\"system-ui, 'DejaVu Sans', Arial, sans-serif\">",
        "<title>Per-element energy offsets, high minus low fidelity (eV/atom)</title>",
    ]
    for z in range(1, 95):
        x, y = _cell_xy(*_grid_position(z))
        symbol = Element.from_Z(z).symbol
        element = elements.get(z)
        if element is None:
            fill, ink, value = "#f6f8fa", "#8c959f", ""
            tip = f"{symbol} ({z}): not in the train pairs"
        elif not element.identifiable:
            fill, ink, value = "#d0d7de", "#57606a", "n/d"
            tip = (
                f"{symbol} ({z}): offset not determined by the data (always in fixed proportion "
                f"with other elements); {element.n_pairs} pairs, {element.n_materials} materials"
            )
        else:
            fill, ink = _color(element.offset_ev_per_atom, limit)
            value = _short(element.offset_ev_per_atom)
            stderr = element.stderr_ev_per_atom
            atomref = element.atomref_difference_ev_per_atom
            tip = (
                f"{symbol} ({z}): offset {element.offset_ev_per_atom:.3f}"
                + (f" ± {stderr:.3f}" if stderr is not None else "")
                + f" eV/atom; {element.n_pairs} pairs, {element.n_materials} materials"
                + (
                    f"; CHGNet AtomRef r2scan − MPtrj {atomref:.3f} eV/atom"
                    if atomref is not None
                    else ""
                )
            )
        parts.append(
            f"<g><title>{xml_text(tip)}</title>"
            f'<rect x="{x:g}" y="{y:g}" width="{_CELL_W}" height="{_CELL_H}" rx="3" '
            f'fill="{fill}" stroke="#d0d7de" stroke-width="0.5"/>'
            f'<text x="{x + _CELL_W / 2:g}" y="{y + 18:g}" text-anchor="middle" font-size="13" '
            f'font-weight="600" fill="{ink}">{xml_text(symbol)}</text>'
            f'<text x="{x + _CELL_W / 2:g}" y="{y + 35:g}" text-anchor="middle" font-size="10" '
            f'fill="{ink}">{xml_text(value)}</text></g>'
        )
    for row, label in ((6, "57–71"), (7, "89–103")):
        x, y = _cell_xy(row, 3)
        parts.append(
            f'<text x="{x + _CELL_W / 2:g}" y="{y + 26:g}" text-anchor="middle" font-size="9" '
            f'fill="#57606a">{label}</text>'
        )
    # colour bar in the gap above the transition metals
    steps = 21
    bar_x, bar_y = _cell_xy(1, 4)
    bar_w = 8 * (_CELL_W + _GAP)
    step_w = bar_w / steps
    parts.append(
        f'<text x="{bar_x + bar_w / 2:g}" y="{bar_y + 12:g}" text-anchor="middle" font-size="11" '
        'fill="#1f2328">offset high − low (eV/atom)</text>'
    )
    for i in range(steps):
        fill, _ = _color(low + (high - low) * (i + 0.5) / steps, limit)
        parts.append(
            f'<rect x="{bar_x + i * step_w:.2f}" y="{bar_y + 18:g}" width="{step_w + 0.3:.2f}" '
            f'height="14" fill="{fill}"/>'
        )
    ticks = [low, high] + ([0.0] if 0.1 < -low / (high - low) < 0.9 else [])
    for value in sorted(ticks):
        fraction = (value - low) / (high - low)
        parts.append(
            f'<text x="{bar_x + fraction * bar_w:.2f}" y="{bar_y + 45:g}" text-anchor="middle" '
            f'font-size="10" fill="#1f2328">{xml_text(_short(value))}</text>'
        )
    parts.append("</svg>")
    return Markup(inline_svg("".join(parts), _prefix("ptable", report.name)))


# ----------------------------------------------------------------------------- page


def _agreement_rows(report: ShiftReport) -> list[dict[str, Any]]:
    """Rows of the summary table: energy raw / referenced, formation energy variants."""
    energy, formation = report.energy, report.formation
    as_labelled = report.corrections.as_labelled
    other = next(v for v in formation.corrections if v != as_labelled)
    labelled = "with" if as_labelled == "with_anion_corrections" else "without"
    entries: list[tuple[str, str, SubsetAgreement]] = [
        ("energy per atom", "raw", _pair(energy.all.raw, energy.held_out.raw)),
        ("energy per atom", "referenced", _pair(energy.all.referenced, energy.held_out.referenced)),
        ("formation energy", f"as labelled ({labelled} anion corr.)", formation.raw),
        ("formation energy", "referenced", formation.referenced),
        (
            "formation energy",
            "anion corr. removed" if labelled == "with" else "anion corr. added",
            formation.corrections[other],
        ),
    ]
    return [
        {"quantity": quantity, "kind": kind, "all": subsets.all, "held_out": subsets.held_out}
        for quantity, kind, subsets in entries
    ]


def _pair(all_: Agreement, held_out: Agreement) -> SubsetAgreement:
    return SubsetAgreement(all=all_, held_out=held_out)


#: The only link a page may hold besides ``#id`` ones: back to the leaderboard's index, when
#: the page is part of a site (``mfbench leaderboard build --diagnostics``).
SITE_HOME = "../index.html"


def render_page(
    analysis: ShiftAnalysis, templates: Path | None = None, *, in_site: bool = False
) -> str:
    """The HTML page of ``analysis`` (report and plotted points).

    Args:
        analysis: the report and the points its plots show.
        templates: a folder replacing the shipped templates (default: those of
            :mod:`mfbench.html`).
        in_site: the page lives at ``diagnostics/<name>.html`` of a leaderboard site; its
            header links back to the site's index (:data:`SITE_HOME`).
    """
    from mfbench import __version__
    from mfbench.html.environment import environment

    report = analysis.report
    env = environment(templates)
    figures = {
        "ptable": periodic_table_svg(report),
        "parity": parity_svg(report, analysis.points),
        "atomref": atomref_svg(report),
        "importance": importance_svg(report),
    }
    n_pairs = int(np.sum(np.isfinite(analysis.points.low_referenced)))
    offsets_by_size = sorted(
        report.offsets.elements, key=lambda e: (-abs(e.offset_ev_per_atom), e.z)
    )
    importance = {
        variant: result.elements[:10] for variant, result in report.importance.variants.items()
    }
    return env.get_template(TEMPLATE).render(
        report=report,
        csp=CSP,
        generator=f"mfbench {__version__}",
        figures=figures,
        agreement_rows=_agreement_rows(report),
        top_offsets=report.top_offsets(10),
        offsets_by_size=offsets_by_size,
        importance=importance,
        variant_labels=VARIANT_LABELS,
        max_points=MAX_POINTS,
        n_points=n_pairs,
        home=SITE_HOME if in_site else None,
        notices=_notices(report),
    )


def _notices(report: ShiftReport) -> list[str]:
    """The not-citable notice when the compared labels come from models.

    That is when the report's task is not citable, or (without a task) when either side is a
    dataset shipped with mfbench (the embedded datasets are labelled by models).
    """
    from mfbench.data.registry import get_dataset
    from mfbench.errors import MfbenchError
    from mfbench.tasks.citability import NOT_CITABLE_NOTICE, citability_notice
    from mfbench.tasks.definition import get_task

    if report.task is not None:
        try:
            definition = get_task(report.task.task)
        except MfbenchError:
            definition = None
        notice = citability_notice(report.task.task, definition)
        return [notice] if notice else []
    embedded = []
    for side in (report.low, report.high):
        try:
            if get_dataset(side.dataset).source == "embedded":
                embedded.append(side.dataset)
        except MfbenchError:
            continue
    if embedded:
        return [f"{NOT_CITABLE_NOTICE} (dataset {', '.join(sorted(set(embedded)))})."]
    return []


def page_text_checks(html: str) -> Sequence[str]:
    """Problems that would make the page fetch or run something (empty when none).

    Checks for ``<script``, ``src=``, ``@import``, and links or ``url()`` to anything but an
    ``#id`` on the page or the site's index (:data:`SITE_HOME`).
    """
    import re

    problems = []
    lowered = html.lower()
    if "<script" in lowered:
        problems.append("a <script> element")
    if re.search(r"\bsrc\s*=", lowered):
        problems.append("a src= attribute")
    if "@import" in lowered:
        problems.append("a CSS @import")
    for match in re.finditer(r"\bhref\s*=\s*[\"']([^\"']*)", lowered):
        if not match.group(1).startswith("#") and match.group(1) != SITE_HOME:
            problems.append(f"a link to {match.group(1)!r}")
    if re.search(r"url\(\s*(?!#)", lowered):
        problems.append("a url() to something outside the page")
    return problems
