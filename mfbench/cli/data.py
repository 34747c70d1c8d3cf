"""``mfbench data``: list, info, prepare, graphs, generate-surrogate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mfbench.cli.options import json_option
from mfbench.cli.output import print_json, table
from mfbench.errors import MfbenchError


def cmd_list(args: argparse.Namespace) -> int:
    """Print the registered datasets and whether each is prepared."""
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
    print(table(rows))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print one dataset's registry entry and its prepared store, if any."""
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
        print_json(info)
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


def cmd_prepare(args: argparse.Namespace) -> int:
    """Verify a source and convert it into a frame store; print the report."""
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
        print_json(report.to_dict())
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


def cmd_graphs(args: argparse.Namespace) -> int:
    """Build a prepared dataset's graph cache; 1 when frames cannot be converted."""
    from mfbench.data.registry import get_dataset
    from mfbench.data.store import FrameStore
    from mfbench.models.chgnet.graph_cache import (
        ConverterSettings,
        GraphCache,
        GraphConversionError,
    )
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
    """Regenerate an embedded surrogate dataset; print its report as JSON."""
    if args.teacher == "sevennet":
        from mfbench.data import surrogate_teacher

        try:
            import sevenn  # noqa: F401
        except ImportError as exc:
            raise MfbenchError(
                "generating the SevenNet-labelled dataset needs the sevenn extra "
                '(pip install "mfbench[sevenn]"); using the shipped file does not'
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
    print_json(report.to_dict())
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``data`` and its subcommands to the ``mfbench`` parser."""
    json_opt = json_option()
    data = commands.add_parser("data", help="datasets: list, info, prepare").add_subparsers(
        dest="data_command", required=True
    )
    p = data.add_parser("list", help="registered datasets")
    p.set_defaults(func=cmd_list)
    p = data.add_parser("info", parents=[json_opt], help="one dataset")
    p.add_argument("dataset")
    p.set_defaults(func=cmd_info)
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
    p.set_defaults(func=cmd_prepare)
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
    p.set_defaults(func=cmd_graphs)
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
