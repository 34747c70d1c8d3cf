"""``mfbench leaderboard build``: render validated result records into a static site.

The site is a folder of plain files that works from ``file://`` with no network:

- ``index.html``: one section per task with the paper-style summary at the largest fraction;
  then the diagnostics, submissions and the rejected records with their problems;
- ``tasks/<task>.html``: one ranked table per training fraction, the non-compliant runs as
  unranked reference rows (:mod:`mfbench.results.compliance`), "Does this reproduce the
  paper?", the scaling plots (inline SVG) and fits (or why there is none), the transfer gains,
  the runs set apart and the task's details;
- ``methods/<method>.html``: hyperparameters, runs, provenance, badges and citation;
- next to them, a ``.csv`` and a ``.json`` of every table shown; ``rejected.csv/json``;

A task whose labels are not citable (``Task.citable`` False, e.g. labels made by ML models)
is marked everywhere its numbers appear: a banner on every page showing them (``notices`` in
``base.html.j2``), the columns ``citable`` and ``notice`` in every download of those pages,
and "not citable" in the text of its badges.
- ``mfbench.bib`` (the suite), ``methods/<method>.bib``, ``badges/<task>/<entry>.svg``;
- ``cite/<task>/fraction-<f>/<entry>.txt``: the citation of each ranked row, plain text and
  BibTeX (:mod:`mfbench.leaderboard.score_citations`), linked from the row's "cite" cell;
- ``snapshot.json``: the leaderboard snapshot (:mod:`mfbench.results.snapshot`): the sha256
  of the validated records the site is built from, with the entries it hashes. Its id is on
  every page (footer), every CSV (a ``snapshot`` column) and JSON download (a top-level
  ``snapshot`` field) and every badge (title and ``<desc>``);
- ``.mfbench-site.json``: the list of files written, so that a rebuild removes the files of a
  method that is gone, and only those.

Security: every string of a record is untrusted. Templates are rendered with autoescape on
(no ``|safe`` in any template: only the checked SVG and the constant sorter script are
marked safe, in Python); a Content-Security-Policy allows only that script (by its sha256)
and inline styles; links are made only for ``http``/``https`` URLs; file names come from
:func:`mfbench.html.safety.slug` and every write goes through
:func:`mfbench.html.safety.site_path`. Output is deterministic: building twice from the
same records gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from mfbench.atomic_write import write_bytes_atomic
from mfbench.html.environment import environment, template_text
from mfbench.html.safety import json_download, site_path
from mfbench.leaderboard.content import SiteContent, build_content
from mfbench.leaderboard.score_citations import citation_file
from mfbench.leaderboard.tables import Table, with_citability, with_snapshot
from mfbench.leaderboard.view_model import MethodContent
from mfbench.results import ValidationReport, validate_records
from mfbench.results.snapshot import Snapshot, snapshot_of

logger = logging.getLogger(__name__)

#: The file listing what the last build wrote.
MANIFEST = ".mfbench-site.json"
#: The sorter script, inlined into every page.
SORT_SCRIPT = "sortable.js"
#: The snapshot listing at the site's root.
SNAPSHOT_FILE = "snapshot.json"


@dataclass(frozen=True)
class SiteReport:
    """What :func:`build_site` wrote and what it left out.

    Attributes:
        out: the site folder.
        pages: the HTML pages written, ``index.html`` first.
        files: every file written (pages, downloads, BibTeX, badges), sorted.
        removed: files of an earlier build that this one no longer writes, now deleted.
        rejected: reports of the records left out, each with its problems.
        unchecked: reports of the records that could not be checked here (no verdict), each
            with the command that makes the check possible.
        n_records: record files found.
        n_accepted: records shown (valid).
        n_ranked: runs compared in the tables (valid, comparable and compliant).
        n_reference: valid, comparable runs shown as reference rows, not ranked, because
            they broke the data rules.
        snapshot: the snapshot of the validated records the site is built from.
    """

    out: Path
    pages: tuple[Path, ...]
    files: tuple[Path, ...]
    removed: tuple[Path, ...]
    rejected: tuple[ValidationReport, ...]
    n_records: int
    n_accepted: int
    n_ranked: int
    n_reference: int = 0
    unchecked: tuple[ValidationReport, ...] = ()
    snapshot: Snapshot | None = None

    def summary(self) -> str:
        """A few lines for the command line."""
        lines = [
            f"{self.out}: {len(self.pages)} page(s), {len(self.files)} file(s); "
            f"{self.n_accepted} of {self.n_records} record(s) valid, {self.n_ranked} run(s) "
            f"ranked, {self.n_reference} not ranked (non-compliant), "
            f"{len(self.rejected)} rejected, {len(self.unchecked)} not checked here"
        ]
        if self.snapshot is not None:
            lines.append(
                f"leaderboard snapshot {self.snapshot.short} ({self.snapshot.id}) of "
                f"{len(self.snapshot.entries)} validated record(s), mfbench "
                f"{self.snapshot.mfbench_version}"
            )
        if self.removed:
            lines.append(f"removed {len(self.removed)} file(s) of an earlier build")
        lines += [report.summary() for report in (*self.rejected, *self.unchecked)]
        return "\n".join(lines)


def build_site(
    results: Sequence[Path],
    out: Path,
    *,
    templates: Path | None = None,
    diagnostics: Sequence[Path] = (),
) -> SiteReport:
    """Validate the records under ``results`` and write the leaderboard into ``out``.

    Args:
        results: folders searched for ``result.json`` files, or record files.
        out: the site folder; created when missing. Files of an earlier build that this one
            does not write again are removed (only those its manifest lists).
        templates: a folder of Jinja2 templates replacing the shipped ones (default: those of
            :mod:`mfbench.html`).
        diagnostics: folders searched for shift diagnostics (``report.json`` with
            ``points.npz``, as ``mfbench analyze shift`` writes them); each becomes
            ``diagnostics/<name>.html``, listed on the index.

    Returns:
        The pages and files written and the records rejected.

    Raises:
        FileNotFoundError: a path in ``results`` does not exist.
    """
    paths = [Path(p) for p in results]
    reports = validate_records(paths)
    snapshot = snapshot_of(reports)
    content = build_content(reports, paths, snapshot=snapshot)
    if diagnostics:
        from mfbench.leaderboard.diagnostics_content import diagnostics_pages

        content.diagnostics = diagnostics_pages([Path(p) for p in diagnostics])
    files = render_site(content, templates)
    out = Path(out)
    written, removed = write_site(files, out)
    pages = sorted((p for p in written if p.suffix == ".html"), key=_page_order(out))
    report = SiteReport(
        out=out,
        pages=tuple(pages),
        files=tuple(written),
        removed=tuple(removed),
        rejected=tuple(content.rejected_reports),
        unchecked=tuple(content.unchecked_reports),
        n_records=content.n_records,
        n_accepted=content.n_accepted,
        n_ranked=content.n_ranked,
        n_reference=content.n_reference,
        snapshot=snapshot,
    )
    logger.info("%s", report.summary().splitlines()[0])
    return report


def _page_order(out: Path) -> Callable[[Path], tuple[bool, str]]:
    """Sort key of pages: ``index.html`` first, then by path."""
    index = site_path(out, "index.html")
    return lambda path: (path != index, str(path))


def content_security_policy(script: str) -> str:
    """A policy allowing only ``script`` (by hash) and inline styles; nothing is fetched."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def render_site(content: SiteContent, templates: Path | None = None) -> dict[str, bytes]:
    """Every file of the site, by ``/``-separated path relative to the site folder.

    Args:
        content: what the pages show.
        templates: a folder replacing the shipped templates (None: those of :mod:`mfbench.html`).
    """
    env = environment(templates)
    script = template_text(SORT_SCRIPT, templates)
    snapshot = content.snapshot
    common = {
        "site": content,
        "generator": content.generator,
        "csp": content_security_policy(script),
        "sort_script": Markup(script),
        "snapshot": snapshot,
    }
    files = _Files()
    files.add(
        "index.html",
        _render(env, "index.html.j2", common, root="", notices=content.notices()),
    )
    for task in content.tasks:
        notices = [task.notice] if task.notice else []
        files.add(
            task.page,
            _render(env, "task.html.j2", common, root="../", task=task, notices=notices),
        )
    for method in content.methods:
        notices = content.notices(content.method_tasks.get(method.name, []))
        files.add(
            method.page,
            _render(env, "method.html.j2", common, root="../", method=method, notices=notices),
        )
        files.add(method.bib_path, method.bibtex.encode("utf-8"))
        for badge in method.badges:
            files.add(badge.path, badge.svg.encode("utf-8"))
    for task in content.tasks:
        for citation in task.citations:
            files.add(citation.path, citation_file(citation).encode("utf-8"))
    stamp = snapshot.id if snapshot is not None else None
    for table in _downloads(content):
        if table.download is not None:
            if stamp is not None:
                table = with_snapshot(table, stamp)
            files.add(f"{table.download}.csv", table.csv_bytes())
            files.add(f"{table.download}.json", table.json_bytes(content.generator, stamp))
    files.add("mfbench.bib", content.suite_bib.encode("utf-8"))
    for page in content.diagnostics:
        html = page.html if snapshot is None else _stamp_diagnostics(page.html, snapshot)
        files.add(page.page, html.encode("utf-8"))
    if snapshot is not None:
        files.add(SNAPSHOT_FILE, json_download(content.snapshot_listing))
    return files.payloads


def _stamp_diagnostics(html: str, snapshot: Snapshot) -> str:
    """A diagnostics page (rendered by :mod:`mfbench.diagnostics.page`) with the snapshot id.

    The page shows a dataset's shift, not records, and has a template of its own; its footer
    still says which leaderboard snapshot it was published with.
    """
    head, sep, tail = html.rpartition("</footer>")
    if not sep:
        raise ValueError("a diagnostics page without a footer cannot be stamped")
    line = (
        f"<p>Published with leaderboard snapshot <code>{snapshot.short}</code> "
        f"(<code>{snapshot.id}</code>).</p>\n"
    )
    return f"{head}{line}{sep}{tail}"


class _Files:
    """Payloads by path; two different payloads for one path are a bug."""

    def __init__(self) -> None:
        self.payloads: dict[str, bytes] = {}

    def add(self, path: str, payload: bytes) -> None:
        if path == MANIFEST:
            raise ValueError(f"{path} is reserved for the manifest")
        if path in self.payloads and self.payloads[path] != payload:
            raise RuntimeError(f"two different files would be written to {path}")
        self.payloads[path] = payload


def _render(env: Environment, template: str, common: dict[str, object], **extra: object) -> bytes:
    return env.get_template(template).render(**common, **extra).encode("utf-8")


def _tables(content: SiteContent) -> list[Table]:
    """Every table the pages show (and the tasks' all-fraction downloads)."""
    tables: list[Table] = []
    for task in content.tasks:
        tables += task.tables()
    for method in content.methods:
        tables += _method_tables(method)
    tables += [t for t in (content.rejected, content.unchecked) if t is not None]
    return tables


def _method_tables(method: MethodContent) -> list[Table]:
    return [*(variant.params for variant in method.variants), method.runs, *method.provenance]


def _downloads(content: SiteContent) -> list[Table]:
    """:func:`_tables` as downloaded, with the columns ``citable`` and ``notice``.

    Every table of a task or a method page carries them
    (:func:`mfbench.leaderboard.tables.with_citability`). A task's tables take the task's
    notice on every row. A method page's table with a
    ``task`` column takes each row's task notice; one without takes the notice of every task
    the method ran that is not citable (its rows may stem from those runs). The site-wide
    tables (rejected and unchecked records) show no ranked number and are left as they are.
    """
    notice_of = {t.name: t.notice for t in content.tasks}
    tables: list[Table] = []
    for task in content.tasks:
        tables += [with_citability(t, [task.notice] * len(t.records)) for t in task.tables()]
    for method in content.methods:
        joint = " ".join(content.notices(content.method_tasks.get(method.name, []))) or None
        for table in _method_tables(method):
            if "task" in table.fields:
                notices = [notice_of.get(str(r.get("task"))) for r in table.records]
            else:
                notices = [joint] * len(table.records)
            tables.append(with_citability(table, notices))
    tables += [t for t in (content.rejected, content.unchecked) if t is not None]
    return tables


def write_site(files: dict[str, bytes], out: Path) -> tuple[list[Path], list[Path]]:
    """Write ``files`` into ``out`` atomically; remove what only the last build wrote.

    Args:
        files: payloads by site-relative path.
        out: the site folder.

    Returns:
        ``(written, removed)`` absolute paths, sorted.

    Raises:
        NotADirectoryError: ``out`` exists and is not a folder.
        ValueError: a path would lie outside ``out``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(out)
    targets = {name: site_path(out, name) for name in sorted(files)}
    for name, path in targets.items():
        write_bytes_atomic(path, files[name])
    removed = []
    for name in sorted(set(previous) - set(files)):
        try:
            path = site_path(out, name)
        except ValueError:
            logger.warning("%s lists %r, outside the site: not removed", MANIFEST, name)
            continue
        if path.is_file():
            path.unlink()
            removed.append(path)
    write_bytes_atomic(site_path(out, MANIFEST), json_download({"files": sorted(files)}))
    return sorted(targets.values()), removed


def _read_manifest(out: Path) -> list[str]:
    """The files an earlier build wrote (none when there is no readable manifest)."""
    path = out / MANIFEST
    if not path.is_file():
        return []
    try:
        names = json.loads(path.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError) as exc:
        logger.warning("%s: unreadable manifest (%s); no stale file removed", path, exc)
        return []
    return [name for name in names if isinstance(name, str)]
