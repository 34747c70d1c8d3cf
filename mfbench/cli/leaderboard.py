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


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Validate records and write their snapshot listing; 1 when a record was left out."""
    from mfbench.atomic_write import write_json_atomic
    from mfbench.results.snapshot import snapshot_of_folder

    snapshot = snapshot_of_folder(*args.results)
    roots = [Path(r).resolve() for r in args.results]

    def shown(path: Path) -> str:
        for root in roots:
            if path.resolve().is_relative_to(root):
                return path.resolve().relative_to(root).as_posix()
        return path.name

    write_json_atomic(args.out, snapshot.document(shown))
    print(f"{args.out}: snapshot {snapshot.id} ({len(snapshot.entries)} records)")
    for status, count in sorted(snapshot.left_out_counts().items()):
        print(f"  left out: {count} {status}")
    return 1 if snapshot.left_out else 0


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
    p = board.add_parser(
        "snapshot",
        help="write the snapshot listing of validated records (a release commits it as "
        "mfbench/data/results_snapshot.json)",
    )
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.add_argument("--out", type=Path, required=True, help="the listing (JSON) to write")
    p.set_defaults(func=cmd_snapshot)
