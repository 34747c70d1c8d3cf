"""Reader for extended XYZ files through ASE (``ase.io.iread``, one frame at a time).

Energies are ASE's total potential energy (eV) divided by the atom count, forces eV/Å,
stress ASE's (eV/Å³, ASE sign = CHGNet sign) converted to GPa, magnetic moments the
magnitudes of ASE's per-atom moments when present.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import numeric_array
from mfbench.errors import DataError

logger = logging.getLogger(__name__)


def iter_extxyz(
    source: Path,
    *,
    fidelity: str,
    material_key: str = "material_id",
    frame_key: str = "frame_id",
) -> Iterator[Frame]:
    """Yield validated frames from an extended XYZ file.

    Args:
        source: the ``.extxyz``/``.xyz`` file.
        fidelity: label set name.
        material_key: ``atoms.info`` key of the material id. Frames without it are each
            their own material (``<file stem>-<index>``), with one warning per file.
        frame_key: ``atoms.info`` key of the frame id; default ``<file stem>-<index>``.

    Raises:
        DataError: unreadable file, missing energy or forces, bad shapes or values.
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
            n_atoms = len(atoms)
            if atoms.calc is None:
                raise DataError("frame has no energy/forces (no calculator results)", **where)
            results = atoms.calc.results
            if "energy" not in results:
                raise DataError("missing energy", field="energy", **where)
            if "forces" not in results:
                raise DataError("missing forces", field="forces", **where)
            forces = numeric_array(results["forces"], (n_atoms, 3), field="forces", **where)
            stress = None
            if "stress" in results:
                raw = np.asarray(results["stress"], dtype=np.float64)
                matrix = units.voigt_to_matrix(raw, "voigt") if raw.shape == (6,) else raw
                stress = units.ase_stress_to_gpa(
                    numeric_array(matrix, (3, 3), field="stress", **where)
                )
            magmoms = None
            if "magmoms" in results:
                magmoms = np.abs(
                    numeric_array(results["magmoms"], (n_atoms,), field="magmoms", **where)
                )
            labels = Labels(float(results["energy"]) / n_atoms, forces, stress, magmoms)
            structure = AseAtomsAdaptor.get_structure(atoms)
            frame = Frame(frame_id, material_id, structure, {fidelity: labels})
            yield validate_frame(frame, file=path)
    except DataError:
        raise
    except Exception as exc:  # ASE raises many exception types on malformed files
        raise DataError(
            f"cannot parse extended XYZ after frame index {index} ({type(exc).__name__}: {exc})",
            file=path,
        ) from exc
