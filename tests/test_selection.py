"""Hyperparameter selection on the validation split: the task's grid, the choice, the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

import numpy as np
import pytest
import yaml

from mfbench.cli import main
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.methods import FitContext, FitDivergedError
from mfbench.paths import tasks_dir
from mfbench.results.record import params_hash, protocol_params_hash
from mfbench.runner.selection import applicable_grid, grid_points

from .test_runner import CompositionOnly

#: Energies of this method are off by |log10(learning_rate / BEST)| × OFFSET_PER_DECADE eV/atom.
BEST = 1e-3
OFFSET_PER_DECADE = 50.0


class OffsetByRate(CompositionOnly):
    """Composition-only energies shifted by 50 eV/atom per decade ``learning_rate`` is off 1e-3.

    A rate of 0.05 or more "diverges", as a too-large step makes a real fit go NaN.
    """

    name = "offset-by-rate"

    def __init__(self, learning_rate: float = 1e-2, fallback: float = -5.0) -> None:
        self.learning_rate = learning_rate
        self.fallback = fallback

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        if self.learning_rate >= 0.05:
            raise FitDivergedError(f"loss is NaN at learning rate {self.learning_rate}")
        self.steps_run_ = 3
        return super().fit(train, val, context)

    def predict(self, structures: list) -> LabelTable:  # type: ignore[override]
        table = super().predict(structures)
        shift = abs(np.log10(self.learning_rate / BEST)) * OFFSET_PER_DECADE
        return LabelTable(table.energy_per_atom + shift, table.forces, table.stress,
                          table.magmoms, table.atom_offsets)  # fmt: skip

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        method = cls.from_saved_params(directory)
        method.weights_ = np.load(Path(directory) / "weights.npy")
        return method

    def save(self, directory: Path) -> None:
        super().save(directory)
        self.save_params(directory)


SPEC = "tests.test_selection:OffsetByRate"
GRID = [1e-1, 1e-2, 1e-3, 1e-4]


def _task_with_grid(folder: Path, grid: dict[str, list[float]]) -> Path:
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan-quick.yaml").read_text())
    raw.update(task="graded", description="the quick task with a declared grid",
               selection={"grid": grid, "metric": "energy_mae"})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graded.yaml").write_text(yaml.safe_dump(raw))
    return folder


def test_grid_points_and_which_parameters_a_grid_sets() -> None:
    grid = {"learning_rate": [1e-3, 3e-4], "epochs": [1, 2]}
    assert grid_points(grid) == [
        {"learning_rate": 1e-3, "epochs": 1}, {"learning_rate": 1e-3, "epochs": 2},
        {"learning_rate": 3e-4, "epochs": 1}, {"learning_rate": 3e-4, "epochs": 2},
    ]  # fmt: skip
    params = {"learning_rate": 1e-3, "batch_size": 8}
    assert applicable_grid(grid, params, {}) == {"learning_rate": [1e-3, 3e-4]}
    # a value the submitter set explicitly is theirs, not the grid's
    assert applicable_grid(grid, params, {"learning_rate": 5e-4}) == {}


def test_the_runner_chooses_on_validation_and_records_every_candidate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = _task_with_grid(tmp_path / "tasks", {"learning_rate": GRID})
    runs = tmp_path / "runs"
    argv = ["run", "--task", "graded", "--method", SPEC, "--fraction", "0.1", "--out", str(runs),
            "--device", "cpu", "--tasks", str(tasks)]  # fmt: skip
    assert main(argv) == 0
    path = next(runs.rglob("result.json"))
    record = json.loads(path.read_text())
    selection = record["selection"]
    assert selection["chosen"] == {"learning_rate": BEST}
    assert record["method"]["params"]["learning_rate"] == BEST
    assert selection["requested_params"]["learning_rate"] == 1e-2  # the class default
    assert selection["requested_params_hash"] == params_hash(selection["requested_params"])
    assert protocol_params_hash(record) == selection["requested_params_hash"]
    statuses = [c["status"] for c in selection["candidates"]]
    assert statuses[0].startswith("diverged") and statuses[1:] == ["ok"] * 3
    scores = {
        c["params"]["learning_rate"]: c["val"]["energy_mae"] for c in selection["candidates"][1:]
    }
    # one decade off shifts every energy by 50 eV/atom on top of the composition fit's error
    for rate in (1e-2, 1e-4):
        assert scores[rate] - scores[BEST] == pytest.approx(50_000.0, abs=10_000.0)
    # the test predictions are those of the chosen candidate (no 50 eV/atom offset)
    assert record["metrics"]["all"]["energy_mae_mev_per_atom"] < 30_000.0
    capsys.readouterr()

    # a second call reuses the run: the requested hyperparameters are the same
    assert main(argv) == 0
    assert json.loads(path.read_text()) == record
    assert main(["results", "validate", str(runs), "--tasks", str(tasks)]) == 0

    # a record whose choice is not one of its scored candidates is rejected
    record["selection"]["chosen"] = {"learning_rate": 1e-1}
    record["method"]["params"]["learning_rate"] = 1e-1
    record["method"]["params_hash"] = params_hash(record["method"]["params"])
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["results", "validate", str(runs), "--tasks", str(tasks)]) == 1
    assert "is not a scored candidate" in capsys.readouterr().out


def test_an_explicit_value_is_not_searched_and_all_diverged_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = _task_with_grid(tmp_path / "tasks", {"learning_rate": GRID})
    runs = tmp_path / "runs"
    base = ["run", "--task", "graded", "--method", SPEC, "--fraction", "0.1", "--out", str(runs),
            "--device", "cpu", "--tasks", str(tasks)]  # fmt: skip
    assert main([*base, "--param", "learning_rate=0.0001"]) == 0
    record = json.loads(next(runs.rglob("result.json")).read_text())
    assert "selection" not in record
    assert record["method"]["params"]["learning_rate"] == 1e-4

    diverging = _task_with_grid(tmp_path / "diverging", {"learning_rate": [0.1, 0.2]})
    capsys.readouterr()
    assert main([*base[:-1], str(diverging), "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "no candidate of the grid" in err and "Traceback" not in err
