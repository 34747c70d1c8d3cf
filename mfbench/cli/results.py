"""``mfbench results``: validate records by recomputation, summarize them over seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mfbench.cli.options import json_option
from mfbench.cli.output import print_json, table
from mfbench.errors import MfbenchError

#: The metric columns ``results summarize`` shows when no ``--metric`` is given.
DEFAULT_METRICS = ("energy_mae_mev_per_atom", "force_mae_mev_per_a")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate records by recomputation; 1 unless every record is accepted."""
    from mfbench.results import validate_records

    reports = validate_records(args.paths)
    if args.json:
        print_json(
            [
                {"path": str(r.path), "status": r.status, "ok": r.ok, "problems": r.problems,
                 "fix": r.fix, "recomputed": r.recomputed}
                for r in reports
            ]
        )  # fmt: skip
    else:
        for report in reports:
            print(report.summary())
    counts = {status: sum(r.status == status for r in reports) for status in _STATUSES}
    print(", ".join(f"{n} {status}" for status, n in counts.items()), file=sys.stderr)
    return 0 if reports and counts["accepted"] == len(reports) else 1


#: What a validated record can be (:attr:`mfbench.results.ValidationReport.status`).
_STATUSES = ("accepted", "rejected", "not checked")


def cmd_summarize(args: argparse.Namespace) -> int:
    """Summarize valid, compliant records over seeds; scaling and transfer gain."""
    from mfbench.results import comparable, records_frame, summarize, validate_records
    from mfbench.results.compliance import non_compliance
    from mfbench.results.scaling import transfer_gain_table
    from mfbench.results.scaling_table import scaling_table
    from mfbench.tasks.definition import get_task

    metrics = list(args.metric or DEFAULT_METRICS)
    reports = validate_records(args.paths)
    for report in reports:
        if not report.ok:
            print(report.summary(), file=sys.stderr)
    accepted = [r.record for r in reports if r.ok and r.record is not None]
    flags = [(record, non_compliance(record)) for record in accepted]
    compliant = [record for record, flag in flags if flag is None]
    if not compliant:
        raise MfbenchError(
            f"no valid, compliant result records under {', '.join(map(str, args.paths))}"
        )
    kept, set_apart = comparable(records_frame(compliant))
    summary = summarize(kept, metrics=metrics)
    # one method name run with several hyperparameter sets: one entry each, named as its folder
    variants = summary.groupby("method")["params_hash"].transform("nunique")
    summary["method"] = summary["method"].where(
        variants == 1, summary["method"] + "@" + summary["params_hash"].str[:8]
    )
    columns = ["task", "method", "fraction", "n_train_frames", "n_seeds"] + [
        f"{m}_{stat}" for m in metrics for stat in ("mean", "std", "ci_low", "ci_high")
    ]
    print(table(summary[columns].round(3).to_dict(orient="records")))
    flagged = [
        {"task": r["task"]["name"], "method": r["method"]["name"], "fraction": r["fraction"],
         "seed": r["seed"], "reason": flag.reason}
        for r, flag in flags if flag is not None
    ]  # fmt: skip
    if flagged:
        print("\nnot summarised (non-compliant: reference runs, never ranked):")
        print(table(flagged))
    if len(set_apart):
        print("\nset apart (not comparable with the rows above):")
        print(table(set_apart[["task", "method", "fraction", "seed", "reason"]].to_dict("records")))
    for task, rows in summary.groupby("task"):
        definition = get_task(str(task))
        minimum = definition.scaling_fit_min_frames
        for metric in metrics:
            curves = rows.rename(columns={f"{metric}_mean": metric})
            scaling = scaling_table(
                curves, metric, min_frames=minimum, scratch_method=definition.roles.scratch
            )
            print(f"\nscaling of {metric} on {task} (power law fitted at ≥ {minimum} frames):")
            print(table(scaling.round(4).to_dict(orient="records")))
            gains = transfer_gain_table(curves, metric, definition.roles.gain_baselines)
            print(f"\ntransfer gain in {metric} (1 - MAE / baseline MAE, same fraction):")
            print(table(gains.round(3).to_dict(orient="records")))
    if args.csv:
        from mfbench.atomic_write import write_bytes_atomic

        write_bytes_atomic(Path(args.csv), summary.to_csv(index=False).encode())
        print(f"\nwrote {args.csv}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``results`` and its subcommands to the ``mfbench`` parser."""
    json_opt = json_option()
    results = commands.add_parser(
        "results", help="result records: validate by recomputation, summarize over seeds"
    ).add_subparsers(dest="results_command", required=True)
    p = results.add_parser(
        "validate",
        parents=[json_opt],
        help="check records against their schema, predictions and task; recompute every metric",
    )
    p.add_argument("paths", nargs="+", type=Path, help="result.json files or folders of runs")
    p.set_defaults(func=cmd_validate)
    p = results.add_parser(
        "summarize",
        help="mean, std and Student-t 95%% interval over seeds (none for one seed); scaling laws",
    )
    p.add_argument("paths", nargs="+", type=Path, help="result.json files or folders of runs")
    p.add_argument(
        "--metric",
        action="append",
        help="metric column (repeatable; default: energy_mae_mev_per_atom, force_mae_mev_per_a)",
    )
    p.add_argument("--csv", help="also write the summary as CSV")
    p.set_defaults(func=cmd_summarize)
