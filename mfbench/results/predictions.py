"""Predictions files: the ``.npz`` a run writes beside its record, read back and checked.

A predictions file holds :data:`PREDICTION_ARRAYS` (written by
:func:`mfbench.evaluation.predictions_bytes`): ``frame_ids`` ``[n]`` strings, and the
predicted labels of those frames in :class:`mfbench.data.labels.LabelTable`'s units and shapes
(energy per atom eV/atom ``[n]``, forces eV/Å ``[n_atoms, 3]``, stress GPa ``[n, 3, 3]``,
magmoms μB ``[n_atoms]``, ``atom_offsets`` ``[n + 1]``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from mfbench.data.labels import LabelTable

#: The arrays a predictions file holds (see :func:`mfbench.evaluation.predictions_bytes`).
PREDICTION_ARRAYS = ("frame_ids", "energy_per_atom", "forces", "stress", "magmoms", "atom_offsets")


class InvalidPredictionsError(Exception):
    """A predictions file that cannot be used; the message names the file and what is wrong."""


def parse_predictions(file: Path, blob: bytes) -> tuple[list[str], LabelTable]:
    """Frame ids and predictions from the bytes of a predictions file.

    Args:
        file: the file's path (named in error messages).
        blob: its contents.

    Returns:
        ``(frame_ids, table)``: the ``[n]`` frame ids in the file's row order, and the
        predictions as a :class:`LabelTable` with ``n`` frames (float64; offsets int64).

    Raises:
        InvalidPredictionsError: not an ``.npz`` archive, an array missing or of the wrong
            dtype or shape, or a non-finite energy, force or stress (an infinite magmom).
    """
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise InvalidPredictionsError(f"{file}: not a valid predictions file (not an .npz archive)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            missing = [key for key in PREDICTION_ARRAYS if key not in saved.files]
            if missing:
                raise InvalidPredictionsError(f"{file}: predictions file lacks arrays {missing}")
            arrays = {key: np.asarray(saved[key]) for key in PREDICTION_ARRAYS}
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidPredictionsError(f"{file}: not a valid predictions file ({exc})") from exc
    _check_prediction_arrays(file, arrays)
    table = LabelTable(
        energy_per_atom=arrays["energy_per_atom"].astype(np.float64),
        forces=arrays["forces"].astype(np.float64),
        stress=arrays["stress"].astype(np.float64),
        magmoms=arrays["magmoms"].astype(np.float64),
        atom_offsets=arrays["atom_offsets"].astype(np.int64),
    )
    frame_ids = [str(i) for i in arrays["frame_ids"].tolist()]
    _check_finite(file, frame_ids, table)
    return frame_ids, table


def _check_prediction_arrays(file: Path, arrays: dict[str, np.ndarray]) -> None:
    """Dtypes and shapes of a predictions file (see :class:`LabelTable`).

    Raises:
        InvalidPredictionsError: naming the file, the array, what it holds and what it should.
    """
    ids, offsets = arrays["frame_ids"], arrays["atom_offsets"]
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise InvalidPredictionsError(
            f"{file}: frame_ids must be 1-D strings, not {ids.dtype} {ids.shape}"
        )
    if offsets.dtype.kind not in "iu":
        raise InvalidPredictionsError(f"{file}: atom_offsets must be integers, not {offsets.dtype}")
    for key in ("energy_per_atom", "forces", "stress", "magmoms"):
        if arrays[key].dtype.kind not in "fiu":
            raise InvalidPredictionsError(
                f"{file}: {key} must be real numbers, not {arrays[key].dtype}"
            )
    n_frames = len(ids)
    if offsets.shape != (n_frames + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 1):
        raise InvalidPredictionsError(
            f"{file}: atom_offsets must be [{n_frames + 1}] integers rising from 0 by at least "
            f"1 per frame ({n_frames} frame ids), not shape {offsets.shape}"
        )
    n_atoms = int(offsets[-1])
    shapes = {
        "energy_per_atom": (n_frames,),
        "forces": (n_atoms, 3),
        "stress": (n_frames, 3, 3),
        "magmoms": (n_atoms,),
    }
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise InvalidPredictionsError(
                f"{file}: {key} has shape {arrays[key].shape}, expected {shape} for "
                f"{n_frames} frames of {n_atoms} atoms"
            )


def _check_finite(file: Path, frame_ids: list[str], table: LabelTable) -> None:
    """Energies, forces and stresses must be finite; magnetic moments must not be infinite.

    (A NaN magnetic moment means "not predicted"; scoring refuses it where the task has a
    label.)

    Raises:
        InvalidPredictionsError: naming the file, the field and the first frame holding one.
    """
    frame_of_atom = np.repeat(np.arange(table.n_frames), table.n_atoms)
    fields = {
        "energy_per_atom": (~np.isfinite(table.energy_per_atom), None),
        "forces": (~np.isfinite(table.forces).all(axis=1), frame_of_atom),
        "stress": (~np.isfinite(table.stress).all(axis=(1, 2)), None),
        "magmoms": (np.isinf(table.magmoms), frame_of_atom),
    }
    for key, (bad, owner) in fields.items():
        rows = np.flatnonzero(bad)
        if len(rows):
            frames = rows if owner is None else np.unique(owner[rows])
            raise InvalidPredictionsError(
                f"{file}: {key} is not finite (NaN or infinite) in {len(frames)} frame(s), "
                f"first frame {frame_ids[int(frames[0])]!r}"
            )
