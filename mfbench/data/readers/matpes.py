"""Streamed reader for MatPES 2025.1 (``MatPES-{PBE,R2SCAN}-2025.1.json.gz``).

Each file is a JSON list of records (emmet's ``MatPESTrainDoc``): ``structure``, ``energy``
(total, eV; VASP's ``e_0_energy``), ``forces`` (eV/Å), ``stress`` (six components in kBar
with VASP's sign, in standard Voigt order xx, yy, zz, yz, xz, xy, as emmet's
``MLTrainDoc`` documents), ``matpes_id`` and ``provenance.original_mp_id``. Magnetic
moments, when present, sit in a top-level ``magmoms`` list or in the structure's ``magmom``
site property.

Frame id is the ``matpes_id``, which the PBE and r²SCAN files share, so the two stores
pair frame by frame. Material id is the original Materials Project id when recorded (frames
sampled from one MP structure stay on one split side), else the ``matpes_id``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ijson
import numpy as np
from pymatgen.core import Structure

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import number, numeric_array
from mfbench.data.readers.nested_json import open_maybe_gzip
from mfbench.errors import DataError


def iter_matpes(source: Path, *, fidelity: str) -> Iterator[Frame]:
    """Yield validated frames from a MatPES ``.json.gz`` (or plain ``.json``) file.

    Args:
        source: the MatPES file.
        fidelity: label set name, e.g. ``"r2scan"`` or ``"gga"`` (for PBE).

    Raises:
        DataError: corrupt JSON or a malformed record, naming the file, record and field.
    """
    path = str(source)
    last: str | None = None
    try:
        with open_maybe_gzip(Path(source)) as handle:
            for position, record in enumerate(ijson.items(handle, "item", use_float=True)):
                frame = _frame(path, position, record, fidelity)
                last = frame.frame_id
                yield frame
    except DataError:
        raise
    except (ijson.JSONError, EOFError, OSError, gzip.BadGzipFile) as exc:
        after = f" after frame {last!r}" if last is not None else ""
        raise DataError(f"invalid JSON{after}: truncated or corrupt ({exc})", file=path) from exc


def _frame(path: str, position: int, record: Any, fidelity: str) -> Frame:
    if not isinstance(record, Mapping):
        raise DataError(f"record {position} is not an object", file=path)
    frame_id = str(record.get("matpes_id") or f"record-{position}")
    provenance = record.get("provenance") or {}
    material_id = str(provenance.get("original_mp_id") or frame_id)
    where = {"file": path, "material": material_id, "frame": frame_id}
    if "matpes_id" not in record:
        raise DataError("missing key", field="matpes_id", **where)

    def get(key: str) -> Any:
        if key not in record or record[key] is None:
            raise DataError(f"missing key; the record has {sorted(record)}", field=key, **where)
        return record[key]

    try:
        structure = Structure.from_dict(get("structure"))
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"not a pymatgen structure ({exc})", field="structure", **where) from exc
    n_atoms = len(structure)
    energy = number(get("energy"), field="energy", **where) / n_atoms
    forces = numeric_array(get("forces"), (n_atoms, 3), field="forces", **where)
    stress_voigt = numeric_array(get("stress"), (6,), field="stress", **where)
    stress = units.vasp_kbar_to_gpa(units.voigt_to_matrix(stress_voigt, order="voigt"))
    raw_magmoms = record.get("magmoms")
    if raw_magmoms is None:
        raw_magmoms = structure.site_properties.get("magmom")
    magmoms = (
        None
        if raw_magmoms is None
        else np.abs(numeric_array(raw_magmoms, (n_atoms,), field="magmoms", **where))
    )
    frame = Frame(
        frame_id, material_id, structure, {fidelity: Labels(energy, forces, stress, magmoms)}
    )
    return validate_frame(frame, file=path)
