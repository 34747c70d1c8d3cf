"""Pair the frames of a low-fidelity and a high-fidelity label set.

Two ways to pair, chosen per comparison (:data:`PairMode`):

- ``"frame"``: the same frame labelled at both fidelities. Used when both sides are one store
  (the embedded surrogate: ``gga`` and ``r2scan`` labels of every frame), or when two stores
  share their frame ids (MatPES PBE and r²SCAN, both keyed by ``matpes_id``). Every frame id
  found on one side only is counted as unpaired.
- ``"material"``: each material's lowest-energy frame on each side, matched by material id
  (MP-r²SCAN against MPtrj by ``mp_id``): the two frames are different structures (each relaxed
  with its own functional) of one material. Materials found on one side only are counted.

Frame pairing of two stores also checks that each pair is one structure: the same species in the
same order, cell volumes within :data:`VOLUME_RTOL`, lattice vectors and Cartesian positions
(compared modulo the cell) within :data:`POSITION_TOLERANCE_A`. Two stores whose frame ids match
but whose structures differ (two VASP folders with the same layout, relaxed with different
functionals) are refused, naming the first differing frame: their ids do not mean "the same frame",
and material pairing is the comparison to use. One store paired with itself is not checked (its
structures are the same arrays).

In both modes a pair whose two frames have different compositions (element fractions differing
by more than 1e-9) is not compared; it is counted as a composition mismatch and its id is kept
among the report's examples. Nothing is dropped without being counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mfbench.data.elemental_reference import composition_fractions
from mfbench.data.registry import get_dataset
from mfbench.data.store import FrameStore
from mfbench.diagnostics.report import PairingSummary, SourceInfo
from mfbench.errors import DataError
from mfbench.metrics.thermo import lowest_energy_frames

logger = logging.getLogger(__name__)

#: How to pair frames: decide automatically, by frame id, or by material id.
PairMode = Literal["auto", "frame", "material"]
#: Frame pairing is chosen automatically when at least this share of the smaller side's frame
#: ids also occurs on the other side.
FRAME_ID_OVERLAP = 0.5
#: Largest difference of an element fraction for two frames to count as the same composition.
COMPOSITION_TOLERANCE = 1e-9
#: Unpaired ids kept per category in the report.
N_EXAMPLES = 10
#: Largest relative difference of cell volumes for frame-paired structures to be the same.
VOLUME_RTOL = 1e-4
#: Largest difference (Å) of a lattice vector component or of an atom's Cartesian position
#: (modulo the cell) for frame-paired structures to be the same.
POSITION_TOLERANCE_A = 1e-3
#: Pairs whose structures are compared at once (bounds the memory of the check).
STRUCTURE_CHUNK = 4096


@dataclass(frozen=True)
class FidelitySource:
    """One side of a comparison: a prepared dataset's labels at one fidelity.

    Attributes:
        dataset: registry id of the dataset, e.g. ``"mptrj"``.
        fidelity: label set in the store, e.g. ``"gga"``.
        store: the opened frame store.
    """

    dataset: str
    fidelity: str
    store: FrameStore

    @property
    def label(self) -> str:
        """``dataset:fidelity``."""
        return f"{self.dataset}:{self.fidelity}"

    @classmethod
    def from_spec(cls, spec: str, extra_registry: Iterable[Path] = ()) -> FidelitySource:
        """Open ``"DATASET[:FIDELITY]"``; the fidelity may be left out when the dataset has one.

        Raises:
            DataError: the dataset is not prepared, or the fidelity is missing or ambiguous.
            UnknownNameError: the dataset id is not registered.
        """
        dataset, _, fidelity = spec.partition(":")
        entry = get_dataset(dataset, extra_registry)
        path = entry.store_path()
        if not (path / "meta.json").is_file():
            source = "" if entry.source == "embedded" else " --source PATH"
            raise DataError(
                f"dataset {entry.key} is not prepared; run `mfbench data prepare {entry.id}"
                f"{source}`",
                file=str(path),
            )
        store = FrameStore.open(path)
        if not fidelity:
            if len(store.fidelities) != 1:
                raise DataError(
                    f"dataset {entry.id!r} has fidelities {store.fidelities}; name one as "
                    f"{entry.id}:FIDELITY",
                    file=str(path),
                )
            fidelity = store.fidelities[0]
        if fidelity not in store.fidelities:
            raise DataError(
                f"fidelity {fidelity!r} is not in dataset {entry.id!r} (it has {store.fidelities})",
                file=str(path),
            )
        return cls(entry.id, fidelity, store)

    def info(self, label_corrections: str | None = None) -> SourceInfo:
        """Provenance of this side for the report."""
        meta = self.store.meta
        return SourceInfo(
            dataset=self.dataset,
            version=str(meta.get("dataset", {}).get("version", "")),
            fidelity=self.fidelity,
            sha256=meta.get("source", {}).get("sha256"),
            n_frames=len(self.store),
            n_materials=len(np.unique(self.store.material_ids)),
            label_corrections=label_corrections,
        )


@dataclass(frozen=True)
class PairedEnergies:
    """Energies per atom of paired frames at two fidelities.

    Attributes:
        low: the low-fidelity side (e.g. GGA).
        high: the high-fidelity side (e.g. r²SCAN).
        low_index: ``[n_pairs]`` frame index of each pair in ``low.store``.
        high_index: ``[n_pairs]`` frame index of each pair in ``high.store``.
        pair_ids: ``[n_pairs]`` the frame id (frame pairing) or material id (material pairing).
        material_ids: ``[n_pairs]`` material id of the high-fidelity frame.
        low_energy: ``[n_pairs]`` eV/atom at the low fidelity.
        high_energy: ``[n_pairs]`` eV/atom at the high fidelity.
        fractions: ``[n_pairs, 94]`` element fractions (column ``Z - 1``), the same on both
            sides by construction.
        summary: counts of paired and unpaired frames or materials.
    """

    low: FidelitySource
    high: FidelitySource
    low_index: np.ndarray
    high_index: np.ndarray
    pair_ids: np.ndarray
    material_ids: np.ndarray
    low_energy: np.ndarray
    high_energy: np.ndarray
    fractions: np.ndarray
    summary: PairingSummary

    def __len__(self) -> int:
        return len(self.pair_ids)


def frame_fractions(store: FrameStore, indices: np.ndarray) -> np.ndarray:
    """``[len(indices), 94]`` element fractions of the frames ``indices`` of ``store``."""
    idx = np.asarray(indices, dtype=np.int64)
    sizes = store.atom_offsets[idx + 1] - store.atom_offsets[idx]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return composition_fractions(store.atomic_numbers_of(idx), offsets)


def _same_store(low: FidelitySource, high: FidelitySource) -> bool:
    return Path(low.store.path).resolve() == Path(high.store.path).resolve()


def _check_unique(ids: np.ndarray, source: FidelitySource) -> None:
    values, counts = np.unique(ids, return_counts=True)
    if len(values) != len(ids):
        duplicate = str(values[np.argmax(counts)])
        raise DataError(
            f"frame id occurs {counts.max()} times in {source.label}; frame pairing needs "
            "unique frame ids",
            file=str(source.store.path),
            frame=duplicate,
        )


def _geometry(store: FrameStore) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped geometry of ``store``.

    Returns:
        ``[n_frames, 3, 3]`` lattices (Å, rows are the vectors) and ``[n_atoms_total, 3]``
        fractional coordinates.
    """
    # FrameStore has no public accessor for these arrays, and structure(i) would build a
    # pymatgen Structure for each of up to ~10⁶ pairs.
    return store._arrays["lattice"], store._arrays["frac_coords"]


def _atom_indices(store: FrameStore, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atoms of ``frames`` in ``store``'s per-atom arrays.

    Returns:
        ``[n_atoms]`` atom indices (frame by frame) and ``[n_atoms]`` position of each atom's
        frame in ``frames``.
    """
    starts = np.asarray(store.atom_offsets[frames], dtype=np.int64)
    sizes = np.asarray(store.atom_offsets[frames + 1], dtype=np.int64) - starts
    owner = np.repeat(np.arange(len(frames)), sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return starts[owner] + within, owner


def structure_difference(
    numbers: tuple[np.ndarray, np.ndarray],
    lattices: tuple[np.ndarray, np.ndarray],
    frac_coords: tuple[np.ndarray, np.ndarray],
) -> str | None:
    """How two structures differ, or None when they are the same within the tolerances.

    Args:
        numbers: ``[n_atoms]`` atomic numbers of each structure (the sizes may differ).
        lattices: ``[3, 3]`` lattice of each, Å, rows are the vectors.
        frac_coords: ``[n_atoms, 3]`` fractional coordinates of each.

    Returns:
        e.g. ``"cell volumes 40.04 vs 40.15 Å³ ..."``. Checks atom counts, species order, cell
        volume (:data:`VOLUME_RTOL`), lattice vectors and Cartesian positions compared modulo
        the cell (:data:`POSITION_TOLERANCE_A`).
    """
    z_a, z_b = (np.asarray(z) for z in numbers)
    lat_a, lat_b = (np.asarray(lattice, dtype=np.float64) for lattice in lattices)
    if len(z_a) != len(z_b):
        return f"{len(z_a)} vs {len(z_b)} atoms"
    if np.any(z_a != z_b):
        site = int(np.argmax(z_a != z_b))
        return f"atomic numbers at site {site} are {int(z_a[site])} vs {int(z_b[site])}"
    vol_a, vol_b = abs(np.linalg.det(lat_a)), abs(np.linalg.det(lat_b))
    if abs(vol_a - vol_b) > VOLUME_RTOL * max(vol_a, vol_b):
        return f"cell volumes {vol_a:.6g} vs {vol_b:.6g} Å³ (relative tolerance {VOLUME_RTOL:g})"
    lattice_gap = float(np.abs(lat_a - lat_b).max())
    if lattice_gap > POSITION_TOLERANCE_A:
        return (
            f"lattice vectors differ by up to {lattice_gap:.4g} Å "
            f"(tolerance {POSITION_TOLERANCE_A:g} Å)"
        )
    delta = np.asarray(frac_coords[0], dtype=np.float64) - np.asarray(frac_coords[1])
    gaps = np.linalg.norm((delta - np.round(delta)) @ lat_b, axis=1)
    if len(gaps) and gaps.max() > POSITION_TOLERANCE_A:
        site = int(np.argmax(gaps))
        return (
            f"site {site} is {gaps[site]:.4g} Å from its position in the other structure "
            f"(tolerance {POSITION_TOLERANCE_A:g} Å)"
        )
    return None


def _differing_pairs(
    low: FrameStore, high: FrameStore, low_idx: np.ndarray, high_idx: np.ndarray
) -> np.ndarray:
    """``[n_pairs]`` True where a pair's structures differ (checks of :func:`structure_difference`).

    Vectorised over the pairs: ``low_idx`` and ``high_idx`` are ``[n_pairs]`` frame indices.
    """
    (lat_low, frac_low), (lat_high, frac_high) = _geometry(low), _geometry(high)
    sizes_low = np.asarray(low.atom_offsets[low_idx + 1] - low.atom_offsets[low_idx])
    sizes_high = np.asarray(high.atom_offsets[high_idx + 1] - high.atom_offsets[high_idx])
    lat_a, lat_b = np.asarray(lat_low[low_idx]), np.asarray(lat_high[high_idx])
    vol_a, vol_b = np.abs(np.linalg.det(lat_a)), np.abs(np.linalg.det(lat_b))
    differ = sizes_low != sizes_high
    differ |= np.abs(vol_a - vol_b) > VOLUME_RTOL * np.maximum(vol_a, vol_b)
    differ |= np.abs(lat_a - lat_b).max(axis=(1, 2)) > POSITION_TOLERANCE_A
    same = np.flatnonzero(~differ)
    if len(same):
        atoms_low, owner = _atom_indices(low, low_idx[same])
        atoms_high, _ = _atom_indices(high, high_idx[same])
        delta = np.asarray(frac_low[atoms_low]) - np.asarray(frac_high[atoms_high])
        cart = np.einsum("ai,aij->aj", delta - np.round(delta), lat_b[same][owner])
        bad = np.asarray(low.atomic_numbers[atoms_low]) != np.asarray(
            high.atomic_numbers[atoms_high]
        )
        bad |= np.linalg.norm(cart, axis=1) > POSITION_TOLERANCE_A
        differ[same[np.unique(owner[bad])]] = True
    return differ


def check_same_structures(
    low: FidelitySource, high: FidelitySource, low_idx: np.ndarray, high_idx: np.ndarray
) -> None:
    """Refuse frame pairs of two stores whose structures differ.

    Pairs are compared in chunks of :data:`STRUCTURE_CHUNK` (see :func:`structure_difference`
    for the checks and tolerances).

    Args:
        low: the low-fidelity side.
        high: the high-fidelity side.
        low_idx: ``[n_pairs]`` frame index of each pair in ``low.store``.
        high_idx: ``[n_pairs]`` frame index of each pair in ``high.store``.

    Raises:
        DataError: a pair differs; names the first differing frame id (in pair order) and the
            difference, and suggests ``--pair-by material``.
    """
    low_idx, high_idx = (np.asarray(i, dtype=np.int64) for i in (low_idx, high_idx))
    for start in range(0, len(high_idx), STRUCTURE_CHUNK):
        chunk = slice(start, start + STRUCTURE_CHUNK)
        differ = _differing_pairs(low.store, high.store, low_idx[chunk], high_idx[chunk])
        if not differ.any():
            continue
        k = start + int(np.argmax(differ))
        i, j = int(low_idx[k]), int(high_idx[k])
        (lat_low, frac_low), (lat_high, frac_high) = _geometry(low.store), _geometry(high.store)
        atoms_low = slice(int(low.store.atom_offsets[i]), int(low.store.atom_offsets[i + 1]))
        atoms_high = slice(int(high.store.atom_offsets[j]), int(high.store.atom_offsets[j + 1]))
        difference = structure_difference(
            (low.store.atomic_numbers[atoms_low], high.store.atomic_numbers[atoms_high]),
            (lat_low[i], lat_high[j]),
            (frac_low[atoms_low], frac_high[atoms_high]),
        )
        raise DataError(
            f"frame pairing of {low.label} and {high.label} pairs frames by their ids, but the "
            f"structures of this pair differ ({difference}): here matching ids do not mean the "
            "same frame (e.g. two VASP folders with the same layout, relaxed with different "
            "functionals). Compare them with --pair-by material",
            file=str(high.store.path),
            material=str(high.store.material_ids[j]),
            frame=str(high.store.frame_ids[j]),
        )


def resolve_mode(low: FidelitySource, high: FidelitySource, mode: PairMode) -> tuple[str, str]:
    """The pairing mode to use and why: ``("frame" | "material", reason)``."""
    if mode == "frame":
        return "frame", "frame pairing requested"
    if mode == "material":
        return "material", "material pairing requested"
    if mode != "auto":
        raise ValueError(f"pairing mode must be auto, frame or material, got {mode!r}")
    if _same_store(low, high):
        return "frame", "both fidelities label the same frames of one store"
    common = len(np.intersect1d(low.store.frame_ids, high.store.frame_ids))
    smaller = min(len(low.store), len(high.store))
    if common >= FRAME_ID_OVERLAP * smaller:
        return "frame", f"{common} of {smaller} frame ids occur in both stores"
    return "material", (
        f"only {common} of {smaller} frame ids occur in both stores: each material's "
        "lowest-energy frame on each side is compared"
    )


def pair_energies(
    low: FidelitySource, high: FidelitySource, mode: PairMode = "auto"
) -> PairedEnergies:
    """Pair ``low`` and ``high`` frames (see the module docstring) and count what stays unpaired.

    Args:
        low: the low-fidelity side.
        high: the high-fidelity side.
        mode: ``"auto"`` (frame pairing for one store or shared frame ids, else material
            pairing), ``"frame"`` or ``"material"``.

    Returns:
        The pairs, in the order of the high store's frames (frame pairing) or sorted by
        material id (material pairing).

    Raises:
        DataError: nothing could be paired, a store has duplicate frame ids (frame pairing),
            or a paired energy is not finite; the message names the store and frame.
    """
    chosen, reason = resolve_mode(low, high, mode)
    e_low = np.asarray(low.store.energies(low.fidelity), dtype=np.float64)
    e_high = np.asarray(high.store.energies(high.fidelity), dtype=np.float64)
    examples: dict[str, list[str]] = {}
    if chosen == "frame":
        if _same_store(low, high):
            low_idx = high_idx = np.arange(len(high.store), dtype=np.int64)
            n_low_only = n_high_only = 0
        else:
            _check_unique(low.store.frame_ids, low)
            _check_unique(high.store.frame_ids, high)
            _, low_idx, high_idx = np.intersect1d(
                low.store.frame_ids, high.store.frame_ids, return_indices=True
            )
            order = np.argsort(high_idx, kind="stable")
            low_idx, high_idx = low_idx[order].astype(np.int64), high_idx[order].astype(np.int64)
            low_only = np.setdiff1d(low.store.frame_ids, high.store.frame_ids)
            high_only = np.setdiff1d(high.store.frame_ids, low.store.frame_ids)
            n_low_only, n_high_only = len(low_only), len(high_only)
            examples["low_only"] = [str(i) for i in low_only[:N_EXAMPLES]]
            examples["high_only"] = [str(i) for i in high_only[:N_EXAMPLES]]
        ids = high.store.frame_ids[high_idx]
    else:
        best_low = lowest_energy_frames(low.store.material_ids.tolist(), e_low)
        best_high = lowest_energy_frames(high.store.material_ids.tolist(), e_high)
        common = sorted(best_low.keys() & best_high.keys())
        low_only = sorted(best_low.keys() - best_high.keys())
        high_only = sorted(best_high.keys() - best_low.keys())
        n_low_only, n_high_only = len(low_only), len(high_only)
        examples["low_only"] = low_only[:N_EXAMPLES]
        examples["high_only"] = high_only[:N_EXAMPLES]
        low_idx = np.array([best_low[m] for m in common], dtype=np.int64)
        high_idx = np.array([best_high[m] for m in common], dtype=np.int64)
        ids = np.array(common, dtype=str)

    frac_low = frame_fractions(low.store, low_idx)
    frac_high = frame_fractions(high.store, high_idx)
    mismatch = np.any(np.abs(frac_low - frac_high) > COMPOSITION_TOLERANCE, axis=1)
    if mismatch.any():
        bad = ids[mismatch]
        examples["composition_mismatch"] = [str(i) for i in bad[:N_EXAMPLES]]
        logger.warning(
            "%d pair(s) of %s and %s have different compositions and are not compared, e.g. %s",
            int(mismatch.sum()),
            low.label,
            high.label,
            ", ".join(examples["composition_mismatch"][:3]),
        )
    keep = ~mismatch
    low_idx, high_idx, ids = low_idx[keep], high_idx[keep], ids[keep]
    if chosen == "frame" and not _same_store(low, high):
        check_same_structures(low, high, low_idx, high_idx)
    if len(ids) == 0:
        raise DataError(
            f"no {chosen} of {low.label} pairs with one of {high.label} "
            f"({n_low_only} only in the low, {n_high_only} only in the high fidelity, "
            f"{int(mismatch.sum())} with different compositions)",
            file=str(high.store.path),
        )
    for source, index, energy in ((low, low_idx, e_low), (high, high_idx, e_high)):
        bad_energy = ~np.isfinite(energy[index])
        if bad_energy.any():
            first = int(index[np.argmax(bad_energy)])
            raise DataError(
                f"energy per atom is {energy[first]}",
                file=str(source.store.path),
                material=str(source.store.material_ids[first]),
                frame=str(source.store.frame_ids[first]),
                field=f"{source.fidelity}.energy_per_atom",
            )
    if n_low_only or n_high_only:
        unit = "frame" if chosen == "frame" else "material"
        logger.warning(
            "%d %s(s) only in %s and %d only in %s are not compared",
            n_low_only,
            unit,
            low.label,
            n_high_only,
            high.label,
        )
    summary = PairingSummary(
        mode=chosen,
        reason=reason,
        n_low_frames=len(low.store),
        n_high_frames=len(high.store),
        n_low_materials=len(np.unique(low.store.material_ids)),
        n_high_materials=len(np.unique(high.store.material_ids)),
        n_paired=len(ids),
        n_paired_materials=len(np.unique(high.store.material_ids[high_idx])),
        n_low_only=n_low_only,
        n_high_only=n_high_only,
        n_composition_mismatch=int(mismatch.sum()),
        examples=examples,
    )
    return PairedEnergies(
        low=low,
        high=high,
        low_index=low_idx,
        high_index=high_idx,
        pair_ids=ids,
        material_ids=high.store.material_ids[high_idx],
        low_energy=e_low[low_idx],
        high_energy=e_high[high_idx],
        fractions=frac_high[keep],
        summary=summary,
    )
