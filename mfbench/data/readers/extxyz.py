"""Reader for extended XYZ files through ASE (``ase.io.iread``, one frame at a time).

Labels come from the single-point calculator ASE attaches when it reads a frame: total
potential energy (eV) divided by the atom count, forces ``[n_atoms, 3]`` eV/Å, stress in
eV/Å³ with ASE's sign (which is CHGNet's) converted to GPa, and the magnitudes of per-atom
magnetic moments (μB) when the file has them. Energy and forces are required; stress and
magnetic moments are optional.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import number, numeric_array
from mfbench.errors import DataError

logger = logging.getLogger(__name__)


def iter_extxyz(
    source: Path,
    *,
    fidelity: str,
    material_key: str = "material_id",
    frame_key: str = "frame_id",
) -> Iterator[Frame]:
    """Yield validated frames from an extended XYZ file, streaming one frame at a time.

    Args:
        source: the ``.extxyz``/``.xyz`` file.
        fidelity: label set name.
        material_key: ``atoms.info`` key of the material id. Frames without it are each
            their own material (``<file stem>-<index>``), with one warning per file.
        frame_key: ``atoms.info`` key of the frame id; default ``<file stem>-<index>``.

    Yields:
        One frame per structure, with ``labels[fidelity]``: energy eV/atom, forces
        ``[n_atoms, 3]`` eV/Å, stress ``[3, 3]`` GPa or None, magmoms ``[n_atoms]`` μB
        magnitudes or None.

    Raises:
        DataError: an unreadable file (naming it and the last good frame index), a frame
            without energy or forces, or labels of the wrong shape or not finite.
    """
    from ase.io import iread
    from pymatgen.io.ase import AseAtomsAdaptor

    path, stem = str(source), Path(source).stem
    warned = False
    index = -1
    try:
        for index, atoms in enumerate(iread(path, index=":", format="extxyz")):
            frame_id = str(atoms.info.get(frame_key, f"{stem}-{index}"))
            if material_key in atoms.info:
                material_id = str(atoms.info[material_key])
            else:
                material_id = f"{stem}-{index}"
                if not warned:
                    logger.warning(
                        "%s: frames have no %r in their info; each frame is its own material",
                        path,
                        material_key,
                    )
                    warned = True
            where = {"file": path, "material": material_id, "frame": frame_id}
            results = atoms.calc.results if atoms.calc is not None else {}
            labels = _labels(results, len(atoms), sorted(atoms.info), where)
            # Without the calculator, so the structure does not carry the labels again.
            structure = AseAtomsAdaptor.get_structure(atoms.copy())
            frame = Frame(frame_id, material_id, structure, {fidelity: labels})
            yield validate_frame(frame, file=path)
    except DataError:
        raise
    except Exception as exc:  # ASE raises many exception types on malformed files
        raise DataError(
            f"cannot parse extended XYZ after frame index {index} ({type(exc).__name__}: {exc})",
            file=path,
        ) from exc


def _labels(
    results: dict[str, Any], n_atoms: int, info_keys: list[str], where: dict[str, Any]
) -> Labels:
    """Labels from ASE calculator results (eV, eV/Å, eV/Å³ as Voigt ``[6]`` or ``[3, 3]``, μB)."""
    for key in ("energy", "forces"):
        if results.get(key) is None:
            raise DataError(
                f"missing {key}; ASE found results {sorted(results)} and info keys "
                f"{info_keys} (energy and forces must be named 'energy' and 'forces')",
                field=key,
                **where,
            )
    raw_energy = results["energy"]
    if isinstance(raw_energy, np.ndarray) and raw_energy.size == 1:
        raw_energy = raw_energy.item()
    energy = number(raw_energy, field="energy", **where)
    forces = numeric_array(results["forces"], (n_atoms, 3), field="forces", **where)
    stress = None
    if results.get("stress") is not None:
        raw = np.asarray(results["stress"], dtype=np.float64)
        matrix = units.voigt_to_matrix(raw, order="voigt") if raw.shape == (6,) else raw
        stress = units.ase_stress_to_gpa(numeric_array(matrix, (3, 3), field="stress", **where))
    magmoms = None
    if results.get("magmoms") is not None:
        magmoms = np.abs(numeric_array(results["magmoms"], (n_atoms,), field="magmoms", **where))
    return Labels(energy / n_atoms, forces, stress, magmoms)
