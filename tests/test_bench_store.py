"""Benchmarks of the frame store at MP-r²SCAN scale (238,247 frames).

Run the timings with ``pytest tests/test_bench_store.py -m slow --benchmark-enable``. The
store of that size takes a while to write, so it is marked slow; a default run checks the same
bodies once, as plain tests, on a store of :data:`SMALL_FRAMES` frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfbench.data.store import STORE_FORMAT_VERSION, FrameStore

N_FRAMES, ATOMS_PER_FRAME = 238_247, 8
#: Frames of the store the default (not slow) run checks the benchmark bodies on.
SMALL_FRAMES = 2_000


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(SMALL_FRAMES, id="small"),
        pytest.param(N_FRAMES, id="mp-r2scan", marks=pytest.mark.slow),
    ],
)
def bench_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    """A store in the on-disk format with ``request.param`` frames (arrays written directly).

    :data:`SMALL_FRAMES` in a default run; MP-r²SCAN's count (:data:`N_FRAMES`), marked slow,
    for the timings.

    Returns:
        The store's folder and its frame count.
    """
    n_frames: int = request.param
    path = tmp_path_factory.mktemp("big") / "store"
    path.mkdir()
    n_atoms = n_frames * ATOMS_PER_FRAME
    rng = np.random.default_rng(0)
    arrays = {
        "atom_offsets": np.arange(n_frames + 1, dtype="int64") * ATOMS_PER_FRAME,
        "atomic_numbers": rng.integers(1, 95, n_atoms).astype("int16"),
        "frac_coords": rng.random((n_atoms, 3)),
        "lattice": np.tile(np.eye(3) * 5.0, (n_frames, 1, 1)),
        "r2scan.energy_per_atom": rng.normal(size=n_frames),
        "r2scan.forces": rng.normal(size=(n_atoms, 3)),
        "r2scan.stress": rng.normal(size=(n_frames, 3, 3)),
        "r2scan.magmoms": rng.random(n_atoms),
    }
    for name, values in arrays.items():
        values.tofile(path / f"{name}.bin")
    ids = "".join(f"mp-{i // 4}-{i % 4}\n" for i in range(n_frames))
    (path / "frame_ids.txt").write_text(ids)
    (path / "material_ids.txt").write_text("".join(f"mp-{i // 4}\n" for i in range(n_frames)))
    meta = {
        "store_format_version": STORE_FORMAT_VERSION,
        "n_frames": n_frames,
        "n_atoms": n_atoms,
        "fidelities": ["r2scan"],
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
    }
    (path / "meta.json").write_text(json.dumps(meta))
    return path, n_frames


def test_open_is_fast(benchmark, bench_store: tuple[Path, int]) -> None:
    path, n_frames = bench_store
    store = benchmark(FrameStore.open, path)
    assert len(store) == n_frames
    assert store.frame_ids[-1] == f"mp-{(n_frames - 1) // 4}-{(n_frames - 1) % 4}"


def test_random_access(benchmark, bench_store: tuple[Path, int]) -> None:
    path, n_frames = bench_store
    store = FrameStore.open(path)
    picks = np.random.default_rng(1).integers(0, n_frames, 256)

    def read() -> float:
        return sum(store.frame(int(i)).labels["r2scan"].energy_per_atom for i in picks)

    total = benchmark(read)
    expected = float(np.asarray(store.energies("r2scan"))[picks].sum())
    assert total == pytest.approx(expected)
