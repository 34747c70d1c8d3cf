"""The runner end to end with a cheap composition-only method (no CHGNet)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from pymatgen.core import Structure

from mfbench.cli import main
from mfbench.data.elemental_reference import composition_fractions, fit_elemental_reference
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.errors import MfbenchError
from mfbench.locks import LockedError, exclusive_lock
from mfbench.methods import FitContext, Method
from mfbench.results.record import RESULT_SCHEMA, check_record_keys
from mfbench.runner import run
from mfbench.runner.plan import run_lock


class CompositionOnly(Method):
    """Energy from a least-squares elemental reference; zero forces and stress."""

    name = "composition-only"

    def __init__(self, fallback: float = -5.0) -> None:
        self.fallback = fallback

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        fit = fit_elemental_reference(
            train.composition_fractions(), train.labels().energy_per_atom, train.material_ids
        )
        self.weights_ = np.where(np.isnan(fit.weights), self.fallback, fit.weights)
        self.used_ = context.auxiliary("gga") is not None
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        self.check_is_fitted()
        numbers = np.concatenate([s.atomic_numbers for s in structures])
        counts = [len(s) for s in structures]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        energy = composition_fractions(numbers, offsets) @ self.weights_
        return LabelTable.from_frames(
            energy, [np.zeros((n, 3)) for n in counts], [np.zeros((3, 3))] * len(counts),
            [np.zeros(n) for n in counts], counts,
        )  # fmt: skip

    def save(self, directory: Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        np.save(Path(directory) / "weights.npy", self.weights_)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        method = cls()
        method.weights_ = np.load(Path(directory) / "weights.npy")
        return method


SPEC = "tests.test_runner:CompositionOnly"


@pytest.fixture(autouse=True)
def _prepared() -> None:
    prepare(get_dataset("surrogate-aflow"))


def test_run_writes_a_valid_record_and_skips_when_complete(tmp_path: Path) -> None:
    record = run("surrogate-r2scan", SPEC, 0.25, 3, out=tmp_path, progress=False)
    check_record_keys(record)
    folder = tmp_path / "surrogate-r2scan" / "v1" / "composition-only" / "fraction-0.25" / "seed-3"
    assert (folder / "result.json").is_file() and (folder / "model" / "weights.npy").is_file()
    assert record["method"]["params"] == {"fallback": -5.0}
    assert record["auxiliary_used"] == ["gga"]
    assert record["n_train_frames"] == 375
    blob = (folder / "predictions.npz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == record["predictions"]["sha256"]
    # metrics are recomputable from the predictions file: energy MAE by hand
    with np.load(folder / "predictions.npz") as saved:
        from mfbench.tasks.data import TaskData
        from mfbench.tasks.definition import get_task

        data = TaskData.load(get_task("surrogate-r2scan"))
        ids = {fid: row for row, fid in enumerate(saved["frame_ids"].tolist())}
        test = data.split.indices("test")
        pred = saved["energy_per_atom"][[ids[f] for f in data.store.frame_ids[test]]]
        ref = np.asarray(data.store.energies("r2scan"))[test]
    mae = 1000 * np.mean(np.abs(pred - ref))
    assert record["metrics"]["all"]["energy_mae_mev_per_atom"] == pytest.approx(mae, rel=1e-9)
    # a complete run (record and predictions consistent) is reused, not recomputed
    (folder / "model" / "weights.npy").unlink()
    assert run("surrogate-r2scan", SPEC, 0.25, 3, out=tmp_path) == record
    assert not (folder / "model" / "weights.npy").exists()
    rerun = run("surrogate-r2scan", SPEC, 0.25, 3, out=tmp_path, force=True, progress=False)
    assert rerun["metrics"] == record["metrics"]


def test_fraction_must_belong_to_the_task(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"fraction 0.3 is not one of"):
        run("surrogate-r2scan", SPEC, 0.3, 0, out=tmp_path)


def test_a_method_that_needs_training_frames_is_refused_at_fraction_0(tmp_path: Path) -> None:
    with pytest.raises(MfbenchError, match=r"finetune-refit-atomref needs training frames"):
        run("surrogate-r2scan-quick", "finetune-refit-atomref", 0.0, 0, out=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_cli_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--task", "surrogate-r2scan", "--method", SPEC, "--fraction", "0.5",
            "--device", "cpu", "--param", "fallback=-4.0", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert "composition-only" in capsys.readouterr().out
    record = json.loads(next(tmp_path.rglob("result.json")).read_text())
    assert record["method"]["params"] == {"fallback": -4.0}


def test_cli_reports_a_bad_fraction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--task", "surrogate-r2scan", "--method", SPEC, "--fraction", "0.3",
            "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    assert "fraction 0.3 is not one of" in capsys.readouterr().err


def test_evaluate_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = run("surrogate-r2scan", SPEC, 0.5, 1, out=tmp_path / "runs", progress=False)
    folder = next((tmp_path / "runs").rglob("method.json")).parent
    argv = ["evaluate", "--task", "surrogate-r2scan", "--model", str(folder), "--fraction", "0.5",
            "--out", str(tmp_path / "eval")]  # fmt: skip
    assert main(argv) == 0
    evaluated = json.loads(next((tmp_path / "eval").rglob("composition-only.json")).read_text())
    assert evaluated["metrics"] == record["metrics"]


def test_runs_with_other_hyperparameters_get_their_own_folder(tmp_path: Path) -> None:
    default = run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    other = run(
        "surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, params={"fallback": -4.0}, progress=False
    )
    tag = other["method"]["params_hash"][:8]
    runs = tmp_path / "surrogate-r2scan" / "v1"
    assert (runs / "composition-only" / "fraction-0.25" / "seed-0" / "result.json").is_file()
    assert (runs / f"composition-only@{tag}" / "fraction-0.25" / "seed-0" / "result.json").is_file()
    assert default["method"]["params"] != other["method"]["params"]


def test_a_result_for_other_hyperparameters_is_not_reused(tmp_path: Path) -> None:
    # e.g. a folder of default-parameter runs written before the method's defaults changed
    run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    path = next(tmp_path.rglob("result.json"))
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "method": {**record["method"], "params_hash": "0" * 64}}))
    with pytest.raises(FileExistsError, match="other hyperparameters"):
        run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path)
    (path.parent / "predictions.npz").unlink()  # incomplete, but still another's result
    with pytest.raises(FileExistsError, match="other hyperparameters"):
        run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path)
    assert run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, force=True, progress=False)


def test_checkpoints_are_noted_and_removed_once_the_result_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "surrogate-r2scan" / "v1" / "composition-only" / "fraction-0.1" / "seed-0"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "train.pt").write_bytes(b"left by a killed run")
    record = run("surrogate-r2scan", SPEC, 0.1, 0, out=tmp_path, progress=False)
    assert record["timing"]["checkpoints_found_at_start"] is True
    assert not (folder / "checkpoints").exists()
    assert record["task"]["budget"] == {"epochs": 5, "max_steps": 400, "batch_size": 16}
    assert record["training"] == {"steps_run": None, "history": None}


def test_a_record_of_an_older_schema_is_rerun(tmp_path: Path) -> None:
    record = run("surrogate-r2scan", SPEC, 0.1, 0, out=tmp_path, progress=False)
    path = next(tmp_path.rglob("result.json"))
    path.write_text(json.dumps({**record, "schema": "mfbench.result/1"}))
    again = run("surrogate-r2scan", SPEC, 0.1, 0, out=tmp_path, progress=False)
    assert again["schema"] == RESULT_SCHEMA == "mfbench.result/3"
    assert json.loads(path.read_text())["schema"] == RESULT_SCHEMA


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda f: (f / "predictions.npz").unlink(), "its predictions file"),
        (lambda f: (f / "predictions.npz").write_bytes(b"changed"), "does not have the sha256"),
        (lambda f: (f / "result.json").write_text("[1, 2]"), "not a result record (a JSON list)"),
        (lambda f: (f / "result.json").write_text('{"schema": "mfb'), "unreadable"),
    ],
)
def test_a_run_is_complete_only_with_its_record_and_predictions_consistent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any, why: str
) -> None:
    first = run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    folder = next(tmp_path.rglob("result.json")).parent
    damage(folder)
    again = run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    assert why in caplog.text and "running again" in caplog.text
    assert again["metrics"] == first["metrics"]
    blob = (folder / "predictions.npz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == again["predictions"]["sha256"]


def test_one_process_at_a_time_in_a_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "surrogate-r2scan" / "v1" / "composition-only" / "fraction-0.25" / "seed-0"
    with exclusive_lock(run_lock(folder), what="test", wait=False):
        with pytest.raises(LockedError, match="being written by another mfbench process"):
            run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
        argv = ["run", "--task", "surrogate-r2scan", "--method", SPEC, "--fraction", "0.25",
                "--out", str(tmp_path), "--device", "cpu"]  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"mfbench: error: run folder {folder} is being written by another" in err
        assert f"(pid {os.getpid()} on " in err and "Traceback" not in err
        assert not (folder / "result.json").exists()
    assert run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no lock file


def test_evaluate_scores_coverage_at_the_run_s_own_fraction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = run("surrogate-r2scan", SPEC, 0.1, 0, out=tmp_path / "runs", progress=False)
    folder = next((tmp_path / "runs").rglob("method.json")).parent
    argv = ["evaluate", "--task", "surrogate-r2scan", "--model", str(folder),
            "--out", str(tmp_path / "eval")]  # fmt: skip
    assert main(argv) == 0
    evaluated = json.loads(next((tmp_path / "eval").rglob("composition-only.json")).read_text())
    assert evaluated["fraction"] == 0.1
    assert evaluated["coverage"] == record["coverage"]
    assert evaluated["coverage"]["covered_share"] < 1.0  # at fraction 1 it would be 1
    assert evaluated["metrics"] == record["metrics"]
    assert main([*argv, "--fraction", "1.0"]) == 2
    assert "was trained on fraction 0.1 of surrogate-r2scan" in capsys.readouterr().err
    (folder / "result.json").unlink()  # no record: the fraction must be given
    assert main(argv) == 2
    assert "its training fraction is unknown: pass --fraction" in capsys.readouterr().err
    assert main([*argv, "--fraction", "0.1"]) == 0


def test_evaluate_names_what_is_wrong_with_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("surrogate-r2scan", SPEC, 0.1, 0, out=tmp_path / "runs", progress=False)
    folder = next((tmp_path / "runs").rglob("method.json")).parent
    argv = ["evaluate", "--task", "surrogate-r2scan", "--out", str(tmp_path / "eval"), "--model"]
    cases = [
        (tmp_path / "runs", "is not a run folder (it has no method.json)"),
        (folder, "names no method class"),
        (folder, "holds no saved model (model/)"),
    ]
    (folder / "method.json").write_text("[]")
    for model, message in cases[:2]:
        assert main([*argv, str(model)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    (folder / "method.json").write_text(json.dumps({"class": SPEC}))
    shutil.rmtree(folder / "model")
    assert main([*argv, str(folder)]) == 2
    assert cases[2][1] in capsys.readouterr().err


def test_plan_run_decides_start_reuse_resume_and_refuse(tmp_path: Path) -> None:
    """One decision for ``run`` and ``sweep``: what a folder holds decides what a run does."""
    from mfbench.runner.options import RunOptions
    from mfbench.runner.plan import Decision, PlannedMethod, Refusal, plan_run
    from mfbench.tasks.data import TaskData
    from mfbench.tasks.definition import get_task

    task = get_task("surrogate-r2scan")
    data = TaskData.load(task)
    method = PlannedMethod.resolve(SPEC)

    def decide(fraction: float = 0.25, **options: Any):
        return plan_run(
            task, method, fraction, 0, out=tmp_path, options=RunOptions(**options), data=data
        )

    assert decide().decision is Decision.START
    record = run("surrogate-r2scan", SPEC, 0.25, 0, out=tmp_path, progress=False)
    reused = decide()
    assert (reused.decision, reused.record) == (Decision.REUSE, record)
    assert decide(force=True).decision is Decision.START
    path = reused.folder / "result.json"
    path.write_text(json.dumps({**record, "schema": "mfbench.result/2"}))
    (reused.folder / "checkpoints").mkdir()
    (reused.folder / "checkpoints" / "epoch-1.pt").write_bytes(b"x")
    assert decide().decision is Decision.RESUME  # an older record is run again
    path.write_text(json.dumps({**record, "method": {**record["method"], "params_hash": "0" * 64}}))
    refused = decide()
    assert (refused.decision, refused.refusal) == (Decision.REFUSE, Refusal.OTHER_HYPERPARAMETERS)
    with pytest.raises(FileExistsError, match="holds a result for other hyperparameters"):
        refused.raise_if_refused()
    assert decide(force=True).decision is Decision.RESUME
    assert decide(0.3).refusal is Refusal.FRACTION
    quick = get_task("surrogate-r2scan-quick")
    trained = plan_run(
        quick, PlannedMethod.resolve("finetune-refit-atomref"), 0.0, 0, out=tmp_path,
        options=RunOptions(), data=TaskData.load(quick),
    )  # fmt: skip
    assert trained.refusal is Refusal.NO_TRAINING_FRAMES


class WorkersSeen(CompositionOnly):
    """Saves the number of data workers its fit context allowed (``workers.txt``)."""

    name = "workers-seen"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        self.workers_ = context.data_workers
        return super().fit(train, val, context)

    def save(self, directory: Path) -> None:
        super().save(directory)
        (Path(directory) / "workers.txt").write_text(str(self.workers_))


def test_a_rerun_over_an_older_schema_keeps_the_data_workers(tmp_path: Path) -> None:
    spec = "tests.test_runner:WorkersSeen"
    record = run("surrogate-r2scan", spec, 0.1, 0, out=tmp_path, progress=False, data_workers=2)
    path = next(tmp_path.rglob("result.json"))
    assert (path.parent / "model" / "workers.txt").read_text() == "2"
    path.write_text(json.dumps({**record, "schema": "mfbench.result/2"}))
    run("surrogate-r2scan", spec, 0.1, 0, out=tmp_path, progress=False, data_workers=3)
    assert (path.parent / "model" / "workers.txt").read_text() == "3"
