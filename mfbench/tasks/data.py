"""A task bound to its prepared dataset: the store, the split and their summary."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mfbench.data.elemental_reference import (
    ElementalReference,
    composition_fractions,
    fit_elemental_reference,
)
from mfbench.data.frameset import FrameSet
from mfbench.data.registry import get_dataset
from mfbench.data.store import FrameStore
from mfbench.errors import NotPreparedError, TaskError
from mfbench.tasks.definition import Task
from mfbench.tasks.split import Split

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskData:
    """A task with its opened frame store and computed split."""

    task: Task
    store: FrameStore
    split: Split

    @classmethod
    def load(cls, task: Task) -> TaskData:
        """Open the task's prepared dataset and compute the split.

        A dataset shipped with mfbench (``source: embedded``) that is not prepared yet is
        prepared here, from its checksum-pinned file; a dataset the user supplies must have
        been prepared with ``mfbench data prepare``.

        Raises:
            NotPreparedError: a user-supplied dataset is not prepared (the error holds the
                command that prepares it).
            TaskError: the dataset is another version or lacks the target fidelity.
        """
        entry = get_dataset(task.dataset.id)
        if entry.version != task.dataset.version:
            raise TaskError(
                f"task {task.task} needs {task.dataset.id} version {task.dataset.version}, "
                f"the registry has version {entry.version}"
            )
        for aux in task.auxiliary_data:
            if aux.dataset is not None:
                registered = get_dataset(aux.dataset.id)
                if registered.version != aux.dataset.version:
                    raise TaskError(
                        f"task {task.task} uses auxiliary dataset {aux.dataset.id} version "
                        f"{aux.dataset.version}, the registry has version {registered.version}"
                    )
        path = entry.store_path()
        if not (path / "meta.json").is_file():
            if entry.source != "embedded":
                command = f"mfbench data prepare {entry.id} --source PATH"
                raise NotPreparedError(
                    f"dataset {entry.key} is not prepared; run `{command}`", command
                )
            from mfbench.data.prepare import prepare

            logger.info("preparing the shipped dataset %s (checksum-verified) for task %s",
                        entry.key, task.task)  # fmt: skip
            prepare(entry)
        store = FrameStore.open(path)
        if task.target_fidelity not in store.fidelities:
            raise TaskError(
                f"task {task.task} targets {task.target_fidelity!r}, "
                f"the dataset has {store.fidelities}"
            )
        split = Split.compute(store.frame_ids, store.material_ids, task.split, task.fractions)
        return cls(task, store, split)

    @cached_property
    def fractions_matrix(self) -> np.ndarray:
        """``[n_frames, 94]`` element fractions of every frame."""
        return composition_fractions(self.store.atomic_numbers, self.store.atom_offsets)

    def elemental_reference(self, indices: np.ndarray) -> ElementalReference:
        """Least-squares elemental reference on ``indices`` at the target fidelity."""
        return fit_elemental_reference(
            self.fractions_matrix[indices],
            np.asarray(self.store.energies(self.task.target_fidelity))[indices],
            self.store.material_ids[indices],
        )

    def elements_in(self, indices: np.ndarray) -> set[int]:
        """Atomic numbers present in the frames ``indices``."""
        return {int(z) + 1 for z in np.flatnonzero(self.fractions_matrix[indices].sum(axis=0))}

    def auxiliary_sources(self, fraction: float) -> dict[str, Callable[[], FrameSet]]:
        """Fidelity → loader of the auxiliary data the task allows a run at ``fraction``.

        ``same-frames`` data is the task store's frames of the aux scope (the training
        fraction, the train split or all) at the aux fidelity; ``dataset`` data is every frame
        of another registered dataset's prepared store, opened when first asked for.
        """
        sources: dict[str, Callable[[], FrameSet]] = {}
        for aux in self.task.auxiliary_data:
            if aux.kind == "same-frames":
                if aux.scope == "train-fraction":
                    indices = self.split.train_fraction(fraction)
                elif aux.scope == "train-split":
                    indices = self.split.indices("train")
                else:
                    indices = np.arange(len(self.store))
                sources[aux.fidelity] = lambda i=indices, f=aux.fidelity: FrameSet(self.store, i, f)
            else:
                entry = get_dataset(aux.dataset.id)  # type: ignore[union-attr]

                def load(entry=entry, fidelity=aux.fidelity) -> FrameSet:
                    store = FrameStore.open(entry.store_path())
                    return FrameSet(store, np.arange(len(store)), fidelity)

                sources[aux.fidelity] = load
        return sources

    def summary(self) -> dict:
        """Split sizes, fingerprints, fraction sizes and the train-split reference fit."""
        split = self.split
        train = split.indices("train")
        fit = self.elemental_reference(train)
        per_element = {int(z): int(fit.materials_per_element[z - 1]) for z in fit.fitted_elements}
        test = split.indices("test")
        test_elements = self.elements_in(test)
        test_frame_elements = [self.store.elements_of(int(i)) for i in test]
        fractions = []
        for value in self.task.fractions.values:
            idx = split.train_fraction(value)
            elements = self.elements_in(idx) if len(idx) else set()
            covered = [frame <= elements for frame in test_frame_elements]
            fractions.append(
                {
                    "fraction": value,
                    "n_frames": len(idx),
                    "n_materials": len(np.unique(self.store.material_ids[idx])),
                    "n_elements": len(elements),
                    "test_elements_covered": len(elements & test_elements),
                    "test_elements": len(test_elements),
                    "test_frames_covered_share": float(np.mean(covered)) if covered else 0.0,
                }
            )
        return {
            "task": self.task.task,
            "version": self.task.version,
            "dataset": self.store.meta["dataset"]["id"],
            "dataset_version": self.store.meta["dataset"]["version"],
            "dataset_sha256": self.store.meta["source"]["sha256"],
            "target_fidelity": self.task.target_fidelity,
            "sizes": split.sizes(),
            "materials": {
                side: len(np.unique(self.store.material_ids[split.indices(side)]))
                for side in ("train", "val", "test")
            },
            "fingerprints": split.fingerprints(),
            "fractions": fractions,
            "train_reference_fit": {
                "condition_number": fit.condition_number,
                "residual_mae_ev_per_atom": fit.residual_mae_ev_per_atom,
                "n_elements": len(per_element),
                "materials_per_element": per_element,
            },
        }
