"""``mfbench analyze``: diagnostics of the data before training (shift)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mfbench.cli.options import json_option
from mfbench.cli.output import print_json
from mfbench.errors import MfbenchError


def cmd_shift(args: argparse.Namespace) -> int:
    """Run the shift diagnostics, write report and page, print the summary."""
    from mfbench.diagnostics.run import (
        default_out_dir,
        shift_diagnostics,
        summary_text,
        write_shift_outputs,
    )

    if args.task is not None and (args.low is not None or args.high is not None):
        raise MfbenchError("give either --task or --low and --high, not both")
    if args.task is None and (args.low is None or args.high is None):
        raise MfbenchError("give --task, or both --low DATASET[:FIDELITY] and --high")
    analysis = shift_diagnostics(
        task=args.task, low=args.low, high=args.high, pair_by=args.pair_by,
        low_corrections=args.low_corrections, importance_model=args.importance_model,
        atomref=not args.no_atomref, seed=args.seed,
    )  # fmt: skip
    out = args.out if args.out is not None else default_out_dir(analysis.report.name)
    paths = write_shift_outputs(analysis, out)
    if args.json:
        print_json(analysis.report.to_json_dict())
        return 0
    print(summary_text(analysis.report))
    print(f"\nreport   {paths['report']}")
    print(f"page     {paths['page']}  (open {paths['page'].resolve().as_uri()})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``analyze`` and its subcommands to the ``mfbench`` parser."""
    json_opt = json_option()
    analyze = commands.add_parser(
        "analyze", help="diagnostics of the data before training: shift"
    ).add_subparsers(dest="analyze_command", required=True)
    p = analyze.add_parser(
        "shift",
        parents=[json_opt],
        help="energy-scale shift between two fidelities: correlations before/after elemental "
        "referencing, per-element offsets, importance of the formation-energy difference",
        description="Pair the frames of a low and a high fidelity (same frame where a dataset "
        "has both, else each material's lowest-energy frame), compare their energies raw and "
        "after each side's elemental reference fitted on the train split, fit per-element "
        "offsets high - low, and rank elements by their weight in the formation-energy "
        "difference with and without MP2020 anion corrections. Writes report.json and "
        "index.html (a static page, no network) into --out.",
    )
    p.add_argument("--task", help="a task: its dataset/target fidelity vs its auxiliary data")
    p.add_argument("--low", metavar="DATASET[:FIDELITY]", help="low fidelity, e.g. mptrj")
    p.add_argument("--high", metavar="DATASET[:FIDELITY]", help="high fidelity, e.g. mp-r2scan")
    p.add_argument(
        "--out", type=Path,
        help="output folder (default mfbench-results/diagnostics/<task or low-vs-high>)",
    )  # fmt: skip
    p.add_argument(
        "--pair-by", choices=["auto", "frame", "material"], default="auto",
        help="auto: same frame when one store or shared frame ids, else material (default)",
    )  # fmt: skip
    p.add_argument(
        "--low-corrections", choices=["mp2020", "none"],
        help="whether the low-fidelity energies include MP2020 corrections (default: known "
        "for mptrj, surrogate-aflow (mp2020) and matpes-pbe (none); required otherwise)",
    )  # fmt: skip
    p.add_argument(
        "--importance-model", choices=["linear", "tree"], default="linear",
        help="linear: ridge coefficients x fraction spread (default); tree: random forest "
        "with permutation importance on the held-out materials",
    )  # fmt: skip
    p.add_argument(
        "--no-atomref", action="store_true",
        help="do not load CHGNet's AtomRef weights (skips torch/chgnet) for the comparison",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random state of the tree model")
    p.set_defaults(func=cmd_shift)
