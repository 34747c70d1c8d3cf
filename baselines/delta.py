"""Δ-learning: a frozen GGA model plus a small CHGNet trained on what it gets wrong.

``delta-learning`` (after Ramakrishnan, Dral, Rupp, von Lilienfeld, J. Chem. Theory Comput. 11,
2087 (2015)) predicts

    E/atom, F, σ  =  GGA model (shifted)  +  Δ-model

- the **GGA model**: CHGNet 0.3.0 (``base_model``), frozen, with its elemental reference
  shifted by the per-element fit to its residuals on the training fraction, exactly as
  ``zero-shot`` does (:func:`baselines.zero_shot.fit_residual_shift`);
- the **Δ-model**: a small CHGNet (``hidden_dim`` features, ``n_conv`` interaction blocks;
  about 48K parameters at the defaults, against the GGA model's 412K) with CHGNet 0.3.0's
  graph settings, so it reads the same graph cache. It is trained from random weights on the
  residual labels ``label - GGA model (shifted)`` of the training frames: energies (eV/atom),
  forces (eV/Å) and stresses (GPa, CHGNet's sign), with chgnet's r²SCAN recipe
  (:mod:`baselines.training`) for the task's budget. Its ``AtomRef`` is zero and frozen (the
  residuals after the shift have about zero per-element mean), and its last readout layer
  starts at zero, so before the first step the method predicts exactly what ``zero-shot``
  predicts and training moves it from there.

Magnetic moments (μB) are the GGA model's: the Δ-model does not learn them (no magmom loss).

The GGA model's predictions of the training and validation frames are computed once per fit,
without gradients; the shift only moves energies, so the shifted energies are the unshifted
ones plus the composition fractions times the shift. The training history's ``train`` and
``val`` MAEs are of the Δ-model against the residuals, i.e. of the sum against the labels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from pymatgen.core import Structure

from baselines.finetune import PREDICT_BATCH_SIZE, FineTune
from baselines.references import DENG_2023_CHGNET, HUANG_2025, RAMAKRISHNAN_2015_DELTA
from baselines.zero_shot import fit_residual_shift
from mfbench.methods import FitContext, FrameSet, LabelTable, MfbenchError, write_bytes_atomic
from mfbench.models.chgnet import (
    atomref_weights,
    check_supported_elements,
    load_pretrained,
    predict_with_chgnet,
    set_atomref_weights,
)


class DeltaLearning(FineTune):
    """Frozen, shifted GGA CHGNet plus a small CHGNet trained on the residuals.

    Args:
        learning_rate: Adam's initial learning rate of the Δ-model.
        epochs: passes over the training frames (None: the task budget's, capped by its
            ``max_steps``).
        batch_size: frames per batch (None: the task budget's).
        energy_loss_ratio, force_loss_ratio, stress_loss_ratio: loss weights of the residual
            energies (eV/atom), forces (eV/Å) and stresses (GPa). No magmom loss.
        hidden_dim: the Δ-model's feature width (atom, bond and angle features, convolution
            and readout hidden layers).
        n_conv: the Δ-model's interaction blocks.
        base_model: the frozen GGA model, ``CHGNet.load``'s name.

    Learned state: ``gga_model_`` (the shifted GGA CHGNet), ``shift_`` (``[94]`` eV/atom
    added to its ``AtomRef``), ``delta_model_`` (the trained small CHGNet), ``history_``,
    ``steps_run_``.
    """

    name = "delta-learning"
    references = (RAMAKRISHNAN_2015_DELTA, HUANG_2025, DENG_2023_CHGNET)
    #: the Δ-model does not learn magnetic moments (read by ``FineTune._train``'s recipe)
    mag_loss_ratio: ClassVar[float] = 0.0

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epochs: int | None = None,
        batch_size: int | None = None,
        energy_loss_ratio: float = 3.0,
        force_loss_ratio: float = 1.0,
        stress_loss_ratio: float = 0.1,
        hidden_dim: int = 32,
        n_conv: int = 2,
        base_model: str = "0.3.0",
    ) -> None:
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.energy_loss_ratio = energy_loss_ratio
        self.force_loss_ratio = force_loss_ratio
        self.stress_loss_ratio = stress_loss_ratio
        self.hidden_dim = hidden_dim
        self.n_conv = n_conv
        self.base_model = base_model

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Shift the GGA model's reference, then train the Δ-model on the residuals."""
        if len(train) == 0:
            raise MfbenchError(f"{self.name} needs training frames; use zero-shot for fraction 0")
        gga = load_pretrained(context, self.base_model)
        gga.eval()
        # both predicted before the shift, which _residuals adds
        gga_train = self._gga_predictions(gga, train, context, "training")
        gga_val = self._gga_predictions(gga, val, context, "validation")
        shift = fit_residual_shift(train, gga_train.energy_per_atom)
        set_atomref_weights(gga, atomref_weights(gga) + shift.weights)
        residual_train = _residuals(train, gga_train, shift.weights)
        residual_val = _residuals(val, gga_val, shift.weights)

        delta = self._new_delta_model(gga.model_args, context)
        steps, batch = self._steps_and_batch(train, context)
        history = self._train(
            delta, train, val, context, steps=steps, batch=batch,
            learning_rate=self.learning_rate, train_atomref=False, tag="delta",
            labels=(residual_train, residual_val),
        )  # fmt: skip
        delta.eval()
        self.gga_model_, self.shift_, self.delta_model_ = gga, shift.weights, delta
        self.history_ = {
            "train": history,
            "shift": {
                "n_filled_elements": shift.n_filled_elements,
                "condition_number": shift.condition_number,
            },
            "delta_model_parameters": int(sum(p.numel() for p in delta.parameters())),
            "gga_residual_mae": {"train": _maes(residual_train), "val": _maes(residual_val)},
        }
        self.steps_run_ = history[-1]["steps"]
        return self

    def _gga_predictions(
        self, gga: Any, frames: FrameSet, context: FitContext, what: str
    ) -> LabelTable:
        """The unshifted GGA model's predictions of ``frames`` (no gradients kept)."""
        return predict_with_chgnet(
            gga, frames.structures(), batch_size=PREDICT_BATCH_SIZE,
            desc=f"{self.name}: GGA predictions of the {what} frames", progress=context.progress,
        )  # fmt: skip

    def _new_delta_model(self, gga_args: dict[str, Any], context: FitContext) -> Any:
        """A small CHGNet, seeded: the GGA model's graph settings, zero AtomRef and readout."""
        import torch
        from chgnet.model import CHGNet

        size = self.hidden_dim
        args = {
            **gga_args, "atom_fea_dim": size, "bond_fea_dim": size, "angle_fea_dim": size,
            "atom_conv_hidden_dim": size, "bond_conv_hidden_dim": size,
            "mlp_hidden_dims": [size, size], "n_conv": self.n_conv, "version": None,
        }  # fmt: skip
        torch.manual_seed(context.seed)
        model = CHGNet(**args).to(context.device)
        set_atomref_weights(model, np.zeros(len(atomref_weights(model))))
        with torch.no_grad():
            for parameter in model.mlp.layers[-1].parameters():
                parameter.zero_()  # the Δ-model starts as the zero function
        return model

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """GGA model (shifted) + Δ-model: energies, forces, stresses; the GGA model's magmoms."""
        self.check_is_fitted()
        check_supported_elements(structures)
        parts = []
        for part, model in (("GGA", self.gga_model_), ("Δ", self.delta_model_)):
            model.eval()
            parts.append(
                predict_with_chgnet(
                    model, structures, batch_size=PREDICT_BATCH_SIZE, desc=f"{self.name}: {part}"
                )
            )
        return combine_predictions(*parts)

    def save(self, directory: Path) -> None:
        """Write the hyperparameters, the shift (``shift.npy``) and the Δ-model (``delta.pt``)."""
        import torch

        self.check_is_fitted()
        self.save_params(directory)
        buffer = io.BytesIO()
        np.save(buffer, self.shift_)
        write_bytes_atomic(Path(directory) / "shift.npy", buffer.getvalue())
        buffer = io.BytesIO()
        torch.save(self.delta_model_.as_dict(), buffer)
        write_bytes_atomic(Path(directory) / "delta.pt", buffer.getvalue())

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild from :meth:`save`'s files: the GGA model shifted again, the Δ-model."""
        import torch
        from chgnet.model import CHGNet

        method = cls.from_saved_params(directory)
        method.shift_ = np.load(Path(directory) / "shift.npy")
        method.gga_model_ = load_pretrained(FitContext(device=device), method.base_model)
        set_atomref_weights(method.gga_model_, atomref_weights(method.gga_model_) + method.shift_)
        state = torch.load(Path(directory) / "delta.pt", map_location=device, weights_only=False)
        method.delta_model_ = CHGNet.from_dict(state).to(device)
        method.gga_model_.eval()
        method.delta_model_.eval()
        return method


def combine_predictions(gga: LabelTable, delta: LabelTable) -> LabelTable:
    """The sum of two models' energies, forces and stresses, with the first's magmoms."""
    if not np.array_equal(gga.atom_offsets, delta.atom_offsets):
        raise ValueError("the two predictions cover different structures")
    return LabelTable(
        energy_per_atom=gga.energy_per_atom + delta.energy_per_atom,
        forces=gga.forces + delta.forces,
        stress=gga.stress + delta.stress,
        magmoms=gga.magmoms,
        atom_offsets=gga.atom_offsets,
    )


def _residuals(frames: FrameSet, gga: LabelTable, shift: np.ndarray) -> LabelTable:
    """``labels - GGA model (shifted)`` of ``frames``; magmoms NaN (not learned).

    ``gga`` was predicted before the shift: the shift adds ``fractions @ shift`` eV/atom to
    each energy and leaves forces and stresses unchanged (the AtomRef sees no positions).
    """
    labels = frames.labels()
    shifted_energy = gga.energy_per_atom + frames.composition_fractions() @ shift
    return LabelTable(
        energy_per_atom=labels.energy_per_atom - shifted_energy,
        forces=labels.forces - gga.forces,
        stress=labels.stress - gga.stress,
        magmoms=np.full_like(labels.magmoms, np.nan),
        atom_offsets=labels.atom_offsets,
    )


def _maes(residual: LabelTable) -> dict[str, float]:
    """MAEs of the shifted GGA model (= mean |residual|): e eV/atom, f eV/Å, s GPa."""
    return {
        "e": float(np.nanmean(np.abs(residual.energy_per_atom))),
        "f": float(np.nanmean(np.abs(residual.forces))),
        "s": float(np.nanmean(np.abs(residual.stress))),
    }
