"""SevenNet's pretrained models as they ship in the ``sevenn`` wheel, without training.

``sevennet-pretrained`` predicts with a shipped SevenNet model: by default SevenNet-MF-0's
r²SCAN head, the teacher of the embedded dataset v2 (``surrogate-sevennet``). On a task
labelled by that teacher it reproduces the labels (a reference row: the checkpoint was trained
on r²SCAN data, so the run is never ranked); on other tasks it is a second architecture's
zero-shot opinion. Magnetic moments are not predicted (NaN). Needs the sevenn extra
(``pip install "mfbench[sevenn]"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

from pymatgen.core import Structure

from baselines.references import KIM_2025_MULTIFIDELITY, PARK_2024_SEVENNET
from mfbench.methods import FitContext, FrameSet, LabelTable, Method
from mfbench.models.sevenn import load_calculator, predict_with_calculator


class SevenNetPretrained(Method):
    """A shipped SevenNet model (``model``, with head ``modal`` for multi-fidelity models)."""

    name = "sevennet-pretrained"
    references = (KIM_2025_MULTIFIDELITY, PARK_2024_SEVENNET)

    def __init__(self, model: str = "7net-MF-0", modal: str | None = "R2SCAN") -> None:
        self.model = model
        self.modal = modal

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Load the model on ``context.device``; the training frames are not used."""
        self.calculator_ = load_calculator(self.model, self.modal, context.device)
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """Energies eV/atom, forces eV/Å, stress GPa (CHGNet's sign); magmoms NaN."""
        self.check_is_fitted()
        return predict_with_calculator(self.calculator_, structures)

    def save(self, directory: Path) -> None:
        """Only the hyperparameters: the weights ship with ``sevenn``."""
        self.check_is_fitted()
        self.save_params(directory)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild from :meth:`save`'s files on ``device``."""
        method = cls.from_saved_params(directory)
        method.calculator_ = load_calculator(method.model, method.modal, device)
        return method
