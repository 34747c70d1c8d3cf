"""Per-frame and per-atom error metrics between reference labels and predictions.

Conventions (these match how CHGNet's ``Trainer`` reports its MAEs, see ``CombinedLoss`` in
``chgnet/trainer/trainer.py``):

- energy: one value per frame, eV/atom, reported in meV/atom;
- forces: one value per Cartesian component of every labelled atom, reported in meV/Å;
- stress: one value per component of all 9 components of every labelled ``[3, 3]`` tensor, GPa;
- magnetic moments: one value per labelled atom, μB.

A reference value of NaN means "not labelled" and is left out. A prediction that is not finite
where the reference is labelled is an error: it raises ``ValueError`` instead of being dropped.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pymatgen.core import Element

from mfbench.data.labels import LabelTable

logger = logging.getLogger(__name__)

#: meV per eV.
MEV_PER_EV = 1000.0


def _check_same_frames(reference: LabelTable, predicted: LabelTable) -> None:
    """Raise ``ValueError`` unless both tables describe the same frames and atoms."""
    if not np.array_equal(reference.atom_offsets, predicted.atom_offsets):
        raise ValueError(
            "reference and predicted LabelTables have different atom_offsets "
            f"({reference.n_frames} vs {predicted.n_frames} frames, "
            f"{int(reference.atom_offsets[-1])} vs {int(predicted.atom_offsets[-1])} atoms)"
        )


def _frame_of_atom(atom_offsets: np.ndarray, atom_index: int) -> int:
    """Index of the frame that owns atom ``atom_index``."""
    return int(np.searchsorted(atom_offsets, atom_index, side="right") - 1)


def _labelled_errors(
    field: str,
    reference: np.ndarray,
    predicted: np.ndarray,
    atom_offsets: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed errors ``predicted - reference`` over labelled entries.

    Args:
        field: name used in error messages (``"forces"``, ...).
        reference: reference values, any shape whose first axis is frames (per-frame fields)
            or atoms (per-atom fields); NaN = not labelled.
        predicted: predictions, same shape as ``reference``.
        atom_offsets: ``[n_frames + 1]`` for per-atom fields, ``None`` for per-frame fields;
            used only to name the first bad frame.

    Returns:
        ``(errors, row_labelled)``: ``errors`` is 1-D over labelled entries in the unit of the
        inputs; ``row_labelled`` is ``[n_rows]`` bool, True where a row has any label.

    Raises:
        ValueError: a reference value is infinite, or a prediction is NaN/infinite where the
            reference is labelled; the message names the field and the first bad frame.
    """
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    labelled = ~np.isnan(ref)

    def first_frame(bad: np.ndarray) -> int:
        row = int(np.argwhere(bad)[0][0])
        return row if atom_offsets is None else _frame_of_atom(atom_offsets, row)

    bad_ref = np.isinf(ref)
    if bad_ref.any():
        raise ValueError(f"reference {field} is infinite in frame {first_frame(bad_ref)}")
    bad_pred = labelled & ~np.isfinite(pred)
    if bad_pred.any():
        raise ValueError(
            f"predicted {field} is NaN or infinite where the reference is labelled, "
            f"first in frame {first_frame(bad_pred)}"
        )
    row_labelled = labelled.reshape(len(ref), -1).any(axis=1)
    return (pred - ref)[labelled], row_labelled


def _mae_rmse(errors: np.ndarray, scale: float) -> tuple[float, float]:
    """MAE and RMSE of ``errors`` times ``scale``; NaN for no entries."""
    if errors.size == 0:
        return float("nan"), float("nan")
    scaled = errors * scale
    return float(np.mean(np.abs(scaled))), float(np.sqrt(np.mean(scaled**2)))


def error_metrics(reference: LabelTable, predicted: LabelTable) -> dict[str, float | int]:
    """Energy, force, stress and magnetic-moment MAE and RMSE.

    Args:
        reference: reference labels; NaN marks an unlabelled value.
        predicted: predictions for the same frames (identical ``atom_offsets``).

    Returns:
        A dict with

        - ``energy_mae_mev_per_atom``, ``energy_rmse_mev_per_atom``: over frames with an energy
          label;
        - ``force_mae_mev_per_a``, ``force_rmse_mev_per_a``: over every labelled Cartesian
          component of every atom;
        - ``stress_mae_gpa``, ``stress_rmse_gpa``: over all labelled components (9 per
          labelled ``[3, 3]`` tensor);
        - ``magmom_mae_mu_b``, ``magmom_rmse_mu_b``: over atoms with a label;
        - counts ``n_frames`` (frames with an energy label), ``n_force_atoms``,
          ``n_stress_frames``, ``n_magmom_atoms`` (atoms or frames with any label).

        A quantity without any label gives NaN errors and a count of 0.

    Raises:
        ValueError: the tables' ``atom_offsets`` differ, or a prediction is NaN where the
            reference is labelled (the message names the field and the first bad frame).
    """
    _check_same_frames(reference, predicted)
    offsets = reference.atom_offsets
    e_err, e_rows = _labelled_errors(
        "energy_per_atom", reference.energy_per_atom, predicted.energy_per_atom, None
    )
    f_err, f_rows = _labelled_errors("forces", reference.forces, predicted.forces, offsets)
    s_err, s_rows = _labelled_errors("stress", reference.stress, predicted.stress, None)
    m_err, m_rows = _labelled_errors("magmoms", reference.magmoms, predicted.magmoms, offsets)

    e_mae, e_rmse = _mae_rmse(e_err, MEV_PER_EV)
    f_mae, f_rmse = _mae_rmse(f_err, MEV_PER_EV)
    s_mae, s_rmse = _mae_rmse(s_err, 1.0)
    m_mae, m_rmse = _mae_rmse(m_err, 1.0)
    result: dict[str, float | int] = {
        "energy_mae_mev_per_atom": e_mae,
        "energy_rmse_mev_per_atom": e_rmse,
        "force_mae_mev_per_a": f_mae,
        "force_rmse_mev_per_a": f_rmse,
        "stress_mae_gpa": s_mae,
        "stress_rmse_gpa": s_rmse,
        "magmom_mae_mu_b": m_mae,
        "magmom_rmse_mu_b": m_rmse,
        "n_frames": int(e_rows.sum()),
        "n_force_atoms": int(f_rows.sum()),
        "n_stress_frames": int(s_rows.sum()),
        "n_magmom_atoms": int(m_rows.sum()),
    }
    logger.debug("error metrics over %d frames: %s", reference.n_frames, result)
    return result


def per_element_energy_mae(
    reference: LabelTable, predicted: LabelTable, atomic_numbers: np.ndarray
) -> pd.DataFrame:
    """Energy MAE over the frames that contain each element.

    A frame counts once for every distinct element it contains, however many atoms of that
    element it has. Frames without an energy label are left out.

    Args:
        reference: reference labels.
        predicted: predictions for the same frames (identical ``atom_offsets``).
        atomic_numbers: ``[n_atoms_total]`` atomic number of every atom, in the tables' order.

    Returns:
        One row per element present in a labelled frame, sorted by atomic number, with columns
        ``element`` (symbol), ``n_frames`` and ``energy_mae_mev_per_atom``.

    Raises:
        ValueError: the tables' ``atom_offsets`` differ, ``atomic_numbers`` has the wrong length,
            or a prediction is NaN where the reference energy is labelled.
    """
    _check_same_frames(reference, predicted)
    z = np.asarray(atomic_numbers, dtype=np.int64)
    n_atoms_total = int(reference.atom_offsets[-1])
    if z.shape != (n_atoms_total,):
        raise ValueError(f"atomic_numbers has shape {z.shape}, expected ({n_atoms_total},)")
    errors, labelled = _labelled_errors(
        "energy_per_atom", reference.energy_per_atom, predicted.energy_per_atom, None
    )
    abs_err = np.full(reference.n_frames, np.nan)
    abs_err[labelled] = np.abs(errors) * MEV_PER_EV

    frame_of_atom = np.repeat(np.arange(reference.n_frames), reference.n_atoms)
    pairs = np.unique(np.stack([frame_of_atom, z], axis=1), axis=0)  # distinct (frame, Z)
    pairs = pairs[labelled[pairs[:, 0]]]
    elements, inverse, counts = np.unique(pairs[:, 1], return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=abs_err[pairs[:, 0]], minlength=len(elements))
    return pd.DataFrame(
        {
            "element": [Element.from_Z(int(zi)).symbol for zi in elements],
            "n_frames": counts.astype(np.int64),
            "energy_mae_mev_per_atom": sums / np.maximum(counts, 1),
        }
    )
