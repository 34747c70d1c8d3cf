"""Score predictions on a task's test split with mfbench's own metrics.

The frames a model must predict are the test frames plus, for formation and
decomposition energies, the lowest-energy frame of every material whose elements are a
subset of some test material's elements (the elemental references and competing phases,
whatever split they are in). Materials outside every test chemical system can change neither
metric, so they are not predicted. Metrics are
reported on all test frames and on the *covered* subset: frames whose elements all occur
in the training fraction.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pymatgen.core import Element, Structure

from mfbench.atomic_write import write_bytes_atomic
from mfbench.data.labels import LabelTable
from mfbench.metrics import (
    MaterialEnergy,
    covered_frames,
    error_metrics,
    lowest_energy_frames,
    per_element_energy_mae,
    thermo_metrics,
)
from mfbench.tasks.data import TaskData

logger = logging.getLogger(__name__)

EVALUATION_SCHEMA = "mfbench.evaluation/1"


class Predictor(Protocol):
    """Anything that maps structures to predicted labels."""

    name: str

    def predict(self, structures: Sequence[Structure], *, progress: bool = True) -> LabelTable:
        """Energies (eV/atom), forces (eV/Å), stress (GPa), magmoms (μB) per structure."""
        ...


@dataclass(frozen=True)
class EvaluationFrames:
    """The frames to predict for one evaluation.

    Attributes:
        test: ``[n_test]`` test frame indices.
        lowest: material id → its lowest-energy frame (target-fidelity label), for the
            materials within some test material's chemical system.
        needed: sorted union of ``test`` and the lowest frames: what a model predicts.
    """

    test: np.ndarray
    lowest: dict[str, int]
    needed: np.ndarray

    @classmethod
    def of(cls, data: TaskData) -> EvaluationFrames:
        """Select the frames for ``data``'s task."""
        store = data.store
        test = data.split.indices("test")
        energies = np.asarray(store.energies(data.task.target_fidelity))
        lowest = lowest_energy_frames(store.material_ids.tolist(), energies)
        systems = relevant_chemical_systems({store.elements_of(int(i)) for i in test})
        lowest = {m: i for m, i in lowest.items() if systems(store.elements_of(i))}
        needed = np.union1d(test, np.fromiter(lowest.values(), dtype=np.int64))
        return cls(test, lowest, needed)


def relevant_chemical_systems(
    test_systems: set[frozenset[int]],
) -> Callable[[frozenset[int]], bool]:
    """A predicate: are these elements a subset of (at least) one of ``test_systems``?

    Indexed by element, so that millions of frames against thousands of systems stay fast.
    """
    containing: dict[int, set[int]] = {}
    for k, system in enumerate(test_systems):
        for z in system:
            containing.setdefault(z, set()).add(k)

    def within(elements: frozenset[int]) -> bool:
        candidates: set[int] | None = None
        for z in elements:
            candidates = (
                containing.get(z, set())
                if candidates is None
                else candidates & containing.get(z, set())
            )
            if not candidates:
                return False
        return candidates is not None

    return within


def score(
    data: TaskData,
    frames: EvaluationFrames,
    predicted: LabelTable,
    fraction: float,
) -> dict[str, Any]:
    """Metrics of ``predicted`` (one row per ``frames.needed``) against the task's labels.

    Returns:
        ``coverage``, ``metrics`` (``all`` and ``covered``, each with error metrics and
        formation/decomposition MAE), ``per_element_energy_mae`` and ``thermo`` counts.
    """
    store, fidelity = data.store, data.task.target_fidelity
    if predicted.n_frames != len(frames.needed):
        raise ValueError(f"{predicted.n_frames} predictions for {len(frames.needed)} frames")
    row_of = {int(i): row for row, i in enumerate(frames.needed)}
    reference = store.labels(fidelity, frames.needed)

    test_rows = np.array([row_of[int(i)] for i in frames.test], dtype=np.int64)
    test_numbers = store.atomic_numbers_of(frames.test)
    test_reference = reference.subset(test_rows)
    test_predicted = predicted.subset(test_rows)
    train_elements = (
        data.elements_in(data.split.train_fraction(fraction)) if fraction > 0 else set()
    )
    covered = covered_frames(test_numbers, test_reference.atom_offsets, train_elements)

    materials = [
        MaterialEnergy(
            material_id=material,
            composition=store.composition(index),
            reference_energy_per_atom=float(reference.energy_per_atom[row_of[index]]),
            predicted_energy_per_atom=float(predicted.energy_per_atom[row_of[index]]),
        )
        for material, index in frames.lowest.items()
    ]
    test_materials = set(store.material_ids[frames.test].tolist())
    covered_materials = set(store.material_ids[frames.test[covered]].tolist())

    def block(rows: np.ndarray, material_ids: set[str]) -> dict[str, Any]:
        if len(rows) == 0:
            return {"n_frames": 0}
        metrics: dict[str, Any] = error_metrics(
            test_reference.subset(rows), test_predicted.subset(rows)
        )
        thermo = thermo_metrics(materials, material_ids)
        metrics.update(
            formation_energy_mae_mev_per_atom=thermo.formation_mae_mev_per_atom,
            decomposition_energy_mae_mev_per_atom=thermo.decomposition_mae_mev_per_atom,
            n_formation=thermo.n_formation,
            n_formation_skipped=thermo.n_formation_skipped,
            n_decomposition=thermo.n_decomposition,
            n_decomposition_skipped=thermo.n_decomposition_skipped,
        )
        return metrics

    all_rows = np.arange(len(frames.test))
    per_element = per_element_energy_mae(test_reference, test_predicted, test_numbers)
    return {
        "coverage": {
            "train_elements": sorted(Element.from_Z(z).symbol for z in train_elements),
            "test_frames": len(frames.test),
            "covered_test_frames": int(covered.sum()),
            "covered_share": float(covered.mean()) if len(covered) else math.nan,
        },
        "metrics": {
            "all": block(all_rows, test_materials),
            "covered": block(all_rows[covered], covered_materials),
        },
        "per_element_energy_mae": per_element.to_dict(orient="records"),
    }


def predictions_bytes(frame_ids: np.ndarray, predicted: LabelTable) -> bytes:
    """A compressed ``.npz`` of predictions keyed by frame id (units of :class:`LabelTable`)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        frame_ids=np.asarray(frame_ids, dtype=str),
        energy_per_atom=predicted.energy_per_atom,
        forces=predicted.forces,
        stress=predicted.stress,
        magmoms=predicted.magmoms,
        atom_offsets=predicted.atom_offsets,
    )
    return buffer.getvalue()


def evaluate_predictor(
    data: TaskData,
    predictor: Predictor,
    *,
    fraction: float = 1.0,
    predictions_path: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict the evaluation frames with ``predictor`` and score them.

    Args:
        data: the task with its dataset.
        predictor: the model.
        fraction: training fraction the coverage is measured against.
        predictions_path: where to write the predictions ``.npz`` (its sha256 is recorded).
        progress: show a progress bar.

    Returns:
        An evaluation record (JSON-ready, schema ``mfbench.evaluation/1``).
    """
    from mfbench.provenance import environment

    # imported here: mfbench.results (validation) imports this module's scoring
    from mfbench.results.record import record_header

    frames = EvaluationFrames.of(data)
    structures = [data.store.structure(int(i)) for i in frames.needed]
    started = time.perf_counter()
    predicted = predictor.predict(structures, progress=progress)
    predict_seconds = time.perf_counter() - started
    record: dict[str, Any] = {
        "schema": EVALUATION_SCHEMA,
        **record_header(data),
        "model": predictor.describe()
        if hasattr(predictor, "describe")
        else {"name": predictor.name},
        "fraction": fraction,
        "n_train_frames": len(data.split.train_fraction(fraction)),
        **score(data, frames, predicted, fraction),
        "timing": {
            "predict_seconds": round(predict_seconds, 3),
            "n_predicted_frames": len(frames.needed),
        },
        "environment": environment(),
    }
    if predictions_path is not None:
        blob = predictions_bytes(data.store.frame_ids[frames.needed], predicted)
        write_bytes_atomic(Path(predictions_path), blob)
        record["predictions"] = {
            "file": Path(predictions_path).name,
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
    return record
