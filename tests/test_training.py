"""The baselines' training loop: exact resume after a kill, stale checkpoints, divergence (slow)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from baselines.finetune import FineTune, MultiStage
from baselines.training import TrainingDivergedError
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import EpochCheckpoint, FitContext, Method
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import Budget, get_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny() -> tuple[FrameSet, FrameSet]:
    """16 training and 4 validation frames of the embedded task."""
    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    train = FrameSet(data.store, data.split.train_fraction(0.05)[:16], "r2scan")
    val = FrameSet(data.store, data.split.indices("val")[:4], "r2scan")
    return train, val


def _fit(
    method: type[FineTune], tiny, checkpoints: Path, budget: Budget | None = None, **params
) -> Method:
    seed_everything(0)
    context = FitContext(seed=0, progress=False, checkpoint_dir=checkpoints, budget=budget)
    return method(**{"epochs": 2, "batch_size": 8, **params}).fit(*tiny, context)


def _maes(history: dict) -> dict:
    return {
        stage: [(e["epoch"], e["steps"], e["train"], e["val"]) for e in epochs]
        for stage, epochs in history.items()
    }


# FineTune: 16 frames in batches of 8, a 3-step budget: epoch 1 (2 steps) and half of epoch 2,
# killed after epoch 1. MultiStage: 6 steps, 3 per stage (2 epochs each), killed after the
# first epoch of stage 2, so stage 1 is reloaded finished and stage 2 resumes in the middle.
RESUME_CASES = [
    (FineTune, {}, Budget(epochs=2, max_steps=3, batch_size=8), 1, {"train": [2, 3]}),
    (MultiStage, {"epochs": 3}, None, 3, {"stage1": [2, 3], "stage2": [2, 3]}),
]


@pytest.mark.parametrize(
    ("method", "params", "budget", "killed_at_save", "steps"),
    RESUME_CASES,
    ids=[case[0].name for case in RESUME_CASES],
)
def test_a_killed_fit_resumes_to_the_same_weights(
    method, params, budget, killed_at_save, steps, tiny, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    whole = _fit(method, tiny, tmp_path / "whole", budget, **params)
    assert {stage: [e["steps"] for e in h] for stage, h in whole.history_.items()} == steps
    assert whole.steps_run_ == sum(s[-1] for s in steps.values())

    original_save = EpochCheckpoint.save
    saves = []

    def save_then_die(self: EpochCheckpoint, state: dict) -> None:
        original_save(self, state)
        saves.append(self.path)
        if len(saves) == killed_at_save:
            raise KeyboardInterrupt  # killed right after this checkpoint

    monkeypatch.setattr(EpochCheckpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _fit(method, tiny, tmp_path / "killed", budget, **params)
    monkeypatch.undo()
    assert len(torch.load(saves[-1], weights_only=False)["history"]) == 1

    resumed = _fit(method, tiny, tmp_path / "killed", budget, **params)
    assert _maes(resumed.history_) == _maes(whole.history_)
    expected = whole.model_.state_dict()
    for name, tensor in resumed.model_.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_a_checkpoint_of_other_hyperparameters_is_not_resumed(
    tiny, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = _fit(FineTune, tiny, tmp_path)
    with caplog.at_level(logging.WARNING, logger="baselines.training"):
        second = _fit(FineTune, tiny, tmp_path, learning_rate=1e-4)
    assert "starting afresh" in caplog.text
    assert [e["epoch"] for e in second.history_["train"]] == [1, 2]
    assert second.history_["train"][0]["train"] != first.history_["train"][0]["train"]


def test_a_diverging_fit_stops_with_the_epoch_and_batch(tiny, tmp_path: Path) -> None:
    with pytest.raises(TrainingDivergedError, match=r"loss is nan at epoch 1, batch 1"):
        _fit(FineTune, tiny, tmp_path, energy_loss_ratio=float("nan"))
    assert not list(tmp_path.glob("*.pt")), "nothing is checkpointed from a diverged epoch"
