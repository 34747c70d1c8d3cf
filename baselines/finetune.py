"""Gradient-trained baselines on CHGNet's architecture: the paper's Methods 1-4 and multi-stage.

All follow the released r²SCAN recipe (chgnet ``pretrained/r2scan/README.md``): Adam, cosine
schedule, Huber loss (δ = 0.1), loss weights e/f/s/m = 3/1/0.1/1, learning rate 1e-3, trained
by :func:`baselines.training.train_chgnet` (chgnet's recipe, with checkpoints that resume) for
the task's budget: ``epochs`` passes over the training fraction or ``max_steps`` optimizer
steps, whichever is fewer.

- ``scratch`` (Method 1): CHGNet 0.3.0's architecture, random weights, elemental reference
  fitted on the training fraction and frozen.
- ``finetune-trainable-atomref`` (Method 2): from CHGNet 0.3.0, AtomRef trained with the rest.
- ``finetune-frozen-gga-atomref`` (Method 3, "naive fine-tune"): GGA AtomRef kept frozen.
- ``finetune-refit-atomref`` (Method 4): AtomRef refitted by least squares on the training
  fraction's energies (intensive, like CHGNet's), frozen, then fine-tuned. Never chgnet's
  shipped MP-r²SCAN AtomRef, which saw the test materials.
- ``multi-stage``: stage 1 refits the AtomRef and trains only the readout (backbone frozen)
  for ``stage1_share`` of the optimizer steps (at least one step per stage); stage 2
  unfreezes everything but the AtomRef at ``stage2_lr_factor`` times the learning rate, with
  a fresh optimiser and cosine schedule.

``finetune-residual-atomref`` (:mod:`baselines.regularised_reference`) is Method 4 started from
the GGA AtomRef plus a shift fitted to the GGA model's residuals.

Elements absent from the training fraction keep a reference from the GGA AtomRef shifted by
the mean fitted offset (never zero). Graphs that CHGNet cannot build stop the fit with the
frame id; nothing is swapped for another sample.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Self

from pymatgen.core import Structure

from baselines.references import DENG_2023_CHGNET, HUANG_2025
from baselines.training import LOOP_VERSION, Recipe, train_chgnet
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

#: Structures per forward pass when predicting. CHGNet keeps the graph of the force gradient
#: (``create_graph=True``) for the whole batch, so memory grows with it: 32 peaked at 3.8 GB
#: on the demo task, 8 (the demo budget's training batch) stays within the training's peak.
PREDICT_BATCH_SIZE = 8


def graph_loader(
    model: Any, frames: FrameSet, batch_size: int, shuffle: bool, seed: int, *,
    workers: int = 1, pin_memory: bool = False, labels: LabelTable | None = None,
) -> Any:  # fmt: skip
    """A torch ``DataLoader`` of (CHGNet graphs, targets) batches over ``frames``.

    Graphs come from the on-disk graph cache
    (:class:`mfbench.models.chgnet.graph_cache.GraphCache`): the frames it lacks are converted
    once, in ``workers`` processes, with ``model``'s converter settings, and every later run,
    method and seed reads them back. Frames CHGNet cannot convert stop here with
    :class:`~mfbench.models.chgnet.graph_cache.GraphConversionError` naming each one.

    Args:
        model: a ``chgnet.model.CHGNet`` (its ``graph_converter`` settings key the cache).
        frames: the frames, with their labels at the frame set's fidelity.
        batch_size: frames per batch.
        shuffle: draw a new order every epoch from a generator seeded with ``seed``.
        seed: seeds the order.
        workers: processes converting missing graphs (1: in this process).
        pin_memory: page-locked batches, for fast copies to a CUDA device.
        labels: targets to train on instead of the frames' labels (one row per frame, in
            order, same atom counts; a mismatch raises ``DataError``). None: the labels.
    """
    from mfbench.models.chgnet.graph_cache import GraphCache

    # Shard hashes are checked by `mfbench data graphs`; here each record's CRC-32 is checked as
    # it is read (a record that fails is converted afresh, never used), which costs nothing
    # up front on a cache of 238K frames.
    cache = GraphCache.build(frames, model, workers=workers, verify=False)
    return cache.loader(
        frames, batch_size, shuffle=shuffle, seed=seed, pin_memory=pin_memory, labels=labels
    )


class FineTune(Method):
    """Method 4, and the base of the other variants (set by class attributes)."""

    name = "finetune-refit-atomref"
    needs_training_frames = True
    references = (HUANG_2025, DENG_2023_CHGNET)
    #: "refit" (least squares on the fraction, frozen), "frozen-gga", "trainable" or "residual"
    #: (GGA's plus a shift fitted on its residuals, frozen: :mod:`baselines.regularised_reference`)
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

        model = load_pretrained(context, self.base_model)
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

    def _set_start_atomref(
        self, model: Any, train: FrameSet, val: FrameSet, context: FitContext
    ) -> None:
        """Set the AtomRef training starts from, in place: the refit (Methods 1 and 4) or GGA's."""
        if self.atomref == "refit" or self.from_scratch:
            self._refit_atomref(model, train)

    def _checkpoint_identity(self) -> dict[str, Any]:
        """What keys the checkpoints beyond hyperparameters, frames and seed (nothing here)."""
        return {}

    def _steps_and_batch(self, train: FrameSet, context: FitContext) -> tuple[int, int]:
        """Optimizer steps (``epochs`` passes, capped by the budget's ``max_steps``), batch size."""
        budget = context.budget
        batch = self.batch_size or (budget.batch_size if budget else 16)
        epochs = self.epochs or (budget.epochs if budget else 5)
        steps = epochs * math.ceil(len(train) / batch)
        if budget and budget.max_steps:
            steps = min(steps, budget.max_steps)
        return steps, batch

    def _train(
        self, model: Any, train: FrameSet, val: FrameSet, context: FitContext, *,
        steps: int, batch: int, learning_rate: float, train_atomref: bool, tag: str,
        labels: tuple[LabelTable, LabelTable] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Train ``model`` in place (see :func:`baselines.training.train_chgnet`); its history.

        ``labels``: substitute (train, val) targets for :func:`graph_loader`; None: the labels.
        """
        recipe = Recipe(
            epochs=math.ceil(steps / math.ceil(len(train) / batch)), max_steps=steps,
            learning_rate=learning_rate,
            energy_loss_ratio=self.energy_loss_ratio, force_loss_ratio=self.force_loss_ratio,
            stress_loss_ratio=self.stress_loss_ratio, mag_loss_ratio=self.mag_loss_ratio,
            train_atomref=train_atomref,
        )  # fmt: skip
        import chgnet

        # only a checkpoint of the same loop, library, hyperparameters, frames and seed resumes
        identity = {
            "loop": LOOP_VERSION, "chgnet": chgnet.__version__, "method": self.name,
            "params": self.get_params(), "recipe": asdict(recipe), "batch": batch,
            "seed": context.seed, "tag": tag, "train": train.fingerprint,
            "val": val.fingerprint, **self._checkpoint_identity(),
        }  # fmt: skip
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
        data = {"workers": context.data_workers, "pin_memory": context.device.startswith("cuda")}
        train_labels, val_labels = labels or (None, None)
        return train_chgnet(
            model,
            graph_loader(
                model, train, batch, shuffle=True, seed=context.seed, labels=train_labels, **data
            ),
            graph_loader(
                model, val, batch, shuffle=False, seed=context.seed, labels=val_labels, **data
            ),
            recipe, device=context.device, checkpoint_dir=context.checkpoint_dir, tag=tag,
            key=key.hexdigest(), progress=context.progress,
        )  # fmt: skip

    # -- the interface ------------------------------------------------------------------

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Set the AtomRef as the variant says, then train (resuming from a checkpoint)."""
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames; use zero-shot for fraction 0")
        model = self._start_model(context)
        self._set_start_atomref(model, train, val, context)
        steps, batch = self._steps_and_batch(train, context)
        history = self._train(
            model, train, val, context, steps=steps, batch=batch,
            learning_rate=self.learning_rate, train_atomref=self.atomref == "trainable",
            tag="train",
        )  # fmt: skip
        self.model_, self.history_ = model, {"train": history}
        self.steps_run_ = history[-1]["steps"]
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """CHGNet predictions of the trained model."""
        self.check_is_fitted()
        check_supported_elements(structures)
        self.model_.eval()
        return predict_with_chgnet(
            self.model_, structures, batch_size=PREDICT_BATCH_SIZE, desc=self.name
        )

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
        """Stage 1: readout only (``stage1_share`` of the steps); stage 2: all, lower lr."""
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames")
        model = self._start_model(context)
        self._refit_atomref(model, train)
        steps, batch = self._steps_and_batch(train, context)
        if steps < 2:
            raise ValueError(f"{self.name} needs a budget of at least 2 steps, got {steps}")
        stage1 = min(steps - 1, max(1, round(steps * self.stage1_share)))
        readout = ("mlp", "readout_norm")
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith(readout)
        history1 = self._train(
            model, train, val, context, steps=stage1, batch=batch,
            learning_rate=self.learning_rate, train_atomref=False, tag="stage1",
        )  # fmt: skip
        for name, parameter in model.named_parameters():
            parameter.requires_grad = not name.startswith("composition_model")
        history2 = self._train(
            model, train, val, context, steps=steps - stage1, batch=batch,
            learning_rate=self.learning_rate * self.stage2_lr_factor, train_atomref=False,
            tag="stage2",
        )  # fmt: skip
        self.model_ = model
        self.history_ = {"stage1": history1, "stage2": history2}
        self.steps_run_ = history1[-1]["steps"] + history2[-1]["steps"]
        return self
