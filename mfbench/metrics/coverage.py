"""Element coverage: which test frames contain only elements seen in training."""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np

logger = logging.getLogger(__name__)


def covered_frames(
    atomic_numbers: np.ndarray, atom_offsets: np.ndarray, train_elements: Collection[int]
) -> np.ndarray:
    """Whether every element of each frame appears among the training elements.

    Args:
        atomic_numbers: ``[n_atoms_total]`` atomic number of every atom, frames concatenated.
        atom_offsets: ``[n_frames + 1]``; frame ``i`` owns atoms
            ``atom_offsets[i]:atom_offsets[i+1]``.
        train_elements: atomic numbers present in the training set.

    Returns:
        ``[n_frames]`` bool, True when all of the frame's atoms have an element in
        ``train_elements`` (a frame without atoms counts as covered).

    Raises:
        ValueError: ``atomic_numbers`` does not match ``atom_offsets``.
    """
    z = np.asarray(atomic_numbers, dtype=np.int64)
    offsets = np.asarray(atom_offsets, dtype=np.int64)
    n_frames = len(offsets) - 1
    n_atoms_total = int(offsets[-1]) if len(offsets) else 0
    if n_frames < 0 or z.shape != (n_atoms_total,):
        raise ValueError(
            f"atomic_numbers has shape {z.shape}, atom_offsets implies ({n_atoms_total},)"
        )
    known = np.isin(z, np.fromiter(train_elements, dtype=np.int64))
    frame_of_atom = np.repeat(np.arange(n_frames), np.diff(offsets))
    n_unknown = np.bincount(frame_of_atom[~known], minlength=n_frames)
    covered = n_unknown == 0
    logger.debug("%d of %d frames covered by training elements", int(covered.sum()), n_frames)
    return covered
