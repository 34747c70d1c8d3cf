"""A second architecture: SevenNet-0 (GGA, MPtrj), shift refitted, fine-tuned with sevenn's trainer.

``sevennet-finetune`` starts from SevenNet-0 (Park et al., J. Chem. Theory Comput. 20, 4857
(2024); trained on MPtrj only, so a GGA start like CHGNet 0.3.0) and

1. refits its per-element energy shift on the training fraction exactly as
   ``finetune-residual-atomref`` does for CHGNet (:func:`baselines.regularised_reference.
   select_shift`): a ridge per-element fit (eV/atom, on composition fractions) of the residuals
   ``E_target - E_SevenNet-0`` of the training frames, with the strength that gives the lowest
   validation energy MAE, added to SevenNet-0's shift; elements absent from the fraction get
   the mean fitted change. The two baselines thus differ in the start and its library's
   recipe, not in the reference. The shift stays frozen afterwards (sevenn's
   ``train_shift_scale: False``);
2. fine-tunes everything else with sevenn's own trainer and its ``fine_tune`` preset (Adam,
   exponential decay γ 0.99 per epoch, Huber δ 0.01, loss weights energy/force/stress
   1/1/0.01), for the task's budget: ``epochs`` passes or ``max_steps`` optimizer steps,
   whichever is fewer, in batches of the budget's size, at the task's chosen learning rate.

The last epoch's weights are kept. Predictions: energy eV/atom, forces eV/Å, stress GPa
(CHGNet's sign); magnetic moments NaN (SevenNet does not predict them). Needs the optional
``sevenn`` package (``pip install "mfbench[sevenn]"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from pymatgen.core import Structure

from baselines.references import HUANG_2025, PARK_2024_SEVENNET
from baselines.regularised_reference import DEFAULT_STRENGTHS, check_strengths, select_shift
from mfbench.methods import (
    FitContext,
    FitDivergedError,
    FrameSet,
    LabelTable,
    Method,
    MfbenchError,
)
from mfbench.models.sevenn import (
    SAVED_FILE,
    Recipe,
    TrainingDivergedError,
    add_to_species_shift,
    check_supported_elements,
    is_multi_fidelity,
    load_saved_sevennet,
    load_sevennet,
    predict_with_sevennet,
    save_sevennet,
    train_sevennet,
)

#: Structures per forward pass when predicting.
PREDICT_BATCH_SIZE = 16


class SevenNetFineTune(Method):
    """SevenNet-0 with a refitted species-wise shift, fine-tuned by sevenn's trainer.

    Args:
        learning_rate: Adam's initial learning rate (the task's selection grid overrides it).
        epochs: passes over the training fraction (None: the budget's).
        batch_size: frames per step (None: the budget's).
        lr_decay: the learning rate's factor per epoch.
        huber_delta: δ of the Huber loss.
        force_loss_weight, stress_loss_weight: loss weights (energy's is 1; stress in kbar).
        base_model: the ``sevenn`` checkpoint to start from (a single-fidelity model).
        strengths: the ridge strengths of the shift fit to choose from on the validation split
            (dimensionless; :data:`baselines.regularised_reference.DEFAULT_STRENGTHS`).
    """

    name = "sevennet-finetune"
    needs_training_frames = True
    references = (PARK_2024_SEVENNET, HUANG_2025)

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr_decay: float = 0.99,
        huber_delta: float = 0.01,
        force_loss_weight: float = 1.0,
        stress_loss_weight: float = 0.01,
        base_model: str = "7net-0",
        strengths: tuple[float, ...] = DEFAULT_STRENGTHS,
    ) -> None:
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_decay = lr_decay
        self.huber_delta = huber_delta
        self.force_loss_weight = force_loss_weight
        self.stress_loss_weight = stress_loss_weight
        self.base_model = base_model
        self.strengths = strengths

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Refit the shift on ``train``'s residuals, then fine-tune (resuming from a checkpoint)."""
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames; use zero-shot for fraction 0")
        check_strengths(self.strengths)
        model, config = load_sevennet(context, self.base_model)
        if is_multi_fidelity(model):
            raise MfbenchError(
                f"{self.name} fine-tunes single-fidelity models; {self.base_model} has heads"
            )
        check_supported_elements(model, train.structures() + val.structures())
        refit = self._refit_shift(model, train, val, context)
        try:
            history = train_sevennet(
                model, train, val, self._recipe(len(train), context), seed=context.seed,
                device=context.device, checkpoint_dir=context.checkpoint_dir,
                identity={"method": self.name, "params": self.get_params()},
                progress=context.progress,
            )  # fmt: skip
        except TrainingDivergedError as exc:
            raise FitDivergedError(str(exc)) from exc
        self.model_, self.config_ = model, config
        self.history_ = {"reference_shift": refit, "train": history}
        self.steps_run_ = history[-1]["steps"]
        return self

    def _refit_shift(
        self, model: object, train: FrameSet, val: FrameSet, context: FitContext
    ) -> dict[str, Any]:
        """Add the chosen ridge fit of the residuals to the model's shift; what the fit says."""
        residuals = []
        for frames, side in ((train, "training"), (val, "validation")):
            gga = predict_with_sevennet(
                model, frames.structures(), batch_size=PREDICT_BATCH_SIZE,
                desc=f"{self.name}: SevenNet-0 energies of the {side} frames",
                progress=context.progress,
            ).energy_per_atom  # fmt: skip
            residuals.append(frames.labels().energy_per_atom - gga)
        choice = select_shift(
            train.composition_fractions(), residuals[0], train.material_ids,
            val.composition_fractions(), residuals[1], self.strengths,
        )  # fmt: skip
        add_to_species_shift(model, choice.shift)
        self.shift_change_ = choice.shift
        left = residuals[0] - train.composition_fractions() @ choice.shift
        history = choice.history()
        if not math.isfinite(history["condition_number"]):
            history["condition_number"] = None
        return {**history, "train_residual_mae_ev_per_atom": float(np.mean(np.abs(left)))}

    def _recipe(self, n_train: int, context: FitContext) -> Recipe:
        budget = context.budget
        batch = self.batch_size or (budget.batch_size if budget else 16)
        epochs = self.epochs or (budget.epochs if budget else 5)
        steps = epochs * math.ceil(n_train / batch)
        if budget and budget.max_steps:
            steps = min(steps, budget.max_steps)
        return Recipe(
            epochs=epochs, batch_size=batch, max_steps=steps, learning_rate=self.learning_rate,
            lr_decay=self.lr_decay, huber_delta=self.huber_delta,
            force_loss_weight=self.force_loss_weight, stress_loss_weight=self.stress_loss_weight,
        )  # fmt: skip

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """Energies eV/atom, forces eV/Å, stress GPa (CHGNet's sign); magmoms NaN."""
        self.check_is_fitted()
        return predict_with_sevennet(
            self.model_, list(structures), batch_size=PREDICT_BATCH_SIZE, desc=self.name
        )

    def save(self, directory: Path) -> None:
        """Write the hyperparameters and the fitted model as a sevenn checkpoint file."""
        self.check_is_fitted()
        self.save_params(directory)
        save_sevennet(self.model_, self.config_, Path(directory) / SAVED_FILE)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild from :meth:`save`'s files, the model on ``device``."""
        method = cls.from_saved_params(directory)
        method.model_, method.config_ = load_saved_sevennet(Path(directory) / SAVED_FILE, device)
        return method
