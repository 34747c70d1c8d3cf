"""The embedded dataset v2: its plan, its filters, and its regeneration from SevenNet-MF-0."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mfbench.data import surrogate_teacher as teacher
from mfbench.data.checksum import sha256_file
from mfbench.data.registry import get_dataset

SHIPPED = get_dataset("surrogate-sevennet")


def _shipped() -> dict[str, dict[str, dict]]:
    with gzip.open(SHIPPED.embedded_path()) as handle:
        return json.load(handle)


def _report() -> dict:
    return json.loads(
        SHIPPED.embedded_path().with_name("surrogate-sevennet-v2.report.json").read_text()
    )


def test_the_shipped_file_is_the_pinned_one_and_its_report_matches() -> None:
    assert sha256_file(SHIPPED.embedded_path()) == SHIPPED.sha256
    report = _report()
    assert report["sha256"] == SHIPPED.sha256
    payload = _shipped()
    n_frames = sum(len(block) for block in payload.values())
    assert n_frames == SHIPPED.n_frames == report["n_frames"]
    assert len(payload) == report["n_materials"]
    # small enough to ship
    assert SHIPPED.embedded_path().stat().st_size < 5_000_000


def test_shipped_frames_are_physical_and_trajectory_like() -> None:
    payload = _shipped()
    kinds: dict[str, int] = {}
    for material_id, block in payload.items():
        relax_steps = [fid for fid in block if "-relax" in fid]
        assert relax_steps, f"{material_id} has no relaxation frame"
        for frame_id, frame in block.items():
            kinds[frame["perturbation"]] = kinds.get(frame["perturbation"], 0) + 1
            structure = Structure.from_dict(frame["structure"])
            assert teacher._too_close(structure) is None, frame_id
            for fidelity in ("gga", "r2scan"):
                forces = np.asarray(frame[fidelity]["force"])
                assert forces.shape == (len(structure), 3)
                assert np.abs(forces).max() <= teacher.MAX_FORCE, frame_id
    # relaxation steps outnumber the perturbed copies: intermediate steps are kept
    assert kinds["relax"] > kinds["strain"] + kinds["rattle"]
    assert set(kinds) == {"relax", "strain", "rattle"}


def test_the_plan_is_deterministic_and_uses_only_pool_elements() -> None:
    first, second = teacher.plan_materials(), teacher.plan_materials()
    assert [p.material_id for p in first] == [p.material_id for p in second]
    assert all(a.structure == b.structure for a, b in zip(first, second, strict=True))
    elements = {el.symbol for plan in first for el in plan.structure.composition}
    assert elements <= set(teacher.POOL)
    assert all(len(plan.structure) <= teacher.MAX_ATOMS for plan in first)


def test_trajectory_frames_are_first_last_and_evenly_spaced() -> None:
    assert teacher._trajectory_indices(1) == [0]
    assert teacher._trajectory_indices(2) == [0, 1]
    assert teacher._trajectory_indices(41) == [0, 13, 27, 40]


def test_atoms_too_close_are_caught() -> None:
    lattice = Lattice.cubic(6.0)
    apart = Structure(lattice, ["Fe", "O"], [[0, 0, 0], [0.33, 0, 0]])  # 1.98 Å
    close = Structure(lattice, ["Fe", "O"], [[0, 0, 0], [0.1, 0, 0]])  # 0.6 Å
    assert teacher._too_close(apart) is None
    ratio = teacher._too_close(close)
    assert ratio is not None and ratio < teacher.MIN_DISTANCE_RATIO


@pytest.mark.slow
def test_regeneration_reproduces_the_first_materials(tmp_path: Path) -> None:
    """Regenerating the first 6 materials agrees with the shipped file within the tolerances."""
    pytest.importorskip("sevenn")
    out = tmp_path / "v2.json.gz"
    teacher.generate(out, limit_materials=6, workers=1, check_gga=False)
    with gzip.open(out) as handle:
        regenerated = json.load(handle)
    shipped = _shipped()
    tolerance = teacher.REGENERATION_TOLERANCE
    assert regenerated, "nothing regenerated"
    for material_id, block in regenerated.items():
        assert set(block) == set(shipped[material_id]), material_id
        for frame_id, frame in block.items():
            expected = shipped[material_id][frame_id]
            got_pos = np.array([s["xyz"] for s in frame["structure"]["sites"]])
            want_pos = np.array([s["xyz"] for s in expected["structure"]["sites"]])
            assert np.abs(got_pos - want_pos).max() <= tolerance["positions_angstrom"], frame_id
            for fidelity in ("gga", "r2scan"):
                got, want = frame[fidelity], expected[fidelity]
                assert (
                    abs(got["energy_per_atom"] - want["energy_per_atom"])
                    <= tolerance["energy_ev_per_atom"]
                )
                assert (
                    np.abs(np.subtract(got["force"], want["force"])).max()
                    <= tolerance["force_ev_per_angstrom"]
                )
                assert (
                    np.abs(np.subtract(got["stress"], want["stress"])).max()
                    <= tolerance["stress_kbar"]
                )


def test_the_teacher_reference_row_reproduces_its_labels_and_is_never_ranked() -> None:
    """sevennet-pretrained predicts the shipped r2scan labels; its committed runs are flagged."""
    pytest.importorskip("sevenn")
    from baselines.sevennet import SevenNetPretrained
    from mfbench.methods import FitContext
    from mfbench.results.compliance import non_compliance

    frames = [frame for block in list(_shipped().values())[:2] for frame in block.values()][:4]
    method = SevenNetPretrained().fit(None, None, FitContext())  # type: ignore[arg-type]
    predicted = method.predict([Structure.from_dict(f["structure"]) for f in frames])
    labels = [f["r2scan"]["energy_per_atom"] for f in frames]
    np.testing.assert_allclose(predicted.energy_per_atom, labels, atol=1e-5)
    assert np.isnan(predicted.magmoms).all()
    results = Path(__file__).parents[1] / "leaderboard" / "results" / "reference-models"
    records = sorted(results.glob("sevennet-r2scan-quick/v1/sevennet-pretrained/*/*/result.json"))
    assert records
    for path in records:
        flag = non_compliance(json.loads(path.read_text()))
        assert flag is not None and "r2scan" in flag.reason
