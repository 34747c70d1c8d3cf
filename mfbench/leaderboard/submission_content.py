"""Packed submissions (:func:`mfbench.submissions.pack_submission`) found among the results.

A folder holding ``submission.yaml`` and ``manifest.json`` is a submission. It is accepted when
its files match the manifest (:func:`mfbench.submissions.verify_manifest`), its metadata is
valid (:func:`mfbench.submissions.load_submission_meta`), its packed code is the code its
records state (same sha256), and the compliance mfbench computes from its metadata and records
(:func:`mfbench.submissions.check_compliance`) equals the one its manifest caches; otherwise it
is rejected and its records are rejected with it (never ranked). Nothing a submitter wrote
decides a verdict: the manifest's cached ``compliant`` is only compared, and the reasons shown
are the ones mfbench computes. The runs of an accepted,
non-compliant submission are reference rows, as non-compliant records are
(:mod:`mfbench.results.compliance`).

Every string of the metadata is untrusted: it is shown through
:func:`mfbench.html.safety.display_text` (and escaped by the templates), and becomes a
link only through :func:`mfbench.html.safety.http_url`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfbench.data.checksum import sha256_file
from mfbench.errors import MfbenchError
from mfbench.html.safety import display_text, http_url
from mfbench.leaderboard.citations import submission_bibtex
from mfbench.results.compliance import NonCompliance
from mfbench.results.validation import find_records
from mfbench.submissions import (
    MANIFEST,
    METADATA,
    SubmissionError,
    check_compliance,
    load_submission_meta,
    run_path,
    verify_manifest,
)

logger = logging.getLogger(__name__)

#: Characters of a metadata string shown.
_TEXT_SHOWN = 300
#: The tag of a non-compliant submission's entries.
SUBMISSION_TAG = "submission non-compliant"


@dataclass(frozen=True)
class Link:
    """Text shown, and its target when it is an ``http``/``https`` URL (else None)."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Author:
    """An author as shown: name, affiliation ("" when none) and ORCID link."""

    name: str
    affiliation: str
    orcid: Link | None


@dataclass(frozen=True)
class Submission:
    """One packed submission found among the results.

    Attributes:
        folder: the submission folder.
        name: the folder as the site shows it.
        method: the method named by the metadata ("" when it cannot be read).
        problems: why it is rejected; empty when accepted.
        authors, paper_title, paper_doi, paper_url, code_url, code_commit, licence,
        training_data, checkpoint, hardware: the metadata, as display text and links.
        compliant: the compliance mfbench computed (the manifest's must agree, or the
            submission is rejected); reasons: mfbench's reasons.
        bibtex: the method's entry built from the metadata
            (:func:`mfbench.leaderboard.citations.submission_bibtex`); "" when rejected.
    """

    folder: Path
    name: str
    method: str = ""
    problems: list[str] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    paper_title: str = ""
    paper_doi: Link | None = None
    paper_url: Link | None = None
    code_url: Link | None = None
    code_commit: str = ""
    licence: str = ""
    training_data: list[str] = field(default_factory=list)
    checkpoint: str = ""
    hardware: str = ""
    compliant: bool = False
    reasons: list[str] = field(default_factory=list)
    bibtex: str = ""
    page: str | None = None

    @property
    def accepted(self) -> bool:
        """True when every check of the module docstring passed."""
        return not self.problems

    @property
    def author_names(self) -> str:
        """The authors' names, comma-separated."""
        return ", ".join(author.name for author in self.authors)

    def flag(self) -> NonCompliance | None:
        """How its runs are flagged when mfbench computes it is not compliant."""
        if not self.accepted or self.compliant:
            return None
        return NonCompliance(
            tag=SUBMISSION_TAG,
            reason="the submission's compliance check failed: " + "; ".join(self.reasons),
        )


def find_submissions(roots: Sequence[Path]) -> list[Path]:
    """Submission folders (``submission.yaml`` next to ``manifest.json``) under ``roots``."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for meta in root.rglob(METADATA):
            if meta.is_file() and (meta.parent / MANIFEST).is_file():
                found.add(meta.parent.resolve())
    return sorted(found)


def read_submission(folder: Path, name: str) -> Submission:
    """Check and read one submission folder; ``name`` is how the site shows it.

    A submission is untrusted input: whatever its files hold, it is read or rejected with the
    problems found, never an error that stops the site.
    """
    try:
        return _read_submission(folder, name)
    except (MfbenchError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return Submission(folder, name, problems=[f"{name}: cannot be read ({exc})"])


def _read_submission(folder: Path, name: str) -> Submission:
    problems = verify_manifest(folder)
    if problems:
        return Submission(folder, name, problems=problems)
    try:
        meta = load_submission_meta(folder / METADATA)
    except SubmissionError as exc:
        return Submission(folder, name, problems=list(exc.problems))
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    method = str(meta["method"])
    if not isinstance(manifest, dict) or manifest.get("method") != method:
        return Submission(
            folder, name, problems=[f"{name}: the manifest's method is not {method!r}"]
        )
    records, problems = _packed_records(folder, name)
    problems += _code_problems(folder, name, manifest, records)
    compliance = None
    if not problems:
        try:
            compliance = check_compliance(meta, records)
        except (MfbenchError, KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"{name}: its compliance cannot be computed ({exc})")
        else:
            cached = manifest.get("compliance")
            claimed = cached.get("compliant") if isinstance(cached, dict) else None
            if claimed is not compliance.compliant:
                problems.append(
                    f"{name}: the manifest says compliant: {json.dumps(claimed)}, but mfbench "
                    f"computes {json.dumps(compliance.compliant)} from the submission"
                    + (f" ({'; '.join(compliance.reasons)})" if compliance.reasons else "")
                )
    if problems or compliance is None:
        return Submission(folder, name, problems=problems)
    paper = _dict(meta.get("paper"))
    code = _dict(meta.get("code"))
    doi = paper.get("doi")
    checkpoint = meta.get("starting_checkpoint")
    return Submission(
        folder=folder,
        name=name,
        method=_text(method),
        authors=[_author(a) for a in meta.get("authors") or [] if isinstance(a, dict)],
        paper_title=_text(paper.get("title", "")),
        paper_doi=_link(f"https://doi.org/{doi}", doi) if doi else None,
        paper_url=_link(paper["url"]) if paper.get("url") else None,
        code_url=_link(code["url"]) if code.get("url") else None,
        code_commit=_text(code.get("commit", "")),
        licence=_text(meta.get("licence", "")),
        training_data=[_training(d) for d in meta.get("training_data") or []],
        checkpoint=_checkpoint(checkpoint),
        hardware=_text(meta.get("hardware", "")),
        compliant=compliance.compliant,
        reasons=[_text(r) for r in compliance.reasons],
        bibtex=submission_bibtex(meta),
    )


def _packed_records(folder: Path, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The records packed in a submission (sorted by path), and a problem per unreadable one."""
    records, problems = [], []
    for path in find_records([folder / "runs"]) if (folder / "runs").is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{name}: {path.relative_to(folder)} cannot be read ({exc})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{name}: {path.relative_to(folder)} is not a JSON object")
            continue
        records.append(record)
    if not records and not problems:
        problems.append(f"{name}: no result records under runs/")
    return records, problems


def _code_problems(
    folder: Path, name: str, manifest: dict[str, Any], records: list[dict[str, Any]]
) -> list[str]:
    """The packed code must be the code every record states (its sha256, recomputed here)."""
    code = manifest.get("code")
    file = code.get("file") if isinstance(code, dict) else None
    if not isinstance(file, str) or file not in manifest["files"] or not file.startswith("code/"):
        return [f"{name}: the manifest names no packed code file (code/<module>.py)"]
    digest = sha256_file(folder / file)  # listed, so verify_manifest found it with this hash
    problems = []
    for record in records:
        source = (
            record.get("method", {}).get("source")
            if isinstance(record.get("method"), dict)
            else None
        )
        stated = source.get("sha256") if isinstance(source, dict) else None
        if stated != digest:
            problems.append(
                f"{name}: {run_path_text(record)} was produced by code with sha256 {stated}, "
                f"the packed {file} has sha256 {digest}"
            )
    return problems


def run_path_text(record: dict[str, Any]) -> str:
    """The run's path in a submission, or ``a record`` when its fields cannot name it."""
    try:
        return run_path(record).as_posix()
    except (KeyError, TypeError, ValueError, MfbenchError):
        return "a record"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return display_text("" if value is None else value, _TEXT_SHOWN)


def _link(url: Any, text: Any = None) -> Link:
    return Link(_text(url if text is None else text), http_url(url))


def _author(author: dict[str, Any]) -> Author:
    orcid = author.get("orcid")
    return Author(
        name=_text(author.get("name", "")),
        affiliation=_text(author.get("affiliation", "")),
        orcid=_link(f"https://orcid.org/{orcid}", orcid) if orcid else None,
    )


def _training(item: Any) -> str:
    item = _dict(item)
    text = f"{item.get('fidelity')} labels of {item.get('dataset')}, frames {item.get('frames')}"
    return _text(f"{text} ({item['note']})" if item.get("note") else text)


def _checkpoint(checkpoint: Any) -> str:
    if not isinstance(checkpoint, dict):
        return "none (trained from scratch)"
    text = str(checkpoint.get("name", ""))
    if checkpoint.get("sha256"):
        text += f" (sha256 {checkpoint['sha256']})"
    return _text(text)
