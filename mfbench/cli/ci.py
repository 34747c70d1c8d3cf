"""``mfbench ci``: compare fresh results with reference records; exit 1 on a regression."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_ci(args: argparse.Namespace) -> int:
    """Compare ``--results`` with ``--reference``; the report's exit code (1: a regression)."""
    from mfbench.results.regression_check import Tolerances, compare_to_reference

    tolerances = Tolerances.from_yaml(args.tolerances) if args.tolerances else Tolerances()
    report = compare_to_reference(args.results, args.reference, tolerances)
    print(report.format(show_all=args.all))
    return report.exit_code


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ci`` to the ``mfbench`` parser."""
    p = commands.add_parser(
        "ci", help="compare fresh results with reference records; exit 1 on a regression"
    )
    p.add_argument("--results", nargs="+", type=Path, required=True, help="fresh run folders")
    p.add_argument("--reference", nargs="+", type=Path, required=True, help="reference records")
    p.add_argument("--tolerances", type=Path, help="YAML overriding the default tolerances")
    p.add_argument("--all", action="store_true", help="list every comparison, not only failures")
    p.set_defaults(func=cmd_ci)
