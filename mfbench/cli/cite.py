"""``mfbench cite`` and ``mfbench verify``: cite a ranked score; check a citation or snapshot.

``cite`` prints the citation of one ranked row (plain text, then BibTeX), as the site's "cite"
link holds it. ``verify`` recomputes the leaderboard snapshot from a results folder and checks a
citation file (either form, or both), a snapshot listing (the site's ``snapshot.json``) or a bare
snapshot id against it. Exit codes of ``verify``: 0 every claim confirmed, 1 a claim refuted,
2 a usage error (no such file, no citation in it, a malformed id).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from mfbench.errors import MfbenchError

#: What a snapshot id given on the command line may look like (full, or its short form or more).
_SNAPSHOT_ID = re.compile(r"[0-9a-fA-F]{12,64}")


def cmd_cite(args: argparse.Namespace) -> int:
    """Print the citation of one ranked row."""
    from mfbench.leaderboard.citation_check import Recomputation, cite
    from mfbench.leaderboard.score_citations import (
        citation_bibtex,
        citation_file,
        citation_text,
    )

    citation = cite(
        Recomputation(args.results), args.task, args.method, args.fraction, args.params_hash
    )
    form = {"both": citation_file, "text": citation_text, "bibtex": citation_bibtex}[args.form]
    print(form(citation), end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a citation file, a snapshot listing or a snapshot id; 0 confirmed, 1 refuted."""
    from mfbench.leaderboard.citation_check import (
        Recomputation,
        verify_citation,
        verify_listing,
        verify_snapshot_id,
    )
    from mfbench.leaderboard.citation_parsing import parse_citations
    from mfbench.results.snapshot import read_snapshot

    given = args.citation
    path = Path(given)
    if path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace")
        if _is_listing(text):
            listed = read_snapshot(path)
            recomputation = Recomputation(args.results)
            checks = [verify_listing(listed, path, recomputation)]
        else:
            claims = parse_citations(text)
            recomputation = Recomputation(args.results)
            distinct = [
                c for i, c in enumerate(claims) if not any(c.same_claims(o) for o in claims[:i])
            ]
            checks = [verify_citation(claim, recomputation) for claim in distinct]
            if len(distinct) < len(claims):
                print(f"{path}: {len(claims)} citation forms, {len(distinct)} distinct claim(s)")
    elif _SNAPSHOT_ID.fullmatch(given.strip()):
        checks = [verify_snapshot_id(given.strip().lower(), Recomputation(args.results))]
    else:
        raise MfbenchError(
            f"{given!r} is neither a file (a citation, or the site's snapshot.json) nor a "
            "snapshot id (12 to 64 hex characters)"
        )
    for check in checks:
        print(check.summary())
    return 0 if all(check.confirmed for check in checks) else 1


def _is_listing(text: str) -> bool:
    """Whether a file's text is a JSON snapshot listing (else it is read as a citation)."""
    try:
        document = json.loads(text)
    except ValueError:
        return False
    return isinstance(document, dict) and "entries" in document and "schema" in document


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``cite`` and ``verify`` to the ``mfbench`` parser."""
    p = commands.add_parser(
        "cite",
        help="print the citation (plain text and BibTeX) of one ranked leaderboard score",
        description="Validate the records, compute the leaderboard snapshot and print the "
        "citation of one ranked row: task and version, method and params hash, fraction, seeds, "
        "energy MAE with its 95 %% interval, snapshot id and mfbench version.",
    )
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.add_argument("--task", required=True, help="the task's name")
    p.add_argument("--method", required=True, help="the method's name as the leaderboard shows it")
    p.add_argument("--fraction", type=float, required=True, help="the training fraction")
    p.add_argument(
        "--params-hash", help="the entry's params hash (or a prefix), when the method has several"
    )
    p.add_argument(
        "--form",
        choices=("both", "text", "bibtex"),
        default="both",
        help="print the plain text, the BibTeX entry or both (default; what the site's cite "
        "link holds)",
    )
    p.set_defaults(func=cmd_cite)
    p = commands.add_parser(
        "verify",
        help="check a citation, a snapshot.json or a snapshot id against a results folder",
        description="Recompute the leaderboard snapshot from the records under --results and "
        "confirm or refute each claim. Exit code 0: confirmed; 1: refuted; 2: usage error.",
    )
    p.add_argument(
        "citation",
        metavar="CITATION_OR_SNAPSHOT_ID",
        help="a citation file (plain text, BibTeX or both, as `mfbench cite` writes it), the "
        "site's snapshot.json, or a snapshot id (at least its first 12 hex characters)",
    )
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.set_defaults(func=cmd_verify)
