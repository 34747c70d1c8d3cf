"""The leaderboard snapshot id: the same records give the same id anywhere; one byte changes it.

The records are committed ones (two demo runs and a reference row of ``sevennet-r2scan-quick``),
copied to temporary folders; validating them takes a few seconds in a home shared by the module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mfbench.results import validate_records
from mfbench.results.snapshot import (
    SNAPSHOT_SCHEMA,
    SnapshotError,
    canonical_json,
    compare,
    payload,
    read_snapshot,
    snapshot_of,
    snapshot_of_folder,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboard" / "results"
#: Three committed runs: two ranked baselines and a reference row, at fraction 0.1.
RUNS = (
    "baselines/sevennet-r2scan-quick/v1/zero-shot/fraction-0.1/seed-0",
    "baselines/sevennet-r2scan-quick/v1/scratch/fraction-0.1/seed-0",
    "reference-models/sevennet-r2scan-quick/v1/gga-floor@037fee61/fraction-0.1/seed-0",
)


pytestmark = pytest.mark.usefixtures("use_shared_home")


def copy_runs(dest: Path, runs: tuple[str, ...] = RUNS, *, reverse: bool = False) -> Path:
    """Copy committed run folders below ``dest`` (in reverse order to vary creation order)."""
    for run in sorted(runs, reverse=reverse):
        shutil.copytree(COMMITTED / run, dest / run)
    return dest


def flip_byte(path: Path, offset: int = -1) -> None:
    """Change one byte of ``path`` (the last by default)."""
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))


def test_the_id_is_the_sha256_of_the_canonical_sorted_entries(tmp_path: Path) -> None:
    snapshot = snapshot_of_folder(copy_runs(tmp_path / "results"))
    assert len(snapshot.entries) == 3 and snapshot.left_out == ()
    body = payload(snapshot.mfbench_version, reversed(snapshot.entries))
    assert body["schema"] == SNAPSHOT_SCHEMA
    assert [e["method"] for e in body["entries"]] == ["gga-floor", "scratch", "zero-shot"]
    assert {e["fraction"] for e in body["entries"]} == {"0.1"}  # a string: no float formatting
    assert snapshot.id == hashlib.sha256(canonical_json(body)).hexdigest()
    assert canonical_json(body).count(b" ") == 0  # no whitespace between tokens
    assert snapshot.short == snapshot.id[:12] and snapshot.matches(snapshot.short.upper())
    assert not snapshot.matches(snapshot.id[:11])
    # hashes computed by mfbench from the files, not read from the record
    run = tmp_path / "results" / RUNS[1]
    (entry,) = [e for e in snapshot.entries if e.method == "scratch"]
    assert entry.record_sha256 == hashlib.sha256((run / "result.json").read_bytes()).hexdigest()
    predictions = hashlib.sha256((run / "predictions.npz").read_bytes()).hexdigest()
    assert entry.predictions_sha256 == predictions
    assert snapshot.entry_for(run / "result.json") == entry


def test_same_records_in_two_folders_give_the_same_id(tmp_path: Path) -> None:
    first = snapshot_of_folder(copy_runs(tmp_path / "a"))
    second = snapshot_of_folder(copy_runs(tmp_path / "deeper" / "b" / "c", reverse=True))
    assert first.id == second.id and first.entries == second.entries
    assert snapshot_of(validate_records([tmp_path / "a"]), version="99.0").id != first.id


@pytest.mark.slow
def test_same_id_under_two_hash_seeds_and_two_paths(tmp_path: Path, shared_home: Path) -> None:
    folders = [copy_runs(tmp_path / "one"), copy_runs(tmp_path / "x" / "two", reverse=True)]
    probe = "import sys; from mfbench.results.snapshot import snapshot_of_folder as s; "
    probe += "print(s(sys.argv[1]).id)"
    ids = []
    for folder, seed in zip(folders, ("0", "4242"), strict=True):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT),
               "MFBENCH_HOME": str(shared_home)}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", probe, str(folder)],
            capture_output=True, text=True, env=env, cwd=folder, check=True,
        )  # fmt: skip
        ids.append(done.stdout.strip())
    assert ids[0] == ids[1] == snapshot_of_folder(folders[0]).id


def test_one_changed_byte_of_predictions_changes_the_id_and_names_the_record(
    tmp_path: Path,
) -> None:
    results = copy_runs(tmp_path / "results")
    before = snapshot_of_folder(results)
    listing = tmp_path / "snapshot.json"
    listing.write_text(json.dumps(before.document()), encoding="utf-8")
    flip_byte(results / RUNS[0] / "predictions.npz")
    after = snapshot_of_folder(results)
    assert after.id != before.id and len(after.entries) == 2
    (left,) = after.left_out
    assert left.status == "rejected" and left.path == results / RUNS[0] / "result.json"
    assert any("sha256" in p for p in left.problems)
    assert after.document()["left_out"] == {"rejected": [str(left.path)]}
    (line,) = compare(read_snapshot(listing), after)
    assert line.startswith("missing: task sevennet-r2scan-quick v1, method zero-shot")
    assert f"{results / RUNS[0] / 'result.json'} is rejected" in line


def test_one_changed_byte_of_a_valid_record_changes_the_id_and_names_it(tmp_path: Path) -> None:
    results = copy_runs(tmp_path / "results")
    before = snapshot_of_folder(results)
    record = results / RUNS[1] / "result.json"
    text = record.read_text(encoding="utf-8")
    assert '"fit_seconds": ' in text
    record.write_text(text.replace('"fit_seconds": ', '"fit_seconds": 1', 1), encoding="utf-8")
    after = snapshot_of_folder(results)
    assert after.left_out == () and after.id != before.id  # still valid: timings are not checked
    (line,) = compare(before, after)
    assert line.startswith("changed: task sevennet-r2scan-quick v1, method scratch")
    assert "record sha256" in line and "predictions" not in line and str(record) in line


def test_records_left_out_do_not_change_the_id_and_are_listed(tmp_path: Path) -> None:
    results = copy_runs(tmp_path / "results")
    before = snapshot_of_folder(results)
    broken = results / "broken" / "result.json"
    broken.parent.mkdir()
    broken.write_text("{not json", encoding="utf-8")
    after = snapshot_of_folder(results)
    assert after.id == before.id
    assert after.left_out_counts() == {"rejected": 1}
    shown = after.document(lambda p: p.relative_to(results).as_posix())
    assert shown["left_out"] == {"rejected": ["broken/result.json"]}
    assert shown["n_records"] == 3 and shown["id"] == before.id


def test_a_listing_reads_back_and_an_edited_one_is_refused(tmp_path: Path) -> None:
    snapshot = snapshot_of_folder(copy_runs(tmp_path / "results"))
    listing = tmp_path / "snapshot.json"
    document = snapshot.document()
    listing.write_text(json.dumps(document), encoding="utf-8")
    assert read_snapshot(listing).id == snapshot.id
    assert read_snapshot(listing).entries == snapshot.entries
    document["entries"][0]["seed"] = 7
    listing.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SnapshotError, match="listing was edited"):
        read_snapshot(listing)
    listing.write_text('{"schema": "something else"}', encoding="utf-8")
    with pytest.raises(SnapshotError, match="not a snapshot listing"):
        read_snapshot(listing)
