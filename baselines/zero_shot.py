"""Zero-shot baselines: CHGNet 0.3.0 without gradient steps.

- ``gga-floor``: the untouched GGA model; the floor every transfer method must beat.
- ``zero-shot``: the GGA model with its elemental reference (``AtomRef``) refitted on the
  training fraction (the paper's "0 training points" transfer point, but fitted on the
  benchmark's training fraction only, never on test materials). The per-element *shift*
  is fitted by least squares on the GGA model's residuals, ``E_target - E_GGA-model``, and
  added to the GGA weights (as MACE re-estimates E0s from a foundation model's residuals):
  the residuals are nearly a pure elemental shift, so a few hundred frames pin it down,
  whereas a fit to total energies inherits the structures' full energy spread. Elements
  absent from the fraction get the mean fitted shift
  (:meth:`mfbench.methods.ElementalReference.filled_from`); with no training
  frames at all the GGA reference is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
from pymatgen.core import Structure

from baselines.references import DENG_2023_CHGNET, HUANG_2025
from mfbench.methods import (
    FitContext,
    FrameSet,
    LabelTable,
    Method,
    fit_elemental_reference,
    write_bytes_atomic,
)
from mfbench.models.chgnet import (
    atomref_weights,
    check_supported_elements,
    load_pretrained,
    predict_with_chgnet,
    set_atomref_weights,
)


class UntouchedGGA(Method):
    """CHGNet 0.3.0 as shipped: no use of the training data at all."""

    name = "gga-floor"
    references = (DENG_2023_CHGNET,)

    def __init__(self, base_model: str = "0.3.0", batch_size: int = 32) -> None:
        self.base_model = base_model
        self.batch_size = batch_size

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Load the pretrained model; ``train`` is ignored on purpose."""
        self.model_ = load_pretrained(context, self.base_model)
        self.atomref_weights_ = atomref_weights(self.model_)
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """CHGNet predictions in mfbench units."""
        self.check_is_fitted()
        check_supported_elements(structures)
        return predict_with_chgnet(
            self.model_, structures, batch_size=self.batch_size, desc=self.name
        )

    def save(self, directory: Path) -> None:
        """Write the hyperparameters and the AtomRef weights."""
        self.check_is_fitted()
        self.save_params(directory)
        write_bytes_atomic(Path(directory) / "atomref.npy", _npy(self.atomref_weights_))

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild from :meth:`save`'s files on ``device``."""
        method = cls.from_saved_params(directory)
        method.model_ = load_pretrained(FitContext(device=device), method.base_model)
        method.atomref_weights_ = np.load(Path(directory) / "atomref.npy")
        set_atomref_weights(method.model_, method.atomref_weights_)
        return method


class ZeroShotRefitAtomRef(UntouchedGGA):
    """CHGNet 0.3.0 with its elemental reference refitted on the training fraction."""

    name = "zero-shot"
    references = (HUANG_2025, DENG_2023_CHGNET)

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Refit the intensive AtomRef on ``train``'s energies; no gradient steps."""
        super().fit(train, val, context)
        self.n_filled_elements_ = 0
        if len(train):
            gga_energy = predict_with_chgnet(
                self.model_,
                train.structures(),
                batch_size=self.batch_size,
                desc=f"{self.name}: GGA energies of the training fraction",
                progress=context.progress,
            ).energy_per_atom
            shift = fit_residual_shift(train, gga_energy)
            self.atomref_weights_ = self.atomref_weights_ + shift.weights
            self.n_filled_elements_ = shift.n_filled_elements
            self.condition_number_ = shift.condition_number
        set_atomref_weights(self.model_, self.atomref_weights_)
        return self


@dataclass(frozen=True)
class ResidualShift:
    """The per-element shift that moves a GGA model's elemental reference to the target's.

    Attributes:
        weights: ``[94]`` eV/atom, added to the GGA ``AtomRef`` weights (column ``Z - 1``);
            elements absent from the training frames get the mean fitted shift.
        n_filled_elements: how many elements got the mean (absent from the training frames).
        condition_number: of the least-squares problem (large: some shifts are ill-posed).
    """

    weights: np.ndarray
    n_filled_elements: int
    condition_number: float


def fit_residual_shift(train: FrameSet, gga_energy: np.ndarray) -> ResidualShift:
    """Least-squares per-element fit to the GGA model's residuals ``E_label - E_GGA``.

    Args:
        train: the training frames (their labels and compositions).
        gga_energy: ``[len(train)]`` eV/atom, the GGA model's energies of ``train``'s frames.
    """
    residual = train.labels().energy_per_atom - gga_energy
    shift = fit_elemental_reference(train.composition_fractions(), residual, train.material_ids)
    filled, mask = shift.filled_from(np.zeros_like(shift.weights))
    return ResidualShift(filled.weights, int(mask.sum()), shift.condition_number)


def _npy(values: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()
