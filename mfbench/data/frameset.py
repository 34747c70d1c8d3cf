"""A read-only view of some frames of a store at one fidelity: what methods train on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from mfbench.data.checksum import fingerprint
from mfbench.data.elemental_reference import composition_fractions
from mfbench.data.labels import LabelTable
from mfbench.data.store import FrameStore


@dataclass(frozen=True)
class FrameSet:
    """Frames ``indices`` of ``store`` with their labels at ``fidelity``.

    Attributes:
        store: the opened frame store.
        indices: ``[n]`` frame indices into the store.
        fidelity: which label set :meth:`labels` returns.
    """

    store: FrameStore
    indices: np.ndarray
    fidelity: str

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def frame_ids(self) -> np.ndarray:
        """``[n]`` frame ids."""
        return self.store.frame_ids[self.indices]

    @property
    def material_ids(self) -> np.ndarray:
        """``[n]`` material ids."""
        return self.store.material_ids[self.indices]

    @property
    def fingerprint(self) -> str:
        """Hex sha256 over the sorted frame ids (a split side's fingerprint, for any frame set)."""
        return fingerprint(self.frame_ids)

    def structures(self) -> list[Structure]:
        """The pymatgen structures, in order."""
        return [self.store.structure(int(i)) for i in self.indices]

    def labels(self) -> LabelTable:
        """Labels at :attr:`fidelity` (eV/atom, eV/Å, GPa, μB)."""
        return self.store.labels(self.fidelity, self.indices)

    def composition_fractions(self) -> np.ndarray:
        """``[n, 94]`` element fractions (column ``Z - 1``)."""
        table = self.labels()
        return composition_fractions(self.store.atomic_numbers_of(self.indices), table.atom_offsets)

    def at_fidelity(self, fidelity: str) -> FrameSet:
        """The same frames with another label set (paired datasets)."""
        return FrameSet(self.store, self.indices, fidelity)
