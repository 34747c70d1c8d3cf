from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
import yaml

from mfbench.data.checksum import sha256_file
from mfbench.data.prepare import prepare
from mfbench.data.registry import DatasetEntry, get_dataset, load_registry_file, registry
from mfbench.data.store import FrameStore
from mfbench.errors import ChecksumError, DataError, UnknownNameError
from mfbench.locks import exclusive_lock
from mfbench.paths import locks_dir

from .factories import make_structure, mptrj_record, write_nested


def _registry_file(tmp_path: Path, sha256: str | None, n_frames: int | None = 5) -> Path:
    entry = {
        "id": "mini",
        "version": "1",
        "title": "five frames",
        "source": "user",
        "sha256": sha256,
        "n_frames": n_frames,
        "format": "nested-json",
        "options": {
            "fidelities": {
                "gga": {"energy": "energy_per_atom", "energy_kind": "per_atom", "forces": "force"}
            }
        },
        "fidelities": ["gga"],
    }
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump([entry]))
    return path


def test_verified_prepare_reports_and_records(small_mptrj: Path, tmp_path: Path) -> None:
    digest = sha256_file(small_mptrj)
    entry = get_dataset("mini", [_registry_file(tmp_path, digest)])
    report = prepare(entry, small_mptrj)
    assert report.checksum_status == "verified"
    assert (report.n_frames, report.n_materials, report.n_atoms) == (5, 3, 9)
    assert report.elements == {"Fe": 1, "Li": 2, "O": 3, "Si": 2}
    store = FrameStore.open(Path(report.store))
    assert store.meta["source"]["sha256"] == digest
    assert store.meta["dataset"]["id"] == "mini"
    # a second prepare of the same source keeps the store
    assert prepare(entry, small_mptrj).checksum_status == "skipped-existing"


def test_checksum_mismatch_is_refused(small_mptrj: Path, tmp_path: Path) -> None:
    entry = get_dataset("mini", [_registry_file(tmp_path, "0" * 64)])
    with pytest.raises(ChecksumError, match="does not match the registry"):
        prepare(entry, small_mptrj)
    assert not entry.store_path().exists()


def test_checksum_override_is_recorded(small_mptrj: Path, tmp_path: Path) -> None:
    entry = get_dataset("mini", [_registry_file(tmp_path, "0" * 64)])
    report = prepare(entry, small_mptrj, accept_checksum_mismatch=True)
    assert report.checksum_status == "mismatch-accepted"
    meta = json.loads((entry.store_path() / "meta.json").read_text())
    assert meta["source"]["checksum_status"] == "mismatch-accepted"
    assert meta["source"]["expected_sha256"] == "0" * 64
    assert any("mismatch accepted" in w for w in meta["warnings"])


def test_unpinned_source_is_flagged(small_mptrj: Path, tmp_path: Path) -> None:
    entry = get_dataset("mini", [_registry_file(tmp_path, None)])
    report = prepare(entry, small_mptrj)
    assert report.checksum_status == "unpinned"
    assert "NOT verified" in report.warnings[0]


def test_frame_count_must_match_a_verified_source(small_mptrj: Path, tmp_path: Path) -> None:
    entry = get_dataset("mini", [_registry_file(tmp_path, sha256_file(small_mptrj), 6)])
    with pytest.raises(DataError, match="read 5 frames, the registry expects 6"):
        prepare(entry, small_mptrj)
    assert not entry.store_path().exists()


def test_bad_frame_leaves_no_store(tmp_path: Path) -> None:
    bad = mptrj_record(make_structure(["Li"]), -2.0)
    del bad["force"]
    good = mptrj_record(make_structure(["Li"]), -2.0)
    source = write_nested(tmp_path / "bad.json", {"mp-1": {"a": good}, "mp-2": {"b": bad}})
    entry = get_dataset("mini", [_registry_file(tmp_path, None)])
    with pytest.raises(DataError, match="frame 'b'"):
        prepare(entry, source)
    assert not entry.store_path().exists()
    assert not any(entry.store_path().parent.iterdir())


def test_other_source_over_existing_store_needs_overwrite(
    small_mptrj: Path, tmp_path: Path
) -> None:
    entry = get_dataset("mini", [_registry_file(tmp_path, None, None)])
    prepare(entry, small_mptrj)
    other = write_nested(
        tmp_path / "other.json", {"mp-5": {"x": mptrj_record(make_structure(["Cu"]), -3.0)}}
    )
    with pytest.raises(DataError, match="--overwrite"):
        prepare(entry, other)
    assert prepare(entry, other, overwrite=True).n_frames == 1


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="source does not exist"):
        prepare(get_dataset("mp-r2scan"), tmp_path / "nope.json")


def test_unknown_dataset_suggests_closest() -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean 'mp-r2scan'"):
        get_dataset("mp-r2scn")


def test_duplicate_registration_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    builtin = get_dataset("mptrj").model_dump(mode="json")
    path.write_text(yaml.safe_dump([builtin]))
    with pytest.raises(DataError, match="registered twice"):
        registry([path])


def test_registry_rejects_unknown_keys(tmp_path: Path) -> None:
    path = _registry_file(tmp_path, None)
    entries = yaml.safe_load(path.read_text())
    entries[0]["sha265"] = "typo"
    path.write_text(yaml.safe_dump(entries))
    with pytest.raises(DataError, match="sha265"):
        registry([path])


def test_a_second_prepare_of_one_store_waits_for_the_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = get_dataset("surrogate-aflow")
    lock = locks_dir() / f"dataset-{entry.key}.lock"
    reports: list[str] = []
    with exclusive_lock(lock, what="test", wait=False):  # another process preparing it
        waiting = threading.Thread(target=lambda: reports.append(prepare(entry).checksum_status))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and not reports  # it waits, and says so
        assert "waiting for another mfbench process" in caplog.text
        assert not entry.store_path().exists()
    waiting.join(timeout=60)
    assert reports == ["verified"]
    assert prepare(entry).checksum_status == "skipped-existing"


def _entry(tmp_path: Path, **changes: object) -> DatasetEntry:
    raw = yaml.safe_load(_registry_file(tmp_path, None, None).read_text())[0]
    raw.update(changes)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump([raw]))
    return load_registry_file(path)[0]


@pytest.mark.parametrize("name", ["../../victim", "a/b", ".hidden", "", "x" * 101])
def test_a_dataset_id_or_version_that_would_leave_the_home_is_refused(
    tmp_path: Path, name: str
) -> None:
    for field in ("id", "version"):
        with pytest.raises(DataError, match=f"(?s)entry 0 is invalid:.*{field}") as info:
            _entry(tmp_path, **{field: name})
        assert "custom.yaml" in str(info.value)


def test_overwrite_replaces_only_a_store_mfbench_wrote(small_mptrj: Path, tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    victim = entry.store_path()
    victim.mkdir(parents=True)
    (victim / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError, match="is not a frame store mfbench wrote"):
        prepare(entry, small_mptrj, overwrite=True)
    assert (victim / "thesis.tex").read_text() == "years of work"


def test_what_a_killed_prepare_left_is_cleaned_up(small_mptrj: Path, tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    left = entry.store_path().with_name(f".{entry.key}.tmp-abc12345")
    left.mkdir(parents=True)
    (left / "frame_ids.txt").write_text("half")
    other = entry.store_path().with_name(f".{entry.key}.tmp-x.tmp-abc12345")  # version 1.tmp-x
    other.mkdir()
    prepare(entry, small_mptrj)
    assert not left.exists() and other.exists()

    # killed between the two renames of a replacing prepare: the old store is put back
    replaced = entry.store_path().with_name(f".{entry.key}.old-4242")
    entry.store_path().rename(replaced)
    assert prepare(entry, small_mptrj).checksum_status == "skipped-existing"
    assert not replaced.exists()


def test_a_frame_id_given_twice_is_refused_naming_both(tmp_path: Path) -> None:
    record = mptrj_record(make_structure(["Cu"]), -3.7)
    source = write_nested(
        tmp_path / "twice.json", {"mp-1": {"f-1": record, "f-2": record}, "mp-2": {"f-1": record}}
    )
    with pytest.raises(DataError) as info:
        prepare(_entry(tmp_path), source)
    assert str(info.value).endswith(
        "frame id 'f-1' appears twice: frame 0 (material 'mp-1') and frame 2 (material "
        "'mp-2'); frame ids must be unique in a dataset"
    )


def test_an_unknown_reader_option_lists_the_accepted_ones(
    small_mptrj: Path, tmp_path: Path
) -> None:
    options = {**_entry(tmp_path).options, "foo": 1}
    with pytest.raises(DataError) as info:
        prepare(_entry(tmp_path, options=options), small_mptrj)
    assert str(info.value) == (
        "dataset mini: unknown reader option foo (format nested-json); its options are: "
        "fidelities: Mapping[str, LabelKeys]"
    )


def _with_overlapping_atoms(tmp_path: Path) -> Path:
    overlapping = make_structure(["Li", "O"])
    overlapping.translate_sites([1], overlapping[0].coords - overlapping[1].coords + 0.05,
                                frac_coords=False)  # fmt: skip
    frames = {
        "mp-1": {"ok": mptrj_record(make_structure(["Li", "O"]), -4.0)},
        "mp-2": {"bad": mptrj_record(overlapping, -4.0)},
    }
    return write_nested(tmp_path / "overlap.json", frames)


def test_an_unphysical_frame_is_refused_by_default_and_dropped_on_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _with_overlapping_atoms(tmp_path)
    with pytest.raises(DataError) as info:
        prepare(_entry(tmp_path), source)
    assert (info.value.material, info.value.frame) == ("mp-2", "bad")
    assert "unphysical frame: atoms 0.087 Å apart (limit 0.5 Å)" in str(info.value)

    report = prepare(_entry(tmp_path, unphysical="drop"), source)
    assert report.n_frames == 1
    meta = json.loads((Path(report.store) / "meta.json").read_text())
    assert meta["dropped_frames"] == [
        {"frame": "bad", "material": "mp-2", "reason": "atoms 0.087 Å apart (limit 0.5 Å)"}
    ]
    assert "dropped 1 unphysical frame(s)" in caplog.text

    huge = mptrj_record(make_structure(["Li", "O"]), 620.0)
    huge["force"][0] = [16657.0, 0.0, 0.0]
    source = write_nested(tmp_path / "huge.json", {"mp-3": {"step-9": huge}})
    with pytest.raises(DataError, match=re.escape("gga energy 620 eV/atom (limit 50.0 eV/atom)")):
        prepare(_entry(tmp_path), source, overwrite=True)
    limits = {"max_energy_per_atom": 1000.0}
    with pytest.raises(DataError, match=re.escape("gga force 16657 eV/Å (limit 500.0 eV/Å)")):
        prepare(_entry(tmp_path, physical_limits=limits), source, overwrite=True)


def test_a_frame_count_off_the_registry_is_said_on_the_console(
    small_mptrj: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prepare(_entry(tmp_path, n_frames=238247), small_mptrj)
    assert "read 5 frames, the registry expects 238247" in caplog.text
