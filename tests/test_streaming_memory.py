"""Peak memory of streaming an MPtrj-layout file does not grow with the file's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "stream_mptrj.py"


def _run(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_is_flat_in_file_size(tmp_path: Path) -> None:
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    n_small = _run(str(small), "--make", "--mb", "30")["frames"]
    n_large = _run(str(large), "--make", "--mb", "300")["frames"]
    small_run, large_run = _run(str(small)), _run(str(large))
    assert (small_run["frames"], large_run["frames"]) == (n_small, n_large)
    # 10x the file, same peak memory within 25 MB (the interpreter and libraries dominate)
    assert large_run["peak_rss_mb"] - small_run["peak_rss_mb"] < 25, (small_run, large_run)
