"""``mfbench analyze shift``: resolve the two sides, pair, analyse, write the report and page.

Two ways to name the sides:

- a task (``task="surrogate-r2scan"``): the high fidelity is the task's dataset at its target
  fidelity, the low fidelity its first auxiliary data (``same-frames`` → the same store at the
  auxiliary fidelity; ``dataset`` → that registered dataset), and the references are fitted on
  the task's train split;
- two datasets (``low="mptrj"``, ``high="mp-r2scan"``, each ``DATASET[:FIDELITY]``): the
  references are fitted on a material-hash split of the high-fidelity dataset made for this
  analysis (:data:`DIAGNOSTICS_SPLIT`, 80/10/10).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mfbench.diagnostics.corrections import KNOWN_LOW_LABEL_CORRECTIONS
from mfbench.diagnostics.importance import ImportanceModel
from mfbench.diagnostics.pairing import FidelitySource, PairMode, pair_energies
from mfbench.diagnostics.report import LabelCorrections, ShiftReport, SplitInfo, TaskInfo
from mfbench.diagnostics.shift import ParityPoints, ShiftAnalysis, analyze_shift
from mfbench.errors import DataError, MfbenchError, TaskError
from mfbench.tasks.definition import FractionSpec, SplitSpec, get_task
from mfbench.tasks.split import Split

logger = logging.getLogger(__name__)

#: The split used when no task is given.
DIAGNOSTICS_SPLIT = SplitSpec(salt="mfbench/diagnostics/split/v1", train=0.8, val=0.1, test=0.1)
_NO_FRACTIONS = FractionSpec(salt="mfbench/diagnostics/fraction/v1", values=[1.0])
#: Files written into the output folder: the report, the arrays its plots show, the page.
REPORT_FILE, POINTS_FILE, PAGE_FILE = "report.json", "points.npz", "index.html"
#: Arrays of ``points.npz`` besides the ``formation_low/<variant>`` ones.
_POINT_ARRAYS = (
    "low_energy", "high_energy", "low_referenced", "high_referenced", "held_out",
    "formation_high", "formation_held_out",
)  # fmt: skip


def _task_sources(
    name: str, extra_registry: Iterable[Path]
) -> tuple[FidelitySource, FidelitySource, Split, TaskInfo, str]:
    """The task's low and high sides, its split, its identity and its split salt."""
    from mfbench.tasks.data import TaskData

    task = get_task(name)
    data = TaskData.load(task)
    high = FidelitySource(task.dataset.id, task.target_fidelity, data.store)
    if not task.auxiliary_data:
        raise TaskError(
            f"task {task.task} names no low-fidelity auxiliary data; "
            "use --low DATASET[:FIDELITY] --high DATASET[:FIDELITY]"
        )
    aux = task.auxiliary_data[0]
    if len(task.auxiliary_data) > 1:
        logger.info("task %s has several auxiliary data; using the first", task.task)
    if aux.kind == "same-frames":
        if aux.fidelity not in data.store.fidelities:
            raise TaskError(
                f"task {task.task}: auxiliary fidelity {aux.fidelity!r} is not in its dataset "
                f"(it has {data.store.fidelities})"
            )
        low = FidelitySource(task.dataset.id, aux.fidelity, data.store)
    else:
        assert aux.dataset is not None  # the task model requires it for kind "dataset"
        low = FidelitySource.from_spec(f"{aux.dataset.id}:{aux.fidelity}", extra_registry)
        found = low.store.meta.get("dataset", {}).get("version")
        if found != aux.dataset.version:
            raise TaskError(
                f"task {task.task} needs {aux.dataset.id} version {aux.dataset.version}, the "
                f"prepared store has version {found}"
            )
    info = TaskInfo(
        task=task.task, version=task.version, split_fingerprint=data.split.fingerprints()["split"]
    )
    return low, high, data.split, info, task.split.salt


def shift_diagnostics(
    *,
    task: str | None = None,
    low: str | None = None,
    high: str | None = None,
    pair_by: PairMode = "auto",
    low_corrections: LabelCorrections | None = None,
    importance_model: ImportanceModel = "linear",
    atomref: bool = True,
    seed: int = 0,
    extra_registry: Iterable[Path] = (),
) -> ShiftAnalysis:
    """Run every shift diagnostic for a task or for two ``DATASET[:FIDELITY]`` specs.

    Args:
        task: a task name; or give ``low`` and ``high`` instead.
        low: ``DATASET[:FIDELITY]`` of the low-fidelity side (e.g. ``mptrj``).
        high: ``DATASET[:FIDELITY]`` of the high-fidelity side (e.g. ``mp-r2scan``).
        pair_by: ``"auto"``, ``"frame"`` or ``"material"`` (see
            :mod:`mfbench.diagnostics.pairing`).
        low_corrections: whether the low-fidelity labels include MP2020 corrections; default
            from :data:`~mfbench.diagnostics.corrections.KNOWN_LOW_LABEL_CORRECTIONS`, required
            for other datasets.
        importance_model: ``"linear"`` or ``"tree"``.
        atomref: load CHGNet's shipped AtomRef weights (imports torch and chgnet) to compare
            the offsets with.
        seed: random state of the tree model.
        extra_registry: extra dataset registry files.

    Raises:
        MfbenchError: both or neither of ``task`` and ``low``/``high`` given, or the low
            fidelity's correction state is unknown.
    """
    extra_registry = list(extra_registry)
    if (task is None) == (low is None and high is None) or (task is None and None in (low, high)):
        raise MfbenchError("give either a task, or both a low and a high DATASET[:FIDELITY]")
    if task is not None:
        low_source, high_source, split, task_info, salt = _task_sources(task, extra_registry)
        name = task
        split_info = SplitInfo(source="task", salt=salt, n_train_pairs=0, n_held_out_pairs=0)
    else:
        assert low is not None and high is not None
        low_source = FidelitySource.from_spec(low, extra_registry)
        high_source = FidelitySource.from_spec(high, extra_registry)
        split = Split.compute(
            high_source.store.frame_ids,
            high_source.store.material_ids,
            DIAGNOSTICS_SPLIT,
            _NO_FRACTIONS,
        )
        task_info = None
        name = (
            f"{low_source.dataset}-{low_source.fidelity}-vs-"
            f"{high_source.dataset}-{high_source.fidelity}"
        )
        split_info = SplitInfo(
            source="diagnostics", salt=DIAGNOSTICS_SPLIT.salt, n_train_pairs=0, n_held_out_pairs=0
        )
    if low_corrections is None:
        if low_source.dataset not in KNOWN_LOW_LABEL_CORRECTIONS:
            raise MfbenchError(
                f"mfbench does not know whether the {low_source.label} energies include the "
                "MP2020 corrections; pass --low-corrections mp2020 or --low-corrections none"
            )
        low_corrections = KNOWN_LOW_LABEL_CORRECTIONS[low_source.dataset]
    paired = pair_energies(low_source, high_source, pair_by)
    sides = split.side[paired.high_index]
    notes = []
    for source in (low_source, high_source):
        note = source.store.meta.get("dataset", {}).get("notes")
        text = f"{source.dataset}: {' '.join(str(note).split())}"
        if note and text not in notes:
            notes.append(text)
    difference = None
    missing_reason = "not loaded (--no-atomref)"
    if atomref:
        from mfbench.diagnostics.atomref import chgnet_atomref_difference

        difference = chgnet_atomref_difference()
    return analyze_shift(
        paired,
        np.asarray(sides),
        name=name,
        split=split_info,
        low_label_corrections=low_corrections,
        task=task_info,
        importance_model=importance_model,
        atomref=difference,
        atomref_missing_reason=missing_reason,
        seed=seed,
        notes=notes,
    )


def default_out_dir(name: str) -> Path:
    """``mfbench-results/diagnostics/<name>`` (name made safe for a folder)."""
    from mfbench.html.safety import slug

    return Path("mfbench-results") / "diagnostics" / slug(name)


def write_shift_outputs(analysis: ShiftAnalysis, out: Path) -> dict[str, Path]:
    """Write ``report.json``, ``points.npz`` and ``index.html`` into ``out`` (each atomically).

    The report and the points are all a page needs: :func:`read_shift_analysis` reads them
    back, so ``mfbench leaderboard build --diagnostics`` renders the page again from data.

    Returns:
        ``{"report": path, "points": path, "page": path}``.
    """
    import io

    from mfbench.atomic_write import write_bytes_atomic
    from mfbench.diagnostics.page import render_page

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    report_path = analysis.report.write(out / REPORT_FILE)
    points = analysis.points
    arrays = {name: np.asarray(getattr(points, name)) for name in _POINT_ARRAYS}
    arrays |= {f"formation_low/{k}": np.asarray(v) for k, v in points.formation_low.items()}
    if points.atomref_difference is not None:
        arrays["atomref_difference"] = np.asarray(points.atomref_difference)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    points_path = out / POINTS_FILE
    write_bytes_atomic(points_path, buffer.getvalue())
    page_path = out / PAGE_FILE
    write_bytes_atomic(page_path, render_page(analysis).encode("utf-8"))
    return {"report": report_path, "points": points_path, "page": page_path}


def read_shift_analysis(folder: Path) -> ShiftAnalysis:
    """The analysis :func:`write_shift_outputs` wrote into ``folder`` (report and points).

    Raises:
        DataError: a file is missing, unreadable, fails the report schema, or holds arrays of
            the wrong kind or length; the message names the file and the array.
    """
    folder = Path(folder)
    try:
        report = ShiftReport.read(folder / REPORT_FILE)
    except (OSError, ValueError) as exc:
        raise DataError(str(exc)) from exc  # the message names the file
    path = folder / POINTS_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the plotted points ({exc})", file=str(path)) from exc
    missing = [name for name in _POINT_ARRAYS if name not in arrays]
    if missing:
        raise DataError(f"arrays missing: {', '.join(missing)}", file=str(path))
    for name, values in arrays.items():
        if values.dtype.kind not in "fb" or values.ndim != 1:
            raise DataError(f"{name} is not a 1-d float or bool array", file=str(path))
    pairs = {len(arrays[n]) for n in ("low_energy", "high_energy", "low_referenced")}
    pairs |= {len(arrays[n]) for n in ("high_referenced", "held_out")}
    materials = {len(arrays["formation_high"]), len(arrays["formation_held_out"])}
    materials |= {len(v) for k, v in arrays.items() if k.startswith("formation_low/")}
    if len(pairs) != 1 or len(materials) != 1:
        raise DataError("arrays of one kind differ in length", file=str(path))
    points = ParityPoints(
        **{name: arrays[name] for name in _POINT_ARRAYS},
        formation_low={
            k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("formation_low/")
        },
        atomref_difference=arrays.get("atomref_difference"),
    )
    return ShiftAnalysis(report=report, points=points)


def _num(value: float | None, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def summary_text(report: ShiftReport, top: int = 5) -> str:
    """A readable summary: pairs, correlations before/after, top offsets, top importances."""
    p = report.pairing
    unit = "frames" if p.mode == "frame" else "materials"
    lines = [
        f"shift diagnostics  {report.name}",
        f"low   {report.low.dataset}:{report.low.fidelity} "
        f"(labels {'with' if report.low.label_corrections == 'mp2020' else 'without'} MP2020 "
        "corrections)",
        f"high  {report.high.dataset}:{report.high.fidelity}",
        f"pairs {p.n_paired} by {p.mode} ({p.n_paired_materials} materials); unpaired: "
        f"{p.n_low_only} {unit} only low, {p.n_high_only} only high, "
        f"{p.n_composition_mismatch} composition mismatches",
        f"split {report.split.source} ({report.split.n_train_pairs} train pairs, "
        f"{report.split.n_held_out_pairs} held out)",
        "",
        "energy per atom, low vs high               Pearson  Spearman  MAE meV/atom      n",
    ]
    for subset, section in (("all", report.energy.all), ("held-out", report.energy.held_out)):
        for kind, value in (("raw", section.raw), ("referenced", section.referenced)):
            lines.append(
                f"  {subset:<9}{kind:<31} {_num(value.pearson):>8}  "
                f"{_num(value.spearman):>8}  {_num(value.mae_mev_per_atom, '{:.1f}'):>12}  "
                f"{value.n:>5}"
            )
    if report.energy.n_without_reference:
        lines.append(f"  ({report.energy.n_without_reference} pairs without a reference left out)")
    f = report.formation
    lines.append(
        f"formation energy ({f.n_materials} materials, {f.n_skipped} without elemental phase)"
    )
    as_labelled = report.corrections.as_labelled
    labelled = "with" if as_labelled == "with_anion_corrections" else "without"
    other = next(v for v in f.corrections if v != as_labelled)
    rows = [
        (f"as labelled ({labelled} anion corr.)", f.raw),
        ("referenced", f.referenced),
        (
            "anion corr. removed" if labelled == "with" else "anion corr. added",
            f.corrections[other],
        ),
    ]
    for label, subset in rows:
        for name, value in (("all", subset.all), ("held-out", subset.held_out)):
            lines.append(
                f"  {name:<9}{label:<31} {_num(value.pearson):>8}  {_num(value.spearman):>8}  "
                f"{_num(value.mae_mev_per_atom, '{:.1f}'):>12}  {value.n:>5}"
            )
    lines += ["", f"largest per-element offsets high - low (eV/atom), top {top}:"]
    for element in report.top_offsets(top):
        atomref = element.atomref_difference_ev_per_atom
        line = (
            f"  {element.symbol:<3} {element.offset_ev_per_atom:>9.3f} ± "
            f"{_num(element.stderr_ev_per_atom)}  ({element.n_pairs} pairs, "
            f"{element.n_materials} materials)"
        )
        if atomref is not None:
            line += (
                f"   AtomRef r2scan-MPtrj {atomref:>9.3f}, offset - AtomRef "
                f"{element.offset_ev_per_atom - atomref:+.3f}"
            )
        lines.append(line)
    if not report.atomref.available:
        lines.append(f"  (CHGNet AtomRef difference {report.atomref.source})")
    else:
        lines.append(
            f"  vs AtomRef difference over {report.atomref.n_elements} elements: MAE "
            f"{_num(report.atomref.mae_ev_per_atom)} eV/atom, Pearson "
            f"{_num(report.atomref.pearson, '{:.4f}')}"
        )
    lines.append("")
    lines.append(f"importance of the formation-energy difference ({report.importance.model}):")
    for variant, result in report.importance.variants.items():
        if result.skipped:
            lines.append(f"  {variant}: not fitted ({result.skipped})")
            continue
        best = ", ".join(
            f"{e.symbol} {e.importance_mev_per_atom:.1f}" for e in result.elements[:top]
        )
        lines.append(f"  {variant:<26} {best} meV/atom (held-out R² {_num(result.held_out_r2)})")
    return "\n".join(lines)
