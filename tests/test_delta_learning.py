"""Δ-learning: substitute targets in the graph loader, a sum of two models, resume (part slow)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.delta import DeltaLearning
from baselines.finetune import graph_loader
from baselines.zero_shot import ZeroShotRefitAtomRef
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.errors import DataError
from mfbench.methods import Budget, EpochCheckpoint, FitContext, LabelTable, get_method
from mfbench.models.chgnet import predict_with_chgnet
from mfbench.models.chgnet.graph_cache import ConverterSettings
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, assert_method_conforms

#: CHGNet 0.3.0's graph settings (its ``graph_converter``).
SETTINGS = ConverterSettings(atom_graph_cutoff=6.0, bond_graph_cutoff=3.0, algorithm="fast")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> KitData:
    """16 training and 4 validation frames of the embedded task, 3 test structures."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(tmp_path_factory.mktemp("delta-home")))
        prepare(get_dataset("surrogate-aflow"))
        data = TaskData.load(get_task("surrogate-r2scan"))
    train = FrameSet(data.store, data.split.train_fraction(0.05)[:16], "r2scan")
    val = FrameSet(data.store, data.split.indices("val")[:4], "r2scan")
    # the first test structures with several atoms (so that forces are not zero by symmetry)
    test = data.split.indices("test")
    several = test[np.diff(data.store.atom_offsets)[test] >= 3][:3]
    structures = [data.store.structure(int(i)) for i in several]
    return KitData(train, val, structures, atol_energy=2e-5)


@pytest.fixture(scope="module")
def fitted(kit: KitData, tmp_path_factory: pytest.TempPathFactory) -> DeltaLearning:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(tmp_path_factory.mktemp("delta-fit-home")))
        seed_everything(0)
        return DeltaLearning(epochs=2, batch_size=8).fit(kit.train, kit.val, kit.context(0))


def _table(frames: FrameSet, seed: int = 1) -> LabelTable:
    """Made-up labels with the frames' atom counts, unlike any real label."""
    rng = np.random.default_rng(seed)
    counts = frames.labels().n_atoms
    return LabelTable.from_frames(
        rng.normal(size=len(counts)).tolist(),
        [rng.normal(size=(n, 3)) for n in counts],
        [rng.normal(size=(3, 3)) for _ in counts],
        [rng.uniform(size=n) for n in counts],
        counts.tolist(),
    )


def test_parameters_and_spec() -> None:
    assert get_method("baselines.delta:DeltaLearning") is DeltaLearning
    method = DeltaLearning(learning_rate=3e-4, hidden_dim=16, n_conv=3)
    assert method.get_params() == {
        "learning_rate": 3e-4, "epochs": None, "batch_size": None, "energy_loss_ratio": 3.0,
        "force_loss_ratio": 1.0, "stress_loss_ratio": 0.1, "hidden_dim": 16, "n_conv": 3,
        "base_model": "0.3.0",
    }  # fmt: skip
    assert DeltaLearning.needs_training_frames


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_loader_yields_the_substitute_targets(kit: KitData, shuffle: bool) -> None:
    frames = kit.val
    table = _table(frames)
    row_of = {str(frame_id): i for i, frame_id in enumerate(frames.frame_ids.tolist())}
    loader = graph_loader(SETTINGS, frames, 3, shuffle=shuffle, seed=0, labels=table)
    seen = []
    for graphs, targets in loader:
        for k, graph in enumerate(graphs):
            i = row_of[graph.mp_id]
            atoms = slice(table.atom_offsets[i], table.atom_offsets[i + 1])
            seen.append(i)
            assert float(targets["e"][k]) == pytest.approx(table.energy_per_atom[i], abs=1e-6)
            np.testing.assert_allclose(targets["f"][k].numpy(), table.forces[atoms], atol=1e-6)
            np.testing.assert_allclose(targets["s"][k].numpy(), table.stress[i], atol=1e-6)
            np.testing.assert_allclose(targets["m"][k].numpy(), table.magmoms[atoms], atol=1e-6)
    assert sorted(seen) == list(range(len(frames)))
    # without substitutes: the frames' own labels
    graphs, targets = next(iter(graph_loader(SETTINGS, frames, 4, shuffle=False, seed=0)))
    np.testing.assert_allclose(targets["e"].numpy(), frames.labels().energy_per_atom, atol=1e-5)


def test_substitute_labels_that_do_not_fit_the_frames_are_refused(kit: KitData) -> None:
    frames = kit.val
    table = _table(frames)
    counts = table.n_atoms.copy()
    counts[2] += 1
    wrong_atoms = LabelTable.from_frames(
        table.energy_per_atom.tolist(), [np.zeros((n, 3)) for n in counts],
        [np.zeros((3, 3)) for _ in counts], [np.zeros(n) for n in counts], counts.tolist(),
    )  # fmt: skip
    frame_id = str(frames.frame_ids[2])
    with pytest.raises(DataError, match=rf"frame '{frame_id}'.*atom\(s\) for row 2") as error:
        graph_loader(SETTINGS, frames, 2, shuffle=False, seed=0, labels=wrong_atoms)
    assert error.value.frame == frame_id
    with pytest.raises(DataError, match="substitute labels have 3 frame"):
        graph_loader(SETTINGS, frames, 2, shuffle=False, seed=0, labels=table.subset([0, 1, 2]))


@pytest.mark.slow
def test_the_prediction_is_the_sum_of_the_two_models(fitted: DeltaLearning, kit: KitData) -> None:
    structures = list(kit.structures)
    gga = predict_with_chgnet(fitted.gga_model_, structures, batch_size=8, progress=False)
    delta = predict_with_chgnet(fitted.delta_model_, structures, batch_size=8, progress=False)
    both = fitted.predict(structures)
    np.testing.assert_array_equal(both.energy_per_atom, gga.energy_per_atom + delta.energy_per_atom)
    np.testing.assert_array_equal(both.forces, gga.forces + delta.forces)
    np.testing.assert_array_equal(both.stress, gga.stress + delta.stress)
    np.testing.assert_array_equal(both.magmoms, gga.magmoms)
    # the Δ-model learned something: it is no longer the zero function it started as
    assert np.abs(delta.energy_per_atom).min() > 0
    assert np.abs(delta.forces).max() > 0
    # it shares CHGNet 0.3.0's graph cache; its AtomRef stayed zero
    assert ConverterSettings.from_converter(fitted.delta_model_) == SETTINGS
    assert ConverterSettings.from_converter(fitted.gga_model_) == SETTINGS
    assert not fitted.delta_model_.composition_model.fc.weight.detach().any()
    assert fitted.history_["delta_model_parameters"] == 48237
    assert fitted.steps_run_ == 4


@pytest.mark.slow
def test_a_zero_delta_model_predicts_what_zero_shot_predicts(
    fitted: DeltaLearning, kit: KitData
) -> None:
    zeroed = copy.deepcopy(fitted)
    with torch.no_grad():
        for parameter in zeroed.delta_model_.mlp.layers[-1].parameters():
            parameter.zero_()
    structures = list(kit.structures)
    zero_shot = ZeroShotRefitAtomRef().fit(kit.train, kit.val, kit.context(0))
    np.testing.assert_allclose(
        zeroed.shift_, zero_shot.atomref_weights_ - _gga_atomref(), atol=1e-9
    )
    ours, theirs = zeroed.predict(structures), zero_shot.predict(structures)
    np.testing.assert_allclose(ours.energy_per_atom, theirs.energy_per_atom, atol=1e-5)
    np.testing.assert_allclose(ours.forces, theirs.forces, atol=1e-5)
    np.testing.assert_allclose(ours.stress, theirs.stress, atol=1e-4)
    np.testing.assert_allclose(ours.magmoms, theirs.magmoms, atol=1e-6)
    # the Δ-model's targets on both splits are the labels minus zero-shot's predictions
    for name, frames in (("train", kit.train), ("val", kit.val)):
        labels, predicted = frames.labels(), zero_shot.predict(frames.structures())
        expected = {
            "e": np.abs(labels.energy_per_atom - predicted.energy_per_atom).mean(),
            "f": np.abs(labels.forces - predicted.forces).mean(),
            "s": np.abs(labels.stress - predicted.stress).mean(),
        }
        assert fitted.history_["gga_residual_mae"][name] == pytest.approx(expected, abs=1e-5)
    # the trained model does differ from zero-shot
    assert np.abs(fitted.predict(structures).forces - theirs.forces).max() > 1e-4


def _gga_atomref() -> np.ndarray:
    from mfbench.models.chgnet import atomref_weights, load_pretrained

    return atomref_weights(load_pretrained(FitContext(), "0.3.0"))


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_same_weights(
    kit: KitData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    budget = Budget(epochs=2, max_steps=3, batch_size=8)  # epoch 1: 2 steps, epoch 2: 1

    def fit(folder: Path) -> DeltaLearning:
        seed_everything(0)
        context = FitContext(seed=0, progress=False, checkpoint_dir=folder, budget=budget)
        return DeltaLearning().fit(kit.train, kit.val, context)

    whole = fit(tmp_path / "whole")
    assert [e["steps"] for e in whole.history_["train"]] == [2, 3]
    original_save, saves = EpochCheckpoint.save, []

    def save_then_die(self: EpochCheckpoint, state: dict) -> None:
        original_save(self, state)
        saves.append(self.path)
        raise KeyboardInterrupt  # killed right after the first checkpoint

    monkeypatch.setattr(EpochCheckpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "killed")
    monkeypatch.undo()
    assert saves == [tmp_path / "killed" / "delta.pt"]
    resumed = fit(tmp_path / "killed")
    assert resumed.history_["train"][1]["train"] == whole.history_["train"][1]["train"]
    expected = whole.delta_model_.state_dict()
    for name, tensor in resumed.delta_model_.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    # another size of Δ-model does not resume from that checkpoint
    context = FitContext(seed=0, progress=False, checkpoint_dir=tmp_path / "killed", budget=budget)
    with caplog.at_level(logging.WARNING, logger="baselines.training"):
        other = DeltaLearning(hidden_dim=16).fit(kit.train, kit.val, context)
    assert "starting afresh" in caplog.text
    assert other.history_["delta_model_parameters"] == 14221


@pytest.mark.slow
def test_delta_learning_conforms(kit: KitData, tmp_path: Path) -> None:
    assert_method_conforms(lambda: DeltaLearning(epochs=2, batch_size=8), kit, tmp_path)
