"""MatPES, extended XYZ and VASP readers on files written here (plus one real vasprun.xml)."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import ase
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write as ase_write
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from mfbench.data.readers import read_frames
from mfbench.data.readers.extxyz import iter_extxyz
from mfbench.data.readers.matpes import iter_matpes
from mfbench.data.readers.vasp import iter_vasp
from mfbench.errors import DataError, UnknownNameError

from .factories import make_structure

#: 1 eV/Å³ in GPa, written out so the tests do not reuse the constant they check.
EV_PER_A3_IN_GPA = 160.21766208

# --------------------------------------------------------------------------- MatPES


def matpes_record(matpes_id: str, elements: list[str], mp_id: str | None = "mp-5") -> dict:
    structure = make_structure(elements)
    n = len(structure)
    return {
        "matpes_id": matpes_id,
        "structure": structure.as_dict(),
        "energy": -6.0 * n,
        "forces": [[0.1 * i, -0.2, 0.3] for i in range(n)],
        # kBar, VASP sign, MatPES/emmet order xx, yy, zz, yz, xz, xy
        "stress": [10.0, 20.0, 30.0, 1.0, 2.0, 3.0],
        "magmoms": [-1.5] + [0.0] * (n - 1),
        "functional": "r2SCAN",
        "provenance": {"original_mp_id": mp_id},
    }


def write_matpes(path: Path, records: list[dict], compress: bool = True) -> Path:
    text = json.dumps(records)  # allow_nan: a NaN becomes the (invalid JSON) token NaN
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_matpes_units_sign_order_and_ids(tmp_path: Path) -> None:
    path = write_matpes(
        tmp_path / "MatPES-R2SCAN-2025.1.json.gz",
        [matpes_record("matpes-1", ["Fe", "O"]), matpes_record("matpes-2", ["Li"], mp_id=None)],
    )
    first, second = iter_matpes(path, fidelity="r2scan")
    assert (first.frame_id, first.material_id) == ("matpes-1", "mp-5")
    assert (second.frame_id, second.material_id) == ("matpes-2", "matpes-2")
    labels = first.labels["r2scan"]
    assert labels.energy_per_atom == pytest.approx(-12.0 / 2, abs=1e-12)
    # [10, 20, 30, 1, 2, 3] kBar (xx, yy, zz, yz, xz, xy), VASP sign -> GPa, CHGNet sign
    s = labels.stress
    assert s[0, 0] == pytest.approx(-1.0, abs=1e-12)
    assert s[1, 1] == pytest.approx(-2.0, abs=1e-12)
    assert s[2, 2] == pytest.approx(-3.0, abs=1e-12)
    assert s[1, 2] == pytest.approx(-0.1, abs=1e-12)  # yz
    assert s[0, 2] == pytest.approx(-0.2, abs=1e-12)  # xz
    assert s[0, 1] == pytest.approx(-0.3, abs=1e-12)  # xy
    np.testing.assert_allclose(s, s.T, atol=0)
    np.testing.assert_allclose(labels.magmoms, [1.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(labels.forces, [[0.0, -0.2, 0.3], [0.1, -0.2, 0.3]], atol=1e-12)


def test_matpes_pbe_and_r2scan_pair_by_matpes_id(tmp_path: Path) -> None:
    ids = ["matpes-3", "matpes-4"]
    pbe = write_matpes(tmp_path / "pbe.json.gz", [matpes_record(i, ["Na", "Cl"]) for i in ids])
    scan_records = [matpes_record(i, ["Na", "Cl"]) for i in ids]
    scan_records[0]["energy"] = -14.0
    scan = write_matpes(tmp_path / "scan.json.gz", scan_records)
    gga = {f.frame_id: f for f in iter_matpes(pbe, fidelity="gga")}
    r2scan = {f.frame_id: f for f in iter_matpes(scan, fidelity="r2scan")}
    assert sorted(gga) == sorted(r2scan) == ids
    shift = (
        r2scan["matpes-3"].labels["r2scan"].energy_per_atom
        - gga["matpes-3"].labels["gga"].energy_per_atom
    )
    assert shift == pytest.approx(-1.0, abs=1e-12)


def test_matpes_magmoms_null_missing_or_in_structure(tmp_path: Path) -> None:
    null, missing, in_structure = (matpes_record(f"matpes-{i}", ["Ni"]) for i in range(3))
    null["magmoms"] = None
    del missing["magmoms"]
    del in_structure["magmoms"]
    structure = make_structure(["Ni"])
    structure.add_site_property("magmom", [-0.6])
    in_structure["structure"] = structure.as_dict()
    path = write_matpes(tmp_path / "m.json.gz", [null, missing, in_structure])
    frames = list(iter_matpes(path, fidelity="gga"))
    assert frames[0].labels["gga"].magmoms is None
    assert frames[1].labels["gga"].magmoms is None
    np.testing.assert_allclose(frames[2].labels["gga"].magmoms, [0.6], atol=1e-12)


@pytest.mark.parametrize(("name", "compress"), [("m.json", False), ("m.json", True)])
def test_matpes_gzip_detected_by_magic_bytes(tmp_path: Path, name: str, compress: bool) -> None:
    path = write_matpes(tmp_path / name, [matpes_record("matpes-9", ["Cu"])], compress=compress)
    (frame,) = read_frames("matpes", path, {"fidelity": "r2scan"})
    assert frame.frame_id == "matpes-9"
    assert frame.labels["r2scan"].energy_per_atom == pytest.approx(-6.0, abs=1e-12)


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda r: r.pop("forces"), "forces", "missing key"),
        (lambda r: r.update(forces=[[0.0, 0.0, 0.0]] * 5), "forces", r"shape \(5, 3\)"),
        (lambda r: r.update(forces=[[0.0, 0.0], [0.0, 0.0]]), "forces", r"shape \(2, 2\)"),
        (lambda r: r.update(stress=[1.0, 2.0, 3.0]), "stress", r"shape \(3,\)"),
        (lambda r: r.update(energy=None), "energy", "missing key"),
        (lambda r: r.update(energy="NaN"), "energy", "not a number"),
        (lambda r: r.update(magmoms=[1.0]), "magmoms", r"shape \(1,\)"),
        (lambda r: r.update(structure={"lattice": 1}), "structure", "not a pymatgen"),
        (lambda r: r.update(provenance="mp-5"), "provenance", "not an object"),
    ],
)
def test_matpes_bad_record_names_frame_and_field(
    tmp_path: Path, mutate: Callable[[dict], object], field: str, message: str
) -> None:
    bad = matpes_record("matpes-7", ["Na", "Cl"])
    mutate(bad)
    path = write_matpes(tmp_path / "bad.json.gz", [matpes_record("matpes-1", ["Li"]), bad])
    with pytest.raises(DataError, match=message) as info:
        list(iter_matpes(path, fidelity="r2scan"))
    assert (info.value.file, info.value.frame, info.value.field) == (str(path), "matpes-7", field)


def test_matpes_missing_id(tmp_path: Path) -> None:
    record = matpes_record("matpes-1", ["Li"])
    del record["matpes_id"]
    path = write_matpes(tmp_path / "noid.json.gz", [record])
    with pytest.raises(DataError, match="missing key") as info:
        list(iter_matpes(path, fidelity="r2scan"))
    assert info.value.field == "matpes_id"


def test_matpes_nan_energy_token(tmp_path: Path) -> None:
    """JSON has no NaN: the parser stops there; the error names the file and the record."""
    bad = matpes_record("matpes-8", ["Li"])
    bad["energy"] = float("nan")
    path = write_matpes(tmp_path / "nan.json.gz", [matpes_record("matpes-1", ["Li"]), bad])
    frames = iter_matpes(path, fidelity="r2scan")
    assert next(frames).frame_id == "matpes-1"  # streamed: the good record comes first
    with pytest.raises(DataError, match=r"record 1 \(after frame 'matpes-1'\).*NaN") as info:
        next(frames)
    assert info.value.file == str(path)


def test_matpes_truncated_file(tmp_path: Path) -> None:
    blob = gzip.compress(
        json.dumps([matpes_record(f"matpes-{i}", ["Li"]) for i in range(5)]).encode()
    )
    path = tmp_path / "cut.json.gz"
    path.write_bytes(blob[: len(blob) - 40])
    with pytest.raises(DataError, match=r"cut\.json\.gz.*truncated or corrupt") as info:
        list(iter_matpes(path, fidelity="r2scan"))
    assert info.value.file == str(path)


def test_matpes_corrupt_gzip(tmp_path: Path) -> None:
    records = [matpes_record(f"matpes-{i}", ["Li", "O"], mp_id=f"mp-{i}") for i in range(50)]
    blob = bytearray(gzip.compress(json.dumps(records).encode()))
    blob[200:260] = bytes(b ^ 0xFF for b in blob[200:260])
    path = tmp_path / "flipped.json.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"flipped\.json\.gz.*(error|corrupt)"):
        list(iter_matpes(path, fidelity="r2scan"))


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"matpes-1": {}}', "expected a JSON list"), ("[]", "no records")],
)
def test_matpes_not_a_list_of_records(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "odd.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        list(iter_matpes(path, fidelity="r2scan"))


def test_matpes_element_beyond_plutonium(tmp_path: Path) -> None:
    path = write_matpes(tmp_path / "am.json.gz", [matpes_record("matpes-95", ["Am", "O"])])
    with pytest.raises(DataError, match="Am outside Z = 1-94") as info:
        list(iter_matpes(path, fidelity="r2scan"))
    assert (info.value.frame, info.value.field) == ("matpes-95", "structure")


# --------------------------------------------------------------------------- extended XYZ


def write_extxyz(path: Path, n_frames: int = 2, elements: tuple = ("Mg", "O"), **overrides) -> Path:
    frames = []
    for i in range(n_frames):
        atoms = AseAtomsAdaptor.get_atoms(make_structure(list(elements), seed=i))
        atoms.info["material_id"] = f"mat-{i // 2}"
        atoms.info["frame_id"] = f"fr-{i}"
        results = {
            "energy": -10.0 - i,
            "forces": np.full((len(elements), 3), 0.5),
            "stress": np.array([0.01, 0.02, 0.03, 0.0, 0.0, 0.001]),  # eV/Å³, ASE Voigt
            "magmoms": np.array([-0.2] + [0.1] * (len(elements) - 1)),
        }
        results.update(overrides)
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    ase_write(path, frames, format="extxyz")
    return path


def test_extxyz_units_sign_and_ids(tmp_path: Path) -> None:
    frames = list(iter_extxyz(write_extxyz(tmp_path / "f.extxyz", 3), fidelity="r2scan"))
    assert [f.frame_id for f in frames] == ["fr-0", "fr-1", "fr-2"]
    assert [f.material_id for f in frames] == ["mat-0", "mat-0", "mat-1"]
    labels = frames[1].labels["r2scan"]
    assert labels.energy_per_atom == pytest.approx(-11.0 / 2, abs=1e-12)
    # 0.01 eV/Å³ = 1.6021766208 GPa, same sign (ASE's sign is CHGNet's)
    assert labels.stress[0, 0] == pytest.approx(0.01 * EV_PER_A3_IN_GPA, rel=1e-12)
    assert labels.stress[0, 0] == pytest.approx(1.6021766208, rel=1e-10)
    assert labels.stress[2, 2] == pytest.approx(0.03 * EV_PER_A3_IN_GPA, rel=1e-12)
    assert labels.stress[0, 1] == pytest.approx(0.16021766208, rel=1e-10)  # Voigt xy
    assert labels.stress[1, 2] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(labels.forces, np.full((2, 3), 0.5), atol=1e-12)
    np.testing.assert_allclose(labels.magmoms, [0.2, 0.1], atol=1e-12)
    assert "final_magmom" not in frames[1].structure.site_properties


def test_extxyz_without_ids_makes_one_material_per_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    atoms = AseAtomsAdaptor.get_atoms(make_structure(["Si"]))
    atoms.calc = SinglePointCalculator(atoms, energy=-5.0, forces=np.zeros((1, 3)))
    ase_write(tmp_path / "plain.xyz", [atoms, atoms], format="extxyz")
    with caplog.at_level(logging.WARNING, logger="mfbench.data.readers.extxyz"):
        frames = list(iter_extxyz(tmp_path / "plain.xyz", fidelity="gga"))
    assert [f.material_id for f in frames] == ["plain-0", "plain-1"]
    assert [f.frame_id for f in frames] == ["plain-0", "plain-1"]
    assert frames[0].labels["gga"].stress is None
    assert frames[0].labels["gga"].magmoms is None
    assert len([r for r in caplog.records if "own material" in r.getMessage()]) == 1


@pytest.mark.parametrize("missing", ["energy", "forces"])
def test_extxyz_missing_label(tmp_path: Path, missing: str) -> None:
    atoms = AseAtomsAdaptor.get_atoms(make_structure(["Si"]))
    results = {"energy": -5.0, "forces": np.zeros((1, 3))}
    del results[missing]
    atoms.calc = SinglePointCalculator(atoms, **results)
    ase_write(tmp_path / "partial.xyz", [atoms], format="extxyz")
    with pytest.raises(DataError, match=f"missing {missing}") as info:
        list(iter_extxyz(tmp_path / "partial.xyz", fidelity="gga"))
    assert (info.value.frame, info.value.field) == ("partial-0", missing)


def test_extxyz_nan_energy(tmp_path: Path) -> None:
    path = write_extxyz(tmp_path / "nan.extxyz", 2, energy=float("nan"))
    with pytest.raises(DataError, match="not finite") as info:
        list(iter_extxyz(path, fidelity="gga"))
    assert (info.value.file, info.value.frame) == (str(path), "fr-0")
    assert info.value.field == "gga.energy_per_atom"


def test_extxyz_forces_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "f2.xyz"
    path.write_text(
        '2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3:forces:R:2 '
        'energy=-3.0 frame_id=x pbc="T T T"\nMg 0 0 0 0.1 0.2\nO 2 2 2 0.3 0.4\n'
    )
    with pytest.raises(DataError, match=r"shape \(2, 2\), expected \(2, 3\)") as info:
        list(iter_extxyz(path, fidelity="gga"))
    assert (info.value.frame, info.value.field) == ("x", "forces")


def test_extxyz_element_beyond_plutonium(tmp_path: Path) -> None:
    path = write_extxyz(tmp_path / "am.extxyz", 1, elements=("Am", "O"))
    with pytest.raises(DataError, match="Am outside Z = 1-94") as info:
        list(iter_extxyz(path, fidelity="gga"))
    assert info.value.frame == "fr-0"


def test_extxyz_corrupt_file_streams_good_frames_first(tmp_path: Path) -> None:
    good = write_extxyz(tmp_path / "good.extxyz", 1).read_text()
    path = tmp_path / "bad.extxyz"
    path.write_text(
        good + '2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nMg 0 0\n'
    )
    frames = iter_extxyz(path, fidelity="gga")
    assert next(frames).frame_id == "fr-0"
    with pytest.raises(DataError, match=r"bad\.extxyz.*cannot parse.*after frame index 0") as info:
        next(frames)
    assert info.value.file == str(path)


# --------------------------------------------------------------------------- VASP


def _v(rows: np.ndarray) -> str:
    return "".join("<v>" + " ".join(f"{x:.8f}" for x in row) + "</v>" for row in rows)


def _structure_xml(structure: Structure, name: str | None = None) -> str:
    attr = f' name="{name}"' if name else ""
    return (
        f'<structure{attr}><crystal><varray name="basis">{_v(structure.lattice.matrix)}'
        f'</varray></crystal><varray name="positions">{_v(structure.frac_coords)}</varray>'
        "</structure>"
    )


#: INCAR of an r2SCAN run (as MP writes it); without it the minimal vasprun.xml is PBE.
R2SCAN_INCAR = {"METAGGA": "R2scan"}


def write_vasprun(
    path: Path, structure: Structure, steps: list[dict], incar: dict[str, str] | None = None
) -> Path:
    """A minimal vasprun.xml that pymatgen's Vasprun parses: header, atoms, ionic steps.

    Each step: ``energy`` (dict of e_fr_energy / e_wo_entrp / e_0_energy, eV),
    ``forces`` (``[n, 3]`` eV/Å, rows may be dropped to corrupt it), ``stress`` (``[3, 3]``
    kBar, VASP sign), optional ``scstep`` (energies of the last electronic step). ``incar``:
    extra string tags (e.g. :data:`R2SCAN_INCAR`); the POTCARs are PAW_PBE, so without a
    METAGGA tag the run is PBE.
    """
    symbols = [site.specie.symbol for site in structure]
    types = sorted(set(symbols), key=symbols.index)
    atoms = "".join(f"<rc><c>{s}</c><c>{types.index(s) + 1}</c></rc>" for s in symbols)
    atomtypes = "".join(
        f"<rc><c>{symbols.count(t)}</c><c>{t}</c><c>1.0</c><c>1.0</c><c>PAW_PBE {t}</c></rc>"
        for t in types
    )

    def energy(values: dict) -> str:
        return (
            "<energy>" + "".join(f'<i name="{k}">{v}</i>' for k, v in values.items()) + "</energy>"
        )

    calculations = "".join(
        f"<calculation><scstep>{energy(step.get('scstep', step['energy']))}</scstep>"
        f"{_structure_xml(structure)}"
        f'<varray name="forces">{_v(step["forces"])}</varray>'
        f'<varray name="stress">{_v(step["stress"])}</varray>'
        f"{energy(step['energy'])}</calculation>"
        for step in steps
    )
    incar_tags = "".join(f'<i type="string" name="{k}">{v}</i>' for k, v in (incar or {}).items())
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>'
        '<generator><i name="program" type="string">vasp</i>'
        '<i name="version" type="string">6.3.0</i></generator>'
        f'<incar><i type="string" name="PREC">accurate</i>{incar_tags}</incar>'
        '<parameters><separator name="electronic"><i type="int" name="NELM">60</i></separator>'
        '<separator name="ionic"><i type="int" name="NSW">99</i>'
        '<i type="int" name="IBRION">2</i></separator></parameters>'
        f"<atominfo><atoms>{len(symbols)}</atoms><types>{len(types)}</types>"
        f'<array name="atoms"><set>{atoms}</set></array>'
        f'<array name="atomtypes"><set>{atomtypes}</set></array></atominfo>'
        f"{_structure_xml(structure, 'initialpos')}{calculations}"
        f"{_structure_xml(structure, 'finalpos')}</modeling>\n"
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("latin-1")))
    else:
        path.write_text(text, encoding="latin-1")
    return path


def nacl() -> Structure:
    return Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def vasp_step(e0: float | str, **extra: object) -> dict:
    step = {
        "energy": {"e_fr_energy": -6.0, "e_wo_entrp": -6.2, "e_0_energy": e0},
        "forces": np.array([[0.1, -0.2, 0.3], [-0.1, 0.2, -0.3]]),
        # kBar, VASP sign (positive = compressed cell pushes outward)
        "stress": np.array([[10.0, 1.0, 2.0], [1.0, 20.0, 3.0], [2.0, 3.0, 30.0]]),
    }
    step.update(extra)
    return step


def test_vasp_all_ionic_steps_units_and_ids(tmp_path: Path) -> None:
    write_vasprun(
        tmp_path / "runs" / "relax" / "vasprun.xml",
        nacl(),
        [vasp_step(-6.1), vasp_step(-6.5), vasp_step(-7.0)],
        R2SCAN_INCAR,
    )
    frames = list(iter_vasp(tmp_path / "runs", fidelity="r2scan"))
    assert [f.frame_id for f in frames] == ["relax/0", "relax/1", "relax/2"]
    assert {f.material_id for f in frames} == {"relax"}
    energies = [f.labels["r2scan"].energy_per_atom for f in frames]
    np.testing.assert_allclose(energies, [-6.1 / 2, -6.5 / 2, -7.0 / 2], atol=1e-10)
    labels = frames[2].labels["r2scan"]
    # kBar, VASP sign -> GPa, CHGNet sign: x -0.1
    expected = -0.1 * np.array([[10.0, 1.0, 2.0], [1.0, 20.0, 3.0], [2.0, 3.0, 30.0]])
    np.testing.assert_allclose(labels.stress, expected, atol=1e-10)
    np.testing.assert_allclose(labels.forces, [[0.1, -0.2, 0.3], [-0.1, 0.2, -0.3]], atol=1e-10)
    assert labels.magmoms is None

    (last,) = iter_vasp(tmp_path / "runs", fidelity="r2scan", all_ionic_steps=False)
    assert last.frame_id == "relax/2"
    assert last.labels["r2scan"].energy_per_atom == pytest.approx(-3.5, abs=1e-10)


def test_vasp_folders_sorted_gzip_and_relative_ids(tmp_path: Path) -> None:
    write_vasprun(tmp_path / "b" / "vasprun.xml", nacl(), [vasp_step(-6.1)])
    write_vasprun(tmp_path / "a" / "calc-2" / "vasprun.xml.gz", nacl(), [vasp_step(-6.2)])
    write_vasprun(tmp_path / "a" / "calc-1" / "vasprun.xml", nacl(), [vasp_step(-6.3)])
    (tmp_path / "a" / "calc-1" / "vasprun.xml.bak").write_text("ignored: not a vasprun name")
    frames = list(iter_vasp(tmp_path, fidelity="gga"))
    assert [f.frame_id for f in frames] == ["a/calc-1/0", "a/calc-2/0", "b/0"]
    assert frames[1].labels["gga"].energy_per_atom == pytest.approx(-3.1, abs=1e-10)


def test_vasp_run_directly_in_source_uses_folder_name(tmp_path: Path) -> None:
    write_vasprun(tmp_path / "mp-1" / "vasprun.xml", nacl(), [vasp_step(-6.1)])
    (frame,) = iter_vasp(tmp_path / "mp-1", fidelity="gga")
    assert (frame.material_id, frame.frame_id) == ("mp-1", "mp-1/0")


def test_vasp_falls_back_to_free_energy(tmp_path: Path) -> None:
    step = vasp_step(-6.1)
    step["energy"] = {"e_fr_energy": -6.4}
    write_vasprun(tmp_path / "c" / "vasprun.xml", nacl(), [step])
    (frame,) = iter_vasp(tmp_path, fidelity="gga")
    assert frame.labels["gga"].energy_per_atom == pytest.approx(-3.2, abs=1e-10)


def test_vasp5_swapped_sigma0_energy_is_fixed(tmp_path: Path) -> None:
    # The ionic block says e_0 = -6.2 (really e_wo_entrp); the last electronic step's
    # e_0 - e_fr = -0.1, so the σ -> 0 energy is -6.0 - 0.1 = -6.1 (as Vasprun.final_energy).
    step = vasp_step(-6.2, scstep={"e_fr_energy": -5.9, "e_wo_entrp": -6.1, "e_0_energy": -6.0})
    write_vasprun(tmp_path / "c" / "vasprun.xml", nacl(), [step])
    (frame,) = iter_vasp(tmp_path, fidelity="gga")
    assert frame.labels["gga"].energy_per_atom == pytest.approx(-6.1 / 2, abs=1e-10)


def test_vasp_nan_energy_names_frame_and_field(tmp_path: Path) -> None:
    steps = [vasp_step(-6.1), vasp_step("NaN")]
    write_vasprun(tmp_path / "c" / "vasprun.xml", nacl(), steps, R2SCAN_INCAR)
    frames = iter_vasp(tmp_path, fidelity="r2scan")
    assert next(frames).frame_id == "c/0"
    with pytest.raises(DataError, match="not finite") as info:
        next(frames)
    assert (info.value.frame, info.value.field) == ("c/1", "r2scan.energy_per_atom")
    assert info.value.file == str(tmp_path / "c" / "vasprun.xml")


def test_vasp_forces_wrong_shape(tmp_path: Path) -> None:
    step = vasp_step(-6.1, forces=np.array([[0.1, -0.2, 0.3]]))  # one row for two atoms
    write_vasprun(tmp_path / "c" / "vasprun.xml", nacl(), [step])
    with pytest.raises(DataError, match=r"shape \(1, 3\), expected \(2, 3\)") as info:
        list(iter_vasp(tmp_path, fidelity="gga"))
    assert (info.value.frame, info.value.field) == ("c/0", "forces")


def test_vasp_element_beyond_plutonium(tmp_path: Path) -> None:
    structure = Structure(Lattice.cubic(4.0), ["Am", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    write_vasprun(tmp_path / "c" / "vasprun.xml", structure, [vasp_step(-6.1)])
    with pytest.raises(DataError, match="Am outside Z = 1-94") as info:
        list(iter_vasp(tmp_path, fidelity="gga"))
    assert info.value.frame == "c/0"


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_vasp_truncated_file_names_it(tmp_path: Path, cut: float) -> None:
    path = write_vasprun(
        tmp_path / "c" / "vasprun.xml", nacl(), [vasp_step(-6.1)] * 2, R2SCAN_INCAR
    )
    text = path.read_text(encoding="latin-1")
    path.write_text(text[: int(len(text) * cut)], encoding="latin-1")
    with pytest.raises(
        DataError, match=r"c/vasprun\.xml.*cannot parse: the file is incomplete.*allow_truncated"
    ) as info:
        list(iter_vasp(tmp_path, fidelity="r2scan"))
    assert info.value.file == str(path)


def test_vasp_empty_folder_and_duplicate_runs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no vasprun\.xml"):
        list(iter_vasp(tmp_path, fidelity="r2scan"))
    write_vasprun(tmp_path / "c" / "vasprun.xml", nacl(), [vasp_step(-6.1)])
    write_vasprun(tmp_path / "c" / "vasprun.xml.gz", nacl(), [vasp_step(-6.1)])
    with pytest.raises(DataError, match=r"both vasprun\.xml and vasprun\.xml\.gz"):
        list(iter_vasp(tmp_path, fidelity="r2scan"))


ASE_VASPRUN = Path(ase.__file__).parent / "test" / "testdata" / "vasp" / "vasprun_pstress.xml"


@pytest.mark.skipif(not ASE_VASPRUN.exists(), reason="ASE installed without its test data")
def test_vasp_real_vasprun_from_ase(tmp_path: Path) -> None:
    """A vasprun.xml VASP 6.3 wrote (diamond, PSTRESS), shipped in ASE's test data."""
    (tmp_path / "runs" / "calc-a").mkdir(parents=True)
    shutil.copy(ASE_VASPRUN, tmp_path / "runs" / "calc-a" / "vasprun.xml")
    # an LDA run (POTCAR "PAW C 22Mar2012", GGA unset): not r2SCAN, read only with the override
    with pytest.raises(DataError, match=r"declared fidelity 'r2scan', but the calculation is LDA"):
        list(iter_vasp(tmp_path / "runs", fidelity="r2scan"))
    (frame,) = iter_vasp(tmp_path / "runs", fidelity="r2scan", check_functional=False)
    assert (frame.material_id, frame.frame_id) == ("calc-a", "calc-a/0")
    labels = frame.labels["r2scan"]
    # this run's e_0_energy is -20.24010135 eV for 2 atoms; stress -165.9956258 kBar diagonal
    assert labels.energy_per_atom == pytest.approx(-20.24010135 / 2, abs=1e-8)
    np.testing.assert_allclose(np.diag(labels.stress), [16.59956258] * 3, atol=1e-8)
    assert labels.magmoms is None


def test_unknown_format() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'extxyz'"):
        read_frames("extxz", Path("x"), {})
