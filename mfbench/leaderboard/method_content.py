"""A method's content: its hyperparameters, runs, provenance, badges and citation.

Besides the tables, a method page shows for each task (and entry) the method ran on: a parity
plot of one run's test energies, its per-element energy errors, the training curves recorded
by its runs, and the hyperparameter selection they made (:class:`MethodTaskSection`). The
parity plot needs the run's predictions file and the task's reference labels: pass the
records' files as :class:`RecordFiles`; without them the page says the plot is not available.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup
from pymatgen.core import Element

from mfbench.errors import MfbenchError
from mfbench.evaluation import predictions_file
from mfbench.html.numbers import format_number, is_missing
from mfbench.html.safety import display_text, http_url, slug
from mfbench.html.svg import badge, inline_svg
from mfbench.leaderboard import citations
from mfbench.leaderboard.method_plots import (
    PARITY_POINTS,
    PARITY_WORST_SHARE,
    ElementError,
    TrainingSeries,
    parity_svg,
    per_element_svg,
    training_svg,
)
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    count_table,
    fraction_cell,
    number_cell,
    record_value,
    text_cell,
    value_text,
)
from mfbench.leaderboard.view_model import (
    ENERGY,
    FORCE,
    BadgeFile,
    Entry,
    MethodContent,
    Plot,
    Runs,
    TaskContent,
    Variant,
)
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

logger = logging.getLogger(__name__)

#: Deepest nesting of hyperparameters shown key by key; deeper values are shown as JSON.
_PARAMS_DEPTH = 8


def badges_by_method(
    tasks: list[TaskContent], entries: dict[tuple[str, str], Entry]
) -> dict[str, list[BadgeFile]]:
    """README badges by method name: energy MAE of each entry at its largest fraction."""
    found: dict[str, list[BadgeFile]] = defaultdict(list)
    for task in tasks:
        if task.summary is None or task.results is None:
            continue
        best: dict[str, dict[str, Any]] = {}
        for record in task.results.records:
            mean = record.get(f"{ENERGY.key}_mean")
            if is_missing(mean):
                continue
            label = record["method"]
            if label not in best or record["fraction"] > best[label]["fraction"]:
                best[label] = record
        for label, record in sorted(best.items()):
            entry = entries[record["method_name"], record["params_hash"]]
            fraction = float(record["fraction"])
            message = f"E MAE {format_number(record[f'{ENERGY.key}_mean'])} {ENERGY.unit}"
            if fraction < 1:
                message += f" @ {fraction:g}"
            title = (
                f"mfbench task {task.name}: {display_text(label, 80)}, energy MAE at training "
                f"fraction {fraction:g} ({int(record['n_train_frames']):,} frames), mean of "
                f"{int(record['n_seeds'])} seed(s)"
            )
            path = f"badges/{task.slug}/{entry.slug}.svg"
            svg = badge(f"mfbench {task.name}", message, title, citable=task.citable)
            inline = Markup(inline_svg(svg, "b" + hashlib.sha256(path.encode()).hexdigest()[:12]))
            found[entry.name].append(BadgeFile(path, svg, inline, task.name, label))
    return found


def method_content(
    name: str,
    runs: Runs,
    tasks: list[TaskContent],
    badges: dict[str, list[BadgeFile]],
    files: RecordFiles | None = None,
) -> MethodPage:
    """The page of one method name.

    Args:
        name: the method's name (untrusted text).
        runs: every accepted run.
        tasks: the tasks' content (for links to their pages).
        badges: badges by method name (see :func:`badges_by_method`).
        files: the record file of each of ``runs.records`` (for the parity plots); share one
            between the methods of a site so that each task's labels load once. None: the
            page says that no parity plot could be drawn.
    """
    frame, apart, records, entries = runs.frame, runs.apart, runs.records, runs.entries
    indices = [i for i in frame.index if frame.at[i, "method"] == name]
    method_slug = entries[name, str(frame.at[indices[0], "params_hash"])].method_slug
    baselines = citations.registered_baselines()
    mine = [records[i] for i in indices]
    baseline = bool(mine) and all(
        citations.is_baseline(name, str(r["method"].get("class")), baselines) for r in mine
    )
    variants = []
    for hash_ in sorted({str(frame.at[i, "params_hash"]) for i in indices}):
        rows = [i for i in indices if frame.at[i, "params_hash"] == hash_]
        flags = sorted({runs.non_compliant[i] for i in rows if i in runs.non_compliant})
        variants.append(_variant(entries[name, hash_], [records[i] for i in rows], flags))
    statuses = {
        int(i): f"not ranked (non-compliant): {runs.non_compliant[int(i)]}"
        for i in runs.reference.index
    }
    if len(apart):
        statuses.update((int(i), f"set apart: {r}") for i, r in apart["reason"].items())
    task_pages = {t.name: t for t in tasks}
    bibtex, note = citations.method_bibtex(name, baseline)
    return MethodPage(
        name=name,
        slug=method_slug,
        page=f"methods/{method_slug}.html",
        baseline=baseline,
        variants=variants,
        runs=_runs_table(name, method_slug, indices, runs, statuses, task_pages),
        provenance=_provenance_tables(method_slug, mine),
        bibtex=bibtex,
        bib_path=f"methods/{method_slug}.bib",
        citation_note=note,
        badges=badges.get(name, []),
        sections=_task_sections(name, runs, task_pages, files),
    )


def _variant(entry: Entry, records: list[dict[str, Any]], non_compliant: list[str]) -> Variant:
    first = records[0]["method"]
    params = first.get("params") if isinstance(first.get("params"), dict) else {}
    hours = [record_value(r, ("timing", "device_hours")) for r in records]
    return Variant(
        entry=entry,
        class_path=str(first.get("class", "")),
        spec=str(first.get("spec", "")),
        non_compliant=non_compliant,
        params=_params_table(entry, params),
        device_hours=math.fsum(
            float(h)
            for h in hours
            if isinstance(h, int | float) and not isinstance(h, bool) and math.isfinite(h)
        ),
        n_runs=len(records),
        seeds=sorted({int(r["seed"]) for r in records}),
    )


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value and depth < _PARAMS_DEPTH:
        items = []
        for key in sorted(value, key=str):
            items += _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return items
    return [(prefix or "(none)", value)]


def _params_table(entry: Entry, params: dict[str, Any]) -> Table:
    """Hyperparameters key by key; an ``http(s)`` URL value is a link, anything else text."""
    rows, records = [], []
    for key, value in _flatten(params) if params else []:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        url = http_url(value)
        rows.append(
            [
                text_cell(key, code=True),
                Cell(display_text(text), sort=str(text), href=url, external=url is not None),
            ]
        )
        records.append(
            {
                "method": entry.label,
                "params_hash": entry.params_hash,
                "parameter": key,
                "value": value,
            }
        )
    return Table(
        key=f"params-{entry.slug}",
        caption=f"Hyperparameters of {display_text(entry.label, 80)}",
        headers=["Parameter", "Value"],
        rows=rows,
        fields=["method", "params_hash", "parameter", "value"],
        records=records,
        download=f"methods/{entry.slug}.params",
        note=None if rows else "No hyperparameters.",
    )


def _runs_table(
    name: str,
    method_slug: str,
    indices: list[int],
    runs: Runs,
    statuses: dict[int, str],
    tasks: dict[str, TaskContent],
) -> Table:
    """Every valid run of a method name: ``indices`` are its rows of ``runs.frame``.

    A run without a status in ``statuses`` (by row) is ranked.
    """
    frame = runs.frame
    order = sorted(
        indices,
        key=lambda i: (
            frame.at[i, "task"],
            frame.at[i, "params_hash"],
            frame.at[i, "fraction"],
            frame.at[i, "seed"],
        ),
    )
    rows, out = [], []
    for i in order:
        run, record = frame.loc[i], runs.records[i]
        entry = runs.entries[name, str(run["params_hash"])]
        task = tasks.get(str(run["task"]))
        status = statuses.get(i, "ranked")
        commit = record_value(record, ("environment", "git_commit"))
        rows.append(
            [
                text_cell(str(run["task"]), href=task.page if task else None),
                text_cell(entry.label),
                fraction_cell(run["fraction"]),
                number_cell(int(run["seed"])),
                number_cell(int(run["n_train_frames"])),
                number_cell(run.get(ENERGY.key)),
                number_cell(run.get(FORCE.key)),
                text_cell(run["device"]),
                number_cell(run["device_hours"]),
                text_cell(commit, code=True),
                text_cell(status),
            ]
        )
        out.append(
            {
                "task": str(run["task"]),
                "task_version": int(run["task_version"]),
                "method": entry.label,
                "params_hash": entry.params_hash,
                "fraction": float(run["fraction"]),
                "seed": int(run["seed"]),
                "n_train_frames": int(run["n_train_frames"]),
                ENERGY.key: run.get(ENERGY.key),
                FORCE.key: run.get(FORCE.key),
                "device": run["device"],
                "device_hours": run["device_hours"],
                "fit_seconds": run["fit_seconds"],
                "git_commit": commit,
                "status": status,
            }
        )
    return Table(
        key="runs",
        caption="Valid runs",
        headers=[
            "Task",
            "Method",
            "Fraction",
            "Seed",
            "Train frames",
            ENERGY.header,
            FORCE.header,
            "Device",
            "Device-hours",
            "Git commit",
            "Status",
        ],
        rows=rows,
        fields=[
            "task",
            "task_version",
            "method",
            "params_hash",
            "fraction",
            "seed",
            "n_train_frames",
            ENERGY.key,
            FORCE.key,
            "device",
            "device_hours",
            "fit_seconds",
            "git_commit",
            "status",
        ],
        records=out,
        download=f"methods/{method_slug}.runs",
    )


def _provenance_tables(method_slug: str, records: list[dict[str, Any]]) -> list[Table]:
    """Software versions, machines, code and weights files read of a method's runs, counted.

    The table of weights files is left out when no run read one.
    """
    stem = f"methods/{method_slug}"
    packages = sorted(
        {str(k) for r in records for k in _as_dict(record_value(r, ("environment", "versions")))}
    )
    version_rows: list[tuple[str, str, int]] = []
    for package in packages:
        counts = Counter(
            str(record_value(r, ("environment", "versions", package))) for r in records
        )
        version_rows += [(package, v, n) for v, n in sorted(counts.items())]
    versions = Table(
        key="versions",
        caption="Software versions of the runs",
        headers=["Package", "Version", "Runs"],
        rows=[[text_cell(p), text_cell(v, code=True), number_cell(n)] for p, v, n in version_rows],
        fields=["package", "version", "runs"],
        records=[{"package": p, "version": v, "runs": n} for p, v, n in version_rows],
        download=f"{stem}.versions",
    )
    machine = count_table(
        "machines",
        "Machines of the runs",
        f"{stem}.machines",
        records,
        [
            ("device", ("timing", "device")),
            ("platform", ("environment", "platform")),
            ("hardware", ("environment", "hardware")),
            ("git commit", ("environment", "git_commit")),
        ],
        code={"git commit"},
    )
    code = count_table(
        "code",
        "Code of the runs: the method's module (sha256 of its file) and mfbench's commit",
        f"{stem}.code",
        records,
        [
            ("module", ("method", "source", "module")),
            ("file", ("method", "source", "file")),
            ("sha256", ("method", "source", "sha256")),
            ("distribution", ("method", "source", "distribution")),
            ("mfbench commit", ("environment", "git_commit")),
        ],
        code={"module", "file", "sha256", "mfbench commit"},
    )
    read = [
        {"checkpoint": entry}
        for r in records
        if isinstance(r.get("checkpoints"), list)
        for entry in r["checkpoints"]
    ]
    checkpoints = count_table(
        "checkpoints",
        "Weights files the runs read (recorded by mfbench while the method fitted and "
        "predicted); records: how many runs read each",
        f"{stem}.checkpoints",
        read,
        [
            ("name", ("checkpoint", "name")),
            ("file", ("checkpoint", "file")),
            ("sha256", ("checkpoint", "sha256")),
            ("how", ("checkpoint", "how")),
        ],
        code={"file", "sha256"},
    )
    return [versions, machine, code, *([checkpoints] if read else [])]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------- per task


#: Most training stages drawn per run, and epochs per stage (a record is untrusted input).
_MAX_STAGES, _MAX_EPOCHS = 12, 500
#: Shade of the lightest training series (see :class:`TrainingSeries`).
_LIGHTEST = 0.65
#: Frames with the largest errors that a subsampled parity plot always shows.
_WORST = int(PARITY_POINTS * PARITY_WORST_SHARE)


@dataclass(frozen=True)
class MethodTaskSection:
    """What a method page shows of one entry on one task.

    Attributes:
        task: the task's name.
        task_page: site-relative path of the task's page, or None.
        entry: the entry's label (the method name, with a tag when it has several entries).
        anchor: the section's HTML ``id``, unique on the page.
        run: which run the parity plot and the per-element errors show, in words.
        parity: predicted against reference energy per atom on the test frames, or None.
        parity_note: why there is no parity plot ("" when there is one).
        per_element: energy MAE per element of the same run, or None.
        per_element_note: why there is no per-element plot.
        training: energy MAE per epoch of the entry's runs with the same seed, or None.
        training_note: why there is no training plot.
        selection: the hyperparameter candidates of every run of the entry, or None.
        selection_note: why there is no selection table.
    """

    task: str
    task_page: str | None
    entry: str
    anchor: str
    run: str
    parity: Plot | None
    parity_note: str
    per_element: Plot | None
    per_element_note: str
    training: Plot | None
    training_note: str
    selection: Table | None
    selection_note: str


@dataclass
class MethodPage(MethodContent):
    """A method's page: :class:`MethodContent` and the method's results task by task."""

    sections: list[MethodTaskSection] = field(default_factory=list)


class RecordFiles:
    """The file of each accepted record, and each task's test labels, loaded once.

    Args:
        paths: the ``result.json`` of each record, in the order of ``Runs.records`` (the
            accepted validation reports' ``path``).
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._labels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray] | str] = {}

    def path(self, index: int) -> Path | None:
        """The record file of row ``index`` of ``Runs.records``, or None."""
        return self.paths[index] if 0 <= index < len(self.paths) else None

    def test_energies(self, task: str, version: int) -> tuple[np.ndarray, np.ndarray] | str:
        """The task's test frames: ``(frame ids [n], reference energy [n] in eV/atom)``.

        Returns:
            The arrays, or why they cannot be loaded here (e.g. the dataset is not prepared,
            or the task here is another version).
        """
        key = (task, version)
        if key not in self._labels:
            self._labels[key] = _load_test_energies(task, version)
        return self._labels[key]


def _load_test_energies(task: str, version: int) -> tuple[np.ndarray, np.ndarray] | str:
    """:meth:`RecordFiles.test_energies`, not cached."""
    try:
        definition = get_task(task)
        if definition.version != version:
            return f"task {task} is version {definition.version} here, the run's is {version}"
        data = TaskData.load(definition)
        test = data.split.indices("test")
        energies = np.asarray(data.store.energies(definition.target_fidelity), dtype=float)
        return np.asarray(data.store.frame_ids[test]).astype(str), energies[test]
    except (MfbenchError, OSError) as exc:
        logger.warning("task %s: test labels not loaded for the method pages (%s)", task, exc)
        return f"the labels of task {task} cannot be loaded here ({exc})"


def _task_sections(
    name: str, runs: Runs, tasks: dict[str, TaskContent], files: RecordFiles | None
) -> list[MethodTaskSection]:
    """One section per (task, entry) of the method's runs that are not set apart."""
    if files is not None and len(files.paths) != len(runs.records):
        logger.warning(
            "%d record files for %d records: parity plots left out", len(files.paths),
            len(runs.records),
        )  # fmt: skip
        files = None
    frame = runs.frame
    apart = set(runs.apart.index) if len(runs.apart) else set()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in frame.index:
        if frame.at[i, "method"] == name and i not in apart:
            groups[str(frame.at[i, "task"]), str(frame.at[i, "params_hash"])].append(int(i))
    several = len({h for _, h in groups}) > 1
    sections = []
    for (task, hash_), indices in sorted(
        groups.items(), key=lambda item: (item[0][0], runs.entries[name, item[0][1]].label)
    ):
        entry = runs.entries[name, hash_]
        page = tasks[task].page if task in tasks else None
        sections.append(_task_section(name, task, page, entry, indices, runs, files, several))
    return sections


def _task_section(
    name: str,
    task: str,
    task_page: str | None,
    entry: Entry,
    indices: list[int],
    runs: Runs,
    files: RecordFiles | None,
    several: bool,
) -> MethodTaskSection:
    """The section of one entry on one task; ``indices`` are its runs (rows of ``runs``)."""
    frame = runs.frame
    shown = max(indices, key=lambda i: (float(frame.at[i, "fraction"]), -int(frame.at[i, "seed"])))
    fraction, seed = float(frame.at[shown, "fraction"]), int(frame.at[shown, "seed"])
    record = runs.records[shown]
    title = f"{task}: {entry.label}, fraction {fraction:g}, seed {seed}"
    parity, parity_note = _parity(name, title, record, shown, files)
    per_element, per_element_note = _per_element(name, title, record)
    same_seed = [i for i in indices if int(frame.at[i, "seed"]) == seed]
    same_seed_runs = [(float(frame.at[i, "fraction"]), runs.records[i]) for i in same_seed]
    training, training_note = _training(name, f"{task}: {entry.label}, seed {seed}", same_seed_runs)
    selection, selection_note = _selection_table(entry, task, indices, runs)
    return MethodTaskSection(
        task=task,
        task_page=task_page,
        entry=entry.label if several else name,
        anchor=f"task-{slug(task)}-{entry.slug}",
        run=(
            f"Parity and per-element errors: the run at the largest fraction, {fraction:g} "
            f"({int(frame.at[shown, 'n_train_frames']):,} training frames), seed {seed}. "
            f"Training curves: seed {seed} at each fraction it ran."
        ),
        parity=parity,
        parity_note=parity_note,
        per_element=per_element,
        per_element_note=per_element_note,
        training=training,
        training_note=training_note,
        selection=selection,
        selection_note=selection_note,
    )


def _plot(title: str, svg: str, caption: str) -> Plot:
    """A :class:`Plot` of an SVG that :func:`inline_svg` checked."""
    return Plot(title=title, svg=Markup(svg), caption=caption)


# ----------------------------------------------------------------------------- parity


def _parity(
    name: str, title: str, record: dict[str, Any], index: int, files: RecordFiles | None
) -> tuple[Plot | None, str]:
    """The parity plot of one run, or None and why not."""
    points = _parity_points(record, index, files)
    if isinstance(points, str):
        return None, f"No parity plot: {points}."
    reference, predicted = points
    drawn = parity_svg(title, name, reference, predicted)
    if drawn is None:
        return None, "No parity plot: no test frame has a finite predicted energy."
    svg, n_shown = drawn
    n = len(reference)
    mae = float(np.mean(np.abs(predicted - reference))) * 1000
    shown = (
        f"all {n:,} test frames"
        if n_shown == n
        else f"{n_shown:,} of the {n:,} test frames: the {_WORST:,} with the largest errors and "
        "others evenly spaced (axes span every frame)"
    )
    fidelity = record_value(record, ("task", "target_fidelity"))
    caption = (
        f"Predicted against reference ({display_text(str(fidelity), 40)}) energy per atom "
        f"(eV/atom) on the test split; energy MAE over the {n:,} test frames "
        f"{format_number(mae)} meV/atom. Shown: {shown}. Dashed: predicted = reference."
    )
    return _plot("Parity: energy per atom", svg, caption), ""


def _parity_points(
    record: dict[str, Any], index: int, files: RecordFiles | None
) -> tuple[np.ndarray, np.ndarray] | str:
    """``(reference [n], predicted [n])`` energies in eV/atom of the test frames, or why not."""
    path = files.path(index) if files is not None else None
    if files is None or path is None:
        return "the record files were not given to this build"
    task, version = (
        record_value(record, ("task", "name")),
        record_value(record, ("task", "version")),
    )
    if not isinstance(task, str) or not isinstance(version, int):
        return "the record names no task"
    labels = files.test_energies(task, version)
    if isinstance(labels, str):
        return labels
    predicted = _predicted_energies(record, path)
    if isinstance(predicted, str):
        return predicted
    test_ids, reference = labels
    row_of = {frame_id: row for row, frame_id in enumerate(predicted[0].tolist())}
    missing = [i for i in test_ids.tolist() if i not in row_of]
    if missing:
        return f"the predictions lack {len(missing):,} of the {len(test_ids):,} test frames"
    rows = np.fromiter((row_of[i] for i in test_ids.tolist()), dtype=np.int64, count=len(test_ids))
    return reference, predicted[1][rows]


def _predicted_energies(record: dict[str, Any], path: Path) -> tuple[np.ndarray, np.ndarray] | str:
    """``(frame ids [n], energy [n] in eV/atom)`` of a run's predictions file, or why not.

    The file must still have the sha256 its record states (validation checked it).
    """
    try:
        file = predictions_file(path.parent, record_value(record, ("predictions", "file")))
        blob = file.read_bytes()
    except (ValueError, OSError) as exc:
        return f"the predictions file cannot be read ({exc})"
    if hashlib.sha256(blob).hexdigest() != record_value(record, ("predictions", "sha256")):
        return "the predictions file no longer has the sha256 its record states"
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            ids = np.asarray(saved["frame_ids"]).astype(str)
            energies = np.asarray(saved["energy_per_atom"], dtype=float)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        return f"the predictions file cannot be read ({exc})"
    if ids.shape != energies.shape or ids.ndim != 1:
        return "the predictions file's frame ids and energies differ in shape"
    return ids, energies


# ----------------------------------------------------------------------------- per element


def _per_element(name: str, title: str, record: dict[str, Any]) -> tuple[Plot | None, str]:
    """The per-element energy MAE of one run (``per_element_energy_mae``), or None and why."""
    rows = record.get("per_element_energy_mae")
    errors = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            element = Element(str(row.get("element")))
        except ValueError:
            continue
        errors.append(
            ElementError(
                symbol=element.symbol,
                z=int(element.Z),
                mae=_number(row.get(ENERGY.key)),
                n_frames=int(_number(row.get("n_frames"), 0.0)),
            )
        )
    svg = per_element_svg(title, name, errors)
    if svg is None:
        return None, "No per-element errors: the record lists none with a finite MAE."
    finite = [e for e in errors if math.isfinite(e.mae)]
    worst = max(finite, key=lambda e: (e.mae, -e.z))
    caption = (
        f"Energy MAE (meV/atom) over the test frames that contain each element, elements in "
        f"order of atomic number ({len(finite)} elements; a frame counts for every element it "
        f"holds). Largest: {worst.symbol}, {format_number(worst.mae)} meV/atom over "
        f"{worst.n_frames:,} frame(s)."
    )
    return _plot("Energy error per element", svg, caption), ""


def _number(value: Any, default: float = math.nan) -> float:
    """A finite float of a record value; ``default`` for anything else (text, inf, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if math.isfinite(value) else default


def _integer(value: Any) -> int | None:
    """An integer record value, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ----------------------------------------------------------------------------- training


def _training(
    name: str, title: str, runs: list[tuple[float, dict[str, Any]]]
) -> tuple[Plot | None, str]:
    """Training curves of an entry's runs of one seed: one line per fraction, stages in turn."""
    pending: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for fraction, record in sorted(runs, key=lambda item: item[0]):
        stages = _stages(record_value(record, ("training", "history")))
        parts, starts, names, offset = [], [], [], 0.0
        for stage, epochs in stages:
            steps, val, train = _epochs(epochs, offset)
            if len(steps):
                if parts:
                    starts.append(offset)
                offset = float(np.nanmax(steps))
                parts.append((steps, val, train))
                names.append(stage)
        if parts:
            label = f"fraction {fraction:g}" + (f" ({', '.join(names)})" if len(parts) > 1 else "")
            arrays = [np.concatenate([p[k] for p in parts]) for k in range(3)]
            pending.append((label, *arrays, np.array(starts, dtype=float)))
    if not pending:
        return None, (
            "No training curves: the runs record no training history (the method is not "
            "trained by gradient steps, e.g. zero-shot, or recorded none)."
        )
    last = max(len(pending) - 1, 1)
    series = [
        TrainingSeries(label, steps, val, train, starts, _LIGHTEST * (len(pending) - 1 - k) / last)
        for k, (label, steps, val, train, starts) in enumerate(pending)
    ]
    svg = training_svg(f"{title}: training", name, series)
    if svg is None:
        return None, "No training curves: the recorded history holds no finite energy MAE."
    caption = (
        "Energy MAE (meV/atom) after each epoch as the runs recorded it: validation split "
        "(solid) and the running mean over the epoch's training batches (dashed), against "
        "optimizer steps counted from the run's first stage (a dotted line where the next "
        "stage begins); smaller fractions are lighter."
    )
    return _plot("Training curves", svg, caption), ""


def _stages(history: Any) -> list[tuple[str, list[Any]]]:
    """``(stage name, epochs)`` of a recorded history, in the record's order.

    A history is ``{stage: [epoch, ...]}`` (as :mod:`baselines.training` writes it), or a
    list of epochs (one stage, "training"), or a list of such lists (stages numbered from 1).
    """
    if isinstance(history, dict):
        stages = [(display_text(str(k), 40), v) for k, v in history.items() if isinstance(v, list)]
    elif isinstance(history, list) and history and all(isinstance(e, list) for e in history):
        stages = [(f"stage {k + 1}", v) for k, v in enumerate(history)]
    elif isinstance(history, list):
        stages = [("training", history)]
    else:
        stages = []
    return stages[:_MAX_STAGES]


def _epochs(epochs: list[Any], offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, val, train)`` of one stage: steps from ``offset``, energy MAEs in meV/atom.

    An epoch without ``steps`` counts as one step after the previous one.
    """
    steps, val, train = [], [], []
    for k, epoch in enumerate(e for e in epochs[:_MAX_EPOCHS] if isinstance(e, dict)):
        step = _number(epoch.get("steps"))
        steps.append(offset + (step if math.isfinite(step) else k + 1))
        val.append(_number(record_value(epoch, ("val", "e"))) * 1000)
        train.append(_number(record_value(epoch, ("train", "e"))) * 1000)
    return np.array(steps, dtype=float), np.array(val), np.array(train)


# ----------------------------------------------------------------------------- selection


def _selection_table(
    entry: Entry, task: str, indices: list[int], runs: Runs
) -> tuple[Table | None, str]:
    """Every candidate of every run's hyperparameter selection, or None and why not."""
    frame = runs.frame
    order = sorted(
        indices, key=lambda i: (float(frame.at[i, "fraction"]), int(frame.at[i, "seed"]))
    )
    rows, records, metrics = [], [], set()
    for i in order:
        selection = runs.records[i].get("selection")
        if not isinstance(selection, dict) or not isinstance(selection.get("candidates"), list):
            continue
        metrics.add(str(selection.get("metric")))
        chosen = selection.get("chosen")
        for candidate in selection["candidates"]:
            if isinstance(candidate, dict):
                row, out = _candidate_row(candidate, chosen, frame.loc[i])
                rows.append(row)
                records.append({"task": task, "method": entry.label, **out})
    if not rows:
        return None, (
            "No hyperparameter selection: these runs chose none on the validation split (the "
            "task declares no grid, or none of its parameters applies to the method)."
        )
    table = Table(
        key=f"selection-{slug(task)}-{entry.slug}",
        caption=(
            f"Hyperparameter selection on the validation split (decided by "
            f"{display_text(', '.join(sorted(metrics)), 80)}, lower is better): every candidate "
            "of every run"
        ),
        headers=[
            "Fraction",
            "Seed",
            "Candidate",
            "Status",
            "Val E MAE (meV/atom)",
            "Val F MAE (meV/Å)",
            "Val S MAE (GPa)",
            "Steps",
            "Fit (s)",
            "Chosen",
        ],
        rows=rows,
        fields=[
            "task",
            "method",
            "fraction",
            "seed",
            "params",
            "status",
            "val_energy_mae",
            "val_force_mae",
            "val_stress_mae",
            "steps_run",
            "fit_seconds",
            "chosen",
        ],
        records=records,
        download=None,
    )
    return table, ""


def _candidate_row(
    candidate: dict[str, Any], chosen: Any, run: Any
) -> tuple[list[Cell], dict[str, Any]]:
    """Cells and plain values of one candidate of one run's selection."""
    params = candidate.get("params")
    text = (
        ", ".join(
            f"{k}={json.dumps(v)}" for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))
        )
        if isinstance(params, dict)
        else value_text(params)
    )
    scores = candidate.get("val") if isinstance(candidate.get("val"), dict) else {}
    values = {
        "val_energy_mae": _number(scores.get("energy_mae")),
        "val_force_mae": _number(scores.get("force_mae")),
        "val_stress_mae": _number(scores.get("stress_mae")),
        "steps_run": _integer(candidate.get("steps_run")),
        "fit_seconds": _number(candidate.get("fit_seconds")),
    }
    is_chosen = isinstance(params, dict) and params == chosen
    cells = [
        fraction_cell(run["fraction"]),
        number_cell(int(run["seed"])),
        text_cell(text, code=True),
        text_cell(candidate.get("status")),
        *(number_cell(values[k]) for k in ("val_energy_mae", "val_force_mae", "val_stress_mae")),
        number_cell(values["steps_run"]),
        number_cell(values["fit_seconds"]),
        text_cell("chosen" if is_chosen else ""),
    ]
    out = {
        "fraction": float(run["fraction"]),
        "seed": int(run["seed"]),
        "params": params,
        "status": candidate.get("status"),
        **values,
        "chosen": is_chosen,
    }
    return cells, out
