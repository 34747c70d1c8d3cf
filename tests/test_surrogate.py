"""The embedded surrogate dataset: its generator and the shipped file.

The fast tests check :func:`build_structures` (no CHGNet) and that the shipped file matches
what it builds. The slow test relabels the first materials with both CHGNet models and
compares with the shipped labels within the tolerances the module documents.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mfbench.data import surrogate
from mfbench.data.checksum import sha256_file
from mfbench.data.frame import MAX_Z
from mfbench.data.registry import get_dataset
from mfbench.paths import EMBEDDED_DIR

SHIPPED = EMBEDDED_DIR / "surrogate-aflow-v1.json.gz"
#: Every pool element appears in at least this many distinct materials (19 at the pinned seed).
MIN_MATERIALS_PER_ELEMENT = 15
FRAME_RANGE = (1500, 2000)
#: Elements the elemental-reference lists of other tasks name; all must be in the pool.
REFERENCE_ELEMENTS = {"H", "Li", "O", "Si", "Fe", "Cu", "Zr", "Ag", "La", "W", "Pb", "U"}
#: Relabelling tolerances: float32 CHGNet on another CPU or torch build may differ in the
#: last digits; on the machine that wrote the file the labels repeat bit for bit.
TOLERANCE = {"energy_per_atom": 1e-5, "force": 1e-4, "stress": 1e-2, "magmom": 1e-4}


@cache
def _built() -> tuple[surrogate.SurrogateMaterial, ...]:
    return tuple(surrogate.build_structures())


@cache
def _shipped() -> dict[str, dict[str, Any]]:
    with gzip.open(SHIPPED, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _fingerprint(materials: list[surrogate.SurrogateMaterial]) -> list[tuple]:
    return [
        (
            m.material_id,
            m.prototype,
            m.origin,
            f.frame_id,
            f.perturbation,
            tuple(site.specie.symbol for site in f.structure),
            f.structure.lattice.matrix.tobytes(),
            f.structure.frac_coords.tobytes(),
        )
        for m in materials
        for f in m.frames
    ]


@pytest.mark.slow
def test_build_structures_is_deterministic() -> None:
    assert _fingerprint(surrogate.build_structures()) == _fingerprint(list(_built()))


@pytest.mark.slow
def test_build_structures_depends_on_seed() -> None:
    other = surrogate.build_structures(seed=1)
    assert _fingerprint(other) != _fingerprint(list(_built()))


def test_frames_are_small_ordered_and_supported() -> None:
    materials = _built()
    frames = [f for m in materials for f in m.frames]
    assert FRAME_RANGE[0] <= len(frames) <= FRAME_RANGE[1]
    assert len({m.material_id for m in materials}) == len(materials)
    assert len({f.frame_id for f in frames}) == len(frames)
    for m in materials:
        assert m.origin in {"original", "substituted", "elemental"}
        assert m.frames[0].frame_id == f"{m.material_id}-0"
        assert m.frames[0].perturbation == "equilibrium"
        for f in m.frames:
            assert f.perturbation in {"equilibrium", "strain", "rattle"}
            assert f.frame_id.startswith(f"{m.material_id}-")
            assert 1 <= len(f.structure) <= surrogate.MAX_ATOMS
            assert f.structure.is_ordered
            assert all(1 <= el.Z <= MAX_Z for el in f.structure.composition)
            if m.origin != "original":  # originals keep the library's cell
                volume_per_atom = f.structure.volume / len(f.structure)
                assert volume_per_atom >= surrogate.MIN_VOLUME_PER_ATOM * 0.9


def test_material_ids_are_sequential() -> None:
    ids = [m.material_id for m in _built()]
    assert ids == [f"sur-{k:04d}" for k in range(1, len(ids) + 1)]


def test_every_pool_element_is_in_many_materials() -> None:
    materials = list(_built())
    counts = surrogate.materials_per_element(materials)
    assert set(surrogate.POOL) >= REFERENCE_ELEMENTS
    for symbol in surrogate.POOL:
        assert counts.get(symbol, 0) >= MIN_MATERIALS_PER_ELEMENT, symbol
    # one elemental crystal per pool element
    elemental = Counter(
        m.frames[0].structure.composition.elements[0].symbol
        for m in materials
        if m.origin == "elemental"
    )
    assert elemental == Counter(surrogate.POOL)


def test_substituted_material_repeats_no_element() -> None:
    for m in _built():
        if m.origin == "substituted":
            s = m.frames[0].structure
            assert len(s.composition) == len({site.specie.symbol for site in s})


def test_shipped_file_matches_build_structures() -> None:
    data = _shipped()
    materials = _built()
    assert list(data) == [m.material_id for m in materials]
    for m in materials:
        record = data[m.material_id]
        assert list(record) == [f.frame_id for f in m.frames]
        for f in m.frames:
            frame = record[f.frame_id]
            assert frame["prototype"] == m.prototype
            assert frame["origin"] == m.origin
            assert frame["perturbation"] == f.perturbation
            symbols = [site["species"][0]["element"] for site in frame["structure"]["sites"]]
            assert symbols == [site.specie.symbol for site in f.structure]
            # to the last bits: lattice construction rounds differently across numpy and
            # pymatgen releases (seen: 1 ulp)
            np.testing.assert_allclose(
                frame["structure"]["lattice"]["matrix"], f.structure.lattice.matrix,
                rtol=1e-12, atol=1e-12,
            )  # fmt: skip


def test_registry_pins_the_shipped_file() -> None:
    entry = get_dataset("surrogate-aflow")
    assert entry.embedded_path() == SHIPPED
    assert sha256_file(SHIPPED) == entry.sha256
    assert sum(len(frames) for frames in _shipped().values()) == entry.n_frames


def test_shipped_labels_have_the_mptrj_layout() -> None:
    data = _shipped()
    for record in data.values():
        for frame in record.values():
            n_atoms = len(frame["structure"]["sites"])
            for fidelity in ("gga", "r2scan"):
                labels = frame[fidelity]
                assert set(labels) == {"energy_per_atom", "force", "stress", "magmom"}
                assert np.isfinite(labels["energy_per_atom"])
                assert np.shape(labels["force"]) == (n_atoms, 3)
                assert np.shape(labels["stress"]) == (3, 3)
                assert np.shape(labels["magmom"]) == (n_atoms,)
                assert np.all(np.isfinite(labels["force"]))
                assert np.all(np.isfinite(labels["stress"]))


def _assert_same_structure(new: dict[str, Any], old: dict[str, Any], frame_id: str) -> None:
    """Same species; lattice and coordinates equal up to rounding (1 ulp across releases)."""
    assert [site["species"] for site in new["sites"]] == [
        site["species"] for site in old["sites"]
    ], frame_id
    np.testing.assert_allclose(
        new["lattice"]["matrix"], old["lattice"]["matrix"], rtol=1e-12, atol=1e-12,
        err_msg=frame_id,
    )  # fmt: skip
    np.testing.assert_allclose(
        [site["abc"] for site in new["sites"]], [site["abc"] for site in old["sites"]],
        rtol=1e-12, atol=1e-12, err_msg=frame_id,
    )  # fmt: skip


def _compare_labels(fresh: dict[str, Any], shipped: dict[str, Any]) -> None:
    assert list(fresh) == list(shipped)
    for material_id, record in fresh.items():
        assert list(record) == list(shipped[material_id])
        for frame_id, frame in record.items():
            old = shipped[material_id][frame_id]
            _assert_same_structure(frame["structure"], old["structure"], frame_id)
            for fidelity in ("gga", "r2scan"):
                for key, tol in TOLERANCE.items():
                    np.testing.assert_allclose(
                        frame[fidelity][key],
                        old[fidelity][key],
                        rtol=0,
                        atol=tol,
                        err_msg=f"{frame_id} {fidelity} {key}",
                    )


@pytest.mark.slow
def test_regenerated_labels_match_shipped(tmp_path: Path) -> None:
    n_materials = 10
    report = surrogate.generate(tmp_path / "head.json.gz", limit_materials=n_materials)
    assert report.n_materials == n_materials
    with gzip.open(report.path, "rt", encoding="utf-8") as handle:
        fresh = json.load(handle)
    shipped = dict(list(_shipped().items())[:n_materials])
    _compare_labels(fresh, shipped)
