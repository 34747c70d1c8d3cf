"""Gradient-trained baselines on CHGNet's architecture: the paper's Methods 1-4 and multi-stage.

All follow the released r²SCAN recipe (chgnet ``pretrained/r2scan/README.md``): Adam, cosine
schedule, Huber loss (δ = 0.1), loss weights e/f/s/m = 3/1/0.1/1, learning rate 1e-3, trained
with chgnet's ``Trainer`` for the task's epoch budget (capped so that epochs × steps per epoch
does not exceed the budget's ``max_steps``).

- ``scratch`` (Method 1): CHGNet 0.3.0's architecture, random weights, elemental reference
  fitted on the training fraction and frozen.
- ``finetune-trainable-atomref`` (Method 2): from CHGNet 0.3.0, AtomRef trained with the rest.
- ``finetune-frozen-gga-atomref`` (Method 3, "naive fine-tune"): GGA AtomRef kept frozen.
- ``finetune-refit-atomref`` (Method 4): AtomRef refitted by least squares on the training
  fraction's energies (intensive, like CHGNet's), frozen, then fine-tuned. Never chgnet's
  shipped MP-r²SCAN AtomRef, which saw the test materials.
- ``multi-stage``: stage 1 refits the AtomRef and trains only the readout (backbone frozen)
  for ``stage1_share`` of the epochs; stage 2 unfreezes everything at ``stage2_lr_factor``
  times the learning rate.

Elements absent from the training fraction keep a reference from the GGA AtomRef shifted by
the mean fitted offset (never zero). Graphs that CHGNet cannot build stop the fit with the
frame id; nothing is swapped for another sample.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from pymatgen.core import Structure

from baselines.zero_shot import atomref_weights, set_atomref_weights
from mfbench.atomic import write_bytes_atomic
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.elemental_reference import fit_elemental_reference
from mfbench.errors import DataError
from mfbench.methods import FitContext, Method
from mfbench.models.chgnet_pretrained import check_supported_elements, predict_with_chgnet


def graph_loader(model: Any, frames: FrameSet, batch_size: int, shuffle: bool, seed: int) -> Any:
    """A torch ``DataLoader`` of (CHGNet graph, targets) over ``frames``; graphs built once."""
    import torch
    from chgnet.data.dataset import collate_graphs

    table = frames.labels()
    structures = frames.structures()
    ids = frames.frame_ids.tolist()
    offsets = table.atom_offsets
    graphs: dict[int, Any] = {}

    class Graphs(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(structures)

        def __getitem__(self, i: int) -> tuple[Any, dict[str, Any]]:
            if i not in graphs:
                try:
                    graphs[i] = model.graph_converter(structures[i], graph_id=i, mp_id=ids[i])
                except Exception as exc:
                    raise DataError(f"CHGNet cannot build its graph ({exc})", frame=ids[i]) from exc
            atoms = slice(int(offsets[i]), int(offsets[i + 1]))
            magmoms = table.magmoms[atoms]
            targets = {
                "e": torch.tensor(table.energy_per_atom[i], dtype=torch.float32),
                "f": torch.tensor(table.forces[atoms], dtype=torch.float32),
                "s": torch.tensor(table.stress[i], dtype=torch.float32),
                "m": None
                if np.isnan(magmoms).any()
                else torch.tensor(magmoms, dtype=torch.float32),
            }
            return graphs[i], targets

    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        Graphs(), batch_size=batch_size, shuffle=shuffle, collate_fn=collate_graphs,
        generator=generator, num_workers=0,
    )  # fmt: skip


class FineTune(Method):
    """Method 4, and the base of the other variants (set by class attributes)."""

    name = "finetune-refit-atomref"
    #: "refit" (least squares on the fraction, frozen), "frozen-gga" or "trainable"
    atomref: ClassVar[str] = "refit"
    from_scratch: ClassVar[bool] = False

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epochs: int | None = None,
        batch_size: int | None = None,
        energy_loss_ratio: float = 3.0,
        force_loss_ratio: float = 1.0,
        stress_loss_ratio: float = 0.1,
        mag_loss_ratio: float = 1.0,
        base_model: str = "0.3.0",
    ) -> None:
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.energy_loss_ratio = energy_loss_ratio
        self.force_loss_ratio = force_loss_ratio
        self.stress_loss_ratio = stress_loss_ratio
        self.mag_loss_ratio = mag_loss_ratio
        self.base_model = base_model

    # -- pieces the variants reuse ------------------------------------------------------

    def _start_model(self, context: FitContext) -> Any:
        import torch

        model = context.pretrained_model(self.base_model)
        if self.from_scratch:
            from chgnet.model import CHGNet

            torch.manual_seed(context.seed)
            fresh = CHGNet(**model.model_args).to(context.device)
            set_atomref_weights(fresh, atomref_weights(model))
            model = fresh
        return model

    def _refit_atomref(self, model: Any, train: FrameSet) -> None:
        fit = fit_elemental_reference(
            train.composition_fractions(), train.labels().energy_per_atom, train.material_ids
        )
        filled, mask = fit.filled_from(atomref_weights(model))
        set_atomref_weights(model, filled.weights)
        self.atomref_condition_number_ = fit.condition_number
        self.atomref_filled_elements_ = int(mask.sum())

    def _epochs_and_batch(self, train: FrameSet, context: FitContext) -> tuple[int, int]:
        budget = context.budget
        batch = self.batch_size or (budget.batch_size if budget else 16)
        epochs = self.epochs or (budget.epochs if budget else 5)
        if budget and budget.max_steps:
            steps_per_epoch = math.ceil(len(train) / batch)
            epochs = max(1, min(epochs, budget.max_steps // steps_per_epoch))
        return epochs, batch

    def _train(
        self, model: Any, train: FrameSet, val: FrameSet, context: FitContext, *,
        epochs: int, batch: int, learning_rate: float, train_atomref: bool, tag: str,
    ) -> Any:  # fmt: skip
        from chgnet.trainer import Trainer

        trainer = Trainer(
            model=model, targets="efsm", energy_loss_ratio=self.energy_loss_ratio,
            force_loss_ratio=self.force_loss_ratio, stress_loss_ratio=self.stress_loss_ratio,
            mag_loss_ratio=self.mag_loss_ratio, optimizer="Adam", scheduler="CosLR",
            criterion="Huber", epochs=epochs, learning_rate=learning_rate,
            torch_seed=context.seed, use_device=context.device, print_freq=10**9,
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as scratch:
            # chgnet's Trainer always writes checkpoints; without a run folder they are dropped
            save_dir = Path(context.checkpoint_dir or scratch) / tag
            trainer.train(
                graph_loader(model, train, batch, shuffle=True, seed=context.seed),
                graph_loader(model, val, batch, shuffle=False, seed=context.seed),
                save_dir=str(save_dir), train_composition_model=train_atomref,
            )  # fmt: skip
        self.history_ = {k: v for k, v in trainer.training_history.items() if v["val"]}
        return trainer.model

    # -- the interface ------------------------------------------------------------------

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Set the AtomRef as the variant says, then train with chgnet's Trainer."""
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames; use zero-shot for fraction 0")
        model = self._start_model(context)
        if self.atomref == "refit" or self.from_scratch:
            self._refit_atomref(model, train)
        epochs, batch = self._epochs_and_batch(train, context)
        self.epochs_run_ = epochs
        self.model_ = self._train(
            model, train, val, context, epochs=epochs, batch=batch,
            learning_rate=self.learning_rate, train_atomref=self.atomref == "trainable",
            tag="train",
        )  # fmt: skip
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """CHGNet predictions of the trained model."""
        self.check_is_fitted()
        check_supported_elements(structures)
        self.model_.eval()
        return predict_with_chgnet(self.model_, structures, desc=self.name)

    def save(self, directory: Path) -> None:
        """Write hyperparameters and the trained model's state."""
        import torch

        self.check_is_fitted()
        self.save_params(directory)
        buffer = io.BytesIO()
        torch.save(self.model_.as_dict(), buffer)
        write_bytes_atomic(Path(directory) / "model.pt", buffer.getvalue())

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild from :meth:`save`'s files."""
        import torch
        from chgnet.model import CHGNet

        method = cls.from_saved_params(directory)
        state = torch.load(Path(directory) / "model.pt", map_location=device, weights_only=False)
        method.model_ = CHGNet.from_dict(state).to(device)
        return method


class Scratch(FineTune):
    """Method 1: random initialisation, elemental reference fitted on the fraction."""

    name = "scratch"
    from_scratch = True


class FineTuneTrainableAtomRef(FineTune):
    """Method 2: transfer learning with a trainable AtomRef."""

    name = "finetune-trainable-atomref"
    atomref = "trainable"


class FineTuneFrozenGGAAtomRef(FineTune):
    """Method 3: transfer learning with the GGA AtomRef frozen (naive fine-tune)."""

    name = "finetune-frozen-gga-atomref"
    atomref = "frozen-gga"


class MultiStage(FineTune):
    """Refit AtomRef, train the readout with the backbone frozen, then unfreeze all."""

    name = "multi-stage"

    def __init__(
        self, stage1_share: float = 0.5, stage2_lr_factor: float = 0.1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.stage1_share = stage1_share
        self.stage2_lr_factor = stage2_lr_factor

    def get_params(self) -> dict[str, Any]:
        """Own hyperparameters plus :class:`FineTune`'s."""
        params = FineTune(**{}).get_params()
        return {**{k: getattr(self, k) for k in params}, "stage1_share": self.stage1_share,
                "stage2_lr_factor": self.stage2_lr_factor}  # fmt: skip

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Stage 1: readout only (``stage1_share`` of the epochs); stage 2: all, lower lr."""
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames")
        model = self._start_model(context)
        self._refit_atomref(model, train)
        epochs, batch = self._epochs_and_batch(train, context)
        stage1 = max(1, round(epochs * self.stage1_share))
        stage2 = max(1, epochs - stage1)
        readout = ("mlp", "readout_norm")
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith(readout)
        model = self._train(
            model,
            train,
            val,
            context,
            epochs=stage1,
            batch=batch,
            learning_rate=self.learning_rate,
            train_atomref=False,
            tag="stage1",
        )
        for name, parameter in model.named_parameters():
            parameter.requires_grad = not name.startswith("composition_model")
        self.model_ = self._train(
            model, train, val, context, epochs=stage2, batch=batch,
            learning_rate=self.learning_rate * self.stage2_lr_factor, train_atomref=False,
            tag="stage2",
        )  # fmt: skip
        self.epochs_run_ = stage1 + stage2
        return self
