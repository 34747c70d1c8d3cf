"""The snapshot of the committed results that mfbench ships, and ``mfbench --version``."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import mfbench
from mfbench.cli import main
from mfbench.results.shipped_snapshot import shipped_snapshot, version_line
from mfbench.results.snapshot import snapshot_of_folder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results"


def _committed_records() -> list[Path]:
    """The committed ``result.json`` files (all of them outside a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--", "leaderboard/results"], cwd=ROOT, check=True,
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return sorted(RESULTS.rglob("result.json"))
    return sorted(ROOT / p for p in listed if p.endswith("/result.json"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_shipped_snapshot_lists_exactly_the_committed_records() -> None:
    shipped = shipped_snapshot()
    assert shipped is not None, "mfbench/data/results_snapshot.json is missing"
    assert shipped.mfbench_version == mfbench.__version__
    listed = Counter((e.record_sha256, e.predictions_sha256) for e in shipped.entries)
    committed = Counter()
    for record in _committed_records():
        predictions = json.loads(record.read_text())["predictions"]["file"]
        committed[(_sha256(record), _sha256(record.parent / predictions))] += 1
    stale = (
        "; run `mfbench leaderboard snapshot --results leaderboard/results "
        "--out mfbench/data/results_snapshot.json`"
    )
    assert listed - committed == Counter(), f"listed but not committed{stale}"
    assert committed - listed == Counter(), f"committed but not listed{stale}"


def test_version_prints_the_version_and_the_shipped_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shipped = shipped_snapshot()
    assert shipped is not None
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == version_line()
    assert out.startswith(f"mfbench {mfbench.__version__} (committed results: snapshot ")
    assert shipped.id in out and f"{len(shipped.entries)} records" in out


@pytest.mark.slow
def test_the_shipped_id_is_the_one_recomputed_from_the_committed_results() -> None:
    shipped = shipped_snapshot()
    assert shipped is not None
    recomputed = snapshot_of_folder(RESULTS)
    assert not recomputed.left_out
    assert recomputed.id == shipped.id
