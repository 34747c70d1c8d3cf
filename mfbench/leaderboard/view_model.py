"""The site's content as data: metrics, leaderboard entries, and what each page shows.

No HTML here: the templates render these objects (see :mod:`mfbench.leaderboard.build`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from mfbench.leaderboard import citations
from mfbench.leaderboard.diagnostics_content import DiagnosticsPage
from mfbench.leaderboard.score_citations import ScoreCitation
from mfbench.leaderboard.submission_content import Submission
from mfbench.leaderboard.tables import Table
from mfbench.metrics.catalogue import (
    COVERED_ENERGY,
    COVERED_SHARE,
    DECOMPOSITION,
    ENERGY,
    FORCE,
    FORMATION,
    MAGMOM,
    STRESS,
)
from mfbench.results import ValidationReport
from mfbench.results.snapshot import Snapshot
from mfbench.tasks.definition import Task

#: Characters of a params hash shown in an entry label.
HASH_SHOWN = 8
#: Metrics of the main table (every fraction).
TABLE_METRICS = (ENERGY, FORCE, STRESS, MAGMOM)


#: Metrics of the paper-style summary at the largest fraction (Huang et al. 2025, Table 1).
SUMMARY_METRICS = (ENERGY, FORCE, STRESS, MAGMOM, FORMATION, DECOMPOSITION)


#: Metrics plotted against training frames (the paper's Fig. 6).
PLOT_METRICS = (ENERGY, FORCE)


#: Metrics of the per-fraction tables, in column order: the ranked energy MAE on all test
#: frames, then the covered share, the energy MAE on the covered frames and the
#: formation-energy MAE beside it, then the rest.
FRACTION_METRICS = (
    ENERGY,
    COVERED_SHARE,
    COVERED_ENERGY,
    FORMATION,
    FORCE,
    STRESS,
    MAGMOM,
    DECOMPOSITION,
)


@dataclass(frozen=True)
class Entry:
    """One method name with one set of hyperparameters.

    Attributes:
        name: the method's name (or its spec when it has none); untrusted text.
        params_hash: sha256 of its hyperparameters, as the records state it.
        label: ``name``, or ``name [hash prefix]`` when the name has several compliant
            entries; a non-compliant entry is ``name [tag]`` (e.g.
            ``gga-floor [base_model=r2scan]``, see
            :class:`mfbench.results.compliance.NonCompliance`), with the hash prefix
            added when the name has several entries of one tag.
        slug: file-name stem of the entry (badges, hyperparameter downloads), unique.
        method_slug: file-name stem of the method name, unique among names.
        page: site-relative path of the method's page (one page per name).
    """

    name: str
    params_hash: str
    label: str
    slug: str
    method_slug: str
    page: str


@dataclass(frozen=True)
class Plot:
    """An inline SVG plot with its caption.

    Attributes:
        title: a heading.
        svg: the ``<svg>`` element, checked by :func:`mfbench.html.svg.inline_svg`
            (marked safe for the template only after that check).
        caption: a sentence under the plot.
    """

    title: str
    svg: Markup
    caption: str


@dataclass(frozen=True)
class BadgeFile:
    """A README badge of one entry on one task.

    Attributes:
        path: site-relative path of the badge file.
        svg: the standalone SVG document written to ``path``.
        inline: the same badge checked by :func:`mfbench.html.svg.inline_svg`, for
            the method page.
        task: the task's name.
        entry: the entry's label.
    """

    path: str
    svg: str
    inline: Markup
    task: str
    entry: str


@dataclass
class TaskContent:
    """One task: its section on the index and its own page.

    Attributes:
        notice: None when the task's labels are citable; else the banner every page, CSV and
            badge showing the task's numbers carries (:func:`citability_notice`).
        results: every entry at every fraction in one table, for download only (each fraction
            is ranked on its own; the pages show ``fractions``).
        fractions: one ranked table per training fraction, the largest first.
        summary: the paper-style table at the largest fraction (on the index).
        paper_check: "Does this reproduce the paper?": claim, verdict and detail, or None
            with the reason in ``paper_check_note``.
        head_to_head: the comparisons the task's ``roles.comparisons`` name, or None.
        gains_note: why the task has no transfer gains at all (no ``roles.gain_baselines``);
            empty when it names some (the section is then left out only if none of them ran).
        fit_notes: why an entry has no power-law fit, one sentence per reason.
        citations: one per row of ``fractions``, in table order (each row's "cite" link).
    """

    name: str
    slug: str
    page: str
    anchor: str
    definition: Task | None
    n_accepted: int
    n_ranked: int
    n_reference: int
    results: Table | None
    summary: Table | None
    reference: Table | None
    scaling: Table | None
    gains: Table | None
    plots: list[Plot]
    plot_note: str
    set_apart: Table | None
    details: list[Table]
    notice: str | None = None
    fractions: list[Table] = field(default_factory=list)
    paper_check: Table | None = None
    paper_check_note: str = ""
    head_to_head: Table | None = None
    gains_note: str = ""
    fit_notes: list[str] = field(default_factory=list)
    citations: list[ScoreCitation] = field(default_factory=list)

    @property
    def citable(self) -> bool:
        """Whether the task's numbers may be cited as results of its target fidelity."""
        return self.notice is None

    def tables(self) -> list[Table]:
        """Every table of the task's section and page (shown or for download)."""
        shown = [
            self.results,
            *self.fractions,
            self.summary,
            self.reference,
            self.paper_check,
            self.head_to_head,
            self.scaling,
            self.gains,
            self.set_apart,
        ]
        return [t for t in shown if t is not None] + self.details


@dataclass
class Variant:
    """One entry of a method's page: its hyperparameters and what its runs cost.

    ``non_compliant`` holds the reasons its runs are not ranked (see
    :mod:`mfbench.results.compliance`); empty for a compliant entry.
    """

    entry: Entry
    class_path: str
    spec: str
    non_compliant: list[str]
    params: Table
    device_hours: float
    n_runs: int
    seeds: list[int]


@dataclass
class MethodContent:
    """One method name: its page, its citation and its badges."""

    name: str
    slug: str
    page: str
    baseline: bool
    variants: list[Variant]
    runs: Table
    provenance: list[Table]
    bibtex: str
    bib_path: str
    citation_note: str
    badges: list[BadgeFile]
    submission: Submission | None = None


@dataclass(frozen=True)
class Runs:
    """The accepted runs, in every form the pages need.

    Attributes:
        frame: :func:`mfbench.results.records_frame` of the accepted records (row ``i`` is
            ``records[i]``), with ``method`` and ``params_hash`` as text.
        kept: the rows that are ranked: compared (:func:`mfbench.results.comparable`), not
            repeated and compliant.
        apart: the rows that are not comparable, or repeat another run, with a ``reason``
            column.
        reference: the comparable rows of non-compliant runs, with a ``reason`` column: shown
            as reference rows, never ranked.
        non_compliant: the reason of every non-compliant row of ``frame``, by row (see
            :func:`mfbench.results.compliance.non_compliance`), whether comparable or not.
        records: the accepted records as parsed JSON.
        paths: each record's path as the site shows it (relative to its results folder).
        entries: every (name, params_hash) of ``frame``, labelled.
        sources: each record's ``result.json`` on this machine (same order as ``records``).
    """

    frame: pd.DataFrame
    kept: pd.DataFrame
    apart: pd.DataFrame
    reference: pd.DataFrame
    non_compliant: dict[int, str]
    records: list[dict[str, Any]]
    paths: list[str]
    entries: dict[tuple[str, str], Entry]
    sources: tuple[Path, ...] = ()


@dataclass
class SiteContent:
    """Everything the site shows.

    ``rejected`` lists the records that failed validation; ``unchecked`` those this machine
    could not check (no verdict: each with the command that makes the check possible).
    ``method_tasks`` names the tasks each method name has accepted runs of (its page carries
    the notices of those that are not citable, see :meth:`notices`). ``snapshot`` identifies
    the validated records the site is built from (:mod:`mfbench.results.snapshot`);
    ``snapshot_listing`` is its ``snapshot.json``, record paths relative to the results folders.
    """

    tasks: list[TaskContent]
    methods: list[MethodContent]
    rejected: Table | None
    rejected_reports: list[ValidationReport]
    n_records: int
    unchecked: Table | None
    unchecked_reports: list[ValidationReport]
    n_accepted: int
    n_ranked: int
    n_reference: int
    generator: str = ""
    submissions: list[Submission] = field(default_factory=list)
    diagnostics: list[DiagnosticsPage] = field(default_factory=list)
    suite_bib: str = field(default_factory=citations.suite_bibtex)
    method_tasks: dict[str, list[str]] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    snapshot_listing: dict[str, Any] = field(default_factory=dict)

    def notices(self, tasks: Sequence[str] | None = None) -> list[str]:
        """The citability notices of ``tasks`` (default: every task), in task order."""
        wanted = None if tasks is None else set(tasks)
        return [
            t.notice
            for t in self.tasks
            if t.notice is not None and (wanted is None or t.name in wanted)
        ]
