"""SevenNet's models as they ship in the ``sevenn`` wheel, and predicting through ASE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure

from mfbench import units
from mfbench.data.labels import LabelTable
from mfbench.models.sevenn.extra import require_sevenn


def load_calculator(model: str, modal: str | None, device: str) -> Any:
    """A ``sevenn.calculator.SevenNetCalculator`` for a shipped model.

    Args:
        model: the model's name in ``sevenn`` (e.g. ``"7net-MF-0"``) or a checkpoint path.
        modal: the head of a multi-fidelity model (e.g. ``"R2SCAN"``), or None.
        device: ``"cpu"`` or ``"cuda[:i]"``.

    Raises:
        MissingExtraError: ``sevenn`` is not installed (the message names
            ``pip install "mfbench[sevenn]"``).
    """
    require_sevenn(f"the SevenNet model {model!r}")
    from sevenn.calculator import SevenNetCalculator

    kwargs: dict[str, Any] = {"model": model, "device": device}
    if modal is not None:
        kwargs["modal"] = modal
    return SevenNetCalculator(**kwargs)


def predict_with_calculator(calculator: Any, structures: Sequence[Structure]) -> LabelTable:
    """Predict every structure with an ASE calculator, in mfbench units.

    Returns:
        Energies eV/atom, forces ``[n_atoms, 3]`` eV/Å, stress ``[3, 3]`` GPa (CHGNet's sign,
        converted from ASE's eV/Å³), magnetic moments NaN (not predicted).
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    energies, forces, stresses, magmoms = [], [], [], []
    for structure in structures:
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calculator
        energies.append(float(atoms.get_potential_energy()) / len(atoms))
        forces.append(np.asarray(atoms.get_forces(), dtype=np.float64))
        stresses.append(units.ase_stress_to_gpa(atoms.get_stress(voigt=False)))
        magmoms.append(np.full(len(atoms), np.nan))
    return LabelTable.from_frames(energies, forces, stresses, magmoms, [len(s) for s in structures])
