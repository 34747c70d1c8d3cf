"""Physical limits of a frame: what no frame of a DFT dataset can be.

Used by ``prepare`` (:mod:`mfbench.data.prepare`) to refuse, or drop when a dataset's registry
entry asks it to, frames whose atoms overlap or whose forces or energies are beyond any physical
structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfbench.data.frame import Frame


@dataclass(frozen=True)
class PhysicalLimits:
    """What no frame of a DFT dataset can be.

    Atoms on top of each other, forces or energies far beyond any physical structure: real
    trajectories hold such steps (a CHGNet test file has one with atoms 0.11 Å apart,
    620 eV/atom and forces of 16,657 eV/Å).

    Attributes:
        min_distance: Å; two atoms (or an atom and its periodic image) closer than this.
        max_force: eV/Å; an atom's force of this magnitude or more, at any fidelity.
        max_energy_per_atom: eV/atom; an energy above this, at any fidelity (bound atoms
            have negative total energies; r2SCAN's reach -90 eV/atom for actinides).
    """

    min_distance: float = 0.5
    max_force: float = 500.0
    max_energy_per_atom: float = 50.0

    def violation(self, frame: Frame) -> str | None:
        """Why ``frame`` is impossible (e.g. ``"atoms 0.110 Å apart"``), or None."""
        structure = frame.structure
        n_atoms = len(structure)
        closest = shortest_lattice_vector(structure.lattice.matrix)  # an atom and its image
        if n_atoms > 1:
            distances = structure.distance_matrix[~np.eye(n_atoms, dtype=bool)]
            closest = min(closest, float(distances.min()))
        if closest < self.min_distance:
            return f"atoms {closest:.3f} Å apart (limit {self.min_distance} Å)"
        for fidelity, labels in frame.labels.items():
            if labels.energy_per_atom > self.max_energy_per_atom:
                return (
                    f"{fidelity} energy {labels.energy_per_atom:.6g} eV/atom (limit "
                    f"{self.max_energy_per_atom} eV/atom)"
                )
            if labels.forces is not None:
                largest = float(np.linalg.norm(labels.forces, axis=1).max())
                if largest >= self.max_force:
                    return f"{fidelity} force {largest:.6g} eV/Å (limit {self.max_force} eV/Å)"
        return None


def shortest_lattice_vector(matrix: np.ndarray) -> float:
    """Length (Å) of the shortest nonzero vector of the lattice with rows ``matrix`` ``[3, 3]``.

    The basis is LLL-reduced first (pymatgen), after which the shortest vector is among the
    combinations with coefficients -1, 0 and 1, so skewed cells are measured right (a cell with
    a = b = 3 Å at 175° has a lattice vector of 0.26 Å, though no edge is that short).
    """
    from pymatgen.core import Lattice

    reduced = Lattice(matrix).get_lll_reduced_lattice().matrix
    coefficients = np.array([c for c in np.ndindex(3, 3, 3) if c != (1, 1, 1)]) - 1
    return float(np.linalg.norm(coefficients @ reduced, axis=1).min())
