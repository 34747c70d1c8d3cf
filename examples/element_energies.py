r"""A worked example of a new transfer method, written as an outside author would write it.

``ElementEnergies`` predicts the energy per atom from the composition alone: one energy per
element, fitted by least squares on the training fraction's r²SCAN labels and shrunk towards
the mean element energy by ``shrinkage``; forces and stress are zero. It is the floor a real
transfer method must beat, and short enough to read in one sitting. It imports nothing from
mfbench but the author API, :mod:`mfbench.methods`.

Try it (README, "A new method, from an empty file to a ranked run")::

    mfbench methods check examples.element_energies:ElementEnergies
    mfbench run --task sevennet-r2scan-quick --method examples.element_energies:ElementEnergies \
        --fraction 0.1 --seed 0 --out my-results
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
from pymatgen.core import Structure

from mfbench.methods import FitContext, FrameSet, LabelTable, Method, fit_elemental_reference

#: Elements CHGNet (and this method's weight table) covers: Z = 1..94.
N_ELEMENTS = 94


class ElementEnergies(Method):
    """Energy per atom from shrunk least-squares element energies; zero forces and stress."""

    name = "element-energies"

    def __init__(self, shrinkage: float = 0.0) -> None:
        self.shrinkage = shrinkage

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Fit one energy (eV/atom) per element on the training frames' target labels."""
        fractions = train.composition_fractions()  # [n_frames, 94]
        reference = fit_elemental_reference(
            fractions, train.labels().energy_per_atom, train.material_ids
        )
        seen = ~np.isnan(reference.weights)
        mean = float(np.mean(reference.weights[seen]))
        weights = np.where(seen, reference.weights, mean)  # unseen elements: the mean
        self.weights_ = (1.0 - self.shrinkage) * weights + self.shrinkage * mean
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """Energies (eV/atom) from the composition; zero forces (eV/Å) and stress (GPa)."""
        self.check_is_fitted()
        counts = [len(s) for s in structures]
        energy = np.array(
            [
                np.bincount(s.atomic_numbers, minlength=N_ELEMENTS + 1)[1:] @ self.weights_ / len(s)
                for s in structures
            ]
        )
        return LabelTable.from_frames(
            energy,
            [np.zeros((n, 3)) for n in counts],
            [np.zeros((3, 3)) for _ in counts],
            [np.full(n, np.nan) for n in counts],
            counts,
        )

    def save(self, directory: Path) -> None:
        """Write the hyperparameters and the element energies into ``directory``."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.save_params(directory)
        np.save(Path(directory) / "element_energies.npy", self.weights_)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """A fitted method from :meth:`save`'s folder."""
        method = cls.from_saved_params(directory)
        method.weights_ = np.load(Path(directory) / "element_energies.npy")
        return method
