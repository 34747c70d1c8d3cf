"""The ``mfbench`` command line.

Heavy libraries (torch, chgnet) are imported only inside the commands that need them, so
``mfbench --help``, ``tasks list`` and ``data list`` start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mfbench import __version__
from mfbench.data.registry import REGISTRY_ENV
from mfbench.errors import MfbenchError
from mfbench.metrics.catalogue import RECORD_METRICS
from mfbench.paths import TASKS_ENV

logger = logging.getLogger("mfbench")


def _table(rows: list[dict[str, Any]]) -> str:
    import pandas as pd

    if not rows:
        return "(none)"
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return pd.DataFrame(rows).to_string(index=False)


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


# ----------------------------------------------------------------------------- data


def cmd_data_list(args: argparse.Namespace) -> int:
    from mfbench.data.registry import registry

    rows = []
    for entry in registry().values():
        prepared = (entry.store_path() / "meta.json").is_file()
        rows.append(
            {
                "dataset": entry.id,
                "version": entry.version,
                "source": entry.source,
                "fidelities": ",".join(entry.fidelities),
                "frames": entry.n_frames if entry.n_frames else "?",
                "sha256 pinned": "yes" if entry.sha256 else "no",
                "prepared": "yes" if prepared else "no",
            }
        )
    print(_table(rows))
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from mfbench.data.registry import get_dataset
    from mfbench.data.store import FrameStore

    entry = get_dataset(args.dataset)
    info: dict[str, Any] = {"registry": entry.model_dump(mode="json")}
    if (entry.store_path() / "meta.json").is_file():
        store = FrameStore.open(entry.store_path())
        meta = {k: v for k, v in store.meta.items() if k not in ("arrays", "dataset")}
        info["store"] = {"path": str(store.path), **meta}
    else:
        info["store"] = None
    if args.json:
        _print_json(info)
        return 0
    for key, value in info["registry"].items():
        if value not in (None, {}, []):
            print(f"{key:>13}: {value}")
    if info["store"] is None:
        print(
            f"\nnot prepared: run `mfbench data prepare {entry.id}` "
            f"{'' if entry.source == 'embedded' else '--source PATH'}"
        )
    else:
        print("\nprepared store:")
        for key, value in info["store"].items():
            print(f"{key:>22}: {value}")
    return 0


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from mfbench.data.prepare import prepare
    from mfbench.data.registry import get_dataset

    entry = get_dataset(args.dataset)
    if entry.source == "user" and args.source is None:
        raise MfbenchError(
            f"{entry.id} is not shipped with mfbench; download it yourself "
            f"({entry.url or entry.doi or 'see the registry'}) and pass --source PATH"
        )
    report = prepare(
        entry,
        args.source,
        accept_checksum_mismatch=args.accept_checksum_mismatch,
        overwrite=args.overwrite,
    )
    if args.json:
        _print_json(report.to_dict())
        return 0
    print(f"dataset  {report.dataset}")
    print(f"source   {report.source}")
    print(f"sha256   {report.sha256} ({report.checksum_status})")
    print(f"store    {report.store}")
    print(
        f"frames   {report.n_frames} in {report.n_materials} materials, {report.n_atoms} atoms, "
        f"{len(report.elements)} elements; fidelities {', '.join(report.fidelities)}"
    )
    if report.checksum_status != "skipped-existing":
        print(f"took     {report.seconds:.1f} s")
    else:
        print("         already prepared from this source (use --overwrite to redo)")
    if report.checksum_status == "skipped-existing":  # fresh warnings were logged already
        for warning in report.warnings:
            print(f"WARNING  {warning}")
    return 0


def cmd_data_graphs(args: argparse.Namespace) -> int:
    from mfbench.data.registry import get_dataset
    from mfbench.data.store import FrameStore
    from mfbench.graph_cache import ConverterSettings, GraphCache, GraphConversionError
    from mfbench.runner.options import default_data_workers

    entry = get_dataset(args.dataset)
    path = entry.store_path()
    if not path.is_dir():
        raise MfbenchError(f"{entry.id} is not prepared; run: mfbench data prepare {entry.id}")
    store = FrameStore.open(path)
    from chgnet.graph.converter import CrystalGraphConverter

    # chgnet's defaults otherwise (algorithm "fast", isolated atoms an error), as CHGNet uses
    settings = ConverterSettings.from_converter(
        CrystalGraphConverter(
            atom_graph_cutoff=args.atom_cutoff, bond_graph_cutoff=args.bond_cutoff
        )
    )
    workers = args.workers or default_data_workers()
    try:
        cache = GraphCache.build(store, settings, workers=workers)
    except GraphConversionError as exc:
        print(f"{entry.id}: {len(exc.failed)} frame(s) CHGNet cannot convert:", file=sys.stderr)
        for frame_id, reason in sorted(exc.failed.items()):
            print(f"  {frame_id}: {reason}", file=sys.stderr)
        return 1
    report = cache.report
    print(f"dataset  {entry.id} ({len(store)} frames)")
    print(f"cache    {cache.directory}")
    print(
        f"graphs   {report.n_converted} converted, {report.n_reused} reused, in "
        f"{report.workers} worker(s), {report.seconds:.1f} s"
        + (f" ({report.frames_per_second:.0f} frames/s)" if report.n_converted else "")
    )
    return 0


def cmd_generate_surrogate(args: argparse.Namespace) -> int:
    if args.teacher == "sevennet":
        from mfbench.data import surrogate_teacher

        try:
            import sevenn  # noqa: F401
        except ImportError as exc:
            raise MfbenchError(
                "generating the SevenNet-labelled dataset needs the sevenn package "
                '(pip install -e ".[dev]"); using the shipped file does not'
            ) from exc
        report: Any = surrogate_teacher.generate(
            Path(args.out), seed=args.seed or surrogate_teacher.DEFAULT_SEED,
            limit_materials=args.limit_materials, workers=args.workers,
            report_path=Path(args.report) if args.report else None,
        )  # fmt: skip
    else:
        from mfbench.data import surrogate

        report = surrogate.generate(
            Path(args.out), seed=args.seed or surrogate.DEFAULT_SEED,
            limit_materials=args.limit_materials,
        )  # fmt: skip
    _print_json(report.to_dict())
    return 0


# ----------------------------------------------------------------------------- tasks


def cmd_tasks_list(args: argparse.Namespace) -> int:
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
    print(_table(rows))
    return 0


def _summary_text(summary: dict[str, Any]) -> str:
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


def cmd_tasks_show(args: argparse.Namespace) -> int:
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    task = get_task(args.task)
    summary = TaskData.load(task).summary()
    if args.json:
        _print_json({"definition": task.model_dump(mode="json"), "summary": summary})
        return 0
    print(_summary_text(summary))
    print(f"\nbudget           {task.budget.model_dump()}")
    print(f"auxiliary data   {[a.model_dump(exclude_none=True) for a in task.auxiliary_data]}")
    print(f"changelog        {[f'v{c.version} {c.date}: {c.change}' for c in task.changelog]}")
    return 0


# ----------------------------------------------------------------------------- evaluate


def _metrics_row(record: dict[str, Any], subset: str) -> dict[str, Any]:
    metrics = record["metrics"][subset]
    row: dict[str, Any] = {"model": record["model"]["name"], "test frames": subset}
    row["n"] = metrics.get("n_frames", 0)
    for metric in RECORD_METRICS:
        value = metrics.get(metric.key)
        row[metric.header] = "nan" if value is None or value != value else metric.format(value)
    return row


def _evaluate(data: Any, model: str, args: argparse.Namespace) -> dict[str, Any]:
    from mfbench.atomic_write import write_json_atomic
    from mfbench.evaluation import evaluate_predictor
    from mfbench.models.chgnet_pretrained import PretrainedChgnet

    task_name = data.task.task
    fraction = 1.0 if args.fraction is None else args.fraction
    if Path(model).is_dir():  # a run folder written by `mfbench run`
        from mfbench.runner.saved_method import MethodPredictor, load_saved_method

        predictor: Any = MethodPredictor(load_saved_method(Path(model), device=args.device))
        fraction = _run_fraction(Path(model), task_name, args.fraction)
        model = predictor.name
    else:
        predictor = PretrainedChgnet(model, device=args.device, batch_size=args.batch_size)
    if not _SAFE_FILE.fullmatch(model):
        raise MfbenchError(f"model name {model!r} cannot name a file under {args.out}")
    out = Path(args.out) / "evaluate" / task_name
    record = evaluate_predictor(
        data,
        predictor,
        fraction=fraction,
        predictions_path=out / f"{model}.predictions.npz",
    )
    write_json_atomic(out / f"{model}.json", record)
    logger.info("wrote %s", out / f"{model}.json")
    return record


#: What a model's name must look like to name its evaluation files.
_SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")


def _run_fraction(folder: Path, task_name: str, given: float | None) -> float:
    """The training fraction coverage is measured against when scoring a run folder.

    The run's own fraction (from its ``result.json``); ``--fraction`` may only repeat it, or
    stand in for it when the folder has no readable record or is a run of another task.
    """
    try:
        record = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise TypeError(f"a JSON {type(record).__name__}, not a result record")
        task, fraction = record["task"]["name"], float(record["fraction"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if given is not None:
            return given
        raise MfbenchError(
            f"{folder}: its result.json cannot be read ({exc}), so its training fraction is "
            "unknown: pass --fraction"
        ) from exc
    if task != task_name:
        if given is None:
            raise MfbenchError(
                f"{folder} is a run of task {task}, not {task_name}: pass --fraction to say "
                f"which training fraction of {task_name} coverage is measured against"
            )
        return given
    if given is not None and given != fraction:
        raise MfbenchError(
            f"{folder} was trained on fraction {fraction:g} of {task}; --fraction {given:g} "
            "would measure coverage against another training set (leave --fraction out)"
        )
    return fraction


def _print_evaluations(records: list[dict[str, Any]]) -> None:
    rows = [_metrics_row(r, subset) for r in records for subset in ("all", "covered")]
    first = records[0]
    task = first["task"]
    print(
        f"\n{task['name']} v{task['version']} test split "
        f"(split {task['split_fingerprint'][:16]}), labels: {task['target_fidelity']}; "
        f"covered = frames whose elements all occur in training fraction {first['fraction']} "
        f"({first['coverage']['covered_test_frames']}/{first['coverage']['test_frames']})"
    )
    print(_table(rows))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mfbench.models.chgnet_pretrained import resolve_device
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    args.device = resolve_device(args.device)  # refuse a device this machine lacks, up front
    data = TaskData.load(get_task(args.task))
    records = [_evaluate(data, model, args) for model in args.model]
    _print_evaluations(records)
    print(f"\nrecords and predictions: {Path(args.out) / 'evaluate' / args.task}")
    return 0


# ----------------------------------------------------------------------------- run


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise MfbenchError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


#: Help of the --data-workers options.
DATA_WORKERS_HELP = (
    "processes converting structures to CHGNet graphs for the graph cache (default "
    "$MFBENCH_DATA_WORKERS, else the CPU count up to 8); results do not depend on it"
)


def cmd_run(args: argparse.Namespace) -> int:
    from mfbench.models.chgnet_pretrained import resolve_device
    from mfbench.runner import run

    record = run(
        args.task, args.method, args.fraction, args.seed, out=Path(args.out),
        device=resolve_device(args.device), params=_parse_params(args.param), force=args.force,
        data_workers=args.data_workers,
    )  # fmt: skip
    _print_evaluations([{**record, "model": {"name": record["method"]["name"]}}])
    print(
        f"\nn_train_frames {record['n_train_frames']}, fit {record['timing']['fit_seconds']} s, "
        f"predict {record['timing']['predict_seconds']} s"
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from mfbench.runner.sweep import LocalOptions, SlurmOptions, SweepSpec, sweep, sweep_command

    slurm_flags = {
        "--partition": args.partition, "--gpus-per-node": args.gpus_per_node,
        "--time": args.time, "--mem-gb": args.mem_gb, "--cpus-per-task": args.cpus_per_task,
        "--slurm-array-parallelism": args.slurm_array_parallelism, "--log-dir": args.log_dir,
        "--cluster": args.cluster,
    }  # fmt: skip
    options: Any
    if args.executor == "local":
        misplaced = [flag for flag, value in slurm_flags.items() if value is not None]
        if misplaced:
            raise MfbenchError(f"{', '.join(misplaced)}: only for --executor slurm")
        options = LocalOptions(jobs=1 if args.jobs is None else args.jobs)
    else:
        if args.jobs is not None:
            raise MfbenchError("--jobs is for --executor local; use --slurm-array-parallelism")
        options = SlurmOptions(
            partition=args.partition, gpus_per_node=args.gpus_per_node,
            time_min=240 if args.time is None else args.time, mem_gb=args.mem_gb,
            cpus_per_task=args.cpus_per_task, array_parallelism=args.slurm_array_parallelism,
            log_dir=args.log_dir, cluster=args.cluster,
        )  # fmt: skip
    spec = SweepSpec(
        task=args.task, methods=tuple(args.methods),
        fractions=None if args.fractions is None else tuple(args.fractions),
        seeds=tuple(args.seeds), out=Path(args.out), params=_parse_params(args.param),
        device=args.device, data_workers=args.data_workers,
    )  # fmt: skip
    plan = sweep(spec, options, retry_failed=args.retry_failed, dry_run=args.dry_run)
    print(
        f"sweep {plan.sweep_id}: {len(spec.methods)} methods × {len(plan.fractions)} fractions "
        f"× {len(spec.seeds)} seeds = {len(plan.runs)} runs of {spec.task} "
        f"v{plan.task_version}; executor {options.describe()}"
        + (" — DRY RUN, nothing launched" if args.dry_run else "")
    )
    print(_table(plan.summary_rows()))
    if args.dry_run:
        pending = [run.spec for run in plan.runs if run.status == "pending"]
        print(f"\nwould launch {len(pending)} runs:" if pending else "\nnothing to launch")
        for run in pending:
            print(f"  {run.label():<48} → {run.folder}")
        return 0
    if plan.count("held"):
        print(
            f"\n{plan.count('held')} runs held back by --retry-failed (not recorded as failed; "
            "rerun without --retry-failed to launch them)"
        )
    print(f"\nstate   {plan.state_path}")
    print(f"results {plan.spec.out}  (mfbench leaderboard build --results {plan.spec.out})")
    failed = plan.failed()
    if not failed:
        return 0
    print(f"\n{len(failed)} runs FAILED:", file=sys.stderr)
    for run in failed:
        print(f"  {run.spec.label()}: {run.error}\n    log: {run.log}", file=sys.stderr)
    print(
        "\nfix the cause, then resubmit the failed runs with\n  "
        f"{sweep_command(plan, options, retry_failed=True)}\n"
        "(or rerun the same command: completed runs are skipped)",
        file=sys.stderr,
    )
    return 1


# ----------------------------------------------------------------------------- results


def cmd_results_validate(args: argparse.Namespace) -> int:
    from mfbench.results import validate_records

    reports = validate_records(args.paths)
    if args.json:
        _print_json(
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


def cmd_results_summarize(args: argparse.Namespace) -> int:
    from mfbench.results import comparable, records_frame, summarize, validate_records
    from mfbench.results.compliance import non_compliance
    from mfbench.results.scaling import scaling_table, transfer_gain_table
    from mfbench.tasks.definition import get_task

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
    summary = summarize(kept, metrics=args.metric)
    # one method name run with several hyperparameter sets: one entry each, named as its folder
    variants = summary.groupby("method")["params_hash"].transform("nunique")
    summary["method"] = summary["method"].where(
        variants == 1, summary["method"] + "@" + summary["params_hash"].str[:8]
    )
    columns = ["task", "method", "fraction", "n_train_frames", "n_seeds"] + [
        f"{m}_{stat}" for m in args.metric for stat in ("mean", "std", "ci_low", "ci_high")
    ]
    print(_table(summary[columns].round(3).to_dict(orient="records")))
    flagged = [
        {"task": r["task"]["name"], "method": r["method"]["name"], "fraction": r["fraction"],
         "seed": r["seed"], "reason": flag.reason}
        for r, flag in flags if flag is not None
    ]  # fmt: skip
    if flagged:
        print("\nnot summarised (non-compliant: reference runs, never ranked):")
        print(_table(flagged))
    if len(set_apart):
        print("\nset apart (not comparable with the rows above):")
        print(
            _table(set_apart[["task", "method", "fraction", "seed", "reason"]].to_dict("records"))
        )
    for task, rows in summary.groupby("task"):
        minimum = get_task(str(task)).scaling_fit_min_frames
        for metric in args.metric:
            curves = rows.rename(columns={f"{metric}_mean": metric})
            table = scaling_table(curves, metric, min_frames=minimum)
            print(f"\nscaling of {metric} on {task} (power law fitted at ≥ {minimum} frames):")
            print(_table(table.round(4).to_dict(orient="records")))
            gains = transfer_gain_table(curves, metric)
            print(f"\ntransfer gain in {metric} (1 - MAE / baseline MAE, same fraction):")
            print(_table(gains.round(3).to_dict(orient="records")))
    if args.csv:
        from mfbench.atomic_write import write_bytes_atomic

        write_bytes_atomic(Path(args.csv), summary.to_csv(index=False).encode())
        print(f"\nwrote {args.csv}")
    return 0


def cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from mfbench.leaderboard import build_site

    report = build_site(args.results, args.out, diagnostics=args.diagnostics)
    print(report.summary())
    print(f"open {(report.out / 'index.html').resolve().as_uri()}")
    return 0 if report.n_accepted else 1


def cmd_ci(args: argparse.Namespace) -> int:
    from mfbench.results.regression_check import Tolerances, compare_to_reference

    tolerances = Tolerances.from_yaml(args.tolerances) if args.tolerances else Tolerances()
    report = compare_to_reference(args.results, args.reference, tolerances)
    print(report.format(show_all=args.all))
    return report.exit_code


def cmd_submit(args: argparse.Namespace) -> int:
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


# ----------------------------------------------------------------------------- demo


#: The baselines the demo trains, in the order of the table (floor first, paper methods next).
DEMO_METHODS = (
    "gga-floor",
    "zero-shot",
    "scratch",
    "finetune-frozen-gga-atomref",
    "finetune-trainable-atomref",
    "finetune-refit-atomref",
    "multi-stage",
)


def _run_row(record: dict[str, Any]) -> dict[str, Any]:
    every, covered = record["metrics"]["all"], record["metrics"]["covered"]

    def fmt(value: Any, pattern: str) -> str:
        return "nan" if value is None or value != value else pattern.format(value)

    return {
        "method": record["method"]["name"],
        "fraction": record["fraction"],
        "n train": record["n_train_frames"],
        "E MAE meV/at": fmt(every.get("energy_mae_mev_per_atom"), "{:.0f}"),
        "E MAE covered": fmt(covered.get("energy_mae_mev_per_atom"), "{:.0f}"),
        "F MAE meV/Å": fmt(every.get("force_mae_mev_per_a"), "{:.0f}"),
        "S MAE GPa": fmt(every.get("stress_mae_gpa"), "{:.3f}"),
        "M MAE μB": fmt(every.get("magmom_mae_mu_b"), "{:.3f}"),
        "Ef MAE meV/at": fmt(every.get("formation_energy_mae_mev_per_atom"), "{:.0f}"),
        "Ed MAE meV/at": fmt(every.get("decomposition_energy_mae_mev_per_atom"), "{:.0f}"),
        "fit s": fmt(record["timing"]["fit_seconds"], "{:.0f}"),
    }


def _central_finding(records: list[dict[str, Any]]) -> list[str]:
    """Method 4 vs Method 3 energy MAE at each fraction both ran."""
    energy: dict[tuple[str, float], float] = {
        (r["method"]["name"], r["fraction"]): r["metrics"]["all"]["energy_mae_mev_per_atom"]
        for r in records
    }
    lines = []
    for fraction in sorted({f for _, f in energy}):
        refit = energy.get(("finetune-refit-atomref", fraction))
        naive = energy.get(("finetune-frozen-gga-atomref", fraction))
        if refit and naive:
            lines.append(
                f"fraction {fraction:g}: elemental-referenced fine-tune (Method 4) E MAE "
                f"{refit:.0f} meV/atom vs naive fine-tune with the GGA AtomRef (Method 3) "
                f"{naive:.0f} meV/atom ({naive / refit:.1f}x)"
            )
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    from mfbench.data.prepare import prepare
    from mfbench.data.registry import get_dataset
    from mfbench.models.chgnet_pretrained import resolve_device
    from mfbench.runner import run
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    task = get_task(args.task)
    fractions = args.fraction or sorted(f for f in task.fractions.values if f > 0)[:2]
    methods = args.method or list(DEMO_METHODS)
    device = resolve_device(args.device)
    print(f"== 1. prepare the embedded dataset {task.dataset.id}")
    report = prepare(get_dataset(task.dataset.id))
    print(
        f"{report.n_frames} frames, {report.n_materials} materials, {len(report.elements)} "
        f"elements, sha256 {report.sha256[:16]}… ({report.checksum_status}) → {report.store}"
    )
    print("\n== 2. tasks")
    cmd_tasks_list(args)
    print(f"\n== 3. task {task.task}")
    data = TaskData.load(task)
    print(_summary_text(data.summary()))
    budget = task.budget
    print(
        f"\n== 4. train and score {len(methods)} methods at fractions "
        f"{', '.join(f'{f:g}' for f in fractions)}, seed {args.seed}, on {device} (budget: "
        f"{budget.epochs} epochs, at most {budget.max_steps or '∞'} steps of "
        f"{budget.batch_size} frames); finished runs in {args.out} are reused"
    )
    records = []
    for fraction in fractions:
        for k, method in enumerate(methods, start=1):
            print(f"-- [{k}/{len(methods)}] {method} at fraction {fraction:g}", flush=True)
            records.append(
                run(
                    task.task,
                    method,
                    fraction,
                    args.seed,
                    out=Path(args.out),
                    device=device,
                    data_workers=args.data_workers,
                )
            )
    print(
        f"\n== 5. {task.task} v{task.version} test split ({records[0]['coverage']['test_frames']} "
        f"frames, split {records[0]['task']['split_fingerprint'][:16]}); "
        "'covered' = test frames whose elements all occur in the training fraction"
    )
    print(_table([_run_row(r) for r in records]))
    for line in _central_finding(records):
        print(line)
    if not task.citable:
        print(
            f"Labels from models, not r²SCAN ({get_dataset(task.dataset.id).title}): these "
            "numbers test the pipeline and show the elemental-reference effect; do not cite them "
            "as r²SCAN results."
        )
    print(f"Results: {Path(args.out) / task.task}")
    from mfbench.diagnostics.run import shift_diagnostics, summary_text, write_shift_outputs
    from mfbench.leaderboard import build_site

    print(f"\n== 6. shift diagnostics of {task.task}'s data (mfbench analyze shift)")
    diagnostics = Path(args.out) / "diagnostics"
    analysis = shift_diagnostics(task=task.task)
    write_shift_outputs(analysis, diagnostics / task.task)
    print(summary_text(analysis.report, top=3))
    print("\n== 7. leaderboard")
    site = build_site(
        [Path(args.out) / task.task], Path(args.out) / "site", diagnostics=[diagnostics]
    )
    print(site.summary())
    print(f"open {(site.out / 'index.html').resolve().as_uri()}")
    return 0


# ----------------------------------------------------------------------------- analyze


def cmd_analyze_shift(args: argparse.Namespace) -> int:
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
        _print_json(analysis.report.to_json_dict())
        return 0
    print(summary_text(analysis.report))
    print(f"\nreport   {paths['report']}")
    print(f"page     {paths['page']}  (open {paths['page'].resolve().as_uri()})")
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mfbench`` command."""
    parser = argparse.ArgumentParser(
        prog="mfbench",
        description="Benchmark for cross-functional (GGA → r²SCAN) transfer learning of uMLIPs.",
    )
    parser.add_argument("--version", action="version", version=f"mfbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON")

    data = commands.add_parser("data", help="datasets: list, info, prepare").add_subparsers(
        dest="data_command", required=True
    )
    p = data.add_parser("list", help="registered datasets")
    p.set_defaults(func=cmd_data_list)
    p = data.add_parser("info", parents=[json_opt], help="one dataset")
    p.add_argument("dataset")
    p.set_defaults(func=cmd_data_info)
    p = data.add_parser(
        "prepare",
        parents=[json_opt],
        help="verify a source file and convert it into a frame store",
    )
    p.add_argument("dataset")
    p.add_argument("--source", type=Path, help="the dataset file or folder you downloaded")
    p.add_argument(
        "--accept-checksum-mismatch",
        action="store_true",
        help="convert a source whose sha256 differs from the registry (recorded in results)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.set_defaults(func=cmd_data_prepare)
    p = data.add_parser(
        "graphs",
        help="convert a prepared dataset's frames to CHGNet graphs once, into the graph cache "
        "every run reads; frames CHGNet cannot convert are listed by id",
    )
    p.add_argument("dataset")
    p.add_argument(
        "--workers", type=int, help="conversion processes (default $MFBENCH_DATA_WORKERS, "
        "else the CPU count up to 8)",
    )  # fmt: skip
    p.add_argument("--atom-cutoff", type=float, default=6.0, help="Å (CHGNet 0.3.0: 6)")
    p.add_argument("--bond-cutoff", type=float, default=3.0, help="Å (CHGNet 0.3.0: 3)")
    p.set_defaults(func=cmd_data_graphs)
    p = data.add_parser(
        "generate-surrogate",
        help="regenerate an embedded surrogate dataset (v2: SevenNet-MF-0; v1: CHGNet)",
    )
    p.add_argument("--out", required=True, help="output .json.gz path")
    p.add_argument(
        "--teacher", choices=("sevennet", "chgnet"), default="sevennet",
        help="sevennet: surrogate-sevennet v2 (needs sevenn); chgnet: surrogate-aflow v1",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="default: the shipped file's")
    p.add_argument("--limit-materials", type=int, default=None)
    p.add_argument("--workers", type=int, default=2, help="relaxing processes (sevennet)")
    p.add_argument("--report", default=None, help="write the generation report here (JSON)")
    p.set_defaults(func=cmd_generate_surrogate)

    tasks = commands.add_parser("tasks", help="benchmark tasks: list, show").add_subparsers(
        dest="tasks_command", required=True
    )
    p = tasks.add_parser("list", help="tasks with split sizes and fingerprints")
    p.set_defaults(func=cmd_tasks_list)
    p = tasks.add_parser("show", parents=[json_opt], help="one task in detail")
    p.add_argument("task")
    p.set_defaults(func=cmd_tasks_show)

    model_opts = argparse.ArgumentParser(add_help=False)
    model_opts.add_argument(
        "--model",
        action="append",
        metavar="MODEL",
        help="chgnet-0.3.0, chgnet-r2scan, or a run folder written by `mfbench run` "
        "(repeatable; default: both pretrained models)",
    )
    model_opts.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    model_opts.add_argument("--batch-size", type=int, default=32)
    model_opts.add_argument(
        "--fraction",
        type=float,
        default=None,
        help="training fraction that coverage is measured against (default: a run folder's "
        "own fraction; 1 for a pretrained model)",
    )
    model_opts.add_argument("--out", default="mfbench-results", help="results folder")

    p = commands.add_parser(
        "evaluate", parents=[model_opts], help="score a shipped CHGNet model on a task's test split"
    )
    p.add_argument("--task", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser("run", help="train a method on a task fraction, predict, score")
    p.add_argument("--task", required=True)
    p.add_argument("--method", required=True, help="registered name or module:Class")
    p.add_argument("--fraction", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method hyperparameter (JSON value), repeatable",
    )
    p.add_argument("--out", default="mfbench-results", help="results folder")
    p.add_argument("--force", action="store_true", help="rerun a completed run")
    p.add_argument("--data-workers", type=int, help=DATA_WORKERS_HELP)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser(
        "sweep",
        help="run the matrix methods × fractions × seeds of a task, locally or on Slurm; "
        "completed runs are skipped",
        description="Run every (method, fraction, seed) of a task into one results folder. "
        "Everything is validated before anything launches; runs with a complete result.json "
        "are skipped; each run's status, job id and log go to <out>/.sweep/<sweep id>.json. "
        "Exits 1 when a run failed, printing the command that resubmits it.",
    )
    p.add_argument("--task", required=True)
    p.add_argument(
        "--methods", nargs="+", required=True, metavar="METHOD",
        help="registered names or module:Class specs",
    )  # fmt: skip
    p.add_argument(
        "--fractions", nargs="+", type=float, metavar="F",
        help="training fractions (default: all of the task's)",
    )  # fmt: skip
    p.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="S", help="default: 0")
    p.add_argument("--out", default="mfbench-results", help="results folder")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="hyperparameter (JSON value) given to every method, repeatable",
    )  # fmt: skip
    p.add_argument(
        "--device", default="auto",
        help="auto, cpu or cuda[:i] (with slurm, auto is resolved on the compute node)",
    )  # fmt: skip
    p.add_argument("--data-workers", type=int, help=DATA_WORKERS_HELP + " (for every run)")
    p.add_argument(
        "--executor", choices=["local", "slurm"], default="local",
        help="local: subprocesses on this machine (default); slurm: a submitit job array",
    )  # fmt: skip
    p.add_argument("--jobs", type=int, metavar="N", help="local: most runs at a time (default 1)")
    slurm = p.add_argument_group("slurm (through submitit; one array task per run)")
    slurm.add_argument("--partition", help="default: the cluster's")
    slurm.add_argument(
        "--gpus-per-node", type=int, metavar="N",
        help="GPUs per run (default: 0 with --device cpu, else 1)",
    )  # fmt: skip
    slurm.add_argument("--time", type=int, metavar="MINUTES", help="limit per run (default 240)")
    slurm.add_argument("--mem-gb", type=float, metavar="GB", help="memory per run (GB)")
    slurm.add_argument("--cpus-per-task", type=int, metavar="N", help="CPU cores per run")
    slurm.add_argument(
        "--slurm-array-parallelism", type=int, metavar="N", help="most array tasks at once"
    )
    slurm.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="submitit folder (default: <out>/.sweep/submitit)",
    )
    slurm.add_argument(
        "--cluster",
        help="submitit cluster (default slurm); 'local' runs the jobs as local processes "
        "through submitit, for testing",
    )
    p.add_argument(
        "--retry-failed", action="store_true",
        help="relaunch only the runs this sweep's state file records as failed",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the plan; launch nothing")
    p.set_defaults(func=cmd_sweep)

    results = commands.add_parser(
        "results", help="result records: validate by recomputation, summarize over seeds"
    ).add_subparsers(dest="results_command", required=True)
    p = results.add_parser(
        "validate",
        parents=[json_opt],
        help="check records against their schema, predictions and task; recompute every metric",
    )
    p.add_argument("paths", nargs="+", type=Path, help="result.json files or folders of runs")
    p.set_defaults(func=cmd_results_validate)
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
    p.set_defaults(func=cmd_results_summarize)

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
    p.set_defaults(func=cmd_leaderboard_build)

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
    p.set_defaults(func=cmd_analyze_shift)

    p = commands.add_parser(
        "ci", help="compare fresh results with reference records; exit 1 on a regression"
    )
    p.add_argument("--results", nargs="+", type=Path, required=True, help="fresh run folders")
    p.add_argument("--reference", nargs="+", type=Path, required=True, help="reference records")
    p.add_argument("--tolerances", type=Path, help="YAML overriding the default tolerances")
    p.add_argument("--all", action="store_true", help="list every comparison, not only failures")
    p.set_defaults(func=cmd_ci)

    p = commands.add_parser(
        "submit", help="pack a submission: metadata YAML, validated records and predictions"
    )
    p.add_argument("--meta", type=Path, required=True, help="submission metadata YAML")
    p.add_argument("--results", nargs="+", type=Path, required=True, help="run folders")
    p.add_argument("--out", type=Path, default=Path("submissions"), help="where to pack")
    p.add_argument("--replace", action="store_true", help="replace an existing submission")
    p.set_defaults(func=cmd_submit)

    p = commands.add_parser(
        "demo", help="the main job: every baseline trained and scored on the embedded dataset"
    )
    p.add_argument("--task", default="sevennet-r2scan-quick")
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
    for leaf in _leaf_parsers(parser):
        leaf.add_argument(
            "--registry", action="append", type=Path, default=[], metavar="FILE",
            help=f"extra dataset registry YAML (repeatable; also ${REGISTRY_ENV})",
        )  # fmt: skip
        leaf.add_argument(
            "--tasks", action="append", type=Path, default=[], metavar="PATH",
            help=f"a task YAML file or folder of them, besides the shipped tasks (repeatable; "
            f"also ${TASKS_ENV})",
        )  # fmt: skip
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of every command that runs (those without subcommands of their own)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    return [
        leaf for group in groups for sub in group.choices.values() for leaf in _leaf_parsers(sub)
    ]


def _export_context(args: argparse.Namespace) -> None:
    """Put ``--registry`` and ``--tasks`` into ``$MFBENCH_REGISTRY`` and ``$MFBENCH_TASKS``.

    Every layer reads those, and so does every process a sweep starts.
    """
    for name, option, given in (
        (REGISTRY_ENV, "--registry", args.registry),
        (TASKS_ENV, "--tasks", args.tasks),
    ):
        paths = [str(Path(p).expanduser().resolve()) for p in given]
        for path in paths:
            if not Path(path).exists():
                raise MfbenchError(f"{path} does not exist (given with {option})")
        existing = [p for p in os.environ.get(name, "").split(os.pathsep) if p]
        if paths:
            os.environ[name] = os.pathsep.join(dict.fromkeys([*paths, *existing]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfbench`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "model", "unset") is None:
        args.model = ["chgnet-0.3.0", "chgnet-r2scan"]
    if getattr(args, "metric", "unset") is None:
        args.metric = ["energy_mae_mev_per_atom", "force_mae_mev_per_a"]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    saved = {name: os.environ.get(name) for name in (REGISTRY_ENV, TASKS_ENV)}
    try:
        _export_context(args)
        return int(args.func(args) or 0)
    except (MfbenchError, OSError, ValueError) as exc:
        print(f"mfbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # files are written atomically and stores prepared in a temporary folder: nothing
        # half-written is left where mfbench would read it
        print("mfbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    finally:  # a caller that runs main() twice in one process gets its environment back
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
