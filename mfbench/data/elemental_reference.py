"""Least-squares elemental energy references (CHGNet's intensive ``AtomRef``).

The model is ``E/N ≈ Σ_el x_el w_el``: energy per atom as a composition-fraction-weighted
sum of per-element references ``w`` (eV/atom). This is the form of CHGNet's
``AtomRef(is_intensive=True)``; weights fitted this way must be used with intensive
(fraction) features, not with element counts.
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
    """

    weights: np.ndarray
    condition_number: float
    n_frames: int
    materials_per_element: np.ndarray
    residual_mae_ev_per_atom: float

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
    fractions: np.ndarray, energy_per_atom: np.ndarray, material_ids: Sequence[str]
) -> ElementalReference:
    """Fit per-element references by least squares on the given frames.

    Args:
        fractions: ``[n_frames, 94]`` from :func:`composition_fractions`.
        energy_per_atom: ``[n_frames]`` eV/atom.
        material_ids: ``[n_frames]`` for the per-element material counts.
    """
    present = fractions.sum(axis=0) > 0
    design = fractions[:, present]
    solution, *_ = np.linalg.lstsq(design, energy_per_atom, rcond=None)
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
    )
