"""What the site shows, computed from validation reports: tables, plots, badges and citations.

Pure data: no HTML and no file is written here (see :mod:`mfbench.leaderboard.build`). Only
records that :func:`mfbench.results.validate_records` accepted enter; among them only runs that
:func:`mfbench.results.comparable` keeps are summarised and ranked, the others are listed with
the reason they are set apart. Comparable runs that broke the data rule
(:mod:`mfbench.results.compliance`, computed from the record) or belong to a non-compliant
submission are summarised as reference rows, never ranked. Every badge of a task whose labels
are not citable says "not citable".

A leaderboard *entry* is a method name with one set of hyperparameters (``params_hash``): runs
of one name with other hyperparameters are separate entries, labelled ``name [hash prefix]``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mfbench.html.safety import display_text, slug
from mfbench.leaderboard import citations
from mfbench.leaderboard.method_content import badges_by_method, method_content
from mfbench.leaderboard.method_sections import RecordFiles
from mfbench.leaderboard.submission_content import Submission, find_submissions, read_submission
from mfbench.leaderboard.tables import Table, text_cell, value_text
from mfbench.leaderboard.task_citations import task_citations
from mfbench.leaderboard.task_content import task_content
from mfbench.leaderboard.view_model import (
    HASH_SHOWN,
    Entry,
    Runs,
    SiteContent,
)
from mfbench.results import ValidationReport, comparable, records_frame
from mfbench.results.aggregate import GROUP_COLUMNS
from mfbench.results.compliance import NonCompliance, non_compliance
from mfbench.results.snapshot import Snapshot, snapshot_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectedRuns:
    """The runs the site shows, and the records it does not.

    Attributes:
        runs: the accepted runs in every form the pages need.
        submissions: the packed submissions found, their problems shown relative to the roots.
        rejected: reports of records rejected (by validation, by a rejected submission, or
            because they cannot be tabulated).
        unchecked: reports of records this machine could not check.
        n_records: record files found.
    """

    runs: Runs
    submissions: list[Submission]
    rejected: list[ValidationReport]
    unchecked: list[ValidationReport]
    n_records: int


def collect_runs(
    reports: Sequence[ValidationReport], roots: Sequence[Path], *, submissions: bool = True
) -> CollectedRuns:
    """Sort the validated records into ranked, reference, set-apart and left-out runs.

    Args:
        reports: one per record file (e.g. from :func:`mfbench.results.validate_records`).
        roots: the results folders or files given by the user (see :func:`build_content`).
        submissions: look for packed submissions under ``roots``.
    """
    shown = _PathNames(roots)
    found = [
        read_submission(folder, shown.path(folder))
        for folder in (find_submissions(roots) if submissions else [])
    ]
    found = [
        s if s.accepted else dataclasses.replace(s, problems=[shown.text(p) for p in s.problems])
        for s in found
    ]
    reports = _reject_with_submissions(reports, found)
    unchecked = [r for r in reports if not r.checked]
    accepted, rejected = _tabulable([r for r in reports if r.checked])
    records = [r.record for r in accepted if r.record is not None]
    if records:
        frame = records_frame(records)
        frame["method"] = frame["method"].map(value_text)
        frame["params_hash"] = frame["params_hash"].map(value_text)
        kept, apart = comparable(frame)
        kept, duplicates = _set_apart_duplicates(kept, [shown.path(r.path) for r in accepted])
        apart = pd.concat([apart, duplicates]).sort_index() if len(duplicates) else apart
        flags = {
            i: flag
            for i, (report, record) in enumerate(zip(accepted, records, strict=True))
            if (flag := _record_flag(record) or _submission_flag(report.path, found))
        }
        kept, reference = _split_non_compliant(kept, flags)
    else:
        frame = kept = apart = reference = pd.DataFrame()
        flags = {}
    runs = Runs(
        frame,
        kept,
        apart,
        reference,
        {i: flag.reason for i, flag in flags.items()},
        records,
        [shown.path(r.path) for r in accepted],
        _entries(frame, _tags(frame, flags)),
        tuple(r.path for r in accepted),
    )
    return CollectedRuns(runs, found, rejected, unchecked, len(reports))


def build_content(
    reports: Sequence[ValidationReport],
    roots: Sequence[Path],
    *,
    submissions: bool = True,
    snapshot: Snapshot | None = None,
) -> SiteContent:
    """The site's content from validation reports.

    Args:
        reports: one per record file, accepted or not (e.g. from
            :func:`mfbench.results.validate_records`).
        roots: the results folders or files given by the user; record paths are shown
            relative to them so that the site does not publish the builder's folders.

        submissions: look for packed submissions under ``roots``
            (:mod:`mfbench.leaderboard.submission_content`): the records of a rejected one
            are rejected, those of a non-compliant one are reference rows.
        snapshot: the snapshot of ``reports`` (:func:`mfbench.results.snapshot.snapshot_of`);
            computed when not given. Every page, download and badge carries its id, and every
            ranked row a citation naming it.

    Returns:
        The content; tasks and methods sorted by name.
    """
    from mfbench import __version__

    if snapshot is None:
        snapshot = snapshot_of(reports)
    shown = _PathNames(roots)
    collected = collect_runs(reports, roots, submissions=submissions)
    runs, found = collected.runs, collected.submissions
    frame, accepted_paths = runs.frame, runs.sources
    tasks = [
        task_content(str(task), runs)
        for task in (sorted(frame["task"].unique()) if len(frame) else [])
    ]
    for task in tasks:
        task.citations = task_citations(task, runs, snapshot)
    badges = badges_by_method(tasks, runs.entries, snapshot)
    files = RecordFiles(list(accepted_paths))
    methods = [
        method_content(str(name), runs, tasks, badges, files=files)
        for name in (sorted(frame["method"].unique()) if len(frame) else [])
    ]
    pages = {m.name: m for m in methods}
    for i, submission in enumerate(found):
        method = pages.get(submission.method) if submission.accepted else None
        if method is not None:
            found[i] = submission = dataclasses.replace(submission, page=method.page)
            if method.submission is None:
                method.submission = submission
                method.bibtex, method.citation_note = citations.submitted_method_bibtex(
                    submission.bibtex
                )
    return SiteContent(
        tasks=tasks,
        methods=methods,
        submissions=found,
        rejected=_rejected_table(collected.rejected, shown),
        rejected_reports=collected.rejected,
        unchecked=_unchecked_table(collected.unchecked, shown),
        unchecked_reports=collected.unchecked,
        n_records=collected.n_records,
        n_accepted=len(runs.records),
        n_ranked=len(runs.kept),
        n_reference=len(runs.reference),
        generator=f"mfbench {__version__}",
        method_tasks=_method_tasks(frame),
        snapshot=snapshot,
        snapshot_listing=snapshot.document(shown.path),
    )


def _method_tasks(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The tasks each method name has accepted runs of, sorted."""
    if not len(frame):
        return {}
    return {
        str(name): sorted({str(t) for t in rows["task"]})
        for name, rows in frame.groupby("method", sort=True)
    }


def _owner(path: Path, submissions: Sequence[Submission]) -> Submission | None:
    """The submission whose folder holds ``path``, if any."""
    path = Path(path).resolve()
    for submission in submissions:
        if path.is_relative_to(submission.folder):
            return submission
    return None


def _reject_with_submissions(
    reports: Sequence[ValidationReport], submissions: Sequence[Submission]
) -> list[ValidationReport]:
    """``reports``, those of records inside a rejected submission made rejections."""
    out = []
    for report in reports:
        owner = _owner(report.path, submissions)
        if owner is not None and not owner.accepted:
            problem = f"part of the rejected submission {owner.name} (see Submissions)"
            report = ValidationReport(
                report.path, False, [*report.problems, problem], report.record
            )
        out.append(report)
    return out


#: Characters of a non-compliance tag and reason shown (both quote untrusted record text).
_TAG_SHOWN, _REASON_SHOWN = 120, 2000


def _record_flag(record: Mapping[str, Any]) -> NonCompliance | None:
    """:func:`mfbench.results.compliance.non_compliance`, as display text."""
    flag = non_compliance(record)
    if flag is None:
        return None
    return NonCompliance(
        display_text(flag.tag, _TAG_SHOWN), display_text(flag.reason, _REASON_SHOWN)
    )


def _submission_flag(path: Path, submissions: Sequence[Submission]) -> NonCompliance | None:
    """The flag of a record inside an accepted, non-compliant submission."""
    owner = _owner(path, submissions)
    return owner.flag() if owner is not None else None


def _tabulable(
    reports: Sequence[ValidationReport],
) -> tuple[list[ValidationReport], list[ValidationReport]]:
    """``(accepted, rejected)``: a valid record that cannot be tabulated is rejected.

    Validation recomputes the metrics but does not check the type of every field (a seed or
    a timing may be a string); such a record is rejected here rather than stopping the build.
    """
    accepted, rejected = [], []
    for report in reports:
        if not (report.ok and report.record is not None):
            rejected.append(report)
            continue
        try:
            records_frame([report.record])
        except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError) as exc:
            problem = f"the record cannot be tabulated: {type(exc).__name__}: {exc}"
            rejected.append(ValidationReport(report.path, False, [problem], report.record))
        else:
            accepted.append(report)
    return accepted, rejected


class _PathNames:
    """Record paths and problem lines shown relative to the results roots given."""

    def __init__(self, roots: Sequence[Path]) -> None:
        resolved = [(Path(root).resolve(), Path(root).resolve().name) for root in roots]
        # the longest root first, so that nested roots name the closest one
        self._roots = sorted(resolved, key=lambda item: -len(str(item[0])))
        given = [
            (Path(root).absolute(), name) for root, (_, name) in zip(roots, resolved, strict=True)
        ]
        self._given = sorted(
            ((g, n) for g, n in given if Path(g).is_dir()), key=lambda item: -len(str(item[0]))
        )

    def path(self, path: Path) -> str:
        """``<root name>/<path below it>``, or the file name when under no root."""
        path = Path(path).resolve()
        for root, name in self._roots:
            if path == root:
                return name
            if path.is_relative_to(root):
                return f"{name}/{path.relative_to(root).as_posix()}"
        return path.name

    def text(self, text: str) -> str:
        """``text`` with every root folder, as given and resolved, replaced by its name."""
        for root, name in self._roots:
            if root.is_dir():
                text = text.replace(f"{root}/", f"{name}/")
        for given, name in self._given:
            text = text.replace(f"{given}/", f"{name}/")
        return text


def _set_apart_duplicates(
    kept: pd.DataFrame, paths: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs repeating another run's entry, task, fraction and seed: the first path is kept."""
    key = [*GROUP_COLUMNS, "seed"]
    if not len(kept):
        return kept, kept.assign(reason=pd.Series(dtype=object))
    order = sorted(kept.index, key=lambda i: paths[i])
    ordered = kept.loc[order]
    repeated = ordered.duplicated(key, keep="first")
    first_of = {tuple(row): paths[i] for i, row in ordered[~repeated][key].iterrows()}
    reasons = {
        i: f"repeats the run of {first_of[tuple(row)]} (same method, hyperparameters, "
        "task, fraction and seed); counted once"
        for i, row in ordered[repeated][key].iterrows()
    }
    duplicates = kept.loc[sorted(reasons)].assign(reason=[reasons[i] for i in sorted(reasons)])
    if reasons:
        logger.warning("set apart %d repeated run(s)", len(reasons))
    return kept.drop(index=list(reasons)), duplicates


def _split_non_compliant(
    kept: pd.DataFrame, flags: Mapping[int, NonCompliance]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``kept`` by compliance.

    Returns:
        ``(ranked, reference)``: the rows without a flag in ``flags`` (by row), and those
        with one, with a ``reason`` column.
    """
    flagged = [i for i in kept.index if i in flags]
    reference = kept.loc[flagged].assign(reason=[flags[i].reason for i in flagged])
    if flagged:
        logger.info("%d non-compliant run(s) shown as reference rows, not ranked", len(flagged))
    return kept.drop(index=flagged), reference


def _tags(frame: pd.DataFrame, flags: Mapping[int, NonCompliance]) -> dict[tuple[str, str], str]:
    """The tag of each non-compliant entry (the first in sort order when its runs differ)."""
    tags: dict[tuple[str, str], str] = {}
    for i, flag in flags.items():
        key = (str(frame.at[i, "method"]), str(frame.at[i, "params_hash"]))
        tags[key] = min(tags.get(key, flag.tag), flag.tag)
    return tags


def _entries(
    frame: pd.DataFrame, tags: Mapping[tuple[str, str], str]
) -> dict[tuple[str, str], Entry]:
    """Every (name, params_hash) of the accepted runs, labelled.

    ``tags`` holds the non-compliant entries' tags (:func:`_tags`): they are labelled
    ``name [tag]`` and do not count among the name's variants, so that a name with one
    compliant entry keeps its plain label.
    """
    if not len(frame):
        return {}
    pairs = sorted(
        {(str(m), str(h)) for m, h in zip(frame["method"], frame["params_hash"], strict=True)}
    )
    variants = Counter(name for name, hash_ in pairs if (name, hash_) not in tags)
    tagged = Counter((name, tags[name, hash_]) for name, hash_ in pairs if (name, hash_) in tags)
    # slugs of different names can only meet when a name imitates another's hash suffix
    method_slugs: set[str] = set()
    names = sorted({name for name, _ in pairs})
    slug_of = {name: _unique(slug(name), method_slugs, "-{}") for name in names}
    entries = {}
    labels: set[str] = set()
    slugs: set[str] = set()
    for name, hash_ in pairs:
        tag = tags.get((name, hash_))
        short = hash_[:HASH_SHOWN]
        if tag is None:
            several = variants[name] > 1
            label = f"{name} [{short}]" if several else name
            entry_slug = f"{slug_of[name]}-{slug(short)}" if several else slug_of[name]
        else:
            label = f"{name} [{tag}]" if tagged[name, tag] == 1 else f"{name} [{tag}, {short}]"
            entry_slug = f"{slug_of[name]}-{slug(short)}"
        if label in labels:  # only when untrusted names and hashes imitate each other
            label = f"{name} [{hash_}]"
        label = _unique(label, labels, " ({})")
        entry_slug = _unique(entry_slug, slugs, "-{}")
        entries[name, hash_] = Entry(
            name, hash_, label, entry_slug, slug_of[name], f"methods/{slug_of[name]}.html"
        )
    return entries


def _unique(text: str, used: set[str], pattern: str) -> str:
    """``text``, or ``text`` with the first free ``pattern.format(n)`` appended; marks it used."""
    candidate, number = text, 2
    while candidate in used:
        candidate, number = text + pattern.format(number), number + 1
    used.add(candidate)
    return candidate


def _rejected_table(rejected: list[ValidationReport], shown: _PathNames) -> Table | None:
    """Records that failed validation, with every problem."""
    if not rejected:
        return None
    items = sorted((shown.path(r.path), [shown.text(p) for p in r.problems]) for r in rejected)
    return Table(
        key="rejected",
        caption="Rejected records (not shown anywhere else)",
        headers=["Record", "Problems"],
        rows=[
            [text_cell(path, code=True), text_cell("\n".join(problems))] for path, problems in items
        ],
        fields=["record", "problems"],
        records=[{"record": path, "problems": problems} for path, problems in items],
        download="rejected",
        css_class="multiline",
        note="A record is rejected when its predictions are malformed or its metrics, "
        "recomputed from its predictions with mfbench's code, differ from the stored ones.",
    )


def _unchecked_table(unchecked: list[ValidationReport], shown: _PathNames) -> Table | None:
    """Records this machine could not check: no verdict, and the command that allows one."""
    if not unchecked:
        return None
    items = sorted(
        (shown.path(r.path), [shown.text(p) for p in r.problems], str(r.fix)) for r in unchecked
    )
    return Table(
        key="unchecked",
        caption="Records not checked on the machine that built this site (not shown elsewhere)",
        headers=["Record", "Why", "To check it"],
        rows=[
            [text_cell(path, code=True), text_cell("\n".join(why)), text_cell(fix, code=True)]
            for path, why, fix in items
        ],
        fields=["record", "why", "to_check_it"],
        records=[{"record": p, "why": w, "to_check_it": f} for p, w, f in items],
        download="unchecked",
        css_class="multiline",
        note="Not a verdict: these records may be valid, but their task or dataset is not "
        "available where the site was built, so their metrics could not be recomputed.",
    )
