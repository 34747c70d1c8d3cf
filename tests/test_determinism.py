"""Same records, same verdicts and the same bytes: in separate processes, under other hash seeds,
from a fresh ``MFBENCH_HOME`` (as a fresh clone has), on the committed results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboard" / "results"
SEEDS = (1, 2, 3)


def _mfbench(args: list[str], hash_seed: int, home: Path) -> subprocess.CompletedProcess[str]:
    """``mfbench ARGS`` in a new process with ``PYTHONHASHSEED`` and a home of its own."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "MFBENCH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "mfbench.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> list[subprocess.CompletedProcess]:
    """``results validate --json`` of the committed results under three hash seeds."""
    root = tmp_path_factory.mktemp("validate")
    return [
        _mfbench(["results", "validate", "leaderboard/results", "--json"], seed, root / str(seed))
        for seed in SEEDS
    ]


def test_the_committed_results_validate_from_a_fresh_home(validations: list) -> None:
    n_records = len(list(COMMITTED.rglob("result.json")))
    assert n_records >= 16
    for done in validations:
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            f"{n_records} accepted, 0 rejected, 0 not checked"
        )


def test_verdicts_and_recomputed_values_are_identical_under_every_hash_seed(
    validations: list,
) -> None:
    first = validations[0].stdout
    reports = json.loads(first)
    assert all(r["recomputed"]["metrics"]["all"]["n_frames"] > 0 for r in reports)
    assert all(done.stdout == first for done in validations[1:])


def test_two_site_builds_under_other_hash_seeds_are_byte_identical(tmp_path: Path) -> None:
    sites = []
    for seed in SEEDS[:2]:
        out = tmp_path / f"site-{seed}"
        args = ["leaderboard", "build", "--results", "leaderboard/results",
                "--diagnostics", "leaderboard/diagnostics", "--out", str(out)]  # fmt: skip
        done = _mfbench(args, seed, tmp_path / f"home-{seed}")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 rejected, 0 not checked here" in done.stdout
        sites.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert sites[0].keys() == sites[1].keys() and len(sites[0]) > 20
    differing = sorted(str(name) for name in sites[0] if sites[0][name] != sites[1][name])
    assert differing == []
