"""Streamed reader for MatPES 2025.1 (``MatPES-{PBE,R2SCAN}-2025.1.json.gz``).

Each file is a JSON list of records (emmet's ``MatPESTrainDoc``): ``structure``, ``energy``
(total, eV; VASP's ``e_0_energy``), ``forces`` (``[n_atoms, 3]`` eV/Å), ``stress`` (six
components in kBar with VASP's sign), ``matpes_id`` and ``provenance.original_mp_id``.

Stress order is standard Voigt, xx, yy, zz, yz, xz, xy, *not* VASP's OUTCAR order: emmet's
``MLTrainDoc.from_task_doc`` builds it from the 3×3 vasprun stress with the indices
``(0,0), (1,1), (2,2), (1,2), (0,2), (0,1)`` and documents "Voigt notation (xx, yy, zz, yz,
xz, xy)", and MatPES's own training notebook (materialyzeai/matpes, "Training a MatPES
model") converts it with ASE's ``voigt_6_to_full_3x3_stress(stress) * -0.1`` (kBar → GPa and
sign flip), which is what this reader does through :mod:`mfbench.units`.

Magnetic moments, when present, sit in a top-level ``magmoms`` list (newer emmet) or in the
structure's ``magmom`` site property (emmet at the 2025.1 release); magnitudes are kept.

Frame id is the ``matpes_id``, which the PBE and r²SCAN files share, so the two stores
pair frame by frame. Material id is the original Materials Project id when recorded (frames
sampled from one MP structure stay on one split side), else the ``matpes_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import ijson
import numpy as np
from pymatgen.core import Structure

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import (
    JSON_STREAM_ERRORS,
    invalid_json,
    number,
    numeric_array,
    open_maybe_gzip,
)
from mfbench.errors import DataError

logger = logging.getLogger(__name__)

#: MatPES's (emmet's) order of the six stress components.
MATPES_VOIGT_ORDER = "voigt"


def iter_matpes(source: Path, *, fidelity: str) -> Iterator[Frame]:
    """Yield validated frames from a MatPES ``.json.gz`` (or plain ``.json``) file.

    The file is streamed record by record with ijson, so memory does not grow with the
    file size. Gzip is detected by its magic bytes, not by the file name.

    Args:
        source: the MatPES file.
        fidelity: label set name, e.g. ``"r2scan"`` or ``"gga"`` (for PBE).

    Yields:
        One frame per record, with ``labels[fidelity]``: energy eV/atom, forces
        ``[n_atoms, 3]`` eV/Å, stress ``[3, 3]`` GPa (CHGNet sign), magmoms ``[n_atoms]`` μB
        magnitudes or None.

    Raises:
        DataError: a file that is not a JSON list, corrupt or truncated JSON or gzip
            (JSON has no NaN, so a NaN literal lands here too), or a malformed record;
            the message names the file and, where known, the material, frame and field.
    """
    path = str(source)
    last: str | None = None
    count = 0
    try:
        with open_maybe_gzip(Path(source)) as handle:
            _require_list(handle, path)
            for position, record in enumerate(ijson.items(handle, "item", use_float=True)):
                frame = _frame(path, position, record, fidelity)
                last, count = frame.frame_id, count + 1
                yield frame
    except DataError:
        raise
    except JSON_STREAM_ERRORS as exc:
        where = f" in record {count} (after frame {last!r})" if last is not None else ""
        raise invalid_json(path, where, exc) from exc
    if count == 0:
        raise DataError("the JSON list holds no records", file=path)


def _require_list(handle: IO[bytes], path: str) -> None:
    """Fail early unless the (decompressed) stream starts with ``[``, without consuming it."""
    head = handle.peek(64).lstrip() if hasattr(handle, "peek") else b""
    if head and not head.startswith(b"["):
        raise DataError(
            f"expected a JSON list of MatPES records, the file starts with {head[:20]!r}",
            file=path,
        )


def _frame(path: str, position: int, record: Any, fidelity: str) -> Frame:
    if not isinstance(record, Mapping):
        raise DataError(f"record {position} is a {type(record).__name__}, not an object", file=path)
    frame_id = str(record.get("matpes_id") or f"record-{position}")
    provenance = record.get("provenance") or {}
    if not isinstance(provenance, Mapping):
        raise DataError("not an object", file=path, frame=frame_id, field="provenance")
    material_id = str(provenance.get("original_mp_id") or frame_id)
    where = {"file": path, "material": material_id, "frame": frame_id}
    if not record.get("matpes_id"):
        raise DataError(f"missing key (record {position})", field="matpes_id", **where)

    def get(key: str) -> Any:
        if record.get(key) is None:
            raise DataError(f"missing key; the record has {sorted(record)}", field=key, **where)
        return record[key]

    try:
        structure = Structure.from_dict(get("structure"))
    except DataError:
        raise
    except Exception as exc:  # pymatgen raises many types on malformed dicts
        raise DataError(f"not a pymatgen structure ({exc})", field="structure", **where) from exc
    n_atoms = len(structure)
    energy = number(get("energy"), field="energy", **where) / n_atoms
    forces = numeric_array(get("forces"), (n_atoms, 3), field="forces", **where)
    stress_voigt = numeric_array(get("stress"), (6,), field="stress", **where)
    stress = units.vasp_kbar_to_gpa(units.voigt_to_matrix(stress_voigt, order=MATPES_VOIGT_ORDER))
    raw_magmoms = record.get("magmoms")
    field = "magmoms"
    if raw_magmoms is None:
        raw_magmoms = structure.site_properties.get("magmom")
        field = "structure.magmom"
    magmoms = (
        None
        if raw_magmoms is None
        else np.abs(numeric_array(raw_magmoms, (n_atoms,), field=field, **where))
    )
    frame = Frame(
        frame_id, material_id, structure, {fidelity: Labels(energy, forces, stress, magmoms)}
    )
    return validate_frame(frame, file=path)
