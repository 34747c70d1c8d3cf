"""``mfbench demo``: the demo pipeline (:mod:`mfbench.demo`), step by step, printed."""

from __future__ import annotations

import argparse

from mfbench.cli.options import DATA_WORKERS_HELP
from mfbench.cli.output import table
from mfbench.demo import DEFAULT_TASK, DEMO_METHODS


def cmd_demo(args: argparse.Namespace) -> int:
    """Prepare, list, train and score every method, diagnose the shift, build the site."""
    from mfbench.cli.tasks import cmd_list as print_tasks
    from mfbench.cli.tasks import summary_text
    from mfbench.demo import Demo, referencing_effects, table_rows
    from mfbench.diagnostics.run import summary_text as shift_summary_text
    from mfbench.models.device import resolve_device

    demo = Demo.plan(
        args.task, methods=args.method, fractions=args.fraction, seed=args.seed,
        device=resolve_device(args.device), out=args.out, data_workers=args.data_workers,
    )  # fmt: skip
    task, methods, fractions = demo.task, demo.methods, demo.fractions
    print(f"== 1. prepare the embedded dataset {task.dataset.id}")
    report = demo.prepare_dataset()
    print(
        f"{report.n_frames} frames, {report.n_materials} materials, {len(report.elements)} "
        f"elements, sha256 {report.sha256[:16]}… ({report.checksum_status}) → {report.store}"
    )
    print("\n== 2. tasks")
    print_tasks(args)
    print(f"\n== 3. task {task.task}")
    print(summary_text(demo.task_data().summary()))
    budget = task.budget
    print(
        f"\n== 4. train and score {len(methods)} methods at fractions "
        f"{', '.join(f'{f:g}' for f in fractions)}, seed {demo.seed}, on {demo.device} (budget: "
        f"{budget.epochs} epochs, at most {budget.max_steps or '∞'} steps of "
        f"{budget.batch_size} frames); finished runs in {args.out} are reused"
    )

    def announce(position: int, method: str, fraction: float) -> None:
        print(f"-- [{position}/{len(methods)}] {method} at fraction {fraction:g}", flush=True)

    records = demo.run_methods(on_start=announce)
    print(
        f"\n== 5. {task.task} v{task.version} test split ({records[0]['coverage']['test_frames']} "
        f"frames, split {records[0]['task']['split_fingerprint'][:16]}); "
        "'covered' = test frames whose elements all occur in the training fraction"
    )
    print(table(table_rows(records)))
    for effect in referencing_effects(records, task.roles.paper):
        print(
            f"fraction {effect.fraction:g}: elemental-referenced fine-tune (Method 4) E MAE "
            f"{effect.referenced_mae:.0f} meV/atom vs naive fine-tune with the GGA AtomRef "
            f"(Method 3) {effect.naive_mae:.0f} meV/atom ({effect.ratio:.1f}x)"
        )
    if not task.citable:
        print(
            f"Labels from models, not r²SCAN ({demo.dataset().title}): these "
            "numbers test the pipeline and show the elemental-reference effect; do not cite them "
            "as r²SCAN results."
        )
    print(f"Results: {demo.results_dir}")
    print(f"\n== 6. shift diagnostics of {task.task}'s data (mfbench analyze shift)")
    print(shift_summary_text(demo.shift_diagnostics().report, top=3))
    print("\n== 7. leaderboard")
    site = demo.build_leaderboard()
    print(site.summary())
    print(f"open {(site.out / 'index.html').resolve().as_uri()}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``mfbench`` parser."""
    p = commands.add_parser(
        "demo", help="the main job: the baselines trained and scored on the embedded dataset"
    )
    p.add_argument("--task", default=DEFAULT_TASK)
    p.add_argument(
        "--method", action="append", help=f"repeatable (default: {', '.join(DEMO_METHODS)})"
    )
    p.add_argument(
        "--fraction",
        action="append",
        type=float,
        help="repeatable (default: the task's two smallest non-zero fractions)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    p.add_argument("--out", default="mfbench-results", help="results folder")
    p.add_argument("--data-workers", type=int, help=DATA_WORKERS_HELP)
    p.set_defaults(func=cmd_demo)
