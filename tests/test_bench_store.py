"""Benchmarks of the frame store at MP-r²SCAN scale (238,247 frames).

Run the timings with ``pytest tests/test_bench_store.py --benchmark-enable``; by default
each body runs once as a plain test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfbench.data.store import STORE_FORMAT_VERSION, FrameStore

N_FRAMES, ATOMS_PER_FRAME = 238_247, 8


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store in the on-disk format with MP-r²SCAN's frame count (arrays written directly)."""
    path = tmp_path_factory.mktemp("big") / "store"
    path.mkdir()
    n_atoms = N_FRAMES * ATOMS_PER_FRAME
    rng = np.random.default_rng(0)
    arrays = {
        "atom_offsets": np.arange(N_FRAMES + 1, dtype="int64") * ATOMS_PER_FRAME,
        "atomic_numbers": rng.integers(1, 95, n_atoms).astype("int16"),
        "frac_coords": rng.random((n_atoms, 3)),
        "lattice": np.tile(np.eye(3) * 5.0, (N_FRAMES, 1, 1)),
        "r2scan.energy_per_atom": rng.normal(size=N_FRAMES),
        "r2scan.forces": rng.normal(size=(n_atoms, 3)),
        "r2scan.stress": rng.normal(size=(N_FRAMES, 3, 3)),
        "r2scan.magmoms": rng.random(n_atoms),
    }
    for name, values in arrays.items():
        values.tofile(path / f"{name}.bin")
    ids = "".join(f"mp-{i // 4}-{i % 4}\n" for i in range(N_FRAMES))
    (path / "frame_ids.txt").write_text(ids)
    (path / "material_ids.txt").write_text("".join(f"mp-{i // 4}\n" for i in range(N_FRAMES)))
    meta = {
        "store_format_version": STORE_FORMAT_VERSION,
        "n_frames": N_FRAMES,
        "n_atoms": n_atoms,
        "fidelities": ["r2scan"],
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
    }
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def test_open_is_fast(benchmark, big_store: Path) -> None:
    store = benchmark(FrameStore.open, big_store)
    assert len(store) == N_FRAMES
    assert store.frame_ids[-1] == f"mp-{(N_FRAMES - 1) // 4}-{(N_FRAMES - 1) % 4}"


def test_random_access(benchmark, big_store: Path) -> None:
    store = FrameStore.open(big_store)
    picks = np.random.default_rng(1).integers(0, N_FRAMES, 256)

    def read() -> float:
        return sum(store.frame(int(i)).labels["r2scan"].energy_per_atom for i in picks)

    total = benchmark(read)
    expected = float(np.asarray(store.energies("r2scan"))[picks].sum())
    assert total == pytest.approx(expected)
