"""Side by side: ingesting an MPtrj-layout JSON with mfbench's stream and with chgnet's path.

Each file is read in a fresh process (``benchmarks/stream_mptrj.py``), so its peak resident
memory is its own. Run the figures with::

    pytest tests/test_bench_ingestion.py -m slow --benchmark-enable --benchmark-json bench.json

and read ``frames_per_s`` and ``peak_rss_mb`` from each benchmark's ``extra_info``
(``python benchmarks/side_by_side.py`` prints them as a table).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "stream_mptrj.py"
#: File sizes in MB; MPtrj itself is 11,000 MB.
SIZES_MB = (30, 100, 300)
#: Peak memory growth allowed to the stream from the smallest to the largest file, MB.
FLAT_MB = 25.0

pytestmark = pytest.mark.slow


def _script(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, int]]:
    """Generated files by size in MB, with their frame counts."""
    folder = tmp_path_factory.mktemp("ingestion")
    made = {}
    for size in SIZES_MB:
        path = folder / f"mptrj-{size}mb.json"
        made[size] = (path, int(_script(str(path), "--make", "--mb", str(size))["frames"]))
    return made


#: Figures of every (reader, size) measured in this session, for the flatness check.
_MEASURED: dict[tuple[str, int], dict[str, Any]] = {}


@pytest.mark.parametrize("size", SIZES_MB)
@pytest.mark.parametrize("reader", ["mfbench", "stock"])
def test_ingestion(
    benchmark: Any, files: dict[int, tuple[Path, int]], reader: str, size: int
) -> None:
    path, n_frames = files[size]
    figures = benchmark.pedantic(
        _script, args=(str(path), "--reader", reader), rounds=1, iterations=1
    )
    benchmark.extra_info.update({"reader": reader, **figures})
    _MEASURED[reader, size] = figures
    assert figures["frames"] == n_frames


def test_stream_memory_is_flat_and_stock_memory_grows() -> None:
    if len(_MEASURED) < 2 * len(SIZES_MB):
        pytest.skip("needs every test_ingestion case of this session")
    small, large = min(SIZES_MB), max(SIZES_MB)
    stream = [_MEASURED["mfbench", s]["peak_rss_mb"] for s in (small, large)]
    stock = [_MEASURED["stock", s]["peak_rss_mb"] for s in (small, large)]
    assert stream[1] - stream[0] < FLAT_MB, stream
    # json.load holds the whole file as Python objects: several times its size
    assert stock[1] - stock[0] > large - small, stock
