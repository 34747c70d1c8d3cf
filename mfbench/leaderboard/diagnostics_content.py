"""Shift diagnostics (``mfbench analyze shift``) as pages of the leaderboard site.

A diagnostics folder holds ``report.json`` and ``points.npz``
(:func:`mfbench.diagnostics.run.write_shift_outputs`). The site never copies a written page:
it reads the report (validated against its schema) and the points (plain arrays, no pickles)
and renders the page again into ``diagnostics/<name>.html``, so what the site shows comes from
data through mfbench's templates, with autoescaping, like every other page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mfbench.html.safety import slug

#: Files that make a folder a diagnostics folder (see ``mfbench.diagnostics.run``).
_REPORT, _POINTS = "report.json", "points.npz"


@dataclass(frozen=True)
class DiagnosticsPage:
    """One rendered diagnostics page and the line the index shows for it.

    Attributes:
        name: the report's name (untrusted text, escaped by the templates).
        page: site-relative path of the page.
        html: the page.
        n_pairs: paired frames or materials.
        pearson_raw, pearson_referenced: low vs high energy per atom over all pairs, before
            and after each side's elemental reference (None when undefined).
        top: the largest per-element offsets as ``"Pu −72.5"`` (eV/atom), at most five.
    """

    name: str
    page: str
    html: str
    n_pairs: int
    pearson_raw: float | None
    pearson_referenced: float | None
    top: list[str]


def find_diagnostics(roots: Sequence[Path]) -> list[Path]:
    """Folders under ``roots`` holding a report and its points, sorted.

    Raises:
        FileNotFoundError: a root does not exist.
    """
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such diagnostics folder")
        for report in [root / _REPORT] if root.is_dir() else []:
            if report.is_file() and (root / _POINTS).is_file():
                found.add(root.resolve())
        for report in root.rglob(_REPORT) if root.is_dir() else []:
            if (report.parent / _POINTS).is_file():
                found.add(report.parent.resolve())
    return sorted(found)


def diagnostics_pages(roots: Sequence[Path]) -> list[DiagnosticsPage]:
    """Every diagnostics folder under ``roots``, rendered as a page of the site.

    Raises:
        DataError: a report or its points cannot be read (the message names the file).
        ValueError: two reports have the same name.
    """
    from mfbench.diagnostics.page import render_page
    from mfbench.diagnostics.run import read_shift_analysis

    pages: list[DiagnosticsPage] = []
    for folder in find_diagnostics(roots):
        analysis = read_shift_analysis(folder)
        report = analysis.report
        energy = report.energy
        path = f"diagnostics/{slug(report.name)}.html"
        if any(p.page == path for p in pages):
            raise ValueError(f"{folder}: a second diagnostics report named {report.name!r}")
        pages.append(
            DiagnosticsPage(
                name=report.name,
                page=path,
                html=render_page(analysis, in_site=True),
                n_pairs=report.pairing.n_paired,
                pearson_raw=energy.all.raw.pearson,
                pearson_referenced=energy.all.referenced.pearson,
                top=[
                    f"{e.symbol} {e.offset_ev_per_atom:+.1f}".replace("-", "−")
                    for e in report.top_offsets(5)
                ],
            )
        )
    return pages
