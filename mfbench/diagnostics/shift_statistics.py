"""The statistics of a shift report: agreement of two energy columns and per-element offsets.

:func:`agreement` gives Pearson, Spearman, MAE and mean shift of low against high fidelity;
:func:`fit_element_offsets` fits the per-element offsets ``high − low`` by least squares, with
standard errors clustered by material and the directions the data leave undetermined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mfbench.data.elemental_reference import ElementalReference, fit_elemental_reference
from mfbench.data.frame import MAX_Z
from mfbench.diagnostics.report import Agreement, finite

#: meV per eV.
MEV_PER_EV = 1000.0
#: Relative eigenvalue of XᵀX below which a direction counts as undetermined by the data.
RANK_TOLERANCE = 1e-10


def agreement(low: np.ndarray, high: np.ndarray) -> Agreement:
    """Pearson, Spearman, MAE and mean shift of ``high`` against ``low``.

    Args:
        low: ``[n]`` low-fidelity values, eV/atom.
        high: ``[n]`` high-fidelity values, eV/atom.

    Returns:
        Correlations (None for ``n < 2`` or a constant side) and meV/atom errors (None for
        ``n == 0``).
    """
    from scipy.stats import spearmanr

    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != high.shape or low.ndim != 1:
        raise ValueError(f"low {low.shape} and high {high.shape} must be equal 1-d shapes")
    n = len(low)
    if n == 0:
        return Agreement(
            n=0, pearson=None, spearman=None, mae_mev_per_atom=None, mean_shift_mev_per_atom=None
        )
    varied = n >= 2 and np.ptp(low) > 0 and np.ptp(high) > 0
    difference = high - low
    return Agreement(
        n=n,
        pearson=finite(np.corrcoef(low, high)[0, 1]) if varied else None,
        spearman=finite(spearmanr(low, high).statistic) if varied else None,
        mae_mev_per_atom=float(np.mean(np.abs(difference)) * MEV_PER_EV),
        mean_shift_mev_per_atom=float(np.mean(difference) * MEV_PER_EV),
    )


@dataclass(frozen=True)
class OffsetFit:
    """Per-element offsets fitted by least squares.

    Attributes:
        reference: the fit (``weights`` ``[94]`` eV/atom, NaN for absent elements).
        stderr: ``[94]`` eV/atom, clustered by material; NaN for absent or undetermined
            elements, or with too few materials.
        identifiable: ``[94]`` bool, present and determined by the data.
        n_pairs: ``[94]`` pairs containing each element.
    """

    reference: ElementalReference
    stderr: np.ndarray
    identifiable: np.ndarray
    n_pairs: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """``[94]`` eV/atom."""
        return self.reference.weights


def fit_element_offsets(
    fractions: np.ndarray, delta: np.ndarray, material_ids: Sequence[str]
) -> OffsetFit:
    """Fit ``delta ≈ Σ_el x_el o_el`` and the standard error of each offset ``o_el``.

    The standard errors use the CR1 cluster-robust sandwich
    ``c · (XᵀX)⁻¹ (Σ_g X_gᵀ r_g r_gᵀ X_g) (XᵀX)⁻¹`` with one cluster per material and
    ``c = G/(G−1) · (n−1)/(n−k)``. An element whose fraction column lies (numerically) in the
    span of the others' is not identifiable: its offset is the minimum-norm solution and its
    standard error is NaN.

    Args:
        fractions: ``[n, 94]`` element fractions.
        delta: ``[n]`` high − low energy per atom, eV/atom.
        material_ids: ``[n]`` material of each pair.
    """
    delta = np.asarray(delta, dtype=np.float64)
    reference = fit_elemental_reference(fractions, delta, material_ids)
    present = ~np.isnan(reference.weights)
    design = fractions[:, present]
    n, k = design.shape
    stderr = np.full(MAX_Z, np.nan)
    identifiable = np.zeros(MAX_Z, dtype=bool)
    if k:
        gram = design.T @ design
        eigenvalues, eigenvectors = np.linalg.eigh(gram)
        null = eigenvectors[:, eigenvalues <= RANK_TOLERANCE * max(eigenvalues.max(), 1e-300)]
        determined = np.linalg.norm(null, axis=1) < 1e-6
        identifiable[np.flatnonzero(present)] = determined
        residual = delta - design @ reference.weights[present]
        _, groups = np.unique(np.asarray(material_ids), return_inverse=True)
        n_groups = int(groups.max()) + 1 if n else 0
        if n_groups > 1 and n > k:
            scores = np.zeros((n_groups, k))
            np.add.at(scores, groups, design * residual[:, None])
            bread = np.linalg.pinv(gram)
            factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
            covariance = factor * bread @ (scores.T @ scores) @ bread
            values = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
            stderr[np.flatnonzero(present)] = np.where(determined, values, np.nan)
    n_pairs = (fractions > 0).sum(axis=0).astype(np.int64)
    return OffsetFit(reference, stderr, identifiable, n_pairs)


def referenced_energies(
    fractions: np.ndarray, energy: np.ndarray, reference: ElementalReference
) -> np.ndarray:
    """``[n]`` ``E/N − Σ x w`` (eV/atom); NaN for frames with an element the reference lacks."""
    missing = (fractions > 0) & np.isnan(reference.weights)[None, :]
    covered = ~missing.any(axis=1)
    out = np.full(len(energy), np.nan)
    out[covered] = energy[covered] - fractions[covered] @ np.nan_to_num(reference.weights)
    return out
