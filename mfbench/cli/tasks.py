"""``mfbench tasks``: list, show."""

from __future__ import annotations

import argparse
from typing import Any

from mfbench.cli.options import json_option
from mfbench.cli.output import print_json, table
from mfbench.errors import MfbenchError


def cmd_list(args: argparse.Namespace) -> int:
    """Print every task with its split sizes and fingerprint."""
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import list_tasks

    rows = []
    for name, task in list_tasks().items():
        row: dict[str, Any] = {
            "task": name,
            "origin": task.definition()["origin"],
            "version": task.version,
            "dataset": f"{task.dataset.id}-v{task.dataset.version}",
            "target": task.target_fidelity,
            "fractions": len(task.fractions.values),
        }
        try:
            data = TaskData.load(task)
        except MfbenchError:
            row.update(train="-", val="-", test="-", split_fingerprint="(dataset not prepared)")
        else:
            row.update(data.split.sizes())
            row["split_fingerprint"] = data.split.fingerprints()["split"][:16]
        rows.append(row)
    print(table(rows))
    return 0


def summary_text(summary: dict[str, Any]) -> str:
    """A task's data summary (:meth:`TaskData.summary`) as the text ``tasks show`` prints."""
    from pymatgen.core import Element

    lines = [
        f"task             {summary['task']} v{summary['version']}",
        f"dataset          {summary['dataset']} v{summary['dataset_version']} "
        f"(sha256 {summary['dataset_sha256'][:16]}…)",
        f"target fidelity  {summary['target_fidelity']}",
        "",
        "split            frames  materials  fingerprint (sha256 of sorted frame ids)",
    ]
    for side in ("train", "val", "test"):
        lines.append(
            f"  {side:<14} {summary['sizes'][side]:>6}  {summary['materials'][side]:>9}  "
            f"{summary['fingerprints'][side]}"
        )
    lines.append(f"  {'split':<14} {'':>6}  {'':>9}  {summary['fingerprints']['split']}")
    lines += [
        "",
        "fraction   frames  materials  elements  test elements covered  test frames covered",
    ]
    for row in summary["fractions"]:
        lines.append(
            f"  {row['fraction']:<8} {row['n_frames']:>6}  {row['n_materials']:>9}  "
            f"{row['n_elements']:>8}  {row['test_elements_covered']:>12} of "
            f"{row['test_elements']:<6}  {100 * row['test_frames_covered_share']:>18.1f} %"
        )
    fit = summary["train_reference_fit"]
    counts = fit["materials_per_element"]
    ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    fmt = ", ".join(f"{Element.from_Z(z).symbol} {n}" for z, n in ordered)
    values = sorted(counts.values())
    lines += [
        "",
        "elemental reference fit on the train split (least squares, intensive):",
        f"  condition number   {fit['condition_number']:.1f}",
        f"  residual MAE       {1000 * fit['residual_mae_ev_per_atom']:.1f} meV/atom",
        f"  elements           {fit['n_elements']}; materials per element: "
        f"min {values[0]}, median {values[len(values) // 2]}, max {values[-1]}",
        f"  per element        {fmt}",
    ]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    """Print one task's definition and data summary."""
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    task = get_task(args.task)
    summary = TaskData.load(task).summary()
    if args.json:
        print_json({"definition": task.model_dump(mode="json"), "summary": summary})
        return 0
    print(summary_text(summary))
    print(f"\nbudget           {task.budget.model_dump()}")
    print(f"auxiliary data   {[a.model_dump(exclude_none=True) for a in task.auxiliary_data]}")
    print(f"changelog        {[f'v{c.version} {c.date}: {c.change}' for c in task.changelog]}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``tasks`` and its subcommands to the ``mfbench`` parser."""
    json_opt = json_option()
    tasks = commands.add_parser("tasks", help="benchmark tasks: list, show").add_subparsers(
        dest="tasks_command", required=True
    )
    p = tasks.add_parser("list", help="tasks with split sizes and fingerprints")
    p.set_defaults(func=cmd_list)
    p = tasks.add_parser("show", parents=[json_opt], help="one task in detail")
    p.add_argument("task")
    p.set_defaults(func=cmd_show)
