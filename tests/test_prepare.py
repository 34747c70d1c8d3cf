from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from mfbench.data.checksum import sha256_file
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset, registry
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
