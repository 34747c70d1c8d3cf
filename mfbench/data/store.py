"""The local frame store: a folder of flat binary arrays opened memory-mapped.

Layout of a store folder::

    meta.json                    format version, dataset, source checksum, array shapes
    frame_ids.txt                one id per line, frame order
    material_ids.txt             one id per line, frame order
    atom_offsets.bin    int64    [n_frames + 1]
    atomic_numbers.bin  int16    [n_atoms_total]
    frac_coords.bin     float64  [n_atoms_total, 3]
    lattice.bin         float64  [n_frames, 3, 3]  Å
    <fid>.energy_per_atom.bin    float64 [n_frames]          eV/atom
    <fid>.forces.bin             float64 [n_atoms_total, 3]  eV/Å   (NaN = unlabelled)
    <fid>.stress.bin             float64 [n_frames, 3, 3]    GPa    (NaN = unlabelled)
    <fid>.magmoms.bin            float64 [n_atoms_total]     μB     (NaN = unlabelled)

A store is written into a hidden temporary folder beside its destination and renamed into
place only when complete, so an interrupted write leaves no half store behind. Opening
reads ``meta.json`` and the id lists and memory-maps the arrays: nothing else is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from pymatgen.core import Composition, Element, Lattice, Structure

from mfbench import __version__
from mfbench.atomic_write import current_umask, write_json_atomic
from mfbench.data.frame import Frame, Labels
from mfbench.data.labels import LabelTable
from mfbench.errors import DataError

logger = logging.getLogger(__name__)

STORE_FORMAT_VERSION = 1

_GEOMETRY = {
    "atom_offsets": ("int64", ("frames+1",)),
    "atomic_numbers": ("int16", ("atoms",)),
    "frac_coords": ("float64", ("atoms", 3)),
    "lattice": ("float64", ("frames", 3, 3)),
}
_LABELS = {
    "energy_per_atom": ("frames",),
    "forces": ("atoms", 3),
    "stress": ("frames", 3, 3),
    "magmoms": ("atoms",),
}


def _shape(symbolic: tuple, n_frames: int, n_atoms: int) -> tuple[int, ...]:
    sizes = {"frames": n_frames, "frames+1": n_frames + 1, "atoms": n_atoms}
    return tuple(sizes.get(dim, dim) for dim in symbolic)


class StoreWriter:
    """Stream frames into a new store; the store appears only on :meth:`commit`.

    Use as a context manager: leaving the block by an exception removes the partial
    temporary folder and leaves any existing store at ``path`` untouched.

    Args:
        path: destination folder of the store.
        fidelities: label sets every frame must carry, e.g. ``["gga", "r2scan"]``.
        overwrite: replace an existing store at ``path`` on commit.

    """

    def __init__(self, path: Path, fidelities: Sequence[str], *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.fidelities = list(fidelities)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        if self.path.exists():
            require_store(self.path)  # never replace a folder mfbench did not write
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.tmp-"))
        self._files: dict[str, BinaryIO] = {}
        self._ids = open(self._tmp / "frame_ids.txt", "w", encoding="utf-8")  # noqa: SIM115
        self._materials = open(self._tmp / "material_ids.txt", "w", encoding="utf-8")  # noqa: SIM115
        self.n_frames = 0
        self.n_atoms = 0
        self._committed = False
        self._id_digests = array("Q")  # 64-bit digest of each frame id, to find repeats

    def _write(self, name: str, values: np.ndarray, dtype: str) -> None:
        if name not in self._files:
            self._files[name] = open(self._tmp / f"{name}.bin", "wb")  # noqa: SIM115
        self._files[name].write(np.ascontiguousarray(values, dtype=dtype).tobytes())

    def add(self, frame: Frame) -> None:
        """Append one validated frame (all of the writer's fidelities must be labelled)."""
        for text in (frame.frame_id, frame.material_id):
            if not text or "\n" in text or "\r" in text:
                raise DataError("ids must be non-empty single-line strings", frame=frame.frame_id)
        missing = [f for f in self.fidelities if f not in frame.labels]
        if missing:
            raise DataError(
                f"no labels for fidelity {missing}",
                material=frame.material_id,
                frame=frame.frame_id,
            )
        structure = frame.structure
        n_atoms = len(structure)
        self._ids.write(frame.frame_id + "\n")
        self._id_digests.append(_digest(frame.frame_id))
        self._materials.write(frame.material_id + "\n")
        self._write("n_atoms", np.array([n_atoms]), "int64")
        self._write("atomic_numbers", np.array(structure.atomic_numbers), "int16")
        self._write("frac_coords", structure.frac_coords, "float64")
        self._write("lattice", structure.lattice.matrix, "float64")
        for fidelity in self.fidelities:
            labels: Labels = frame.labels[fidelity]
            nan_atoms = np.full((n_atoms, 3), np.nan)
            self._write(
                f"{fidelity}.energy_per_atom", np.array([labels.energy_per_atom]), "float64"
            )
            self._write(
                f"{fidelity}.forces",
                nan_atoms if labels.forces is None else labels.forces,
                "float64",
            )
            self._write(
                f"{fidelity}.stress",
                np.full((3, 3), np.nan) if labels.stress is None else labels.stress,
                "float64",
            )
            self._write(
                f"{fidelity}.magmoms",
                nan_atoms[:, 0] if labels.magmoms is None else labels.magmoms,
                "float64",
            )
        self.n_frames += 1
        self.n_atoms += n_atoms

    def add_all(self, frames: Iterable[Frame]) -> int:
        """Append every frame of ``frames``; returns how many were added."""
        before = self.n_frames
        for frame in frames:
            self.add(frame)
        return self.n_frames - before

    def commit(self, metadata: dict[str, Any]) -> Path:
        """Finish the arrays, write ``meta.json`` and move the store into place."""
        if self.n_frames == 0:
            raise DataError("no frames were read; refusing to write an empty store")
        self._close_files()
        self._refuse_repeated_frame_ids()
        counts = np.fromfile(self._tmp / "n_atoms.bin", dtype="int64")
        (self._tmp / "n_atoms.bin").unlink()
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype("int64")
        offsets.tofile(self._tmp / "atom_offsets.bin")
        arrays = {
            name: {"dtype": dtype, "shape": list(_shape(shape, self.n_frames, self.n_atoms))}
            for name, (dtype, shape) in _GEOMETRY.items()
        }
        for fidelity in self.fidelities:
            for name, shape in _LABELS.items():
                arrays[f"{fidelity}.{name}"] = {
                    "dtype": "float64",
                    "shape": list(_shape(shape, self.n_frames, self.n_atoms)),
                }
        meta = {
            "store_format_version": STORE_FORMAT_VERSION,
            "n_frames": self.n_frames,
            "n_atoms": self.n_atoms,
            "fidelities": self.fidelities,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "mfbench_version": __version__,
            **metadata,
            "arrays": arrays,
        }
        for name in os.listdir(self._tmp):
            with open(self._tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        write_json_atomic(self._tmp / "meta.json", meta)
        os.chmod(self._tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
        for name in os.listdir(self._tmp):
            os.chmod(self._tmp / name, 0o666 & ~current_umask())
        if self.path.exists():
            require_store(self.path)
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.replace(self.path, old)
            os.replace(self._tmp, self.path)
            shutil.rmtree(old)
        else:
            os.replace(self._tmp, self.path)
        self._committed = True
        logger.info("wrote store %s (%d frames)", self.path, self.n_frames)
        return self.path

    def _refuse_repeated_frame_ids(self) -> None:
        """Raise :class:`DataError` naming both places of the first frame id seen twice."""
        digests = np.frombuffer(self._id_digests, dtype=np.uint64)
        order = np.argsort(digests, kind="stable")
        candidates = np.flatnonzero(digests[order][1:] == digests[order][:-1])
        if not len(candidates):
            return
        ids = (self._tmp / "frame_ids.txt").read_text(encoding="utf-8").splitlines()
        materials = (self._tmp / "material_ids.txt").read_text(encoding="utf-8").splitlines()
        for k in candidates:  # a digest collision of two different ids is no repeat
            first, second = sorted((int(order[k]), int(order[k + 1])))
            if ids[first] == ids[second]:
                raise DataError(
                    f"frame id {ids[first]!r} appears twice: frame {first} (material "
                    f"{materials[first]!r}) and frame {second} (material {materials[second]!r}); "
                    "frame ids must be unique in a dataset",
                    material=materials[second],
                    frame=ids[second],
                )

    def _close_files(self) -> None:
        for handle in (*self._files.values(), self._ids, self._materials):
            handle.close()

    def abort(self) -> None:
        """Discard the temporary folder."""
        self._close_files()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._committed:
            self.abort()


def _digest(text: str) -> int:
    """A 64-bit digest of ``text`` (stable across processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def require_store(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is a frame store mfbench wrote.

    The mark is a ``meta.json`` holding ``store_format_version``: a folder without it is not
    replaced or removed, whatever its name.
    """
    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"exists but is not a frame store mfbench wrote ({exc}); refusing to replace it",
            file=str(path),
        ) from exc
    if not isinstance(meta, dict) or "store_format_version" not in meta:
        raise DataError(
            "exists but is not a frame store mfbench wrote (its meta.json has no "
            "store_format_version); refusing to replace it",
            file=str(path),
        )


@dataclass(frozen=True)
class FrameStore:
    """A prepared dataset, opened read-only with memory-mapped arrays.

    Attributes:
        path: the store folder.
        meta: the parsed ``meta.json``.
        frame_ids: ``[n_frames]`` frame ids.
        material_ids: ``[n_frames]`` material ids.

    """

    path: Path
    meta: dict[str, Any]
    frame_ids: np.ndarray
    material_ids: np.ndarray
    _arrays: dict[str, np.ndarray]

    @classmethod
    def open(cls, path: Path) -> FrameStore:
        """Open the store at ``path``; checks the format version and every array's size."""
        path = Path(path)
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise DataError("not a frame store (no meta.json)", file=str(path))
        meta = json.loads(meta_path.read_text())
        if meta.get("store_format_version") != STORE_FORMAT_VERSION:
            raise DataError(
                f"store format {meta.get('store_format_version')} is not the supported "
                f"{STORE_FORMAT_VERSION}; prepare the dataset again",
                file=str(meta_path),
            )
        arrays = {}
        for name, spec in meta["arrays"].items():
            file = path / f"{name}.bin"
            dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
            expected = dtype.itemsize * int(np.prod(shape))
            if not file.is_file() or file.stat().st_size != expected:
                raise DataError(
                    f"array is missing or has the wrong size (expected {expected} bytes); "
                    "the store is corrupt, prepare it again",
                    file=str(file),
                )
            arrays[name] = (
                np.memmap(file, dtype=dtype, mode="r", shape=shape)
                if expected
                else np.zeros(shape, dtype)
            )
        frame_ids = np.array((path / "frame_ids.txt").read_text(encoding="utf-8").splitlines())
        material_ids = np.array(
            (path / "material_ids.txt").read_text(encoding="utf-8").splitlines()
        )
        if len(frame_ids) != meta["n_frames"] or len(material_ids) != meta["n_frames"]:
            raise DataError("id lists do not match n_frames; the store is corrupt", file=str(path))
        return cls(path, meta, frame_ids, material_ids, arrays)

    def __len__(self) -> int:
        return int(self.meta["n_frames"])

    @property
    def fidelities(self) -> list[str]:
        """Names of the label sets in the store."""
        return list(self.meta["fidelities"])

    @property
    def atom_offsets(self) -> np.ndarray:
        """``[n_frames + 1]`` start of each frame's atoms in the per-atom arrays."""
        return self._arrays["atom_offsets"]

    @property
    def atomic_numbers(self) -> np.ndarray:
        """``[n_atoms_total]`` atomic numbers of all frames, concatenated."""
        return self._arrays["atomic_numbers"]

    def _atoms(self, index: int) -> slice:
        return slice(int(self.atom_offsets[index]), int(self.atom_offsets[index + 1]))

    def structure(self, index: int) -> Structure:
        """The pymatgen structure of frame ``index``."""
        atoms = self._atoms(index)
        return Structure(
            Lattice(np.array(self._arrays["lattice"][index])),
            np.array(self.atomic_numbers[atoms]).tolist(),
            np.array(self._arrays["frac_coords"][atoms]),
        )

    def frame(self, index: int) -> Frame:
        """Frame ``index`` with its labels at every fidelity (NaN labels become None)."""
        atoms = self._atoms(index)
        labels = {}
        for fidelity in self.fidelities:
            forces = np.array(self._arrays[f"{fidelity}.forces"][atoms])
            stress = np.array(self._arrays[f"{fidelity}.stress"][index])
            magmoms = np.array(self._arrays[f"{fidelity}.magmoms"][atoms])
            labels[fidelity] = Labels(
                float(self._arrays[f"{fidelity}.energy_per_atom"][index]),
                None if np.isnan(forces).all() else forces,
                None if np.isnan(stress).all() else stress,
                None if np.isnan(magmoms).all() else magmoms,
            )
        return Frame(
            str(self.frame_ids[index]), str(self.material_ids[index]), self.structure(index), labels
        )

    def energies(self, fidelity: str) -> np.ndarray:
        """``[n_frames]`` energy labels (eV/atom) at ``fidelity``."""
        self._check_fidelity(fidelity)
        return self._arrays[f"{fidelity}.energy_per_atom"]

    def labels(self, fidelity: str, indices: Sequence[int] | np.ndarray) -> LabelTable:
        """Labels at ``fidelity`` of the frames ``indices``, as a :class:`LabelTable`."""
        self._check_fidelity(fidelity)
        idx = np.asarray(indices, dtype=np.int64)
        starts, stops = self.atom_offsets[idx], self.atom_offsets[idx + 1]
        atom_idx = (
            np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
            if len(idx)
            else np.zeros(0, dtype=np.int64)
        )
        offsets = np.concatenate([[0], np.cumsum(stops - starts)]).astype(np.int64)
        return LabelTable(
            energy_per_atom=np.array(self._arrays[f"{fidelity}.energy_per_atom"][idx]),
            forces=np.array(self._arrays[f"{fidelity}.forces"][atom_idx]).reshape(-1, 3),
            stress=np.array(self._arrays[f"{fidelity}.stress"][idx]).reshape(-1, 3, 3),
            magmoms=np.array(self._arrays[f"{fidelity}.magmoms"][atom_idx]),
            atom_offsets=offsets,
        )

    def atomic_numbers_of(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Concatenated atomic numbers of the frames ``indices`` (same order as :meth:`labels`)."""
        idx = np.asarray(indices, dtype=np.int64)
        parts = [np.asarray(self.atomic_numbers[self._atoms(int(i))]) for i in idx]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def elements_of(self, index: int) -> frozenset[int]:
        """Set of atomic numbers present in frame ``index``."""
        return frozenset(int(z) for z in np.unique(self.atomic_numbers[self._atoms(index)]))

    def composition(self, index: int) -> Composition:
        """The composition of frame ``index``."""
        numbers, counts = np.unique(self.atomic_numbers[self._atoms(index)], return_counts=True)

        return Composition(
            {Element.from_Z(int(z)): int(c) for z, c in zip(numbers, counts, strict=True)}
        )

    def _check_fidelity(self, fidelity: str) -> None:
        if fidelity not in self.fidelities:
            raise DataError(
                f"fidelity {fidelity!r} is not in this store (it has {self.fidelities})",
                file=str(self.path),
            )
