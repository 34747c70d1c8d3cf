"""Multi-fidelity joint training: one CHGNet backbone, one head per fidelity (``multi-fidelity``).

It follows SevenNet-MF (Kim, J. et al., "Data-efficient multi-fidelity training for
high-fidelity machine learning interatomic potentials", J. Am. Chem. Soc. 2025, doi
10.1021/jacs.4c14455, arXiv 2409.07947) and MACE's multi-head fine-tuning (Batatia, I. et al.,
"A foundation model for atomistic materials chemistry", arXiv 2401.00096; MACE documentation,
"Multihead Replay Finetuning"): the scarce high-fidelity labels are learnt together with
plentiful low-fidelity labels through one shared network whose fidelity-specific parts are
small, so the low-fidelity data keeps the shared representation from over-fitting the few
high-fidelity frames. SevenNet-MF feeds a one-hot fidelity into selected layers; separate
readout heads, as MACE uses, need no change to CHGNet. The prediction uses the r²SCAN head.

How it is built on CHGNet 0.3.0 (``mfbench.models.chgnet.load_pretrained``):

- **Heads.** A head is CHGNet's energy readout (``readout_norm`` + ``mlp``) and its
  elemental reference (``composition_model``, the intensive ``AtomRef``, eV/atom). The r²SCAN
  model is the loaded CHGNet; the GGA model is a second CHGNet object that shares every other
  submodule (:func:`baselines.joint_training.fidelity_view`). Both heads start from the
  pretrained readout. Forces (eV/Å) and stresses (GPa) are derivatives of each head's energy
  through the shared backbone; magnetic moments (μB) come from the backbone's ``site_wise``
  layer and are shared.
- **Elemental references**, frozen during training. The r²SCAN head's AtomRef is the GGA
  AtomRef plus a per-element shift fitted to the GGA model's residuals on the r²SCAN fraction
  (``E_r2SCAN - E_GGA-model``), by ridge regression with the strength chosen on the validation
  split, exactly as ``finetune-residual-atomref`` starts
  (:func:`baselines.regularised_reference.select_shift`; ``strengths`` is its grid, and a
  grid of ``(0.0,)`` gives ``zero-shot``'s plain least squares): so ``multi-fidelity`` and
  ``finetune-residual-atomref`` differ only in the joint GGA training. The GGA head's AtomRef
  is the GGA AtomRef plus a least-squares shift fitted to the residuals on the auxiliary GGA
  frames (thousands of frames: no shrinkage, and no GGA validation labels to choose a
  strength on). The GGA head needs a shift of its own because the task's GGA labels
  need not be CHGNet's own (the ranked task's come from SevenNet-MF-0's PBE head, without
  MP2020's anion corrections: CHGNet 0.3.0 is 141 meV/atom off them on the train split, 102
  after the shift, whose weights are +0.56 eV/atom for O and +0.70 for S), and an offset left
  in the GGA head would be learnt by the shared backbone. Where the GGA labels are CHGNet's own
  (MPtrj), the fitted shift should be close to zero. Elements absent from a fit get the mean
  shift.
- **Data.** The GGA frames are what ``context.auxiliary("gga")`` returns (the task decides
  the scope: on the embedded tasks the GGA labels of the whole train split, r²SCAN fraction
  included; the runner records the use). Without it, the fit stops with
  :class:`AuxiliaryDataError` naming what the task allows.
- **Sampling and loss.** Each optimizer step adds the gradients of
  ``loss(r²SCAN batch, r²SCAN head) + gga_loss_weight × mean of loss(GGA batch, GGA head)``
  over ``gga_ratio`` GGA batches (batch size as the r²SCAN batches). The GGA batches cycle
  through the GGA frames in an order of their own, seeded from the run's seed. Loss, optimiser
  and schedule are the other baselines' (chgnet's r2scan recipe: Huber δ 0.1, e/f/s/m
  3/1/0.1/1, Adam, cosine), for the same budget: ``epochs`` passes over the r²SCAN fraction
  or the task's ``max_steps`` optimizer steps, whichever is fewer. The GGA batches add
  ``gga_ratio`` forward and backward passes per step: a fit costs about ``1 + gga_ratio``
  times a fine-tune of the same budget.
- **Checkpoints** after every epoch (both heads, optimizer, both loaders' positions) resume a
  killed run exactly (:func:`baselines.joint_training.train_joint`).

``history_`` holds ``reference_shift`` (the chosen strength and every candidate's validation
energy MAE, as ``finetune-residual-atomref`` records it), ``gga_reference_shift`` (the GGA
head's fit), ``train`` (per epoch: r²SCAN-head train and validation MAEs as the fine-tune
baselines record them, and ``aux``: the mean GGA loss, the GGA head's train MAEs and the GGA
batches drawn so far), ``auxiliary`` (``"gga"``), ``gga_frames`` (frames in the GGA pool),
``gga_ratio``, ``gga_loss_weight`` and ``gga_batches`` (drawn in all). Only the r²SCAN model
is kept and saved; the GGA head is dropped after ``fit``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict
from typing import Any, Self

import numpy as np

from baselines.finetune import FineTune, graph_loader
from baselines.joint_training import JOINT_LOOP_VERSION, fidelity_view, train_joint
from baselines.references import BATATIA_2023_MACE_MP, DENG_2023_CHGNET, KIM_2025_MULTIFIDELITY
from baselines.regularised_reference import DEFAULT_STRENGTHS, check_strengths, select_shift
from baselines.training import LOOP_VERSION, Recipe
from mfbench.methods import FitContext, FrameSet, MfbenchError, fit_elemental_reference
from mfbench.models.chgnet import atomref_weights, set_atomref_weights

logger = logging.getLogger(__name__)

#: The auxiliary data this method asks the task for.
AUXILIARY = "gga"


class AuxiliaryDataError(MfbenchError):
    """The task offers no auxiliary GGA labels, which multi-fidelity training needs."""


class MultiFidelity(FineTune):
    """One CHGNet backbone trained on GGA and r²SCAN labels at once, one head per fidelity.

    Predicts with the r²SCAN head: energy eV/atom, forces ``[n_atoms, 3]`` eV/Å, stress
    ``[3, 3]`` GPa (CHGNet's sign), magmoms ``[n_atoms]`` μB. Prediction, saving and loading
    are :class:`~baselines.finetune.FineTune`'s (the fitted model is a plain CHGNet).

    Args:
        learning_rate: Adam's initial learning rate (cosine decay to 1 % of it).
        epochs: passes over the r²SCAN fraction (default: the task budget's).
        batch_size: frames per batch, r²SCAN and GGA alike (default: the task budget's).
        gga_ratio: GGA batches per r²SCAN batch in each optimizer step (an integer ≥ 1).
        gga_loss_weight: weight of the GGA loss (the mean over its batches) against the
            r²SCAN loss (≥ 0).
        energy_loss_ratio, force_loss_ratio, stress_loss_ratio, mag_loss_ratio: loss weights
            of energy, forces, stress and magmoms, for both fidelities.
        base_model: the pretrained CHGNet both heads start from.
        strengths: the ridge strengths (dimensionless, each ≥ 0) the r²SCAN head's residual
            shift is chosen from on the validation split (see
            :mod:`baselines.regularised_reference`).
    """

    name = "multi-fidelity"
    needs_training_frames = True
    references = (KIM_2025_MULTIFIDELITY, BATATIA_2023_MACE_MP, DENG_2023_CHGNET)

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epochs: int | None = None,
        batch_size: int | None = None,
        gga_ratio: int = 1,
        gga_loss_weight: float = 1.0,
        energy_loss_ratio: float = 3.0,
        force_loss_ratio: float = 1.0,
        stress_loss_ratio: float = 0.1,
        mag_loss_ratio: float = 1.0,
        base_model: str = "0.3.0",
        strengths: tuple[float, ...] = DEFAULT_STRENGTHS,
    ) -> None:
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.gga_ratio = gga_ratio
        self.gga_loss_weight = gga_loss_weight
        self.energy_loss_ratio = energy_loss_ratio
        self.force_loss_ratio = force_loss_ratio
        self.stress_loss_ratio = stress_loss_ratio
        self.mag_loss_ratio = mag_loss_ratio
        self.base_model = base_model
        self.strengths = strengths

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Fit both heads' references, then train backbone and heads on both fidelities.

        Raises:
            ValueError: no training frames, or ``gga_ratio`` / ``gga_loss_weight`` out of range.
            ReferenceStrengthError: ``strengths`` is not a usable grid.
            AuxiliaryDataError: the task offers no auxiliary ``"gga"`` data, or none of it.
            TrainingDivergedError: a loss turned NaN.
        """
        if len(train) == 0:
            raise ValueError(f"{self.name} needs training frames; use zero-shot for fraction 0")
        if isinstance(self.gga_ratio, bool) or not isinstance(self.gga_ratio, int):
            raise ValueError(f"gga_ratio must be an integer, got {self.gga_ratio!r}")
        if self.gga_ratio < 1:
            raise ValueError(f"gga_ratio must be at least 1, got {self.gga_ratio}")
        if not (math.isfinite(self.gga_loss_weight) and self.gga_loss_weight >= 0):
            raise ValueError(f"gga_loss_weight must be finite and ≥ 0, got {self.gga_loss_weight}")
        check_strengths(self.strengths)
        gga = self._gga_frames(context)
        model = self._start_model(context)
        steps, batch = self._steps_and_batch(train, context)
        data = {"workers": context.data_workers, "pin_memory": context.device.startswith("cuda")}

        # both references from the untouched GGA model's energies, before either head changes
        residual = {
            side: frames.labels().energy_per_atom - _energies(
                model, graph_loader(model, frames, batch, shuffle=False, seed=0, **data),
                context.device,
            )
            for side, frames in (("train", train), ("val", val), ("gga", gga))
        }  # fmt: skip
        choice = select_shift(
            train.composition_fractions(), residual["train"], train.material_ids,
            val.composition_fractions(), residual["val"], self.strengths,
        )  # fmt: skip
        gga_fit = fit_elemental_reference(
            gga.composition_fractions(), residual["gga"], gga.material_ids
        )
        gga_shift, gga_filled = gga_fit.filled_from(np.zeros_like(gga_fit.weights))
        gga_atomref = atomref_weights(model)
        gga_model = fidelity_view(model)
        set_atomref_weights(model, gga_atomref + choice.shift)
        set_atomref_weights(gga_model, gga_atomref + gga_shift.weights)
        # rounded to 1 µeV/atom: a near-tie flipped by float noise must not resume another start
        references = {
            "r2scan_strength": choice.strength,
            "r2scan_shift": [round(float(w), 6) for w in choice.shift],
            "gga_shift": [round(float(w), 6) for w in gga_shift.weights],
        }

        recipe = Recipe(
            epochs=math.ceil(steps / math.ceil(len(train) / batch)), max_steps=steps,
            learning_rate=self.learning_rate,
            energy_loss_ratio=self.energy_loss_ratio, force_loss_ratio=self.force_loss_ratio,
            stress_loss_ratio=self.stress_loss_ratio, mag_loss_ratio=self.mag_loss_ratio,
            train_atomref=False,
        )  # fmt: skip
        gga_seed = _derived_seed(context.seed, AUXILIARY)
        history = train_joint(
            model, gga_model,
            graph_loader(model, train, batch, shuffle=True, seed=context.seed, **data),
            graph_loader(model, gga, batch, shuffle=True, seed=gga_seed, **data),
            graph_loader(model, val, batch, shuffle=False, seed=context.seed, **data),
            recipe, aux_ratio=self.gga_ratio, aux_loss_weight=self.gga_loss_weight,
            device=context.device, checkpoint_dir=context.checkpoint_dir, tag="joint",
            key=self._checkpoint_key(
                recipe, batch, gga_seed, train, val, gga, context, references=references
            ),
            progress=context.progress,
        )  # fmt: skip
        self.model_ = model
        self.history_ = {
            "reference_shift": choice.history(),
            "gga_reference_shift": {
                "n_filled_elements": int(gga_filled.sum()),
                "condition_number": gga_fit.condition_number,
                "residual_mae_ev_per_atom": gga_fit.residual_mae_ev_per_atom,
            },
            "train": history, "auxiliary": AUXILIARY, "gga_frames": len(gga),
            "gga_ratio": self.gga_ratio, "gga_loss_weight": self.gga_loss_weight,
            "gga_batches": history[-1]["aux"]["batches"],
        }  # fmt: skip
        self.steps_run_ = history[-1]["steps"]
        logger.info(
            "%s: %d steps on %d r²SCAN frames and %d GGA batches of %d GGA frames",
            self.name, self.steps_run_, len(train), self.history_["gga_batches"], len(gga),
        )  # fmt: skip
        return self

    # -- pieces -------------------------------------------------------------------------

    def _gga_frames(self, context: FitContext) -> FrameSet:
        """The task's auxiliary GGA frames (recording their use), or a clear error."""
        try:
            frames = context.auxiliary(AUXILIARY)
        except KeyError as exc:
            raise AuxiliaryDataError(
                f"{self.name} trains on the task's auxiliary {AUXILIARY!r} labels: {exc.args[0]}"
            ) from None
        if len(frames) == 0:
            raise AuxiliaryDataError(f"the task's auxiliary {AUXILIARY!r} data has no frames")
        return frames

    def _checkpoint_key(
        self, recipe: Recipe, batch: int, gga_seed: int, train: FrameSet, val: FrameSet,
        gga: FrameSet, context: FitContext, references: dict[str, Any] | None = None,
    ) -> str:  # fmt: skip
        """sha256 of everything that changes the result: only such a checkpoint resumes.

        ``references``: the chosen strength and both heads' shifts (rounded).
        """
        import chgnet

        identity = {
            "loop": LOOP_VERSION, "joint_loop": JOINT_LOOP_VERSION,
            "chgnet": chgnet.__version__, "method": self.name, "params": self.get_params(),
            "recipe": asdict(recipe), "batch": batch, "seed": context.seed,
            "gga_seed": gga_seed, "train": train.fingerprint, "val": val.fingerprint,
            "gga": {"fingerprint": gga.fingerprint, "fidelity": gga.fidelity, "n": len(gga)},
            "references": references,
        }  # fmt: skip
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _energies(model: Any, loader: Any, device: str) -> np.ndarray:
    """``[n]`` energies (eV/atom) of ``model`` over an unshuffled graph loader, no gradients."""
    import torch

    model.eval()
    chunks = []
    with torch.no_grad():
        for graphs, _ in loader:
            prediction = model([g.to(device) for g in graphs], task="e")
            chunks.append(prediction["e"].detach().cpu().numpy().astype(np.float64))
    return np.concatenate(chunks)


def _derived_seed(seed: int, stream: str) -> int:
    """A seed for the random stream ``stream`` of a run seeded ``seed`` (below 2**63)."""
    digest = hashlib.sha256(f"mfbench/multi-fidelity/{stream}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
