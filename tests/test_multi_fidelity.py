"""The multi-fidelity baseline: shared backbone, exact resume, auxiliary-data rule, the kit."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.finetune import graph_loader
from baselines.joint_training import HEAD_MODULES, CyclingBatches, fidelity_view
from baselines.multi_fidelity import AuxiliaryDataError, MultiFidelity
from baselines.regularised_reference import DEFAULT_STRENGTHS, ReferenceStrengthError
from baselines.training import Recipe, batch_loss, make_loss
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import Budget, EpochCheckpoint, FitContext, MfbenchError, get_method
from mfbench.models.chgnet import load_pretrained
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, assert_method_conforms

SPEC = "baselines.multi_fidelity:MultiFidelity"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Tiny frame sets of the embedded task and 3 of its test structures.

    16 r²SCAN training frames, 4 validation frames and a GGA pool of 20 train-split frames
    (some of them in the r²SCAN fraction, most not). The module prepares the embedded dataset
    once, in a home of its own; every test still gets :func:`isolated_home`'s empty one.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(tmp_path_factory.mktemp("multi-fidelity-home")))
        prepare(get_dataset("surrogate-aflow"))
        data = TaskData.load(get_task("surrogate-r2scan"))
    store, split = data.store, data.split
    return {
        "train": FrameSet(store, split.train_fraction(0.05)[:16], "r2scan"),
        "val": FrameSet(store, split.indices("val")[:4], "r2scan"),
        "gga": FrameSet(store, split.indices("train")[::40][:20], "gga"),
        "structures": [store.structure(int(i)) for i in split.indices("test")[:3]],
    }


@pytest.fixture
def tiny(embedded: dict) -> tuple[FrameSet, FrameSet, FrameSet]:
    """``(train, val, gga)`` of :func:`embedded`."""
    return embedded["train"], embedded["val"], embedded["gga"]


def _context(gga: FrameSet | None, seed: int = 0, **kwargs) -> FitContext:
    sources = {} if gga is None else {"gga": lambda: gga}
    return FitContext(seed=seed, progress=False, auxiliary_sources=sources, **kwargs)


# -- fast: parameters, the auxiliary-data rule, the cycling loader --------------------------


def test_the_spec_resolves_and_params_round_trip() -> None:
    assert get_method(SPEC) is MultiFidelity
    method = MultiFidelity(gga_ratio=3, gga_loss_weight=0.5)
    assert method.get_params()["gga_ratio"] == 3
    assert MultiFidelity(**method.get_params()).get_params() == method.get_params()
    assert MultiFidelity.needs_training_frames


def test_a_task_without_gga_labels_is_refused_naming_what_it_allows(tiny) -> None:
    train, val, gga = tiny
    with pytest.raises(AuxiliaryDataError, match=r"'gga'.*allowed: none") as caught:
        MultiFidelity().fit(train, val, _context(None))
    assert isinstance(caught.value, MfbenchError)
    other = FitContext(progress=False, auxiliary_sources={"pbe": lambda: gga})
    with pytest.raises(AuxiliaryDataError, match=r"allowed: pbe"):
        MultiFidelity().fit(train, val, other)
    assert other.used_auxiliary == []


@pytest.mark.parametrize(
    ("params", "message"),
    [({"gga_ratio": 0}, "at least 1"), ({"gga_ratio": 1.5}, "integer"),
     ({"gga_loss_weight": -1.0}, "≥ 0"), ({"gga_loss_weight": float("nan")}, "finite")],
)  # fmt: skip
def test_bad_sampling_parameters_are_refused(tiny, params, message) -> None:
    train, val, gga = tiny
    with pytest.raises(ValueError, match=message):
        MultiFidelity(**params).fit(train, val, _context(gga))


def test_a_bad_strength_grid_is_refused_before_anything_loads(tiny) -> None:
    train, val, gga = tiny
    context = _context(gga)
    with pytest.raises(ReferenceStrengthError, match="non-empty"):
        MultiFidelity(strengths=()).fit(train, val, context)
    with pytest.raises(ReferenceStrengthError, match="negative"):
        MultiFidelity(strengths=(0.0, -1e-6)).fit(train, val, context)
    assert context.used_auxiliary == [] and not context.checkpoints.entries()


def test_the_checkpoint_key_follows_the_gga_frames(tiny) -> None:
    train, val, gga = tiny
    method, recipe, context = MultiFidelity(), Recipe(epochs=1), _context(gga)
    key = partial(method._checkpoint_key, recipe, 8, 1, train, val, context=context)
    fewer = FrameSet(gga.store, gga.indices[:-1], "gga")
    assert key(gga=gga) == key(gga=gga)
    assert key(gga=gga) != key(gga=fewer)
    assert key(gga=gga) != key(gga=gga.at_fidelity("r2scan"))
    assert key(gga=gga) != partial(MultiFidelity(gga_ratio=2)._checkpoint_key, recipe, 8, 1,
                                   train, val, context=context)(gga=gga)  # fmt: skip


def test_cycling_batches_resume_in_the_middle_of_a_pass() -> None:
    def loader() -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(
            list(range(7)), batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(4)
        )

    whole = CyclingBatches(loader())
    expected = [next(whole).tolist() for _ in range(8)]  # 3 batches a pass: 2 passes and 2
    assert sorted(i for batch in expected[:3] for i in batch) == list(range(7))
    assert expected[:3] != expected[3:6], "each pass draws a new order"
    first = CyclingBatches(loader())
    taken = [next(first).tolist() for _ in range(4)]
    state = first.state_dict()
    assert (state["passes"], state["taken"]) == (1, 1)
    resumed = CyclingBatches(loader())  # a fresh process: a fresh generator
    resumed.load_state_dict(state)
    assert taken + [next(resumed).tolist() for _ in range(4)] == expected
    assert resumed.batches_taken == 8


# -- slow: CHGNet ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_backbone_is_shared_and_a_gga_step_moves_only_it_and_the_gga_head(tiny) -> None:
    train, _, gga = tiny
    model = load_pretrained(FitContext(), "0.3.0")
    view = fidelity_view(model)
    r2scan_params, gga_params = dict(model.named_parameters()), dict(view.named_parameters())
    assert r2scan_params.keys() == gga_params.keys()
    for name, parameter in r2scan_params.items():
        head = name.split(".")[0] in HEAD_MODULES
        assert (gga_params[name] is parameter) is not head, name
        assert torch.equal(gga_params[name], parameter), name  # the heads start equal

    batches = graph_loader(model, train, 8, shuffle=False, seed=0)
    graphs, _ = next(iter(batches))
    before = model([g for g in graphs], task="e")["e"].detach().clone()
    r2scan_head = {n: p.detach().clone() for n, p in r2scan_params.items()
                   if n.split(".")[0] in HEAD_MODULES}  # fmt: skip
    gga_head_before = view.mlp.layers[0].weight.detach().clone()

    unique = list(dict.fromkeys([*model.parameters(), *view.parameters()]))
    assert len(unique) == len(r2scan_params) + len(r2scan_head), "shared parameters counted once"
    optimizer = torch.optim.Adam(unique, 1e-3)
    gga_graphs, gga_targets = next(iter(graph_loader(view, gga, 8, shuffle=False, seed=0)))
    loss_fn = make_loss(Recipe(epochs=1))
    batch_loss(view, loss_fn, gga_graphs, gga_targets, device="cpu")["loss"].backward()
    assert all(p.grad is None for p in model.mlp.parameters()), "no gradient to the r²SCAN head"
    optimizer.step()

    after = model([g for g in graphs], task="e")["e"].detach()
    assert not torch.allclose(after, before, atol=1e-6), "a GGA step moves the shared backbone"
    for name, value in r2scan_head.items():
        assert torch.equal(r2scan_params[name], value), f"{name}: r²SCAN head moved"
    assert not torch.equal(view.mlp.layers[0].weight, gga_head_before), "GGA head did not move"


def _fit(tiny, checkpoints: Path, seed: int = 0, **params) -> MultiFidelity:
    train, val, gga = tiny
    seed_everything(seed)
    budget = Budget(epochs=2, max_steps=3, batch_size=8)
    context = _context(gga, seed, checkpoint_dir=checkpoints, budget=budget)
    method = MultiFidelity(**{"gga_ratio": 2, **params}).fit(train, val, context)
    assert context.used_auxiliary == ["gga"]
    return method


def _maes(history: dict) -> list:
    return [(e["epoch"], e["steps"], e["train"], e["val"], e["aux"]) for e in history["train"]]


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_same_weights(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 frames in batches of 8, a 3-step budget: epoch 1 (2 steps) and one step of epoch 2;
    # 2 GGA batches a step from 20 GGA frames (3 batches a pass): the kill after epoch 1 falls
    # one batch into the second GGA pass, so the resume must rewind the GGA order.
    whole = _fit(tiny, tmp_path / "whole")
    assert [e["steps"] for e in whole.history_["train"]] == [2, 3]
    assert [e["aux"]["batches"] for e in whole.history_["train"]] == [4, 6]
    assert (whole.steps_run_, whole.history_["gga_frames"], whole.history_["gga_batches"]) == (
        3, 20, 6,
    )  # fmt: skip
    assert whole.history_["reference_shift"]["chosen_strength"] in DEFAULT_STRENGTHS

    original_save, saves = EpochCheckpoint.save, []

    def save_then_die(self: EpochCheckpoint, state: dict) -> None:
        original_save(self, state)
        saves.append(self.path)
        raise KeyboardInterrupt  # killed right after the first checkpoint

    monkeypatch.setattr(EpochCheckpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny, tmp_path / "killed")
    monkeypatch.undo()
    saved = torch.load(saves[-1], weights_only=False)
    assert len(saved["history"]) == 1
    assert (saved["aux_loader"]["passes"], saved["aux_loader"]["taken"]) == (1, 1)

    resumed = _fit(tiny, tmp_path / "killed")
    assert _maes(resumed.history_) == _maes(whole.history_)
    expected = whole.model_.state_dict()
    for name, tensor in resumed.model_.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


@pytest.mark.slow
def test_multi_fidelity_conforms(tiny, embedded: dict, tmp_path: Path) -> None:
    train, val, gga = tiny
    structures = embedded["structures"]
    factory = partial(MultiFidelity, epochs=1, batch_size=8)
    kit = KitData(train, val, structures, lambda seed: _context(gga, seed), atol_energy=2e-5)
    assert_method_conforms(factory, kit, tmp_path)
    predicted = factory().fit(train, val, _context(gga)).predict(structures)
    assert np.all(np.isfinite(predicted.energy_per_atom))
