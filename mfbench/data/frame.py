"""The frame: one labelled structure, possibly labelled at several fidelities.

A frame carries one structure and, per fidelity (``"gga"``, ``"r2scan"``, ``"pbe"``…),
a :class:`Labels` record. Units follow :mod:`mfbench.units`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from mfbench.errors import DataError

#: Highest atomic number CHGNet (and so mfbench) supports.
MAX_Z = 94


@dataclass(frozen=True)
class Labels:
    """Reference labels of one frame at one fidelity.

    Attributes:
        energy_per_atom: total energy divided by the number of atoms, eV/atom.
        forces: ``[n_atoms, 3]`` eV/Å, or None when not labelled.
        stress: ``[3, 3]`` GPa in CHGNet's sign, or None when not labelled.
        magmoms: ``[n_atoms]`` μB magnitudes, or None when not labelled.

    """

    energy_per_atom: float
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    magmoms: np.ndarray | None = None


@dataclass(frozen=True)
class Frame:
    """One structure with its labels.

    Attributes:
        frame_id: unique within the dataset.
        material_id: frames of one material always land on the same split side.
        structure: the ordered pymatgen structure.
        labels: fidelity name → :class:`Labels`.

    """

    frame_id: str
    material_id: str
    structure: Structure
    labels: Mapping[str, Labels] = field(default_factory=dict)

    @property
    def n_atoms(self) -> int:
        """Number of sites."""
        return len(self.structure)


def validate_frame(frame: Frame, *, file: str | None = None) -> Frame:
    """Check a frame's structure and labels; raise :class:`DataError` naming the field.

    Checks: at least one atom, an ordered structure, every element with 1 ≤ Z ≤ 94,
    finite positive-volume lattice, and for each fidelity finite labels of the right shape.

    Returns:
        The same frame, so readers can ``yield validate_frame(...)``.

    """
    where = {"file": file, "material": frame.material_id, "frame": frame.frame_id}
    structure = frame.structure
    n_atoms = len(structure)
    if n_atoms == 0:
        raise DataError("structure has no atoms", field="structure", **where)
    if not structure.is_ordered:
        raise DataError(
            "structure is disordered (partial occupancies); mfbench needs ordered structures",
            field="structure",
            **where,
        )
    bad = sorted({site.specie.symbol for site in structure if not 1 <= site.specie.Z <= MAX_Z})
    if bad:
        raise DataError(
            f"element(s) {', '.join(bad)} outside Z = 1-{MAX_Z}, which CHGNet does not support",
            field="structure",
            **where,
        )
    if not np.all(np.isfinite(structure.lattice.matrix)) or structure.volume <= 0:
        raise DataError("lattice is not finite or has no volume", field="structure", **where)
    if not np.all(np.isfinite(structure.frac_coords)):
        raise DataError("site coordinates are not finite", field="structure", **where)
    if not frame.labels:
        raise DataError("frame has no labels", **where)
    for fidelity, labels in frame.labels.items():
        _check_labels(labels, n_atoms, fidelity, where)
    return frame


def _check_labels(labels: Labels, n_atoms: int, fidelity: str, where: dict) -> None:
    def fail(name: str, message: str) -> None:
        raise DataError(message, field=f"{fidelity}.{name}", **where)

    if not np.isfinite(labels.energy_per_atom):
        fail("energy_per_atom", f"energy is not finite ({labels.energy_per_atom})")
    expected = {"forces": (n_atoms, 3), "stress": (3, 3), "magmoms": (n_atoms,)}
    for name, shape in expected.items():
        value = getattr(labels, name)
        if value is None:
            continue
        if value.shape != shape:
            fail(name, f"shape {value.shape} does not match the structure, expected {shape}")
        if not np.all(np.isfinite(value)):
            fail(name, "contains NaN or inf")
