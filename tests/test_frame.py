from __future__ import annotations

import numpy as np
import pytest

from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.errors import DataError

from .factories import make_structure


def frame_with(**labels: object) -> Frame:
    base = {"energy_per_atom": -1.0, "forces": np.zeros((2, 3)), "stress": np.zeros((3, 3))}
    base.update(labels)
    return Frame("f-1", "m-1", make_structure(["Na", "Cl"]), {"r2scan": Labels(**base)})


def test_good_frame_passes() -> None:
    frame = frame_with(magmoms=np.array([0.0, 0.1]))
    assert validate_frame(frame, file="x.json") is frame


@pytest.mark.parametrize(
    ("labels", "field", "message"),
    [
        ({"energy_per_atom": np.nan}, "r2scan.energy_per_atom", "not finite"),
        ({"energy_per_atom": np.inf}, "r2scan.energy_per_atom", "not finite"),
        ({"forces": np.full((2, 3), np.nan)}, "r2scan.forces", "NaN or inf"),
        ({"forces": np.zeros((3, 3))}, "r2scan.forces", r"shape \(3, 3\)"),
        ({"stress": np.zeros(6)}, "r2scan.stress", "shape"),
        ({"magmoms": np.array([0.0, np.inf])}, "r2scan.magmoms", "NaN or inf"),
        ({"magmoms": np.zeros(5)}, "r2scan.magmoms", "does not match the structure"),
    ],
)
def test_bad_labels_name_frame_and_field(labels: dict, field: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        validate_frame(frame_with(**labels), file="x.json")
    assert (info.value.file, info.value.material, info.value.frame, info.value.field) == (
        "x.json",
        "m-1",
        "f-1",
        field,
    )


def test_element_outside_chgnet_range() -> None:
    frame = Frame("f-2", "m-2", make_structure(["Cm", "O"]), {"gga": Labels(-1.0)})
    with pytest.raises(DataError, match="Cm outside Z = 1-94"):
        validate_frame(frame)


def test_disordered_structure_is_rejected() -> None:
    structure = make_structure(["Fe", "Ni"])
    structure.replace_species({"Ni": {"Ni": 0.5, "Co": 0.5}})
    with pytest.raises(DataError, match="disordered"):
        validate_frame(Frame("f-3", "m-3", structure, {"gga": Labels(-1.0)}))
