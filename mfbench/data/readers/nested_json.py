"""Streamed reader for MPtrj's nested JSON layout (MPtrj, MP-r²SCAN, the embedded surrogate).

The layout is ``{material_id: {frame_id: {field: value, ...}}}``. The file is read one
material at a time with ijson, so peak memory is bounded by the largest material, not
by the file (MPtrj is 11 GB), plus the set of material keys seen (about 15 MB for MPtrj's
145,919), kept to refuse a key written twice.

Which keys hold the labels is declared per fidelity with :class:`LabelKeys`; a key may
be a dotted path (``"r2scan.force"``) into nested objects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


@dataclass(frozen=True)
class LabelKeys:
    """Where one fidelity's labels live in a frame record.

    Attributes:
        energy: key of the energy label.
        energy_kind: ``"per_atom"`` (eV/atom, e.g. MPtrj's ``energy_per_atom``) or
            ``"total"`` (eV, e.g. ``uncorrected_total_energy``; divided by the atom count).
        forces: key of ``[n_atoms, 3]`` forces in eV/Å.
        stress: key of the ``[3, 3]`` stress in kBar with VASP's sign, or None.
        magmoms: key of ``[n_atoms]`` magnetic moments in μB (null allowed), or None.

    """

    energy: str
    energy_kind: Literal["per_atom", "total"]
    forces: str
    stress: str | None = "stress"
    magmoms: str | None = "magmom"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LabelKeys:
        """Build from a registry ``options`` mapping; unknown keys are an error."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown label key option(s) {sorted(unknown)}")
        if values.get("energy_kind") not in ("per_atom", "total"):
            raise ValueError("energy_kind must be 'per_atom' or 'total'")
        return cls(**values)


def iter_nested_json(source: Path, *, fidelities: Mapping[str, LabelKeys]) -> Iterator[Frame]:
    """Yield validated frames from a nested-layout JSON file (plain or gzip).

    Args:
        source: the ``.json`` or ``.json.gz`` file.
        fidelities: fidelity name → where its labels are in each frame record.

    Raises:
        DataError: truncated/corrupt JSON, a missing or malformed key, bad values; the
            message names the file, material, frame and field.

    """
    path = str(source)
    seen: dict[str, int] = {}  # material key → its position in the file
    try:
        with open_maybe_gzip(Path(source)) as handle:
            parsed = ijson.kvitems(handle, "", use_float=True, map_type=_KeysSeen)
            for material_id, frames in parsed:
                if material_id in seen:
                    raise DataError(
                        f"the material key appears twice in the file: as material "
                        f"{seen[material_id]} and as material {len(seen)} (counting from 0)",
                        file=path,
                        material=material_id,
                    )
                seen[material_id] = len(seen)
                if not isinstance(frames, dict):
                    raise DataError(
                        f"expected an object of frames, got {type(frames).__name__}",
                        file=path,
                        material=material_id,
                    )
                if frames.repeated:
                    raise DataError(
                        "the frame id appears twice in this material; frame ids must be unique",
                        file=path,
                        material=material_id,
                        frame=frames.repeated[0],
                    )
                for frame_id, record in frames.items():
                    yield _frame_from_record(path, material_id, frame_id, record, fidelities)
    except DataError:
        raise
    except JSON_STREAM_ERRORS as exc:
        raise _locate_json_error(Path(source), exc) from exc
    if not seen:
        raise DataError(_empty_top_level(Path(source)), file=path)


class _KeysSeen(dict):
    """A JSON object that notes the keys written in it more than once (JSON keeps the last).

    ``repeated`` lists them in order; a plain ``dict`` would drop the earlier values silently.
    """

    __slots__ = ("repeated",)

    def __init__(self) -> None:
        super().__init__()
        self.repeated: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            self.repeated.append(key)
        super().__setitem__(key, value)


def _locate_json_error(source: Path, exc: BaseException) -> DataError:
    """The error for a file that stopped parsing, naming the material and frame being read.

    The fast parse (``kvitems``) only knows the materials it finished; this second, slower
    pass follows the parser's events to the failure and remembers the keys it passed.
    """
    material = frame = None
    try:
        with open_maybe_gzip(source) as handle:
            for prefix, event, value in ijson.parse(handle, use_float=True):
                if event == "map_key" and prefix == "":
                    material, frame = value, None
                elif event == "map_key" and material is not None and prefix == material:
                    frame = value
    except JSON_STREAM_ERRORS:
        pass
    return invalid_json(str(source), "", exc, material=material, frame=frame)


def _empty_top_level(source: Path) -> str:
    """Why a file gave no materials: what its top level is, in words."""
    try:
        with open_maybe_gzip(source) as handle:
            first = next(iter(ijson.parse(handle)), None)
    except JSON_STREAM_ERRORS:
        first = None
    kinds = {"start_array": "a list", "start_map": "an empty object {}"}
    found = kinds.get(first[1], f"a {first[1]} value") if first else "empty"
    return (
        f"the top level is {found}; expected an object of materials "
        "({material_id: {frame_id: {...}}})"
    )


def _lookup(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def _frame_from_record(
    path: str,
    material_id: str,
    frame_id: str,
    record: Any,
    fidelities: Mapping[str, LabelKeys],
) -> Frame:
    where = {"file": path, "material": material_id, "frame": frame_id}
    if not isinstance(record, Mapping):
        raise DataError(f"frame record is a {type(record).__name__}, not an object", **where)
    if getattr(record, "repeated", None):
        raise DataError("the key appears twice in the frame record", field=record.repeated[0],
                        **where)  # fmt: skip

    def get(key: str, *, optional: bool = False) -> Any:
        try:
            return _lookup(record, key)
        except KeyError:
            if optional:
                return None
            raise DataError(
                f"missing key; the record has keys {sorted(record)}", field=key, **where
            ) from None

    def array(key: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
        return numeric_array(value, shape, field=key, **where)

    try:
        structure = Structure.from_dict(get("structure"))
    except DataError:
        raise
    except Exception as exc:  # pymatgen raises many types on malformed dicts
        raise DataError(f"not a pymatgen structure ({exc})", field="structure", **where) from exc
    n_atoms = len(structure)

    labels: dict[str, Labels] = {}
    for fidelity, keys in fidelities.items():
        energy = number(get(keys.energy), field=keys.energy, **where)
        energy_per_atom = energy / n_atoms if keys.energy_kind == "total" else energy
        forces = array(keys.forces, get(keys.forces), (n_atoms, 3))
        stress = None
        if keys.stress is not None:
            stress = units.vasp_kbar_to_gpa(array(keys.stress, get(keys.stress), (3, 3)))
        magmoms = None
        if keys.magmoms is not None:
            raw = get(keys.magmoms, optional=True)
            if raw is not None:
                magmoms = np.abs(array(keys.magmoms, raw, (n_atoms,)))
        labels[fidelity] = Labels(energy_per_atom, forces, stress, magmoms)
    frame = Frame(str(frame_id), str(material_id), structure, labels)
    return validate_frame(frame, file=path)
