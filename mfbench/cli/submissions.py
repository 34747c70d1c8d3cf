"""``mfbench submit``: pack a submission (metadata, validated records, predictions, code)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_submit(args: argparse.Namespace) -> int:
    """Pack a submission; 2 with the problems listed when it is refused."""
    from mfbench.submissions import SubmissionError, pack_submission

    try:
        folder = pack_submission(args.meta, args.results, args.out, replace=args.replace)
    except SubmissionError as exc:
        print("mfbench: submission refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"packed {folder}")
    print(json.dumps(manifest.get("compliance"), indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``submit`` to the ``mfbench`` parser."""
    p = commands.add_parser(
        "submit", help="pack a submission: metadata YAML, validated records and predictions"
    )
    p.add_argument("--meta", type=Path, required=True, help="submission metadata YAML")
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.add_argument("--out", type=Path, default=Path("submissions"), help="where to pack")
    p.add_argument("--replace", action="store_true", help="replace an existing submission")
    p.set_defaults(func=cmd_submit)
