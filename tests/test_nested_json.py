from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path

import pytest

from mfbench.data.readers.nested_json import LabelKeys, iter_nested_json
from mfbench.errors import DataError

from .factories import make_structure, mptrj_record, write_nested

MPTRJ_KEYS = {"gga": LabelKeys("energy_per_atom", "per_atom", "force", "stress", "magmom")}
TOTAL_KEYS = {"r2scan": LabelKeys("uncorrected_total_energy", "total", "force", "stress", "magmom")}


def test_reads_frames_with_units_and_signs(small_mptrj: Path) -> None:
    frames = list(iter_nested_json(small_mptrj, fidelities=MPTRJ_KEYS))
    assert [f.frame_id for f in frames] == ["1-1-0", "1-1-1", "2-1-0", "3-1-0", "3-1-1"]
    assert [f.material_id for f in frames] == ["mp-1", "mp-1", "mp-2", "mp-3", "mp-3"]
    labels = frames[2].labels["gga"]
    assert labels.energy_per_atom == pytest.approx(-6.5)
    # 10 kBar with VASP's sign is -1.0 GPa in CHGNet's sign; off-diagonal 1 kBar -> -0.1 GPa.
    assert labels.stress[0, 0] == pytest.approx(-1.0)
    assert labels.stress[0, 1] == pytest.approx(-0.1)
    assert labels.stress[2, 2] == pytest.approx(-3.0)
    # magnetic moments are stored as magnitudes
    assert labels.magmoms.tolist() == pytest.approx([0.5, 0.1, 0.1])
    assert labels.forces.shape == (3, 3)


def test_total_energy_is_divided_by_atom_count(small_mptrj: Path) -> None:
    frames = list(iter_nested_json(small_mptrj, fidelities=TOTAL_KEYS))
    # mptrj_record writes uncorrected_total_energy = energy_per_atom * n_atoms
    assert frames[2].labels["r2scan"].energy_per_atom == pytest.approx(-6.5)
    assert frames[0].labels["r2scan"].energy_per_atom == pytest.approx(-4.0)


def test_gzip_is_detected(tmp_path: Path) -> None:
    data = {"mp-9": {"9-0": mptrj_record(make_structure(["Cu"]), -3.7)}}
    path = write_nested(tmp_path / "frames.json.gz", data, compress=True)
    (frame,) = iter_nested_json(path, fidelities=MPTRJ_KEYS)
    assert frame.labels["gga"].energy_per_atom == pytest.approx(-3.7)


def test_null_magmom_is_unlabelled(tmp_path: Path) -> None:
    record = mptrj_record(make_structure(["Cu"]), -3.7)
    record["magmom"] = None
    path = write_nested(tmp_path / "f.json", {"mp-9": {"9-0": record}})
    (frame,) = iter_nested_json(path, fidelities=MPTRJ_KEYS)
    assert frame.labels["gga"].magmoms is None


def test_truncated_file_names_file(small_mptrj: Path, tmp_path: Path) -> None:
    text = small_mptrj.read_text()
    broken = tmp_path / "truncated.json"
    broken.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"(?s)truncated\.json.*truncated or corrupt") as info:
        list(iter_nested_json(broken, fidelities=MPTRJ_KEYS))
    # the material and frame being read when the file ended, not the last one finished
    assert (info.value.material, info.value.frame) == ("mp-2", "2-1-0")


def test_truncated_gzip_names_file(small_mptrj: Path, tmp_path: Path) -> None:
    blob = gzip.compress(small_mptrj.read_bytes())
    broken = tmp_path / "cut.json.gz"
    broken.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"cut\.json\.gz"):
        list(iter_nested_json(broken, fidelities=MPTRJ_KEYS))


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda r: r.pop("force"), "force", "missing key"),
        (lambda r: r.update(energy_per_atom="abc"), "energy_per_atom", "not a number"),
        (lambda r: r.update(force=[[0.0, 0.0, 0.0]]), "force", r"shape \(1, 3\)"),
        (lambda r: r.update(stress=[[1.0, 2.0]]), "stress", "shape"),
        (lambda r: r.update(structure={"lattice": 3}), "structure", "not a pymatgen structure"),
    ],
)
def test_bad_frame_names_material_frame_and_field(
    tmp_path: Path, mutate, field: str, message: str
) -> None:
    good = mptrj_record(make_structure(["Li", "O"]), -4.0)
    bad = mptrj_record(make_structure(["Li", "O"]), -4.0)
    mutate(bad)
    path = write_nested(tmp_path / "bad.json", {"mp-1": {"ok": good}, "mp-7": {"7-2-5": bad}})
    with pytest.raises(DataError, match=message) as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    err = info.value
    assert (err.file, err.material, err.frame, err.field) == (str(path), "mp-7", "7-2-5", field)


def test_nan_token_is_a_clear_error(tmp_path: Path) -> None:
    # Python's json writes NaN/Infinity tokens, which are not JSON; the error shows where.
    bad = mptrj_record(make_structure(["Li", "O"]), -4.0)
    bad["force"][0][0] = math.inf
    good = mptrj_record(make_structure(["Li", "O"]), -4.0)
    path = write_nested(tmp_path / "nan.json", {"mp-1": {"1-0": good}, "mp-7": {"7-2-5": bad}})
    with pytest.raises(
        DataError, match=r"(?s)nan\.json.*NaN/Infinity.*\"force\": \[\[Infinity"
    ) as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    # the material and frame holding the token, not the material before it
    assert (info.value.material, info.value.frame) == ("mp-7", "7-2-5")


@pytest.mark.parametrize(
    ("text", "found"),
    [("[1, 2]", "a list"), ("{}", "an empty object {}"), ("3", "a number value")],
)
def test_a_top_level_that_is_not_materials_is_named(tmp_path: Path, text: str, found: str) -> None:
    path = tmp_path / "top.json"
    path.write_text(text)
    with pytest.raises(DataError, match=f"the top level is {re.escape(found)}") as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    assert info.value.file == str(path)


def test_a_material_key_written_twice_is_refused(tmp_path: Path) -> None:
    record = json.dumps(mptrj_record(make_structure(["Cu"]), -3.7))
    path = tmp_path / "twice.json"
    path.write_text(f'{{"mp-9": {{"9-0": {record}}}, "mp-8": {{}}, "mp-9": {{"9-1": {record}}}}}')
    with pytest.raises(
        DataError, match="appears twice in the file: as material 0 and as material 2"
    ):
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))


def test_element_beyond_plutonium_is_caught_early(tmp_path: Path) -> None:
    record = mptrj_record(make_structure(["Am", "O"]), -4.0)  # Am: Z = 95
    path = write_nested(tmp_path / "am.json", {"mp-95": {"95-0": record}})
    with pytest.raises(DataError, match=r"Am outside Z = 1-94") as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    assert info.value.frame == "95-0"


def test_frames_are_streamed_lazily(tmp_path: Path) -> None:
    # A corrupt tail must not prevent reading the frames before it: the reader streams.
    good = json.dumps({"9-0": mptrj_record(make_structure(["Cu"]), -3.7)})
    path = tmp_path / "tail.json"
    path.write_text('{"mp-9": ' + good + ', "mp-10": {"10-0": {"structure": ')
    frames = iter_nested_json(path, fidelities=MPTRJ_KEYS)
    assert next(frames).frame_id == "9-0"
    with pytest.raises(DataError):
        next(frames)


def test_a_frame_id_or_field_written_twice_is_refused(tmp_path: Path) -> None:
    record = json.dumps(mptrj_record(make_structure(["Cu"]), -3.7))
    path = tmp_path / "twice.json"
    path.write_text(f'{{"mp-9": {{"9-0": {record}, "9-1": {record}, "9-0": {record}}}}}')
    with pytest.raises(DataError, match="the frame id appears twice in this material") as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    assert (info.value.material, info.value.frame) == ("mp-9", "9-0")
    twice = record[:-1] + ', "energy_per_atom": -1.0}'
    path.write_text(f'{{"mp-9": {{"9-0": {twice}}}}}')
    with pytest.raises(DataError, match="the key appears twice in the frame record") as info:
        list(iter_nested_json(path, fidelities=MPTRJ_KEYS))
    assert info.value.field == "energy_per_atom"
