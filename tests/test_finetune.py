"""The gradient-trained baselines pass the conformance kit (tiny data, one epoch; slow)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from baselines.finetune import (
    FineTune,
    FineTuneFrozenGGAAtomRef,
    FineTuneTrainableAtomRef,
    MultiStage,
    Scratch,
)
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import get_method
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, assert_method_conforms

METHODS = [Scratch, FineTuneTrainableAtomRef, FineTuneFrozenGGAAtomRef, FineTune, MultiStage]


def test_registered_names() -> None:
    for method in METHODS:
        assert get_method(method.name) is method
    assert MultiStage(stage1_share=0.25).get_params()["stage1_share"] == 0.25
    assert MultiStage().get_params()["learning_rate"] == 1e-3


def test_fraction_zero_is_refused() -> None:
    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    empty = FrameSet(data.store, data.split.train_fraction(0.0), "r2scan")
    with pytest.raises(ValueError, match="needs training frames"):
        FineTune().fit(empty, empty, None)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_finetune_baselines_conform(method, tmp_path: Path) -> None:
    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    train = FrameSet(data.store, data.split.train_fraction(0.05)[:16], "r2scan")
    val = FrameSet(data.store, data.split.indices("val")[:4], "r2scan")
    structures = [data.store.structure(int(i)) for i in data.split.indices("test")[:3]]
    factory = partial(method, epochs=2, batch_size=8)
    factory.__name__ = method.__name__  # type: ignore[attr-defined]
    kit = KitData(train, val, structures, atol_energy=2e-5)
    assert_method_conforms(lambda: factory(), kit, tmp_path)
