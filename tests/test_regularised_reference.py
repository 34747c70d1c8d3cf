"""zero-shot-regularised and finetune-residual-atomref: the strength chosen on validation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import baselines.finetune
import baselines.regularised_reference as regularised
from baselines.finetune import FineTune
from baselines.regularised_reference import (
    FineTuneResidualAtomRef,
    ReferenceStrengthError,
    ZeroShotRegularisedReference,
    select_shift,
)
from baselines.training import LOOP_VERSION, Recipe
from baselines.zero_shot import UntouchedGGA
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.errors import MfbenchError
from mfbench.methods import FitContext, get_method
from mfbench.models.chgnet import atomref_weights
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, assert_method_conforms

HYDROGEN, OXYGEN, IRON = 0, 7, 25  # columns Z - 1


def _one_fe_frame() -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """20 H frames (residual -1 eV/atom), 20 O (-5), one FeO (-12.5: Fe -20 by least squares);
    validation: H -1, O -5, FeO -4.5 (Fe -4, near the mean residual)."""
    train = np.zeros((41, 94))
    train[:20, HYDROGEN] = train[20:40, OXYGEN] = 1.0
    train[40, IRON] = train[40, OXYGEN] = 0.5
    residual = np.r_[np.full(20, -1.0), np.full(20, -5.0), -12.5]
    val = np.zeros((3, 94))
    val[0, HYDROGEN] = val[1, OXYGEN] = 1.0
    val[2, IRON] = val[2, OXYGEN] = 0.5
    return train, residual, [f"mp-{k}" for k in range(41)], val, np.array([-1.0, -5.0, -4.5])


def test_the_chosen_strength_is_the_argmin_of_the_reported_val_maes() -> None:
    grid = [0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    choice = select_shift(*_one_fe_frame(), grid)
    history = choice.history()
    maes = [c["val_energy_mae_ev_per_atom"] for c in history["candidates"]]
    assert [c["strength"] for c in history["candidates"]] == grid
    assert history["chosen_strength"] == grid[int(np.argmin(maes))] == 0.1
    # least squares puts Fe at -20: the FeO validation frame is off by 8 eV/atom, the others 0
    assert maes[0] == pytest.approx(8.0 / 3, abs=1e-12)
    assert min(maes) < 0.2 < maes[-1]
    # Fe, seen in one frame, moved most of the way to the mean residual; H and O little
    assert choice.shift[IRON] == pytest.approx(-4.2, abs=0.05)
    assert abs(choice.shift[HYDROGEN] + 1) < 0.4 and abs(choice.shift[OXYGEN] + 5) < 0.2
    # absent elements get the mean fitted shift
    assert choice.shift[1] == pytest.approx(np.mean(choice.shift[[HYDROGEN, OXYGEN, IRON]]))
    assert choice.n_filled_elements == 91
    json.dumps(history)


def test_equal_validation_maes_keep_the_larger_strength() -> None:
    train = np.zeros((3, 94))
    train[:, HYDROGEN] = 1.0  # every strength fits H at the mean, -2 eV/atom
    choice = select_shift(train, np.full(3, -2.0), ["a", "b", "c"], train[:1], [-1.0], [1, 0, 3])
    assert [mae for _, mae in choice.candidates] == [1.0, 1.0, 1.0]
    assert choice.strength == 3.0


@pytest.mark.parametrize(
    ("strengths", "message"),
    [
        ([], "non-empty list"),
        ("0.1", "non-empty list"),
        ([0.0, -1e-3], "strength -0.001 is negative"),
        ([float("inf")], "strength inf is not a finite number"),
        ([True], "strength True is not a finite number"),
    ],
)
def test_bad_grids_are_refused_before_any_work(strengths: Any, message: str) -> None:
    with pytest.raises(ReferenceStrengthError, match=message):
        ZeroShotRegularisedReference(strengths=strengths).fit(None, None, None)  # type: ignore[arg-type]
    with pytest.raises(MfbenchError, match=message):
        FineTuneResidualAtomRef(strengths=strengths).fit(None, None, None)  # type: ignore[arg-type]


def test_choosing_needs_validation_frames() -> None:
    train, residual, materials, _, _ = _one_fe_frame()
    with pytest.raises(ReferenceStrengthError, match="got 41 and 0"):
        select_shift(train, residual, materials, np.zeros((0, 94)), np.zeros(0), [0.0])


def test_registered_and_parameters_round_trip() -> None:
    assert get_method("baselines.regularised_reference:ZeroShotRegularisedReference").name == (
        "zero-shot-regularised"
    )
    method = FineTuneResidualAtomRef(strengths=(0.0, 1e-3), learning_rate=3e-4)
    params = method.get_params()
    assert params["strengths"] == (0.0, 1e-3) and params["learning_rate"] == 3e-4
    assert set(params) == set(FineTune().get_params()) | {"strengths"}
    assert FineTuneResidualAtomRef(**params).get_params() == params


@pytest.fixture
def surrogate() -> TaskData:
    prepare(get_dataset("surrogate-aflow"))
    return TaskData.load(get_task("surrogate-r2scan"))


def _small(surrogate: TaskData, n_train: int = 16, n_val: int = 6) -> tuple[FrameSet, FrameSet]:
    train = FrameSet(surrogate.store, surrogate.split.train_fraction(0.1)[:n_train], "r2scan")
    val = FrameSet(surrogate.store, surrogate.split.indices("val")[:n_val], "r2scan")
    return train, val


def test_zero_shot_regularised_reports_its_choice(surrogate: TaskData) -> None:
    train, val = _small(surrogate)
    context = FitContext(progress=False)
    method = ZeroShotRegularisedReference(strengths=(0.0, 1e-4, 1e-2, 1.0)).fit(train, val, context)
    history = method.history_["reference_shift"]
    maes = [c["val_energy_mae_ev_per_atom"] for c in history["candidates"]]
    assert history["chosen_strength"] == (0.0, 1e-4, 1e-2, 1.0)[int(np.argmin(maes))]
    json.dumps(method.history_)
    # the reported MAE is that of the method's own predictions of the validation frames
    predicted = method.predict(val.structures()).energy_per_atom
    mae = np.mean(np.abs(predicted - val.labels().energy_per_atom))
    assert mae == pytest.approx(min(maes), abs=1e-4)
    # fraction 0: the GGA reference is kept
    empty = FrameSet(surrogate.store, np.zeros(0, dtype=np.int64), "r2scan")
    kept = ZeroShotRegularisedReference().fit(empty, val, context)
    gga = UntouchedGGA().fit(empty, val, context)
    np.testing.assert_array_equal(kept.atomref_weights_, gga.atomref_weights_)
    assert kept.history_ == {"reference_shift": {"chosen_strength": None, "candidates": []}}


def test_the_checkpoint_key_covers_the_shift(
    surrogate: TaskData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same hyperparameters, frames and seed; another shift (one GGA energy moved) → another key."""
    train, val = _small(surrogate)
    seen: list[tuple[str, np.ndarray]] = []

    def fake_train(model: Any, *args: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        seen.append((key, atomref_weights(model)))
        return [{"epoch": 1, "steps": 1}]

    monkeypatch.setattr(baselines.finetune, "train_chgnet", fake_train)
    monkeypatch.setattr(baselines.finetune, "graph_loader", lambda *args, **kwargs: None)
    context = FitContext(progress=False)
    first = FineTuneResidualAtomRef(epochs=1, batch_size=8).fit(train, val, context)
    again = FineTuneResidualAtomRef(epochs=1, batch_size=8).fit(train, val, context)
    predict = regularised.predict_with_chgnet

    def moved(model: Any, structures: list, **kwargs: Any) -> Any:
        table = predict(model, structures, **kwargs)
        table.energy_per_atom[0] += 0.5  # eV/atom
        return table

    monkeypatch.setattr(regularised, "predict_with_chgnet", moved)
    other = FineTuneResidualAtomRef(epochs=1, batch_size=8).fit(train, val, context)
    assert seen[0][0] == seen[1][0] != seen[2][0]
    assert not np.array_equal(first.reference_shift_.shift, other.reference_shift_.shift)
    np.testing.assert_array_equal(again.reference_shift_.shift, first.reference_shift_.shift)
    # training starts from the GGA AtomRef plus the chosen shift, float32 as CHGNet stores it
    gga = atomref_weights(UntouchedGGA().fit(train, val, context).model_)
    np.testing.assert_allclose(seen[0][1], gga + first.reference_shift_.shift, atol=1e-5)
    assert first.history_["reference_shift"] == first.reference_shift_.history()
    assert first.history_["train"] == [{"epoch": 1, "steps": 1}]
    # Method 4's keys are what they were before the hook (checkpoints of running sweeps resume)
    FineTune(epochs=1, batch_size=8).fit(train, val, context)
    import chgnet

    recipe = Recipe(epochs=1, max_steps=2, learning_rate=1e-3)
    identity = {
        "loop": LOOP_VERSION, "chgnet": chgnet.__version__, "method": "finetune-refit-atomref",
        "params": FineTune(epochs=1, batch_size=8).get_params(), "recipe": asdict(recipe),
        "batch": 8, "seed": 0, "tag": "train", "train": train.fingerprint,
        "val": val.fingerprint,
    }  # fmt: skip
    expected = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    assert seen[3][0] == expected.hexdigest()


def _kit(surrogate: TaskData) -> KitData:
    train, val = _small(surrogate, n_train=16, n_val=4)
    structures = [surrogate.store.structure(int(i)) for i in surrogate.split.indices("test")[:3]]
    return KitData(train, val, structures, atol_energy=2e-5)


@pytest.mark.slow
def test_zero_shot_regularised_conforms(surrogate: TaskData, tmp_path: Path) -> None:
    assert_method_conforms(ZeroShotRegularisedReference, _kit(surrogate), tmp_path)


@pytest.mark.slow
def test_finetune_residual_atomref_conforms(surrogate: TaskData, tmp_path: Path) -> None:
    factory = partial(FineTuneResidualAtomRef, epochs=2, batch_size=8)
    assert_method_conforms(lambda: factory(), _kit(surrogate), tmp_path)
