"""sevenn graphs of mfbench frames, with labels in sevenn's units, built by sevenn's own code.

sevenn's conventions (``sevenn.train.dataload``): energy is the total energy (eV), forces eV/Å,
stress six components ``[xx, yy, zz, xy, yz, zx]`` in eV/Å³ with VASP's sign (positive under
compression, the opposite of ASE's and mfbench's; sevenn reads an ASE calculator's stress as
``-stress[[0, 1, 2, 5, 3, 4]]``). mfbench's stress is ``[3, 3]`` GPa in CHGNet's (= ASE's)
sign (:mod:`mfbench.units`). The conversions below are the only place the two meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure

from mfbench import units
from mfbench.data.frameset import FrameSet
from mfbench.errors import DataError

#: sevenn's order of the six stress components, as (row, column) of the 3×3 tensor.
SEVENN_STRESS_ORDER = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0))


def gpa_to_sevenn_stress(stress_gpa: np.ndarray) -> np.ndarray:
    """Mfbench stress → sevenn's.

    Args:
        stress_gpa: ``[..., 3, 3]`` GPa, CHGNet's sign (negative under compression).

    Returns:
        ``[..., 6]`` eV/Å³, VASP's sign, order ``xx, yy, zz, xy, yz, zx``.
    """
    ase = units.gpa_to_ase_stress(np.asarray(stress_gpa, dtype=np.float64))
    return -np.stack([ase[..., i, j] for i, j in SEVENN_STRESS_ORDER], axis=-1)


def sevenn_stress_to_gpa(stress: np.ndarray) -> np.ndarray:
    """Sevenn stress → mfbench's; the inverse of :func:`gpa_to_sevenn_stress`.

    Args:
        stress: ``[..., 6]`` eV/Å³, VASP's sign, order ``xx, yy, zz, xy, yz, zx``.

    Returns:
        ``[..., 3, 3]`` GPa, CHGNet's sign, symmetric.
    """
    values = -np.asarray(stress, dtype=np.float64)
    matrix = np.zeros((*values.shape[:-1], 3, 3))
    for k, (i, j) in enumerate(SEVENN_STRESS_ORDER):
        matrix[..., i, j] = values[..., k]
        matrix[..., j, i] = values[..., k]
    return units.ase_stress_to_gpa(matrix)


def unlabelled_graphs(structures: Sequence[Structure], cutoff: float) -> list[Any]:
    """One ``sevenn.atom_graph_data.AtomGraphData`` per structure (no labels), for predicting.

    Args:
        structures: the structures.
        cutoff: the model's neighbour cutoff (Å), ``model.cutoff``.
    """
    from pymatgen.io.ase import AseAtomsAdaptor
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    return [
        AtomGraphData.from_numpy_dict(
            unlabeled_atoms_to_graph(AseAtomsAdaptor.get_atoms(s), cutoff)
        )
        for s in structures
    ]


def labelled_graphs(frames: FrameSet, cutoff: float) -> list[Any]:
    """One labelled ``AtomGraphData`` per frame, by sevenn's ``atoms_to_graph``.

    Labels at the frame set's fidelity, in sevenn's units: total energy (eV), forces (eV/Å),
    stress (eV/Å³, VASP's sign, :func:`gpa_to_sevenn_stress`). NaN forces or stresses stay NaN,
    which sevenn's losses skip as unlabelled.

    Args:
        frames: the frames.
        cutoff: the model's neighbour cutoff (Å).

    Raises:
        DataError: a frame has no energy label (names the frame).
    """
    from pymatgen.io.ase import AseAtomsAdaptor
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import atoms_to_graph

    labels = frames.labels()
    stress = gpa_to_sevenn_stress(labels.stress)
    graphs = []
    for k, structure in enumerate(frames.structures()):
        if not np.isfinite(labels.energy_per_atom[k]):
            raise DataError(f"no {frames.fidelity} energy label", frame=str(frames.frame_ids[k]))
        atoms = AseAtomsAdaptor.get_atoms(structure)
        start, end = labels.atom_offsets[k], labels.atom_offsets[k + 1]
        atoms.info["y_energy"] = float(labels.energy_per_atom[k]) * len(atoms)
        atoms.arrays["y_force"] = np.asarray(labels.forces[start:end], dtype=np.float64)
        atoms.info["y_stress"] = stress[k]
        graph = atoms_to_graph(atoms, cutoff, transfer_info=False, allow_unlabeled=True)
        graphs.append(AtomGraphData.from_numpy_dict(graph))
    return graphs
