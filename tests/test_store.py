from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mfbench.data.frame import Frame, Labels
from mfbench.data.readers.nested_json import LabelKeys, iter_nested_json
from mfbench.data.store import FrameStore, StoreWriter
from mfbench.errors import DataError

from .factories import make_structure

KEYS = {"gga": LabelKeys("energy_per_atom", "per_atom", "force", "stress", "magmom")}


def _paired_frame(i: int, n: int, with_magmoms: bool = True) -> Frame:
    structure = make_structure(["Fe"] * n, seed=i)
    rng = np.random.default_rng(i)
    gga = Labels(
        -5.0 - i,
        rng.normal(size=(n, 3)),
        rng.normal(size=(3, 3)),
        rng.random(n) if with_magmoms else None,
    )
    r2scan = Labels(-10.0 - i, rng.normal(size=(n, 3)), None, None)
    return Frame(f"f{i}", f"m{i // 2}", structure, {"gga": gga, "r2scan": r2scan})


def test_round_trip_keeps_structures_and_labels(tmp_path: Path) -> None:
    frames = [_paired_frame(i, n) for i, n in enumerate([1, 3, 2, 4])]
    frames[2] = _paired_frame(2, 2, with_magmoms=False)
    with StoreWriter(tmp_path / "store", ["gga", "r2scan"]) as writer:
        writer.add_all(frames)
        writer.commit({"note": "test"})
    store = FrameStore.open(tmp_path / "store")
    assert len(store) == 4
    assert store.frame_ids.tolist() == ["f0", "f1", "f2", "f3"]
    assert store.material_ids.tolist() == ["m0", "m0", "m1", "m1"]
    assert store.atom_offsets.tolist() == [0, 1, 4, 6, 10]
    for original in frames:
        i = int(original.frame_id[1:])
        got = store.frame(i)
        assert got.structure == original.structure
        np.testing.assert_array_equal(got.structure.frac_coords, original.structure.frac_coords)
        for fidelity in ("gga", "r2scan"):
            want, have = original.labels[fidelity], got.labels[fidelity]
            assert have.energy_per_atom == want.energy_per_atom
            np.testing.assert_array_equal(have.forces, want.forces)
            for name in ("stress", "magmoms"):
                if getattr(want, name) is None:
                    assert getattr(have, name) is None
                else:
                    np.testing.assert_array_equal(getattr(have, name), getattr(want, name))
    table = store.labels("gga", [3, 1])
    assert table.atom_offsets.tolist() == [0, 4, 7]
    np.testing.assert_array_equal(table.forces[:4], frames[3].labels["gga"].forces)
    assert table.energy_per_atom.tolist() == [-8.0, -6.0]
    assert store.atomic_numbers_of([3, 1]).tolist() == [26] * 7


def test_reading_a_nested_file_into_a_store(small_mptrj: Path, tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "s", ["gga"]) as writer:
        writer.add_all(iter_nested_json(small_mptrj, fidelities=KEYS))
        writer.commit({})
    store = FrameStore.open(tmp_path / "s")
    assert store.energies("gga").tolist() == pytest.approx([-4.0, -3.9, -6.5, -5.4, -5.3])
    assert store.composition(2).reduced_formula == "Fe2O"
    assert store.elements_of(0) == {3, 8}


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    def frames():
        yield _paired_frame(0, 2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), StoreWriter(tmp_path / "store", ["gga", "r2scan"]) as w:
        w.add_all(frames())
        w.commit({})
    assert os.listdir(tmp_path) == []


def test_failed_rewrite_keeps_the_old_store(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "store", ["gga", "r2scan"]) as writer:
        writer.add(_paired_frame(0, 2))
        writer.commit({})
    with (
        pytest.raises(DataError),
        StoreWriter(tmp_path / "store", ["gga", "r2scan"], overwrite=True) as writer,
    ):
        writer.add(_paired_frame(1, 2))
        writer.add(Frame("x", "y", make_structure(["O"]), {"gga": Labels(-1.0)}))  # no r2scan
    assert FrameStore.open(tmp_path / "store").frame_ids.tolist() == ["f0"]
    assert os.listdir(tmp_path) == ["store"]


def test_existing_store_is_not_overwritten_by_default(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    with pytest.raises(FileExistsError):
        StoreWriter(tmp_path / "store", ["gga"])


def test_corrupt_array_is_detected(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "store", ["gga", "r2scan"]) as writer:
        writer.add(_paired_frame(0, 3))
        writer.commit({})
    forces = tmp_path / "store" / "gga.forces.bin"
    forces.write_bytes(forces.read_bytes()[:-8])
    with pytest.raises(DataError, match=r"gga\.forces\.bin.*wrong size"):
        FrameStore.open(tmp_path / "store")


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no meta\.json"):
        FrameStore.open(tmp_path)


def test_unknown_fidelity_is_an_error(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "store", ["gga", "r2scan"]) as writer:
        writer.add(_paired_frame(0, 1))
        writer.commit({})
    with pytest.raises(DataError, match="'pbe' is not in this store"):
        FrameStore.open(tmp_path / "store").labels("pbe", [0])
