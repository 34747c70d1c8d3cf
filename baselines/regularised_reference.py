"""The regularised residual elemental reference: zero-shot, and as the start of a fine-tune.

CHGNet 0.3.0's energy per atom plus a per-element shift ``Σ_el x_el s_el`` (eV/atom, ``x`` the
composition fractions), the shift fitted to the GGA model's residuals ``E_target − E_GGA-model``
on the training fraction, as ``zero-shot`` does (the residual, or elemental-reference, transfer
of Huang et al. 2025, and MACE's E0 re-estimation from a foundation model's residuals). With
few frames the least-squares shift overfits the elements seen in one or two materials, so here
it is a ridge (Tikhonov) fit, shrunk towards the one-parameter fit (every element at the mean
residual) with a strength chosen on the validation split
(:func:`mfbench.methods.fit_elemental_reference`, ``strength``):

- ``zero-shot-regularised`` (:class:`ZeroShotRegularisedReference`): that, no gradient steps.
- ``finetune-residual-atomref`` (:class:`FineTuneResidualAtomRef`): Method 4
  (:class:`baselines.finetune.FineTune`), but the frozen AtomRef it starts from is the GGA
  AtomRef plus this shift instead of a least-squares refit on total energies.

Both choose the strength the same way (:func:`choose_residual_shift`): the GGA model's energies
of the training and validation frames are computed once; for each strength of the grid the
shift is fitted on the training residuals and the validation energy MAE (eV/atom) of
GGA prediction + shift is scored; the smallest MAE wins, ties to the larger strength. Elements
absent from the training fraction get the mean fitted shift
(:meth:`mfbench.methods.ElementalReference.filled_from`). The chosen strength and every
candidate's validation MAE are in ``history_["reference_shift"]``.

Reference: X. Huang, B. Deng, P. Zhong, A. D. Kaplan, K. A. Persson, G. Ceder, "Cross-functional
transferability in foundation machine learning interatomic potentials", npj Computational
Materials (2025), doi:10.1038/s41524-025-01796-y, arXiv:2504.05565.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Self

import numpy as np

from baselines.finetune import PREDICT_BATCH_SIZE, FineTune
from baselines.references import DENG_2023_CHGNET, HUANG_2025
from baselines.zero_shot import UntouchedGGA
from mfbench.methods import (
    FitContext,
    FrameSet,
    MfbenchError,
    fit_elemental_reference,
)
from mfbench.models.chgnet import atomref_weights, predict_with_chgnet, set_atomref_weights

logger = logging.getLogger(__name__)

#: The default strength grid (dimensionless; see :func:`mfbench.methods.fit_elemental_reference`).
#: The strength is compared with the eigenvalues of ``XᵀX/n``; on the ranked task's fraction 0.1
#: (288 frames, 34 elements) they run from 8e-7 to 6e-2, and an element seen in one frame at
#: fraction ``x`` adds ``x²/n`` ≈ 1e-4 to 1e-3. The grid spans below the smallest to above the
#: largest in half-decade steps (the validation MAE changes two- to threefold between
#: neighbouring half-decades there), plus 0, plain least squares.
DEFAULT_STRENGTHS: tuple[float, ...] = (
    0.0, 1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0,
)  # fmt: skip


class ReferenceStrengthError(MfbenchError):
    """The strength grid is unusable, or there is no validation frame to choose from it."""


@dataclass(frozen=True)
class ShiftChoice:
    """The residual shift chosen on the validation split.

    Attributes:
        strength: the chosen ridge strength (dimensionless).
        shift: ``[94]`` eV/atom, index ``Z - 1``, with elements absent from the training frames
            filled by the mean fitted shift.
        n_filled_elements: elements filled so.
        condition_number: 2-norm condition number of the training design matrix.
        candidates: ``(strength, validation energy MAE in eV/atom)`` of each grid point, in
            the grid's order.
    """

    strength: float
    shift: np.ndarray
    n_filled_elements: int
    condition_number: float
    candidates: tuple[tuple[float, float], ...]

    def history(self) -> dict[str, Any]:
        """The choice as JSON-ready data, for ``history_["reference_shift"]``."""
        return {
            "chosen_strength": self.strength,
            "candidates": [
                {"strength": s, "val_energy_mae_ev_per_atom": mae} for s, mae in self.candidates
            ],
            "n_filled_elements": self.n_filled_elements,
            "condition_number": self.condition_number,
        }


def check_strengths(strengths: Sequence[float]) -> None:
    """Refuse an empty grid or a strength that is not a finite number ≥ 0.

    Raises:
        ReferenceStrengthError: naming the bad value.
    """
    if isinstance(strengths, str) or not isinstance(strengths, Sequence) or not strengths:
        raise ReferenceStrengthError(
            f"strengths must be a non-empty list of numbers >= 0, got {strengths!r}"
        )
    for value in strengths:
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ReferenceStrengthError(f"strength {value!r} is not a finite number")
        if value < 0:
            raise ReferenceStrengthError(f"strength {value!r} is negative")


def _check_frames(n_train: int, n_val: int) -> None:
    if n_train == 0 or n_val == 0:
        raise ReferenceStrengthError(
            "choosing the shift's strength needs training and validation frames, got "
            f"{n_train} and {n_val}"
        )


def select_shift(
    train_fractions: np.ndarray,
    train_residual: np.ndarray,
    train_material_ids: Sequence[str],
    val_fractions: np.ndarray,
    val_residual: np.ndarray,
    strengths: Sequence[float],
) -> ShiftChoice:
    """Fit the shift at every strength and keep the one with the smallest validation MAE.

    Args:
        train_fractions: ``[n_train, 94]`` composition fractions.
        train_residual: ``[n_train]`` eV/atom, target minus GGA-model energy.
        train_material_ids: ``[n_train]``.
        val_fractions: ``[n_val, 94]``.
        val_residual: ``[n_val]`` eV/atom, target minus GGA-model energy.
        strengths: the grid (dimensionless, each ≥ 0).

    Raises:
        ReferenceStrengthError: a bad grid, or no training or validation frame.
    """
    check_strengths(strengths)
    _check_frames(len(train_residual), len(val_residual))
    fits, maes = [], []
    for strength in strengths:
        fit = fit_elemental_reference(
            train_fractions, train_residual, train_material_ids, strength=float(strength)
        )
        filled, mask = fit.filled_from(np.zeros_like(fit.weights))
        fits.append((fit, filled.weights, int(mask.sum())))
        maes.append(float(np.mean(np.abs(val_residual - val_fractions @ filled.weights))))
    best = min(maes)
    index = max((k for k, mae in enumerate(maes) if mae == best), key=lambda k: float(strengths[k]))
    fit, shift, n_filled = fits[index]
    candidates = tuple((float(s), mae) for s, mae in zip(strengths, maes, strict=True))
    logger.info(
        "residual shift: strength %g chosen, validation energy MAE %.4f eV/atom (strength 0: %s)",
        fit.strength, best, next((f"{m:.4f}" for s, m in candidates if s == 0), "not in grid"),
    )  # fmt: skip
    return ShiftChoice(fit.strength, shift, n_filled, fit.condition_number, candidates)


def choose_residual_shift(
    model: Any, train: FrameSet, val: FrameSet, strengths: Sequence[float], *,
    batch_size: int, progress: bool, desc: str,
) -> ShiftChoice:  # fmt: skip
    """The GGA model's energies of ``train`` and ``val`` (once), then :func:`select_shift`.

    Args:
        model: a ``chgnet.model.CHGNet`` with the GGA AtomRef (not changed here).
        train: the training frames, labelled at the target fidelity.
        val: the validation frames, labelled at the target fidelity.
        strengths: the grid.
        batch_size: structures per forward pass.
        progress: show progress bars.
        desc: the progress bars' label.
    """
    check_strengths(strengths)
    _check_frames(len(train), len(val))
    residuals = []
    for frames, side in ((train, "training"), (val, "validation")):
        gga = predict_with_chgnet(
            model, frames.structures(), batch_size=batch_size, progress=progress,
            desc=f"{desc}: GGA energies of the {side} frames",
        ).energy_per_atom  # fmt: skip
        residuals.append(frames.labels().energy_per_atom - gga)
    return select_shift(
        train.composition_fractions(), residuals[0], train.material_ids,
        val.composition_fractions(), residuals[1], strengths,
    )  # fmt: skip


class ZeroShotRegularisedReference(UntouchedGGA):
    """CHGNet 0.3.0 plus a ridge-fitted residual shift, strength chosen on validation.

    Energies eV/atom; forces, stresses and magnetic moments are the GGA model's.
    """

    name = "zero-shot-regularised"
    references = (HUANG_2025, DENG_2023_CHGNET)

    def __init__(
        self,
        base_model: str = "0.3.0",
        batch_size: int = 32,
        strengths: tuple[float, ...] = DEFAULT_STRENGTHS,
    ) -> None:
        self.base_model = base_model
        self.batch_size = batch_size
        self.strengths = strengths

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Shift the GGA AtomRef; with no training frames the GGA reference is kept."""
        check_strengths(self.strengths)
        super().fit(train, val, context)
        self.n_filled_elements_ = 0
        if len(train):
            choice = choose_residual_shift(
                self.model_, train, val, self.strengths, batch_size=self.batch_size,
                progress=context.progress, desc=self.name,
            )  # fmt: skip
            self.atomref_weights_ = self.atomref_weights_ + choice.shift
            self.n_filled_elements_ = choice.n_filled_elements
            self.history_ = {"reference_shift": choice.history()}
        else:
            self.history_ = {"reference_shift": {"chosen_strength": None, "candidates": []}}
        set_atomref_weights(self.model_, self.atomref_weights_)
        return self


class FineTuneResidualAtomRef(FineTune):
    """Method 4 started from the GGA AtomRef plus the regularised residual shift (frozen).

    Trained by :class:`~baselines.finetune.FineTune`'s loop, unchanged; the chosen strength and
    shift key the checkpoints besides what keys Method 4's.
    """

    name = "finetune-residual-atomref"
    atomref = "residual"

    def __init__(self, strengths: tuple[float, ...] = DEFAULT_STRENGTHS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strengths = strengths

    def get_params(self) -> dict[str, Any]:
        """:class:`FineTune`'s hyperparameters plus ``strengths``."""
        return {**{k: getattr(self, k) for k in FineTune().get_params()},
                "strengths": self.strengths}  # fmt: skip

    def _set_start_atomref(
        self, model: Any, train: FrameSet, val: FrameSet, context: FitContext
    ) -> None:
        choice = choose_residual_shift(
            model, train, val, self.strengths, batch_size=PREDICT_BATCH_SIZE,
            progress=context.progress, desc=self.name,
        )  # fmt: skip
        set_atomref_weights(model, atomref_weights(model) + choice.shift)
        self.reference_shift_ = choice

    def _checkpoint_identity(self) -> dict[str, Any]:
        # rounded to 1 µeV/atom: the same inputs give the same key despite float noise
        choice = self.reference_shift_
        return {"reference_strength": choice.strength,
                "reference_shift": [round(float(w), 6) for w in choice.shift]}  # fmt: skip

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Choose the shift on ``val``, set the AtomRef to GGA's plus it, then fine-tune."""
        check_strengths(self.strengths)
        super().fit(train, val, context)
        self.history_ = {"reference_shift": self.reference_shift_.history(), **self.history_}
        return self
