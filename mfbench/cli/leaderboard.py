"""``mfbench leaderboard``: build the static HTML leaderboard."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_build(args: argparse.Namespace) -> int:
    """Validate records and render the site; 1 when no record was accepted."""
    from mfbench.leaderboard import build_site

    report = build_site(args.results, args.out, diagnostics=args.diagnostics)
    print(report.summary())
    print(f"open {(report.out / 'index.html').resolve().as_uri()}")
    return 0 if report.n_accepted else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``leaderboard`` and its subcommands to the ``mfbench`` parser."""
    board = commands.add_parser("leaderboard", help="the static HTML leaderboard").add_subparsers(
        dest="leaderboard_command", required=True
    )
    p = board.add_parser("build", help="validate records and render the site (works offline)")
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.add_argument("--out", type=Path, default=Path("site"), help="site folder")
    p.add_argument(
        "--diagnostics", nargs="+", type=Path, default=[],
        help="folders of `mfbench analyze shift` outputs, each rendered as a page of the site",
    )  # fmt: skip
    p.set_defaults(func=cmd_build)
