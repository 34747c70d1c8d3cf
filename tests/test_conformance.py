"""The conformance kit passes real methods and catches broken ones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from baselines.sevennet import SevenNetPretrained
from baselines.zero_shot import UntouchedGGA, ZeroShotRefitAtomRef
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import FitContext
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, check_method, method_checks

from .doubles import CompositionOnly


@pytest.fixture
def kit() -> KitData:
    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    train = FrameSet(data.store, data.split.train_fraction(0.05), "r2scan")
    val = FrameSet(data.store, data.split.indices("val")[:4], "r2scan")
    structures = [data.store.structure(int(i)) for i in data.split.indices("test")[:3]]

    def context(seed: int) -> FitContext:
        return FitContext(
            seed=seed, progress=False, auxiliary_sources={"gga": lambda: train.at_fidelity("gga")}
        )

    return KitData(train, val, structures, context)


@pytest.mark.parametrize("check", method_checks(), ids=lambda c: c.__name__)
def test_composition_only_conforms(check, kit: KitData, tmp_path: Path) -> None:
    check(CompositionOnly, kit, tmp_path)


class ReturnsNothing(CompositionOnly):
    def fit(self, train, val, context):  # type: ignore[override]
        super().fit(train, val, context)


class DependsOnOrientation(CompositionOnly):
    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        table = super().predict(structures)
        tilt = np.array([s.lattice.matrix[0, 0] for s in structures])
        return LabelTable(table.energy_per_atom + tilt, table.forces, table.stress,
                          table.magmoms, table.atom_offsets)  # fmt: skip


class SeedsItself(CompositionOnly):
    def fit(self, train, val, context):  # type: ignore[override]
        super().fit(train, val, context)
        self.weights_ = self.weights_ + np.random.default_rng().normal(size=94)
        return self


@pytest.mark.parametrize(
    ("broken", "failing_check"),
    [
        (ReturnsNothing, "check_fit_returns_self_and_shapes"),
        (DependsOnOrientation, "check_rotation_equivariance"),
        (SeedsItself, "check_seeded_fit_repeats"),
    ],
)
def test_kit_catches_broken_methods(broken, failing_check: str, kit: KitData, tmp_path) -> None:
    with pytest.raises(AssertionError, match=failing_check):
        check_method(broken, kit, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("method", [UntouchedGGA, ZeroShotRefitAtomRef, SevenNetPretrained])
def test_zero_shot_baselines_conform(method, kit: KitData, tmp_path: Path) -> None:
    check_method(method, kit, tmp_path)
