"""MatPES, extended XYZ and VASP readers on files written here (or shipped with ASE)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import ase
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write as ase_write
from pymatgen.io.ase import AseAtomsAdaptor

from mfbench.data.readers import read_frames
from mfbench.data.readers.extxyz import iter_extxyz
from mfbench.data.readers.matpes import iter_matpes
from mfbench.data.readers.vasp import iter_vasp
from mfbench.errors import DataError, UnknownNameError

from .factories import make_structure

# --------------------------------------------------------------------------- MatPES


def matpes_record(matpes_id: str, elements: list[str], mp_id: str | None = "mp-5") -> dict:
    structure = make_structure(elements)
    n = len(structure)
    return {
        "matpes_id": matpes_id,
        "structure": structure.as_dict(),
        "energy": -6.0 * n,
        "forces": [[0.1 * i, -0.2, 0.3] for i in range(n)],
        # standard Voigt order xx, yy, zz, yz, xz, xy in kBar, VASP sign
        "stress": [10.0, 20.0, 30.0, 1.0, 2.0, 3.0],
        "magmoms": [-1.5] + [0.0] * (n - 1),
        "functional": "r2SCAN",
        "provenance": {"original_mp_id": mp_id},
    }


def write_matpes(path: Path, records: list[dict]) -> Path:
    with gzip.open(path, "wt") as handle:
        json.dump(records, handle)
    return path


def test_matpes_units_order_and_ids(tmp_path: Path) -> None:
    path = write_matpes(
        tmp_path / "MatPES-R2SCAN-2025.1.json.gz",
        [matpes_record("matpes-1", ["Fe", "O"]), matpes_record("matpes-2", ["Li"], mp_id=None)],
    )
    first, second = iter_matpes(path, fidelity="r2scan")
    assert (first.frame_id, first.material_id) == ("matpes-1", "mp-5")
    assert (second.frame_id, second.material_id) == ("matpes-2", "matpes-2")
    labels = first.labels["r2scan"]
    assert labels.energy_per_atom == pytest.approx(-6.0)
    # kBar, VASP sign -> GPa, CHGNet sign: x -0.1; Voigt (yz, xz, xy) = (1, 2, 3)
    expected = -0.1 * np.array([[10.0, 3.0, 2.0], [3.0, 20.0, 1.0], [2.0, 1.0, 30.0]])
    np.testing.assert_allclose(labels.stress, expected)
    np.testing.assert_allclose(labels.magmoms, [1.5, 0.0])
    np.testing.assert_allclose(labels.forces[1], [0.1, -0.2, 0.3])


def test_matpes_magmoms_from_site_properties(tmp_path: Path) -> None:
    record = matpes_record("matpes-3", ["Ni"])
    del record["magmoms"]
    structure = make_structure(["Ni"])
    structure.add_site_property("magmom", [-0.6])
    record["structure"] = structure.as_dict()
    path = write_matpes(tmp_path / "m.json.gz", [record])
    (frame,) = iter_matpes(path, fidelity="gga")
    np.testing.assert_allclose(frame.labels["gga"].magmoms, [0.6])


def test_matpes_plain_json_and_registry_dispatch(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps([matpes_record("matpes-9", ["Cu"])]))
    (frame,) = read_frames("matpes", path, {"fidelity": "r2scan"})
    assert frame.frame_id == "matpes-9"


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda r: r.pop("forces"), "forces", "missing key"),
        (lambda r: r.update(stress=[1.0, 2.0, 3.0]), "stress", r"shape \(3,\)"),
        (lambda r: r.update(forces=[[0.0, 0.0, 0.0]] * 5), "forces", r"shape \(5, 3\)"),
        (lambda r: r.update(energy=None), "energy", "missing key"),
    ],
)
def test_matpes_bad_record(tmp_path: Path, mutate, field: str, message: str) -> None:
    bad = matpes_record("matpes-7", ["Na", "Cl"])
    mutate(bad)
    path = write_matpes(tmp_path / "bad.json.gz", [matpes_record("matpes-1", ["Li"]), bad])
    with pytest.raises(DataError, match=message) as info:
        list(iter_matpes(path, fidelity="r2scan"))
    assert (info.value.frame, info.value.field, info.value.file) == ("matpes-7", field, str(path))


def test_matpes_truncated_file(tmp_path: Path) -> None:
    blob = gzip.compress(
        json.dumps([matpes_record(f"matpes-{i}", ["Li"]) for i in range(5)]).encode()
    )
    path = tmp_path / "cut.json.gz"
    path.write_bytes(blob[: len(blob) - 40])
    with pytest.raises(DataError, match=r"cut\.json\.gz.*truncated or corrupt"):
        list(iter_matpes(path, fidelity="r2scan"))


def test_matpes_element_beyond_plutonium(tmp_path: Path) -> None:
    path = write_matpes(tmp_path / "bk.json.gz", [matpes_record("matpes-97", ["Bk", "O"])])
    with pytest.raises(DataError, match="Bk outside Z = 1-94"):
        list(iter_matpes(path, fidelity="r2scan"))


# --------------------------------------------------------------------------- extended XYZ


def write_extxyz(path: Path, n_frames: int = 2, **overrides: object) -> Path:
    frames = []
    for i in range(n_frames):
        atoms = AseAtomsAdaptor.get_atoms(make_structure(["Mg", "O"], seed=i))
        atoms.info["material_id"] = f"mat-{i // 2}"
        atoms.info["frame_id"] = f"fr-{i}"
        results = {
            "energy": -10.0 - i,
            "forces": np.full((2, 3), 0.5),
            "stress": np.array([0.01, 0.02, 0.03, 0.0, 0.0, 0.001]),  # eV/Å^3, Voigt
            "magmoms": np.array([-0.2, 0.1]),
        }
        results.update(overrides)
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    ase_write(path, frames, format="extxyz")
    return path


def test_extxyz_units_and_ids(tmp_path: Path) -> None:
    frames = list(iter_extxyz(write_extxyz(tmp_path / "f.extxyz", 3), fidelity="r2scan"))
    assert [f.frame_id for f in frames] == ["fr-0", "fr-1", "fr-2"]
    assert [f.material_id for f in frames] == ["mat-0", "mat-0", "mat-1"]
    labels = frames[1].labels["r2scan"]
    assert labels.energy_per_atom == pytest.approx(-5.5)
    # 0.01 eV/Å^3 = 1.6021766208 GPa, same sign (ASE's sign is CHGNet's)
    assert labels.stress[0, 0] == pytest.approx(1.6021766208)
    assert labels.stress[0, 1] == pytest.approx(0.16021766208)
    np.testing.assert_allclose(labels.magmoms, [0.2, 0.1])


def test_extxyz_without_ids_makes_one_material_per_frame(tmp_path: Path) -> None:
    atoms = AseAtomsAdaptor.get_atoms(make_structure(["Si"]))
    atoms.calc = SinglePointCalculator(atoms, energy=-5.0, forces=np.zeros((1, 3)))
    ase_write(tmp_path / "plain.xyz", [atoms, atoms], format="extxyz")
    frames = list(iter_extxyz(tmp_path / "plain.xyz", fidelity="gga"))
    assert [f.material_id for f in frames] == ["plain-0", "plain-1"]
    assert frames[0].labels["gga"].stress is None


def test_extxyz_missing_energy(tmp_path: Path) -> None:
    atoms = AseAtomsAdaptor.get_atoms(make_structure(["Si"]))
    atoms.calc = SinglePointCalculator(atoms, forces=np.zeros((1, 3)))
    ase_write(tmp_path / "noe.xyz", [atoms], format="extxyz")
    with pytest.raises(DataError, match="missing energy") as info:
        list(iter_extxyz(tmp_path / "noe.xyz", fidelity="gga"))
    assert info.value.field == "energy"


def test_extxyz_nan_energy(tmp_path: Path) -> None:
    path = write_extxyz(tmp_path / "nan.extxyz", 1, energy=float("nan"))
    with pytest.raises(DataError, match="not finite") as info:
        list(iter_extxyz(path, fidelity="gga"))
    assert (info.value.frame, info.value.field) == ("fr-0", "gga.energy_per_atom")


def test_extxyz_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.extxyz"
    path.write_text('2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nMg 0 0\n')
    with pytest.raises(DataError, match=r"bad\.extxyz.*cannot parse"):
        list(iter_extxyz(path, fidelity="gga"))


# --------------------------------------------------------------------------- VASP

ASE_VASPRUN = Path(ase.__file__).parent / "test" / "testdata" / "vasp" / "vasprun_pstress.xml"


def test_vasp_folder(tmp_path: Path) -> None:
    (tmp_path / "runs" / "calc-a").mkdir(parents=True)
    shutil.copy(ASE_VASPRUN, tmp_path / "runs" / "calc-a" / "vasprun.xml")
    (frame,) = iter_vasp(tmp_path / "runs", fidelity="r2scan")
    assert (frame.material_id, frame.frame_id) == ("calc-a", "calc-a/0")
    labels = frame.labels["r2scan"]
    # this run's e_0_energy is -20.24010135 eV; its stress is -165.9956258 kBar on the diagonal
    assert labels.energy_per_atom == pytest.approx(-20.24010135 / len(frame.structure))
    np.testing.assert_allclose(np.diag(labels.stress), [16.59956258] * 3)
    assert labels.magmoms is None


def test_vasp_corrupt_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "calc").mkdir()
    text = ASE_VASPRUN.read_text()
    (tmp_path / "calc" / "vasprun.xml").write_text(text[: len(text) // 3])
    with pytest.raises(DataError, match=r"calc/vasprun\.xml.*cannot parse"):
        list(iter_vasp(tmp_path, fidelity="r2scan"))


def test_vasp_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no vasprun\.xml"):
        list(iter_vasp(tmp_path, fidelity="r2scan"))


def test_unknown_format() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'extxyz'"):
        read_frames("extxz", Path("x"), {})
