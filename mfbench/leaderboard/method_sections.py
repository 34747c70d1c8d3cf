"""A method page's sections, one per task (and entry) it ran.

Each shows one run's parity plot, its per-element errors, the training curves and the
hyperparameter selection (:class:`MethodTaskSection`).

The parity plot needs the run's predictions file and the task's reference labels: pass the
records' files as :class:`RecordFiles`; without them the page says the plot is not available.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.errors import MfbenchError
from mfbench.html.numbers import format_number
from mfbench.html.safety import display_text, slug
from mfbench.leaderboard.method_plots import (
    PARITY_POINTS,
    PARITY_WORST_SHARE,
    parity_svg,
)
from mfbench.leaderboard.method_run_details import (
    per_element_plot,
    selection_table,
    titled_plot,
    training_plot,
)
from mfbench.leaderboard.tables import (
    Table,
    record_value,
)
from mfbench.leaderboard.view_model import (
    Entry,
    MethodContent,
    Plot,
    Runs,
    TaskContent,
)
from mfbench.results.record import predictions_file
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

logger = logging.getLogger(__name__)


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


def task_sections(
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
    per_element, per_element_note = per_element_plot(name, title, record)
    same_seed = [i for i in indices if int(frame.at[i, "seed"]) == seed]
    same_seed_runs = [(float(frame.at[i, "fraction"]), runs.records[i]) for i in same_seed]
    training, training_note = training_plot(
        name, f"{task}: {entry.label}, seed {seed}", same_seed_runs
    )
    selection, selection_note = selection_table(entry, task, indices, runs)
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
    return titled_plot("Parity: energy per atom", svg, caption), ""


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
