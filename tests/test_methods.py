"""Method interface, registry, elemental-reference fallback and the zero-shot baselines."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from baselines.finetune import MultiStage
from baselines.zero_shot import UntouchedGGA, ZeroShotRefitAtomRef
from mfbench.data.elemental_reference import ElementalReference
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.errors import MfbenchError, UnknownNameError
from mfbench.evaluation import EvaluationFrames, score
from mfbench.methods import (
    FitContext,
    NotFittedError,
    describe_methods,
    get_method,
    method_names,
)
from mfbench.methods.registry import describe_method
from mfbench.models.chgnet import atomref_weights
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task

from .doubles import COMPOSITION_ONLY


def test_registry_finds_entry_points_and_specs() -> None:
    assert {"gga-floor", "zero-shot"} <= set(method_names())
    assert get_method("zero-shot") is ZeroShotRefitAtomRef
    assert get_method("baselines.zero_shot:UntouchedGGA") is UntouchedGGA
    with pytest.raises(UnknownNameError, match="Did you mean 'zero-shot'"):
        get_method("zero-shoot")
    with pytest.raises(MfbenchError, match="not a subclass"):
        get_method("pathlib:Path")
    with pytest.raises(MfbenchError, match="cannot import"):
        get_method("no_such_module:Thing")


def test_every_registered_method_is_described_with_its_parameters() -> None:
    described = {d.name: d for d in describe_methods()}
    assert list(described) == method_names()
    gga = described["gga-floor"]
    assert gga.target == "baselines.zero_shot:UntouchedGGA"
    assert gga.description == "CHGNet 0.3.0 as shipped: no use of the training data at all."
    assert gga.defaults() == {"base_model": "0.3.0", "batch_size": 32}
    assert [p.describe() for p in gga.parameters] == [
        "base_model: str = '0.3.0'", "batch_size: int = 32",
    ]  # fmt: skip
    stages = described["multi-stage"]  # passes **kwargs on to FineTune: its parameters too
    assert stages.target == "baselines.finetune:MultiStage"
    assert list(stages.defaults())[:2] == ["stage1_share", "stage2_lr_factor"]
    assert stages.defaults()["learning_rate"] == 1e-3 and not stages.open_ended
    assert set(stages.defaults()) == set(MultiStage().get_params())
    spec = describe_method(COMPOSITION_ONLY)
    assert (spec.name, spec.target) == ("composition-only", "tests.doubles:CompositionOnly")
    assert spec.description.startswith("Energy from a least-squares elemental reference")


def test_params_come_from_the_signature_and_unfitted_use_raises() -> None:
    method = ZeroShotRefitAtomRef(batch_size=8)
    assert method.get_params() == {"base_model": "0.3.0", "batch_size": 8}
    assert not method.is_fitted()
    with pytest.raises(NotFittedError):
        method.predict([])


def test_weights_read_while_recording_are_named_in_the_record(tmp_path: Path) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    other = tmp_path / "other.pt"
    other.write_bytes(b"other weights")
    context = FitContext()
    with context.recording_checkpoint("my-model-1.0"):
        weights.read_bytes()
    with context.checkpoints.watching():
        other.read_bytes()
    named, unnamed = context.checkpoints.entries()
    assert (named["name"], named["file"], named["how"]) == (
        "my-model-1.0", "model.pt", "FitContext.pretrained_model",
    )  # fmt: skip
    assert named["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert (unnamed["name"], unnamed["how"]) == (None, "opened while fitting or predicting")


def test_auxiliary_data_is_granted_by_the_task_and_recorded() -> None:
    sentinel = object()
    context = FitContext(auxiliary_sources={"gga": lambda: sentinel})  # type: ignore[dict-item]
    with pytest.raises(KeyError, match=r"'mptrj' is not allowed by this task \(allowed: gga\)"):
        context.auxiliary("mptrj")
    assert context.used_auxiliary == []
    assert context.auxiliary("gga") is sentinel
    assert context.used_auxiliary == ["gga"]


def test_missing_elements_take_the_prior_plus_the_mean_offset() -> None:
    weights = np.full(94, np.nan)
    weights[[0, 7]] = [-1.5, -8.0]  # H, O fitted
    prior = np.arange(94, dtype=float) * -0.1  # H: 0.0, O: -0.7, Fe (Z=26): -2.5
    fit = ElementalReference(weights, 1.0, 10, np.zeros(94, int), 0.0)
    filled, mask = fit.filled_from(prior)
    # offsets: H -1.5 - 0.0 = -1.5; O -8.0 - (-0.7) = -7.3; mean -4.4
    assert filled.weights[25] == pytest.approx(-2.5 - 4.4)
    assert filled.weights[7] == -8.0
    assert mask.sum() == 92 and not mask[0] and not mask[7]


@pytest.fixture
def surrogate() -> TaskData:
    prepare(get_dataset("surrogate-aflow"))
    return TaskData.load(get_task("surrogate-r2scan"))


def test_zero_shot_moves_only_the_reference(surrogate: TaskData, tmp_path: Path) -> None:
    structures = [surrogate.store.structure(i) for i in range(6)]
    train = FrameSet(surrogate.store, surrogate.split.train_fraction(0.1), "r2scan")
    empty = FrameSet(surrogate.store, np.zeros(0, dtype=np.int64), "r2scan")
    floor = UntouchedGGA().fit(train, empty, FitContext(progress=False))
    zero = ZeroShotRefitAtomRef().fit(train, empty, FitContext(progress=False))
    gga = atomref_weights(floor.model_)
    assert zero.n_filled_elements_ == 94 - len(surrogate.elements_in(train.indices))
    before, after = floor.predict(structures), zero.predict(structures)
    # E changes by exactly sum_el x_el * (w_new - w_gga); forces are untouched
    fractions = FrameSet(surrogate.store, np.arange(6), "r2scan").composition_fractions()
    expected = before.energy_per_atom + fractions @ (zero.atomref_weights_ - gga)
    np.testing.assert_allclose(after.energy_per_atom, expected, atol=1e-4)
    np.testing.assert_allclose(after.forces, before.forces, atol=1e-6)
    zero.save(tmp_path / "zs")
    again = ZeroShotRefitAtomRef.load(tmp_path / "zs")
    np.testing.assert_allclose(again.predict(structures).energy_per_atom, after.energy_per_atom)


@pytest.mark.slow
def test_refit_reference_closes_most_of_the_gap(surrogate: TaskData) -> None:
    frames = EvaluationFrames.of(surrogate)
    structures = [surrogate.store.structure(int(i)) for i in frames.needed]
    train = FrameSet(surrogate.store, surrogate.split.train_fraction(0.1), "r2scan")
    empty = FrameSet(surrogate.store, np.zeros(0, dtype=np.int64), "r2scan")
    results = {}
    for method in (UntouchedGGA(), ZeroShotRefitAtomRef()):
        predicted = method.fit(train, empty, FitContext()).predict(structures)
        results[method.name] = score(surrogate, frames, predicted, 0.1)["metrics"]
    print(
        {k: {s: round(v[s]["energy_mae_mev_per_atom"], 1) for s in v} for k, v in results.items()}
    )
    floor = results["gga-floor"]["covered"]["energy_mae_mev_per_atom"]
    zero = results["zero-shot"]["covered"]["energy_mae_mev_per_atom"]
    assert zero < floor / 10, results
