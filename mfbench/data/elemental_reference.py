"""Least-squares elemental energy references (CHGNet's intensive ``AtomRef``), optionally ridge.

The model is ``E/N ≈ Σ_el x_el w_el``: energy per atom as a composition-fraction-weighted
sum of per-element references ``w`` (eV/atom). This is the form of CHGNet's
``AtomRef(is_intensive=True)``; weights fitted this way must be used with intensive
(fraction) features, not with element counts.

With few frames many elements occur in one or two materials and least squares overfits
them; :func:`fit_elemental_reference` can shrink the weights towards a prior (ridge, or
Tikhonov, regularisation) with a dimensionless ``strength``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mfbench.data.frame import MAX_Z


def composition_fractions(atomic_numbers: np.ndarray, atom_offsets: np.ndarray) -> np.ndarray:
    """``[n_frames, 94]`` element fractions per frame; column ``Z - 1`` is element ``Z``.

    Args:
        atomic_numbers: ``[n_atoms_total]`` concatenated atomic numbers.
        atom_offsets: ``[n_frames + 1]`` frame boundaries in ``atomic_numbers``.
    """
    n_frames = len(atom_offsets) - 1
    frame_of_atom = np.repeat(np.arange(n_frames), np.diff(atom_offsets))
    counts = np.zeros((n_frames, MAX_Z))
    np.add.at(counts, (frame_of_atom, np.asarray(atomic_numbers, dtype=np.int64) - 1), 1.0)
    return counts / np.diff(atom_offsets)[:, None]


@dataclass(frozen=True)
class ElementalReference:
    """A fitted elemental reference.

    Attributes:
        weights: ``[94]`` eV/atom, index ``Z - 1``; NaN for elements absent from the fit.
        condition_number: 2-norm condition number of the design matrix over fitted elements.
        n_frames: frames in the fit.
        materials_per_element: ``[94]`` distinct materials containing each element.
        residual_mae_ev_per_atom: mean |E/N − Σ x w| over the fitted frames.
        strength: the ridge strength of the fit (0: plain least squares); see
            :func:`fit_elemental_reference`.
    """

    weights: np.ndarray
    condition_number: float
    n_frames: int
    materials_per_element: np.ndarray
    residual_mae_ev_per_atom: float
    strength: float = 0.0

    @property
    def fitted_elements(self) -> np.ndarray:
        """Atomic numbers with a fitted weight."""
        return np.flatnonzero(~np.isnan(self.weights)) + 1

    def filled_from(self, prior: np.ndarray) -> tuple[ElementalReference, np.ndarray]:
        """Fill elements absent from the fit from a prior reference, shifted by the mean offset.

        An element missing from the training frames must not get a zero reference (the
        energy error would be tens of eV/atom). Its weight becomes ``prior[Z-1] + δ``, with
        ``δ`` the mean of ``weights - prior`` over the fitted elements: e.g. the GGA
        reference moved by the average GGA → r²SCAN shift.

        Args:
            prior: ``[94]`` eV/atom, e.g. CHGNet 0.3.0's MPtrj ``AtomRef`` weights.

        Returns:
            The filled reference and a ``[94]`` bool mask of the filled elements.
        """
        fitted = ~np.isnan(self.weights)
        if not fitted.any():
            raise ValueError("nothing was fitted; no offset to apply to the prior")
        offset = float(np.mean(self.weights[fitted] - prior[fitted]))
        filled = ~fitted
        weights = np.where(fitted, self.weights, prior + offset)
        return replace(self, weights=weights), filled

    def predict(self, fractions: np.ndarray) -> np.ndarray:
        """``[n_frames]`` reference energy per atom (eV/atom) for ``[n_frames, 94]`` fractions.

        Raises:
            ValueError: a frame contains an element without a fitted weight.
        """
        missing = (fractions > 0) & np.isnan(self.weights)[None, :]
        if missing.any():
            zs = sorted({int(z) + 1 for z in np.flatnonzero(missing.any(axis=0))})
            raise ValueError(f"no elemental reference for Z = {zs}")
        return np.nan_to_num(self.weights) @ fractions.T


def fit_elemental_reference(
    fractions: np.ndarray,
    energy_per_atom: np.ndarray,
    material_ids: Sequence[str],
    *,
    prior: np.ndarray | None = None,
    strength: float = 0.0,
) -> ElementalReference:
    """Fit per-element references on the given frames: least squares, or ridge towards a prior.

    With ``strength`` λ > 0 the weights of the elements present minimise

        mean_frames (E/N − Σ x w)² + λ Σ_present (w_el − prior_el)²,

    both terms in (eV/atom)², so λ is dimensionless: the solution of
    ``(XᵀX/n + λ I) w = Xᵀy/n + λ prior``. λ is compared with the eigenvalues of ``XᵀX/n``
    (an element seen in one frame at fraction ``x`` adds ``x²/n``): well below the smallest,
    the fit is least squares; well above the largest, every weight is at its prior. An element
    seen in few frames is pulled to its prior first. ``strength=0`` is plain least squares
    (``numpy.linalg.lstsq``), whatever the prior.

    Args:
        fractions: ``[n_frames, 94]`` from :func:`composition_fractions`.
        energy_per_atom: ``[n_frames]`` eV/atom.
        material_ids: ``[n_frames]`` for the per-element material counts.
        prior: ``[94]`` eV/atom, index ``Z - 1``: the values the weights shrink towards (only
            the present elements' entries are read; they must be finite). Default: every
            element at the mean of ``energy_per_atom``, the least-squares one-parameter fit
            (the fractions of a frame sum to 1, so a constant weight predicts a constant).
        strength: the ridge strength λ ≥ 0 (dimensionless).

    Raises:
        ValueError: ``strength`` is negative or not finite; ``prior`` is not ``[94]`` or not
            finite for a present element.
    """
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a finite number >= 0, got {strength!r}")
    present = fractions.sum(axis=0) > 0
    design = fractions[:, present]
    if strength == 0 or not present.any():
        solution, *_ = np.linalg.lstsq(design, energy_per_atom, rcond=None)
    else:
        n = len(energy_per_atom)
        target = _prior_of_present(prior, present, float(np.mean(energy_per_atom)))
        gram = design.T @ design / n + strength * np.eye(design.shape[1])
        solution = np.linalg.solve(gram, design.T @ energy_per_atom / n + strength * target)
    weights = np.full(MAX_Z, np.nan)
    weights[present] = solution
    materials = np.asarray(material_ids)
    per_element = np.zeros(MAX_Z, dtype=np.int64)
    for column in np.flatnonzero(present):
        per_element[column] = len(np.unique(materials[fractions[:, column] > 0]))
    residual = energy_per_atom - design @ solution
    return ElementalReference(
        weights=weights,
        condition_number=float(np.linalg.cond(design)) if design.size else float("nan"),
        n_frames=len(energy_per_atom),
        materials_per_element=per_element,
        residual_mae_ev_per_atom=float(np.mean(np.abs(residual))) if len(residual) else 0.0,
        strength=float(strength),
    )


def _prior_of_present(prior: np.ndarray | None, present: np.ndarray, mean: float) -> np.ndarray:
    """``[n_present]`` eV/atom: ``prior`` at the present elements, or ``mean`` for each."""
    if prior is None:
        return np.full(int(present.sum()), mean)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (MAX_Z,):
        raise ValueError(f"prior must have shape ({MAX_Z},), got {prior.shape}")
    bad = present & ~np.isfinite(prior)
    if bad.any():
        raise ValueError(f"prior is not finite for Z = {(np.flatnonzero(bad) + 1).tolist()}")
    return prior[present]
