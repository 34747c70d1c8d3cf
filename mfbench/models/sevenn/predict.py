"""Predicting mfbench structures with a SevenNet model, in batches, in mfbench units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from mfbench.data.labels import LabelTable
from mfbench.models.sevenn.graphs import sevenn_stress_to_gpa, unlabelled_graphs
from mfbench.models.sevenn.shift import check_supported_elements


def predict_with_sevennet(
    model: Any,
    structures: Sequence[Structure],
    *,
    batch_size: int = 16,
    desc: str = "predict",
    progress: bool = True,
) -> LabelTable:
    """Run a SevenNet model over ``structures`` in batches.

    The model is put in eval mode and batch mode (forces and stress from the gradient of the
    energy, no graph kept for a second derivative), on the device its weights are on.

    Args:
        model: a ``sevenn.nn.sequential.AtomGraphSequential`` (single fidelity).
        structures: the structures.
        batch_size: structures per forward pass.
        desc: the progress bar's label.
        progress: show a progress bar.

    Returns:
        Energies ``[n]`` eV/atom, forces ``[n_atoms, 3]`` eV/Å, stress ``[n, 3, 3]`` GPa in
        CHGNet's sign (from sevenn's eV/Å³, VASP sign), magnetic moments NaN (not predicted).

    Raises:
        DataError: a structure has an element the model does not know.
    """
    import sevenn._keys as key
    from torch_geometric.loader.dataloader import Collater

    n_atoms = [len(s) for s in structures]
    if not structures:
        return LabelTable.from_frames([], [], [], [], [])
    check_supported_elements(model, structures)
    model.eval()
    model.set_is_batch_data(True)
    device = next(model.parameters()).device
    collate = Collater(dataset=[])
    energies, forces, stresses = [], [], []
    with tqdm(total=len(structures), desc=desc, disable=not progress, unit="frame") as bar:
        for start in range(0, len(structures), batch_size):
            chunk = structures[start : start + batch_size]
            batch = collate(unlabelled_graphs(chunk, model.cutoff)).to(device)
            out = model(batch)
            counts = out[key.NUM_ATOMS].detach().cpu().numpy()
            energies.append(_numpy(out[key.PRED_TOTAL_ENERGY]) / counts)
            forces.append(_numpy(out[key.PRED_FORCE]))
            stresses.append(_numpy(out[key.PRED_STRESS]))
            del batch, out
            bar.update(len(chunk))
    energy = np.concatenate(energies)
    force = np.concatenate(forces)
    stress = sevenn_stress_to_gpa(np.concatenate(stresses))
    offsets = np.concatenate([[0], np.cumsum(n_atoms)])
    return LabelTable.from_frames(
        list(energy),
        [force[offsets[k] : offsets[k + 1]] for k in range(len(structures))],
        list(stress),
        [np.full(n, np.nan) for n in n_atoms],
        n_atoms,
    )


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().double().numpy()
