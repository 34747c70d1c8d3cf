"""Flat label arrays over many frames: the form metrics and prediction files use.

A :class:`LabelTable` holds one value set per frame (reference labels at one fidelity, or a
model's predictions) in flat arrays. Per-atom quantities are concatenated over frames and
sliced with ``atom_offsets``. Missing labels are NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelTable:
    """Energies, forces, stresses and magnetic moments of ``n_frames`` frames.

    Attributes:
        energy_per_atom: ``[n_frames]`` eV/atom.
        forces: ``[n_atoms_total, 3]`` eV/Å; NaN rows where a frame has no force labels.
        stress: ``[n_frames, 3, 3]`` GPa, CHGNet sign; NaN where not labelled.
        magmoms: ``[n_atoms_total]`` μB magnitudes; NaN where not labelled.
        atom_offsets: ``[n_frames + 1]``; frame ``i`` owns atoms
            ``atom_offsets[i]:atom_offsets[i+1]``.

    """

    energy_per_atom: np.ndarray
    forces: np.ndarray
    stress: np.ndarray
    magmoms: np.ndarray
    atom_offsets: np.ndarray

    def __post_init__(self) -> None:
        n_frames = len(self.energy_per_atom)
        n_atoms = int(self.atom_offsets[-1]) if len(self.atom_offsets) else 0
        checks = {
            "atom_offsets": (self.atom_offsets.shape, (n_frames + 1,)),
            "forces": (self.forces.shape, (n_atoms, 3)),
            "stress": (self.stress.shape, (n_frames, 3, 3)),
            "magmoms": (self.magmoms.shape, (n_atoms,)),
        }
        for name, (got, want) in checks.items():
            if got != want:
                raise ValueError(f"LabelTable.{name} has shape {got}, expected {want}")

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.energy_per_atom)

    @property
    def n_atoms(self) -> np.ndarray:
        """``[n_frames]`` atoms per frame."""
        return np.diff(self.atom_offsets)

    def subset(self, frame_indices: Sequence[int] | np.ndarray) -> LabelTable:
        """The table restricted to ``frame_indices`` (in that order)."""
        idx = np.asarray(frame_indices, dtype=np.int64)
        counts = self.n_atoms[idx]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        atom_idx = (
            np.concatenate([np.arange(self.atom_offsets[i], self.atom_offsets[i + 1]) for i in idx])
            if len(idx)
            else np.zeros(0, dtype=np.int64)
        )
        return LabelTable(
            energy_per_atom=self.energy_per_atom[idx],
            forces=self.forces[atom_idx].reshape(-1, 3),
            stress=self.stress[idx].reshape(-1, 3, 3),
            magmoms=self.magmoms[atom_idx],
            atom_offsets=offsets,
        )

    @classmethod
    def from_frames(
        cls,
        energy_per_atom: Sequence[float],
        forces: Sequence[np.ndarray | None],
        stress: Sequence[np.ndarray | None],
        magmoms: Sequence[np.ndarray | None],
        n_atoms: Sequence[int],
    ) -> LabelTable:
        """Build a table from per-frame values; ``None`` entries become NaN."""
        counts = np.asarray(n_atoms, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

        def stack(
            values: Sequence[np.ndarray | None], shape_of: Callable[[int], tuple[int, ...]]
        ) -> np.ndarray:
            parts = [
                np.full(shape_of(n), np.nan) if v is None else np.asarray(v, dtype=np.float64)
                for v, n in zip(values, counts, strict=True)
            ]
            return np.concatenate(parts) if parts else np.zeros((0, *shape_of(0)[1:]))

        return cls(
            energy_per_atom=np.asarray(energy_per_atom, dtype=np.float64),
            forces=stack(forces, lambda n: (n, 3)).reshape(-1, 3),
            stress=stack([None if s is None else s[None] for s in stress], lambda n: (1, 3, 3)),
            magmoms=stack(magmoms, lambda n: (n,)),
            atom_offsets=offsets,
        )
