"""A method's content: its hyperparameters, runs, provenance, badges and citation.

The tables come from :mod:`mfbench.leaderboard.method_tables`. Besides them, a method page
shows for each task (and entry) the method ran on a section of
:mod:`mfbench.leaderboard.method_sections`: a parity plot of one run's test energies, its
per-element energy errors, the training curves recorded by its runs, and the hyperparameter
selection they made. The parity plot needs the records' files
(:class:`~mfbench.leaderboard.method_sections.RecordFiles`); without them the page says the
plot is not available.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Any

from markupsafe import Markup

from mfbench.html.numbers import format_number, is_missing
from mfbench.html.safety import display_text, xml_text
from mfbench.html.svg import badge, inline_svg
from mfbench.leaderboard import citations
from mfbench.leaderboard.method_sections import MethodPage, RecordFiles, task_sections
from mfbench.leaderboard.method_tables import params_table, provenance_tables, runs_table
from mfbench.leaderboard.tables import (
    record_value,
)
from mfbench.leaderboard.view_model import (
    ENERGY,
    BadgeFile,
    Entry,
    Runs,
    TaskContent,
    Variant,
)
from mfbench.results.snapshot import Snapshot


def badges_by_method(
    tasks: list[TaskContent],
    entries: dict[tuple[str, str], Entry],
    snapshot: Snapshot | None = None,
) -> dict[str, list[BadgeFile]]:
    """README badges by method name: energy MAE of each entry at its largest fraction.

    With a ``snapshot``, each badge's title ends with its short id and its ``<desc>`` holds
    the full one (:func:`stamp_badge`).
    """
    found: dict[str, list[BadgeFile]] = defaultdict(list)
    for task in tasks:
        if task.summary is None or task.results is None:
            continue
        best: dict[str, dict[str, Any]] = {}
        for record in task.results.records:
            mean = record.get(f"{ENERGY.key}_mean")
            if is_missing(mean):
                continue
            label = record["method"]
            if label not in best or record["fraction"] > best[label]["fraction"]:
                best[label] = record
        for label, record in sorted(best.items()):
            entry = entries[record["method_name"], record["params_hash"]]
            fraction = float(record["fraction"])
            message = f"E MAE {format_number(record[f'{ENERGY.key}_mean'])} {ENERGY.unit}"
            if fraction < 1:
                message += f" @ {fraction:g}"
            title = (
                f"mfbench task {task.name}: {display_text(label, 80)}, energy MAE at training "
                f"fraction {fraction:g} ({int(record['n_train_frames']):,} frames), mean of "
                f"{int(record['n_seeds'])} seed(s)"
            )
            path = f"badges/{task.slug}/{entry.slug}.svg"
            if snapshot is not None:
                title += f"; leaderboard snapshot {snapshot.short}"
            svg = badge(f"mfbench {task.name}", message, title, citable=task.citable)
            if snapshot is not None:
                svg = stamp_badge(svg, snapshot)
            inline = Markup(inline_svg(svg, "b" + hashlib.sha256(path.encode()).hexdigest()[:12]))
            found[entry.name].append(BadgeFile(path, svg, inline, task.name, label))
    return found


def stamp_badge(svg: str, snapshot: Snapshot) -> str:
    """``svg`` (a :func:`mfbench.html.svg.badge`) with a ``<desc>`` naming the full snapshot id.

    The id is hexadecimal and the version a package version, so the text needs no escaping
    beyond the version's, which :func:`mfbench.html.safety.xml_text` does.
    """
    desc = xml_text(f"mfbench leaderboard snapshot {snapshot.id} (mfbench "
                    f"{snapshot.mfbench_version})")  # fmt: skip
    head, sep, tail = svg.partition("</title>\n")
    if not sep:
        raise ValueError("a badge without a <title> cannot be stamped")
    return f"{head}{sep}<desc>{desc}</desc>\n{tail}"


def method_content(
    name: str,
    runs: Runs,
    tasks: list[TaskContent],
    badges: dict[str, list[BadgeFile]],
    files: RecordFiles | None = None,
) -> MethodPage:
    """The page of one method name.

    Args:
        name: the method's name (untrusted text).
        runs: every accepted run.
        tasks: the tasks' content (for links to their pages).
        badges: badges by method name (see :func:`badges_by_method`).
        files: the record file of each of ``runs.records`` (for the parity plots); share one
            between the methods of a site so that each task's labels load once. None: the
            page says that no parity plot could be drawn.
    """
    frame, apart, records, entries = runs.frame, runs.apart, runs.records, runs.entries
    indices = [i for i in frame.index if frame.at[i, "method"] == name]
    method_slug = entries[name, str(frame.at[indices[0], "params_hash"])].method_slug
    baselines = citations.registered_baselines()
    mine = [records[i] for i in indices]
    baseline = bool(mine) and all(
        citations.is_baseline(name, str(r["method"].get("class")), baselines) for r in mine
    )
    variants = []
    for hash_ in sorted({str(frame.at[i, "params_hash"]) for i in indices}):
        rows = [i for i in indices if frame.at[i, "params_hash"] == hash_]
        flags = sorted({runs.non_compliant[i] for i in rows if i in runs.non_compliant})
        variants.append(_variant(entries[name, hash_], [records[i] for i in rows], flags))
    statuses = {
        int(i): f"not ranked (non-compliant): {runs.non_compliant[int(i)]}"
        for i in runs.reference.index
    }
    if len(apart):
        statuses.update((int(i), f"set apart: {r}") for i, r in apart["reason"].items())
    task_pages = {t.name: t for t in tasks}
    bibtex, note = citations.method_bibtex(
        name, citations.baseline_references(name) if baseline else None
    )
    return MethodPage(
        name=name,
        slug=method_slug,
        page=f"methods/{method_slug}.html",
        baseline=baseline,
        variants=variants,
        runs=runs_table(name, method_slug, indices, runs, statuses, task_pages),
        provenance=provenance_tables(method_slug, mine),
        bibtex=bibtex,
        bib_path=f"methods/{method_slug}.bib",
        citation_note=note,
        badges=badges.get(name, []),
        sections=task_sections(name, runs, task_pages, files),
    )


def _variant(entry: Entry, records: list[dict[str, Any]], non_compliant: list[str]) -> Variant:
    first = records[0]["method"]
    params = first.get("params") if isinstance(first.get("params"), dict) else {}
    hours = [record_value(r, ("timing", "device_hours")) for r in records]
    return Variant(
        entry=entry,
        class_path=str(first.get("class", "")),
        spec=str(first.get("spec", "")),
        non_compliant=non_compliant,
        params=params_table(entry, params),
        device_hours=math.fsum(
            float(h)
            for h in hours
            if isinstance(h, int | float) and not isinstance(h, bool) and math.isfinite(h)
        ),
        n_runs=len(records),
        seeds=sorted({int(r["seed"]) for r in records}),
    )
