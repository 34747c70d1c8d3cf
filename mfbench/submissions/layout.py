"""The layout of a packed submission folder: its manifest, run folders and code files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mfbench.submissions.metadata import SubmissionError

#: The ``schema`` value of the manifests :func:`mfbench.submissions.pack_submission` writes.
MANIFEST_SCHEMA = "mfbench.submission-manifest/1"
MANIFEST = "manifest.json"


def safe_name(text: str, *, what: str = "name") -> str:
    """``text`` as one path component that cannot leave its folder.

    Runs of characters other than ``A-Za-z0-9._-`` become ``_``, leading dots and underscores
    are dropped, and the name is cut at 100 characters.

    Raises:
        SubmissionError: nothing is left.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip("._")[:100]
    if not cleaned or cleaned in {".", ".."}:
        raise SubmissionError([f"{what} {text!r} gives no usable folder name"])
    return cleaned


def run_path(record: Mapping[str, Any]) -> Path:
    """``runs/<task>/v<version>/fraction-<f>/seed-<s>``, relative to the submission folder."""
    task = record["task"]
    return (
        Path("runs") / safe_name(str(task["name"]), what="task")
        / f"v{int(task['version'])}" / f"fraction-{float(record['fraction']):g}"
        / f"seed-{int(record['seed'])}"
    )  # fmt: skip


def code_path(module: str) -> str:
    """Where a submission holds the source of ``module``: ``code/<module>.py``."""
    return f"code/{safe_name(module, what='module')}.py"
