"""The on-disk CHGNet graph cache: equal to a fresh conversion, reused, repaired, parallel."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from chgnet.graph.converter import CrystalGraphConverter
from pymatgen.core import Lattice, Structure

from mfbench.data.frame import Frame, Labels
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.data.store import FrameStore, StoreWriter
from mfbench.errors import DataError
from mfbench.models.chgnet.graph_cache import (
    FIELDS,
    ConverterSettings,
    GraphCache,
    GraphConversionError,
    GraphDataset,
    build,
    identity,
)

from .factories import make_structure


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FrameStore:
    """The embedded surrogate dataset (1868 frames), prepared once for this module."""
    home = tmp_path_factory.mktemp("graph-cache-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(home))
        report = prepare(get_dataset("surrogate-aflow"))
    return FrameStore.open(Path(report.store))


@pytest.fixture(scope="module")
def converter() -> CrystalGraphConverter:
    return CrystalGraphConverter()  # CHGNet 0.3.0's settings: 6 Å / 3 Å, fast, error


def spread(store: FrameStore, n: int) -> FrameSet:
    """``n`` frames spread over the whole store (different prototypes and sizes)."""
    indices = np.linspace(0, len(store) - 1, n).round().astype(np.int64)
    return FrameSet(store, indices, "r2scan")


def fresh(converter: CrystalGraphConverter, store: FrameStore, index: int) -> Any:
    frame_id = str(store.frame_ids[index])
    return converter(store.structure(index), graph_id=frame_id, mp_id=frame_id)


def assert_same_graph(got: Any, expected: Any) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        assert torch.equal(a, b), name
        assert a.requires_grad == b.requires_grad, name
    assert got.atom_graph_cutoff == expected.atom_graph_cutoff
    assert got.bond_graph_cutoff == expected.bond_graph_cutoff
    assert got.composition == expected.composition
    assert (got.graph_id, got.mp_id) == (expected.graph_id, expected.mp_id)


def test_graphs_equal_a_fresh_conversion(store, converter, tmp_path: Path) -> None:
    frames = spread(store, 40)
    cache = GraphCache.build(frames, converter, root=tmp_path)
    assert cache.report.n_converted == 40
    assert cache.report.n_reused == 0
    assert len(cache) == 40
    for index in frames.indices:
        assert_same_graph(cache.get(int(index)), fresh(converter, store, int(index)))
    frame_id = str(frames.frame_ids[3])
    assert frame_id in cache
    assert_same_graph(cache.get(frame_id), fresh(converter, store, int(frames.indices[3])))
    listed = cache.graphs(frames.indices[:5])
    for graph, index in zip(listed, frames.indices[:5], strict=True):
        assert_same_graph(graph, fresh(converter, store, int(index)))
    # the frames of a frame set are converted, not the whole store
    other = next(i for i in range(len(store)) if i not in set(frames.indices.tolist()))
    assert other not in cache
    with pytest.raises(DataError, match="not in the graph cache"):
        cache.get(other)


def test_default_root_is_under_mfbench_home(store, converter, isolated_home: Path) -> None:
    cache = GraphCache.build(spread(store, 2), converter)
    assert cache.directory.parent == isolated_home / "graphs" / "surrogate-aflow-v1"
    assert cache.directory.name.startswith("6A-3A-fast-")


def test_two_workers_build_what_one_builds(store, converter, tmp_path: Path) -> None:
    frames = spread(store, 96)
    one = GraphCache.build(frames, converter, workers=1, root=tmp_path / "one")
    two = GraphCache.build(frames, converter, workers=2, root=tmp_path / "two")
    assert two.report.workers == 2
    assert len(two.shard_names) == 3  # 96 frames in chunks of at least 32
    assert len(one.shard_names) == 1
    for index in frames.indices:
        assert_same_graph(two.get(int(index)), one.get(int(index)))


def test_a_second_build_reuses_everything(store, converter, tmp_path: Path, monkeypatch) -> None:
    frames = spread(store, 48)
    first = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    files = sorted(first.directory.iterdir())
    stamps = [f.stat().st_mtime_ns for f in files]

    def no_conversion(*args: Any) -> None:
        raise AssertionError("a complete cache converted a frame")

    monkeypatch.setattr(build, "build_shard", no_conversion)
    again = GraphCache.build(frames, converter, root=tmp_path, workers=2)
    assert (again.report.n_reused, again.report.n_converted) == (48, 0)
    assert (again.report.shards_written, again.report.shards_discarded) == (0, 0)
    assert sorted(again.directory.iterdir()) == files
    assert [f.stat().st_mtime_ns for f in files] == stamps
    # a subset of built frames is a no-op too
    part = GraphCache.build(
        FrameSet(store, frames.indices[::5], "r2scan"), converter, root=tmp_path
    )
    assert part.report.n_converted == 0


@pytest.mark.parametrize("damage", ["flip-record", "flip-header", "truncate", "delete"])
def test_damaged_shard_is_detected_and_rebuilt(
    store, converter, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    frames = spread(store, 48)
    cache = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    path = cache.directory / cache.shard_names[1]
    data = bytearray(path.read_bytes())
    records = int(cache._shards[1].offsets[-1])
    if damage == "flip-record":
        data[records // 2] ^= 0xFF
    elif damage == "flip-header":
        data[records + 40] ^= 0x01
    elif damage == "truncate":
        del data[len(data) // 2 :]
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="mfbench.models.chgnet.graph_cache"):
        repaired = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    assert ("missing" if damage == "delete" else "corrupt") in caplog.text
    assert repaired.report.shards_discarded == 1
    assert (repaired.report.n_reused, repaired.report.n_converted) == (32, 16)
    for index in frames.indices:
        assert_same_graph(repaired.get(int(index)), fresh(converter, store, int(index)))


def test_a_record_failing_its_checksum_is_converted_afresh(
    store, converter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = spread(store, 8)
    cache = GraphCache.build(frames, converter, root=tmp_path)
    shard = cache._shards[0]
    path = cache.directory / shard.name
    data = bytearray(path.read_bytes())
    data[int(shard.offsets[2]) + 100] ^= 0xFF  # a byte of frame 2's tensors
    path.write_bytes(bytes(data))
    index = int(frames.indices[2])
    with caplog.at_level(logging.WARNING, logger="mfbench.models.chgnet.graph_cache"):
        graph = cache.get(index)
    assert "fails its checksum" in caplog.text
    assert_same_graph(graph, fresh(converter, store, index))
    # without the full check the shard stays, but the bad record is never used either
    unverified = GraphCache.build(frames, converter, root=tmp_path, verify=False)
    assert unverified.report.n_converted == 0
    assert_same_graph(unverified.get(index), fresh(converter, store, index))
    assert GraphCache.build(frames, converter, root=tmp_path).report.n_converted == 8
    # a shard removed under a reader (another build discarded it): converted afresh, too
    cache.close()
    path.unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mfbench.models.chgnet.graph_cache"):
        graph = cache.get(index)
    assert "cannot be read" in caplog.text
    assert_same_graph(graph, fresh(converter, store, index))


def test_other_cutoff_is_another_cache(store, converter, tmp_path: Path) -> None:
    frames = spread(store, 8)
    default = GraphCache.build(frames, converter, root=tmp_path)
    short = CrystalGraphConverter(atom_graph_cutoff=5, bond_graph_cutoff=2.5)
    other = GraphCache.build(frames, short, root=tmp_path)
    assert other.directory != default.directory
    assert other.directory.name.startswith("5A-2.5A-fast-")
    assert other.report.n_converted == 8
    index = int(frames.indices[5])
    assert_same_graph(other.get(index), fresh(short, store, index))
    assert other.get(index).atom_graph.shape != default.get(index).atom_graph.shape
    # both stay usable
    assert GraphCache.build(frames, converter, root=tmp_path).report.n_converted == 0
    # the settings come from a CHGNet model's converter too
    model = SimpleNamespace(graph_converter=short)
    assert ConverterSettings.from_converter(model) == other.settings


@pytest.mark.parametrize("change", ["chgnet-version", "dataset-prepared-again"])
def test_stale_shards_are_rebuilt_with_a_warning(
    store, converter, tmp_path: Path, monkeypatch, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    frames = spread(store, 32)
    first = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    if change == "chgnet-version":
        versions = identity.library_versions()
        monkeypatch.setattr(identity, "library_versions", lambda: {**versions, "chgnet": "0.0.1"})
    else:
        store = dataclasses.replace(store, meta={**store.meta, "created_utc": "2030-01-01"})
        frames = FrameSet(store, frames.indices, "r2scan")
    with caplog.at_level(logging.WARNING, logger="mfbench.models.chgnet.graph_cache"):
        again = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    assert again.directory == first.directory
    assert "2 stale shard(s)" in caplog.text
    assert ("chgnet" if change == "chgnet-version" else "created_utc") in caplog.text
    assert (again.report.shards_discarded, again.report.n_converted) == (2, 32)
    assert set(again.shard_names).isdisjoint(first.shard_names)


def _labels(n: int) -> Labels:
    return Labels(-3.0, np.zeros((n, 3)), np.zeros((3, 3)), np.full(n, 0.5))


@pytest.fixture
def store_with_lonely_atoms(tmp_path: Path) -> FrameStore:
    """Four frames: two ordinary cells and two single atoms 20 Å from their images."""
    structures = {
        "ok-0": make_structure(["Li", "O"], seed=1),
        "lonely-1": Structure(Lattice.cubic(20.0), ["Fe"], [[0, 0, 0]]),
        "ok-2": make_structure(["Si", "Si"], seed=2),
        "lonely-3": Structure(Lattice.cubic(25.0), ["Cu"], [[0.5, 0.5, 0.5]]),
    }
    with StoreWriter(tmp_path / "lonely", ["r2scan"]) as writer:
        for frame_id, structure in structures.items():
            frame = Frame(frame_id, f"m-{frame_id}", structure, {"r2scan": _labels(len(structure))})
            writer.add(frame)
        writer.commit({})
    return FrameStore.open(tmp_path / "lonely")


def test_unconvertible_frames_are_named_and_never_substituted(
    store_with_lonely_atoms: FrameStore, converter, tmp_path: Path
) -> None:
    store = store_with_lonely_atoms
    with pytest.raises(GraphConversionError) as info:
        GraphCache.build(store, converter, root=tmp_path / "cache")
    error = info.value
    assert set(error.failed) == {"lonely-1", "lonely-3"}
    assert "isolated atom" in error.failed["lonely-1"]
    assert "lonely-1" in str(error) and "lonely-3" in str(error)
    assert isinstance(error, DataError)
    cache = error.cache
    assert len(cache) == 2
    assert_same_graph(cache.get("ok-2"), fresh(converter, store, 2))
    with pytest.raises(DataError, match=r"lonely-1.*isolated atom"):
        cache.get("lonely-1")
    with pytest.raises(DataError, match="lonely-3"):
        GraphDataset(cache, FrameSet(store, np.arange(4), "r2scan"))
    assert len(GraphDataset(cache, FrameSet(store, np.array([0, 2]), "r2scan"))) == 2
    # the failures are remembered: reported again without converting again
    again = GraphCache.build(store, converter, root=tmp_path / "cache", on_failed="report")
    assert (again.report.n_converted, again.report.n_failed) == (0, 2)
    assert set(again.report.failed) == {"lonely-1", "lonely-3"}
    # a frame set without them builds cleanly
    good = GraphCache.build(FrameSet(store, np.array([0, 2]), "r2scan"), converter, root=tmp_path)
    assert good.report.n_failed == 0


def test_an_interrupted_build_keeps_its_shards(
    store, converter, tmp_path: Path, monkeypatch
) -> None:
    frames = spread(store, 48)
    real = build.build_shard
    calls = []

    def interrupted(*args: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(build, "build_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    monkeypatch.setattr(build, "build_shard", real)
    resumed = GraphCache.build(frames, converter, root=tmp_path, shard_size=16)
    assert (resumed.report.n_reused, resumed.report.n_converted) == (16, 32)
    assert not list(resumed.directory.glob(".*.tmp"))


def _assert_same_batches(got: Any, expected: Any) -> None:
    n = 0
    for (graphs, targets), (ref_graphs, ref_targets) in zip(got, expected, strict=True):
        n += 1
        assert len(graphs) == len(ref_graphs)
        for graph, ref in zip(graphs, ref_graphs, strict=True):
            assert_same_graph(graph, ref)
        assert torch.equal(targets["e"], ref_targets["e"])
        for key in ("f", "s", "m"):
            for value, ref in zip(targets[key], ref_targets[key], strict=True):
                assert (value is None and ref is None) or torch.equal(value, ref)
    assert n > 1


def _converting_loader(converter: Any, frames: FrameSet, batch_size: int, seed: int) -> Any:
    """The data path without a cache: convert each structure when its batch is drawn."""
    from chgnet.data.dataset import collate_graphs

    table, structures = frames.labels(), frames.structures()
    ids, offsets = frames.frame_ids.tolist(), frames.labels().atom_offsets

    class Converting(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(structures)

        def __getitem__(self, i: int) -> tuple[Any, dict[str, Any]]:
            atoms = slice(int(offsets[i]), int(offsets[i + 1]))
            magmoms = table.magmoms[atoms]
            targets = {
                "e": torch.tensor(table.energy_per_atom[i], dtype=torch.float32),
                "f": torch.tensor(table.forces[atoms], dtype=torch.float32),
                "s": torch.tensor(table.stress[i], dtype=torch.float32),
                "m": None
                if np.isnan(magmoms).any()
                else torch.tensor(magmoms, dtype=torch.float32),
            }
            return converter(structures[i], graph_id=i, mp_id=ids[i]), targets

    return torch.utils.data.DataLoader(
        Converting(), batch_size=batch_size, shuffle=True, collate_fn=collate_graphs,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip


def test_loader_yields_what_converting_on_the_fly_yields(
    store, converter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines.finetune import graph_loader

    frames = spread(store, 20)
    cache = GraphCache.build(frames, converter, root=tmp_path)
    reference = list(_converting_loader(converter, frames, 8, seed=3))
    # the baselines' loader reads the cache under $MFBENCH_HOME/graphs
    monkeypatch.setenv("MFBENCH_HOME", str(tmp_path / "home"))
    model = SimpleNamespace(graph_converter=converter)
    _assert_same_batches(graph_loader(model, frames, 8, shuffle=True, seed=3), reference)
    _assert_same_batches(cache.loader(frames, 8, shuffle=True, seed=3), reference)
    workers = cache.loader(frames, 8, shuffle=True, seed=3, num_workers=2, pin_memory=False)
    _assert_same_batches(workers, reference)


def test_misuse_is_refused(store, converter, store_with_lonely_atoms, tmp_path: Path) -> None:
    frames = spread(store, 4)
    with pytest.raises(ValueError, match="workers"):
        GraphCache.build(frames, converter, workers=0, root=tmp_path)
    with pytest.raises(TypeError, match="CrystalGraphConverter"):
        GraphCache.build(frames, object(), root=tmp_path)
    cache = GraphCache.build(frames, converter, root=tmp_path)
    with pytest.raises(IndexError):
        cache.get(len(store))
    with pytest.raises(KeyError):
        cache.get("no-such-frame")
    with pytest.raises(DataError, match="another preparation"):
        GraphDataset(cache, FrameSet(store_with_lonely_atoms, np.array([0]), "r2scan"))


@pytest.mark.slow
def test_spawned_workers_build_and_read_the_same_graphs(store, converter, tmp_path: Path) -> None:
    frames = spread(store, 96)
    spawned = GraphCache.build(
        frames, converter, workers=2, root=tmp_path / "spawn", start_method="spawn"
    )
    assert spawned.report.workers == 2
    one = GraphCache.build(frames, converter, root=tmp_path / "one")
    for index in frames.indices:
        assert_same_graph(spawned.get(int(index)), one.get(int(index)))
    from chgnet.data.dataset import collate_graphs

    dataset = spawned.dataset(frames)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=16, collate_fn=collate_graphs, num_workers=2,
        multiprocessing_context="spawn",
    )  # fmt: skip
    _assert_same_batches(loader, one.loader(frames, 16, shuffle=False, seed=0))
