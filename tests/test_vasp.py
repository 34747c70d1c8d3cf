"""The VASP reader on real vasprun.xml files, checked against pymatgen's own parse.

The four files under tests/data/vasp are unmodified test files of emmet (materialsproject/emmet,
modified BSD licence); tests/data/vasp/SOURCES.md says which emmet file each one is:

- r2scan/Si/vasprun.xml.gz: r2SCAN, VASP 6.4.1, Si2, 3 ionic steps.
- r2scan/Lu/vasprun.xml.gz: r2SCAN, VASP 6.1.1, spin-polarised Lu3, 6 ionic steps.
- gga-custodian/Si/vasprun.xml.relax{1,2}.gz: PBE double relaxation, VASP 5.2.2, 3 + 1 steps.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymatgen.io.vasp import Vasprun

from mfbench.data.readers import read_frames
from mfbench.data.readers.vasp import find_vasprun_files, iter_vasp, vasprun_label
from mfbench.data.readers.vasp_functional import (
    Functional,
    check_calculation,
    detect_functional,
    functional_mismatch,
)
from mfbench.errors import DataError

DATA = Path(__file__).parent / "data" / "vasp"
SI_R2SCAN = DATA / "r2scan" / "Si" / "vasprun.xml.gz"
LU_R2SCAN = DATA / "r2scan" / "Lu" / "vasprun.xml.gz"
SI_RELAX1 = DATA / "gga-custodian" / "Si" / "vasprun.xml.relax1.gz"
SI_RELAX2 = DATA / "gga-custodian" / "Si" / "vasprun.xml.relax2.gz"
REAL_FILES = [SI_R2SCAN, LU_R2SCAN, SI_RELAX1, SI_RELAX2]

#: pymatgen's Vasprun.final_energy (eV) / atom count of each file, eV/atom.
LAST_ENERGY_PER_ATOM = {
    SI_R2SCAN: -17.54958326 / 2,
    LU_R2SCAN: -114.2395136 / 3,
    SI_RELAX1: -10.84681056 / 2,
    SI_RELAX2: -10.84687704 / 2,
}
#: Ionic steps of each file.
N_STEPS = {SI_R2SCAN: 3, LU_R2SCAN: 6, SI_RELAX1: 3, SI_RELAX2: 1}
FIDELITY = {SI_R2SCAN: "r2scan", LU_R2SCAN: "r2scan", SI_RELAX1: "gga", SI_RELAX2: "gga"}


def pymatgen_run(path: Path) -> Vasprun:
    return Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False)


def decompressed(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: "/".join(p.parts[-3:]))
def test_labels_match_pymatgens_parse(path: Path) -> None:
    run = pymatgen_run(path)
    fidelity = FIDELITY[path]
    frames = list(iter_vasp(path, fidelity=fidelity))
    assert len(frames) == len(run.ionic_steps) == N_STEPS[path]
    n_atoms = len(run.final_structure)
    for index, (frame, step) in enumerate(zip(frames, run.ionic_steps, strict=True)):
        labels = frame.labels[fidelity]
        assert frame.n_atoms == n_atoms
        assert [s.specie.symbol for s in frame.structure] == [
            s.specie.symbol for s in step["structure"]
        ]
        np.testing.assert_allclose(
            frame.structure.lattice.matrix, step["structure"].lattice.matrix, atol=1e-12
        )
        np.testing.assert_allclose(frame.structure.cart_coords, step["structure"].cart_coords)
        if run.vasp_version.startswith("5."):
            # VASP 5.2.2 writes e_0_energy = 0.0 in the ionic step; with the tetrahedron method
            # (ISMEAR = -5) there is no smearing entropy, so sigma -> 0 is the free energy.
            assert step["e_0_energy"] == 0.0
            assert step["e_fr_energy"] == step["e_wo_entrp"]
            expected = step["e_fr_energy"] / n_atoms
        else:
            expected = step["e_0_energy"] / n_atoms
        assert labels.energy_per_atom == pytest.approx(expected, abs=1e-9), index
        # eV/Å as pymatgen parses them
        np.testing.assert_allclose(labels.forces, step["forces"], rtol=0, atol=1e-12)
        # kBar, VASP sign -> GPa, CHGNet sign: x -0.1
        np.testing.assert_allclose(
            labels.stress, -0.1 * np.asarray(step["stress"]), rtol=0, atol=1e-12
        )
        assert labels.magmoms is None
    last = frames[-1].labels[fidelity].energy_per_atom
    assert last == pytest.approx(run.final_energy / n_atoms, abs=1e-9)
    assert last == pytest.approx(LAST_ENERGY_PER_ATOM[path], abs=1e-8)


def test_ids_of_real_folders() -> None:
    r2scan = list(iter_vasp(DATA / "r2scan", fidelity="r2scan"))
    assert [f.frame_id for f in r2scan] == [f"Lu/{i}" for i in range(6)] + [
        f"Si/{i}" for i in range(3)
    ]
    assert [f.material_id for f in r2scan] == ["Lu"] * 6 + ["Si"] * 3
    custodian = list(iter_vasp(DATA / "gga-custodian", fidelity="gga"))
    assert [f.frame_id for f in custodian] == [
        "Si/relax1/0",
        "Si/relax1/1",
        "Si/relax1/2",
        "Si/relax2/0",
    ]
    assert {f.material_id for f in custodian} == {"Si"}
    energies = [f.labels["gga"].energy_per_atom for f in custodian]
    # e_fr_energy / 2 of each step (pymatgen's parse), eV/atom
    np.testing.assert_allclose(
        energies,
        [-10.84169743 / 2, -10.84448928 / 2, -10.84681056 / 2, -10.84687704 / 2],
        rtol=0,
        atol=1e-9,
    )
    # the source is the calculation folder itself: its own name is the material and folder id;
    # only each file's last step is kept
    last = list(iter_vasp(DATA / "gga-custodian" / "Si", fidelity="pbe", all_ionic_steps=False))
    assert [(f.material_id, f.frame_id) for f in last] == [
        ("Si", "Si/relax1/2"),
        ("Si", "Si/relax2/0"),
    ]


# --------------------------------------------------------------------------- functional


PBE_POTCAR = ["PAW_PBE Fe_pv 06Sep2000", "PAW_PBE O 08Apr2002"]
DEFAULTS = {"GGA": "--", "LHFCALC": False, "LDAU": False, "ICHARG": 0, "LUSE_VDW": False}


def functional(incar: dict, parameters: dict, potcar: list[str] = PBE_POTCAR) -> Functional:
    return detect_functional(incar, {**DEFAULTS, **parameters}, potcar)


@pytest.mark.parametrize(
    ("incar", "parameters", "potcar", "name", "matches"),
    [
        ({"METAGGA": "R2scan"}, {}, PBE_POTCAR, "r2SCAN", {"r2scan"}),
        ({"METAGGA": " r2SCAN "}, {}, PBE_POTCAR, "r2SCAN", {"r2scan"}),
        ({}, {}, PBE_POTCAR, "PBE", {"gga", "pbe"}),
        ({"GGA": "PE"}, {"GGA": "PE"}, PBE_POTCAR, "PBE", {"gga", "pbe"}),
        ({}, {"LDAU": True, "LDAUU": [5.3, 0.0], "LDAUJ": [0.0, 0.0]}, PBE_POTCAR, "PBE+U",
         {"gga"}),
        ({}, {"LDAU": "T", "LDAUU": [0.0, 0.0]}, PBE_POTCAR, "PBE", {"gga", "pbe"}),
        ({"METAGGA": "R2SCAN", "LDAU": True, "LDAUU": [5.3, 0]}, {"LDAU": True}, PBE_POTCAR,
         "r2SCAN+U", set()),
        ({}, {"LHFCALC": True, "HFSCREEN": 0.2, "AEXX": 0.25}, PBE_POTCAR, "HSE06", set()),
        ({}, {"LHFCALC": ".TRUE.", "HFSCREEN": 0.0, "AEXX": 0.25}, PBE_POTCAR,
         "PBE0-type hybrid", set()),
        ({"METAGGA": "R2SCAN"}, {"LHFCALC": True, "HFSCREEN": 0.0, "AEXX": 0.25}, PBE_POTCAR,
         "PBE0-type hybrid", set()),
        ({"GGA": "RE"}, {"GGA": "RE"}, PBE_POTCAR, "revPBE", set()),
        ({"GGA": "PS"}, {"GGA": "PS"}, PBE_POTCAR, "PBEsol", set()),
        ({"METAGGA": "SCAN"}, {}, PBE_POTCAR, "SCAN", set()),
        ({"METAGGA": "R2SCAN", "LUSE_VDW": True}, {"LUSE_VDW": True}, PBE_POTCAR,
         "r2SCAN+vdW(nonlocal vdW (LUSE_VDW))", set()),
        ({"IVDW": 11}, {}, PBE_POTCAR, "PBE+vdW(DFT-D3)", set()),
        ({}, {}, ["PAW Si 05Jan2001"], "LDA", set()),
        ({}, {}, ["US Si"], "unknown (GGA unset and the POTCAR family unknown)", set()),
    ],
)  # fmt: skip
def test_functional_of_parameter_dicts(
    incar: dict, parameters: dict, potcar: list[str], name: str, matches: set[str]
) -> None:
    found = functional(incar, parameters, potcar)
    assert found.name == name
    assert not found.non_self_consistent
    for fidelity in ("r2scan", "gga", "pbe"):
        assert (functional_mismatch(fidelity, found) is None) == (fidelity in matches), fidelity


def test_functional_evidence_names_the_deciding_tags() -> None:
    found = functional({"GGA": "RE"}, {"GGA": "RE", "ICHARG": 2})
    assert "GGA = RE (parameters)" in found.evidence
    assert "ICHARG = 2 (parameters)" in found.evidence
    assert "LHFCALC = F (parameters)" in found.evidence
    # METAGGA is an INCAR tag only (vasprun.xml's parameters do not list it)
    assert "METAGGA = R2scan (INCAR)" in functional({"METAGGA": "R2scan"}, {}).evidence
    # GGA unset: the POTCAR decides, and is named
    assert "POTCAR = PAW_PBE Fe_pv 06Sep2000, PAW_PBE O 08Apr2002" in functional({}, {}).evidence


def test_unknown_fidelity_never_matches() -> None:
    reason = functional_mismatch("pbesol", functional({}, {}))
    assert reason == "fidelity 'pbesol' names no known functional (known: gga, pbe, r2scan)"


def test_non_self_consistent_run_is_refused_even_without_the_check() -> None:
    nscf = functional({"ICHARG": 11, "METAGGA": "R2SCAN"}, {"ICHARG": 11})
    assert nscf.non_self_consistent and nscf.base == "r2SCAN"
    assert functional({}, {"ICHARG": 1}).non_self_consistent is False
    for check in (True, False):
        with pytest.raises(DataError, match=r"non-self-consistent run \(ICHARG = 11") as info:
            check_calculation(nscf, "r2scan", check_functional=check, file="f", material="m")
        assert (info.value.file, info.value.material) == ("f", "m")


def test_mismatch_refused_or_warned(caplog: pytest.LogCaptureFixture) -> None:
    hse = functional({}, {"LHFCALC": True, "HFSCREEN": 0.2})
    with pytest.raises(
        DataError,
        match=r"declared fidelity 'gga', but the calculation is HSE06 \(.*LHFCALC = T .*"
        r"HFSCREEN = 0.2 .*check_functional: false",
    ):
        check_calculation(hse, "gga", check_functional=True, file="f", material="m")
    with caplog.at_level(logging.WARNING, logger="mfbench.data.readers.vasp"):
        check_calculation(hse, "gga", check_functional=False, file="f", material="m")
    assert "f: declared fidelity 'gga', but the calculation is HSE06" in caplog.text


def test_functional_of_the_real_files() -> None:
    for path, name in ((SI_R2SCAN, "r2SCAN"), (LU_R2SCAN, "r2SCAN"), (SI_RELAX1, "PBE"),
                       (SI_RELAX2, "PBE")):  # fmt: skip
        run = pymatgen_run(path)
        found = detect_functional(run.incar, run.parameters, run.potcar_symbols)
        assert found.name == name, path
        assert not found.non_self_consistent
    with pytest.raises(DataError, match=r"declared fidelity 'r2scan', but the calculation is PBE"):
        list(iter_vasp(DATA / "gga-custodian", fidelity="r2scan"))
    with pytest.raises(DataError, match=r"declared fidelity 'gga', but the calculation is r2SCAN \("
                       r".*METAGGA = R2scan \(INCAR\)") as info:  # fmt: skip
        list(iter_vasp(DATA / "r2scan", fidelity="gga"))
    assert info.value.file == str(LU_R2SCAN)


def test_check_functional_off_reads_with_one_warning_per_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="mfbench.data.readers.vasp"):
        frames = list(iter_vasp(DATA / "gga-custodian", fidelity="r2scan", check_functional=False))
    assert len(frames) == 4
    warned = [r for r in caplog.records if "check_functional is off" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in warned] == [str(SI_RELAX1), str(SI_RELAX2)]
    # the same option through the registry's reader options
    options = {"fidelity": "r2scan", "check_functional": False}
    assert len(list(read_frames("vasp", DATA / "gga-custodian", options))) == 4


# --------------------------------------------------------------------------- file names


def test_vasprun_names() -> None:
    assert vasprun_label("vasprun.xml") == (True, None)
    assert vasprun_label("vasprun.xml.xz") == (True, None)
    assert vasprun_label("vasprun.xml.relax2.bz2") == (True, "relax2")
    assert vasprun_label("vasprun.xml.static") == (True, "static")
    assert vasprun_label("vasprun.xml~") == (False, None)
    assert vasprun_label("vasprun.xml.") == (False, None)
    assert vasprun_label("OUTCAR.gz") == (False, None)


def test_compressions_labels_and_natural_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mp-1"
    folder.mkdir()
    relax1, relax2 = decompressed(SI_RELAX1), decompressed(SI_RELAX2)
    (folder / "vasprun.xml.relax10.xz").write_bytes(lzma.compress(relax1))
    (folder / "vasprun.xml.relax2.bz2").write_bytes(bz2.compress(relax2))
    (folder / "vasprun.xml").write_bytes(relax2)
    (folder / "vasprun.xml.bak").write_bytes(relax1)  # a backup copy: left out, with a warning
    with caplog.at_level(logging.WARNING, logger="mfbench.data.readers.vasp"):
        frames = list(iter_vasp(tmp_path, fidelity="gga"))
    assert [f.frame_id for f in frames] == [
        "mp-1/relax2/0",
        "mp-1/relax10/0",
        "mp-1/relax10/1",
        "mp-1/relax10/2",
        "mp-1/0",
    ]
    assert {f.material_id for f in frames} == {"mp-1"}
    assert f"{folder / 'vasprun.xml.bak'}: left out" in caplog.text
    energies = [f.labels["gga"].energy_per_atom for f in frames]
    # relax2's single step, relax1's three (bz2 and xz read as pymatgen reads them), eV/atom
    np.testing.assert_allclose(
        energies,
        np.array([-10.84687704, -10.84169743, -10.84448928, -10.84681056, -10.84687704]) / 2,
        rtol=0,
        atol=1e-9,
    )


def test_same_calculation_twice_names_both(tmp_path: Path) -> None:
    folder = tmp_path / "mp-1"
    folder.mkdir()
    shutil.copy(SI_RELAX1, folder / "vasprun.xml.relax1.gz")
    (folder / "vasprun.xml.relax1").write_bytes(decompressed(SI_RELAX1))
    with pytest.raises(
        DataError, match=r"holds both vasprun\.xml\.relax1 and vasprun\.xml\.relax1\.gz"
    ) as info:
        find_vasprun_files(tmp_path)
    assert info.value.file == str(folder)


def test_colliding_frame_ids_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a" / "relax1").mkdir(parents=True)
    shutil.copy(SI_RELAX1, tmp_path / "a" / "vasprun.xml.relax1.gz")
    shutil.copy(SI_RELAX2, tmp_path / "a" / "relax1" / "vasprun.xml.gz")
    with pytest.raises(DataError, match=r"would give the same frame ids \(a/relax1/<step>\)"):
        find_vasprun_files(tmp_path)


def test_material_depth(tmp_path: Path) -> None:
    for sub, source in (("mp-149/relax", SI_RELAX1), ("mp-149/static", SI_RELAX2)):
        (tmp_path / sub).mkdir(parents=True)
        shutil.copy(source, tmp_path / sub / "vasprun.xml.gz")
    (tmp_path / "mp-150").mkdir()
    shutil.copy(SI_RELAX1, tmp_path / "mp-150" / "vasprun.xml.relax1.gz")
    shutil.copy(SI_RELAX2, tmp_path / "mp-150" / "vasprun.xml.relax2.gz")

    whole = list(iter_vasp(tmp_path, fidelity="gga"))
    assert [(f.material_id, f.frame_id) for f in whole] == [
        ("mp-149/relax", "mp-149/relax/0"),
        ("mp-149/relax", "mp-149/relax/1"),
        ("mp-149/relax", "mp-149/relax/2"),
        ("mp-149/static", "mp-149/static/0"),
        ("mp-150", "mp-150/relax1/0"),
        ("mp-150", "mp-150/relax1/1"),
        ("mp-150", "mp-150/relax1/2"),
        ("mp-150", "mp-150/relax2/0"),
    ]
    options = {"fidelity": "gga", "material_depth": 1}
    by_material = list(read_frames("vasp", tmp_path, options))
    assert [f.frame_id for f in by_material] == [f.frame_id for f in whole]
    assert [f.material_id for f in by_material] == ["mp-149"] * 4 + ["mp-150"] * 4
    with pytest.raises(
        DataError, match=r"material_depth is 2, but the calculation folder 'mp-150'"
    ):
        list(iter_vasp(tmp_path, fidelity="gga", material_depth=2))
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match="material_depth must be a positive integer"):
            list(iter_vasp(tmp_path, fidelity="gga", material_depth=bad))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- truncated files


def cut_in_step(xml: bytes, step: int) -> bytes:
    """``xml`` cut halfway through the ``<calculation>`` block of ionic step ``step`` (0-based)."""
    starts = [m.start() for m in re.finditer(b"<calculation>", xml)]
    end = xml.index(b"</calculation>", starts[step])
    return xml[: (starts[step] + end) // 2]


def test_truncated_file_is_refused_then_kept_on_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = list(iter_vasp(LU_R2SCAN, fidelity="r2scan"))
    path = tmp_path / "Lu" / "vasprun.xml"
    path.parent.mkdir()
    path.write_bytes(cut_in_step(decompressed(LU_R2SCAN), 3))  # killed during step 3 of 0-5
    with pytest.raises(
        DataError,
        match=r"cannot parse: the file is incomplete \(it ends before </modeling>\).*"
        r"allow_truncated: true",
    ) as info:
        list(iter_vasp(tmp_path, fidelity="r2scan"))
    assert info.value.file == str(path)
    with caplog.at_level(logging.WARNING, logger="mfbench.data.readers.vasp"):
        kept = list(iter_vasp(tmp_path, fidelity="r2scan", allow_truncated=True))
    assert f"{path}: incomplete file; kept its 3 complete ionic step(s)" in caplog.text
    assert [f.frame_id for f in kept] == ["Lu/0", "Lu/1", "Lu/2"]
    for got, want in zip(kept, full[:3], strict=True):
        a, b = got.labels["r2scan"], want.labels["r2scan"]
        assert a.energy_per_atom == pytest.approx(b.energy_per_atom, abs=1e-12)
        np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.stress, b.stress, rtol=0, atol=1e-12)
    # e_0_energy / 3 of step 2 (pymatgen's parse of the whole file), eV/atom
    assert kept[-1].labels["r2scan"].energy_per_atom == pytest.approx(-114.23596666 / 3, abs=1e-8)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    packer = zlib.compressobj(wbits=31)  # gzip, stopped without its end marker and trailer
    cut = cut_in_step(decompressed(LU_R2SCAN), 3)
    path = tmp_path / "Lu" / "vasprun.xml.gz"
    path.parent.mkdir()
    path.write_bytes(packer.compress(cut) + packer.flush(zlib.Z_SYNC_FLUSH))
    with pytest.raises(DataError, match=r"incomplete \(its gz stream ends early\)"):
        list(iter_vasp(tmp_path, fidelity="r2scan"))
    kept = list(iter_vasp(tmp_path, fidelity="r2scan", allow_truncated=True))
    assert [f.frame_id for f in kept] == ["Lu/0", "Lu/1", "Lu/2"]
    # the real compressed file cut at 60 % of its bytes: a prefix of the steps survives
    path.write_bytes(LU_R2SCAN.read_bytes()[: int(0.6 * LU_R2SCAN.stat().st_size)])
    kept = list(iter_vasp(tmp_path, fidelity="r2scan", allow_truncated=True))
    full = list(iter_vasp(LU_R2SCAN, fidelity="r2scan"))
    assert 0 < len(kept) < 6
    assert [f.labels["r2scan"].energy_per_atom for f in kept] == [
        f.labels["r2scan"].energy_per_atom for f in full[: len(kept)]
    ]


def test_truncated_before_the_first_step_and_corrupt_files(tmp_path: Path) -> None:
    xml = decompressed(SI_R2SCAN)
    path = tmp_path / "Si" / "vasprun.xml"
    path.parent.mkdir()
    path.write_bytes(cut_in_step(xml, 0))
    with pytest.raises(DataError, match=r"incomplete .* holds no complete ionic step"):
        list(iter_vasp(tmp_path, fidelity="r2scan", allow_truncated=True))
    # whole but malformed: not "incomplete", and the opt-in does not apply
    path.write_bytes(xml.replace(b"</calculation>", b"</calculatio>", 1))
    for allow in (False, True):
        with pytest.raises(DataError, match=r"cannot parse vasprun\.xml \(XMLSyntaxError") as info:
            list(iter_vasp(tmp_path, fidelity="r2scan", allow_truncated=allow))
        assert info.value.file == str(path)


# --------------------------------------------------------------------------- prepare, end to end


def _vasp_registry(tmp_path: Path, dataset: str, fidelity: str) -> Path:
    entry = {
        "id": dataset, "version": "1", "title": "real VASP outputs", "source": "user",
        "format": "vasp", "options": {"fidelity": fidelity}, "fidelities": [fidelity],
    }  # fmt: skip
    path = tmp_path / f"{dataset}.yaml"
    path.write_text(yaml.safe_dump([entry]))
    return path


def test_the_real_folders_prepare_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mfbench.cli import main
    from mfbench.data.registry import get_dataset
    from mfbench.data.store import FrameStore

    registry = _vasp_registry(tmp_path, "real-r2scan", "r2scan")
    argv = ["data", "prepare", "real-r2scan", "--registry", str(registry)]
    assert main([*argv, "--source", str(DATA / "r2scan")]) == 0
    store = FrameStore.open(get_dataset("real-r2scan", [registry]).store_path())
    assert len(store) == 9 and sorted(set(store.material_ids.tolist())) == ["Lu", "Si"]
    labels = store.labels("r2scan", np.arange(len(store)))
    row = 0
    for path in (LU_R2SCAN, SI_R2SCAN):  # sorted folder order
        run = pymatgen_run(path)
        n_atoms = len(run.final_structure)
        for step in run.ionic_steps:
            assert labels.energy_per_atom[row] == pytest.approx(step["e_0_energy"] / n_atoms)
            start = labels.atom_offsets[row]
            np.testing.assert_allclose(labels.forces[start : start + n_atoms], step["forces"])
            np.testing.assert_allclose(labels.stress[row], -0.1 * np.asarray(step["stress"]))
            row += 1

    # the custodian PBE relaxation is no r2SCAN run: refused, naming the file and why
    argv = ["data", "prepare", "real-r2scan", "--registry", str(registry), "--overwrite"]
    assert main([*argv, "--source", str(DATA / "gga-custodian")]) == 2
    err = capsys.readouterr().err
    assert "vasprun.xml.relax1.gz" in err and "declared fidelity 'r2scan'" in err
    assert "Traceback" not in err

    registry = _vasp_registry(tmp_path, "real-gga", "gga")
    argv = ["data", "prepare", "real-gga", "--registry", str(registry)]
    assert main([*argv, "--source", str(DATA / "gga-custodian")]) == 0
    store = FrameStore.open(get_dataset("real-gga", [registry]).store_path())
    assert store.frame_ids.tolist() == ["Si/relax1/0", "Si/relax1/1", "Si/relax1/2", "Si/relax2/0"]
    assert set(store.material_ids.tolist()) == {"Si"}  # both relaxations: one material
