"""The evaluation path end to end on a generated paired dataset, with an oracle predictor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymatgen.core import Structure

from mfbench.cli import main
from mfbench.data.labels import LabelTable
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.evaluation import EvaluationFrames, evaluate_predictor, score
from mfbench.metrics import lowest_energy_frames
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

from .factories import make_structure, write_nested

ELEMENTS = ["Li", "Na", "O", "S", "Fe", "Cu"]


def _record(structure: Structure, e_low: float, e_high: float, rng: np.random.Generator) -> dict:
    n = len(structure)

    def labels(e: float) -> dict:
        return {
            "energy_per_atom": e,
            "force": rng.normal(size=(n, 3)).tolist(),
            "stress": rng.normal(size=(3, 3)).tolist(),
            "magmom": rng.random(n).tolist(),
        }

    return {"structure": structure.as_dict(), "low": labels(e_low), "high": labels(e_high)}


@pytest.fixture
def paired_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TaskData:
    """60 materials (6 elemental + 54 binaries), 2 frames each, with a task over them."""
    rng = np.random.default_rng(7)
    reference = {el: -float(i + 2) for i, el in enumerate(ELEMENTS)}
    data: dict = {}
    materials = [[el] for el in ELEMENTS] + [
        [a, b] for i, a in enumerate(ELEMENTS) for b in ELEMENTS[i + 1 :]
    ] * 4
    for m, elements in enumerate(materials[:60]):
        base = float(np.mean([reference[e] for e in elements])) - 0.2 * (len(elements) > 1)
        data[f"m-{m}"] = {
            f"m-{m}-{k}": _record(
                make_structure(elements, seed=100 * m + k), base - 1.0, 1.5 * base + 0.1 * k, rng
            )
            for k in range(2)
        }
    source = write_nested(tmp_path / "paired.json", data)
    keys = {
        fid: {
            "energy": f"{fid}.energy_per_atom",
            "energy_kind": "per_atom",
            "forces": f"{fid}.force",
            "stress": f"{fid}.stress",
            "magmoms": f"{fid}.magmom",
        }
        for fid in ("low", "high")
    }
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        yaml.safe_dump(
            [
                {
                    "id": "paired",
                    "version": "1",
                    "title": "t",
                    "source": "user",
                    "format": "nested-json",
                    "options": {"fidelities": keys},
                    "fidelities": ["low", "high"],
                }
            ]
        )
    )
    monkeypatch.setenv("MFBENCH_REGISTRY", str(registry))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "paired-high.yaml").write_text(
        yaml.safe_dump(
            {
                "task": "paired-high",
                "version": 1,
                "description": "test",
                "dataset": {"id": "paired", "version": "1"},
                "target_fidelity": "high",
                "split": {"salt": "a", "train": 0.6, "val": 0.1, "test": 0.3},
                "fractions": {"salt": "b", "values": [0.0, 0.2, 1.0]},
                "budget": {"epochs": 1, "batch_size": 4},
                "citable": True,
                "metrics": [{"name": "energy_mae", "unit": "meV/atom"}],
                "changelog": [{"version": 1, "date": "2026-11-24", "change": "new"}],
            }
        )
    )
    monkeypatch.setenv("MFBENCH_TASKS", str(tasks))
    prepare(get_dataset("paired"), source)
    return TaskData.load(get_task("paired-high"))


class ShiftedOracle:
    """Predicts the stored labels plus a constant energy shift (eV/atom)."""

    name = "oracle"

    def __init__(self, data: TaskData, shift: float) -> None:
        self.data, self.shift = data, shift

    def predict(self, structures: Sequence[Structure], *, progress: bool = True) -> LabelTable:
        needed = EvaluationFrames.of(self.data).needed
        assert len(needed) == len(structures)
        table = self.data.store.labels("high", needed)
        return LabelTable(
            table.energy_per_atom + self.shift,
            table.forces,
            table.stress,
            table.magmoms,
            table.atom_offsets,
        )


def test_frames_to_predict_cover_test_and_lowest_frames(paired_task: TaskData) -> None:
    frames = EvaluationFrames.of(paired_task)
    assert set(frames.test) <= set(frames.needed)
    store = paired_task.store
    test_systems = {store.elements_of(int(i)) for i in frames.test}
    expected = {
        m for m in set(store.material_ids.tolist())
        if any(store.elements_of(int(np.flatnonzero(store.material_ids == m)[0])) <= t
               for t in test_systems)
    }  # fmt: skip
    assert set(frames.lowest) == expected
    energies = np.asarray(paired_task.store.energies("high"))
    for material, index in frames.lowest.items():
        mask = paired_task.store.material_ids == material
        assert energies[index] == energies[mask].min()


def test_exact_predictions_score_zero(paired_task: TaskData, tmp_path: Path) -> None:
    record = evaluate_predictor(
        paired_task,
        ShiftedOracle(paired_task, 0.0),
        predictions_path=tmp_path / "p.npz",
        progress=False,
    )
    metrics = record["metrics"]["all"]
    for key in (
        "energy_mae_mev_per_atom",
        "force_mae_mev_per_a",
        "stress_mae_gpa",
        "magmom_mae_mu_b",
        "formation_energy_mae_mev_per_atom",
        "decomposition_energy_mae_mev_per_atom",
    ):
        assert metrics[key] == pytest.approx(0.0, abs=1e-9), key
    assert metrics["n_frames"] == len(paired_task.split.indices("test"))
    assert record["predictions"]["sha256"] and (tmp_path / "p.npz").is_file()
    assert record["task"]["split_fingerprint"] == paired_task.split.fingerprints()["split"]


def test_uniform_shift_moves_energy_but_cancels_in_formation(paired_task: TaskData) -> None:
    # +25 meV/atom on every frame: energy MAE is 25; references and competing phases shift
    # by the same amount, so formation and decomposition energies are unchanged.
    frames = EvaluationFrames.of(paired_task)
    predicted = ShiftedOracle(paired_task, 0.025).predict(
        [None] * len(frames.needed)  # type: ignore[list-item]
    )
    result = score(paired_task, frames, predicted, fraction=1.0)
    metrics = result["metrics"]["all"]
    assert metrics["energy_mae_mev_per_atom"] == pytest.approx(25.0, abs=1e-9)
    assert metrics["energy_rmse_mev_per_atom"] == pytest.approx(25.0, abs=1e-9)
    assert metrics["formation_energy_mae_mev_per_atom"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["decomposition_energy_mae_mev_per_atom"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["force_mae_mev_per_a"] == pytest.approx(0.0)


def test_coverage_depends_on_the_training_fraction(paired_task: TaskData) -> None:
    frames = EvaluationFrames.of(paired_task)
    predicted = ShiftedOracle(paired_task, 0.0).predict([None] * len(frames.needed))  # type: ignore[list-item]
    zero_shot = score(paired_task, frames, predicted, fraction=0.0)["coverage"]
    assert zero_shot["covered_test_frames"] == 0 and zero_shot["train_elements"] == []
    small = score(paired_task, frames, predicted, fraction=0.2)
    train_elements = paired_task.elements_in(paired_task.split.train_fraction(0.2))
    expected = sum(paired_task.store.elements_of(int(i)) <= train_elements for i in frames.test)
    assert small["coverage"]["covered_test_frames"] == expected
    assert small["metrics"]["covered"]["n_frames"] == expected


def test_tasks_show_prints_sizes_and_fingerprints(
    paired_task: TaskData, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "show", "paired-high"]) == 0
    out = capsys.readouterr().out
    prints = paired_task.split.fingerprints()
    assert prints["test"] in out and prints["split"] in out
    assert f"{paired_task.split.sizes()['train']:>6}" in out
    assert "condition number" in out


def test_cli_reports_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "surogate-aflow"]) == 2
    assert "Did you mean 'surrogate-aflow'" in capsys.readouterr().err


def test_materials_outside_test_chemical_systems_change_no_metric() -> None:
    # On the embedded surrogate most materials share no chemical system with any test
    # material; leaving them out must give the same metrics as predicting every material.
    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    store = data.store
    frames = EvaluationFrames.of(data)
    every = lowest_energy_frames(store.material_ids.tolist(), np.asarray(store.energies("r2scan")))
    full = EvaluationFrames(
        frames.test, every, np.union1d(frames.test, np.fromiter(every.values(), dtype=np.int64))
    )
    assert len(frames.lowest) < len(every) / 2

    rng = np.random.default_rng(3)
    error = dict(zip(every, rng.normal(0.0, 0.05, len(every)), strict=True))  # eV/atom

    def noisy(selection: EvaluationFrames) -> LabelTable:
        table = store.labels("r2scan", selection.needed)
        shift = np.array([error[m] for m in store.material_ids[selection.needed]])
        return LabelTable(table.energy_per_atom + shift, table.forces, table.stress,
                          table.magmoms, table.atom_offsets)  # fmt: skip

    restricted = score(data, frames, noisy(frames), fraction=0.25)["metrics"]["all"]
    reference = score(data, full, noisy(full), fraction=0.25)["metrics"]["all"]
    assert restricted["formation_energy_mae_mev_per_atom"] > 10.0
    keys = ["energy_mae_mev_per_atom", "formation_energy_mae_mev_per_atom",
            "decomposition_energy_mae_mev_per_atom", "n_formation", "n_decomposition"]  # fmt: skip
    for key in keys:
        assert restricted[key] == pytest.approx(reference[key], rel=1e-12), key
