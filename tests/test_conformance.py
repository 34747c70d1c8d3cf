"""The conformance kit passes real methods and catches broken ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from baselines.sevennet import SevenNetPretrained
from baselines.zero_shot import UntouchedGGA, ZeroShotRefitAtomRef
from mfbench.cli import main
from mfbench.errors import UnknownNameError
from mfbench.methods import LabelTable, method_names
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, assert_method_conforms, check_method, method_checks

from .doubles import COMPOSITION_ONLY, SEEDS_ITSELF, CompositionOnly, SeedsItself


@pytest.fixture
def kit() -> KitData:
    return KitData.from_task("surrogate-r2scan", fraction=0.05)


def test_kit_data_comes_from_the_task_split(kit: KitData) -> None:
    data = TaskData.load(get_task("surrogate-r2scan"))
    assert kit.train.indices.tolist() == data.split.train_fraction(0.05).tolist()
    assert kit.val.indices.tolist() == data.split.indices("val")[:4].tolist()
    assert kit.train.fidelity == kit.val.fidelity == "r2scan"
    test = data.split.indices("test")[:3]
    assert [s.composition for s in kit.structures] == [
        data.store.structure(int(i)).composition for i in test
    ]
    context = kit.context(7)
    assert (context.seed, context.progress, context.budget) == (7, False, data.task.budget)
    gga = context.auxiliary("gga")  # the task allows the GGA labels of the train split
    assert (gga.fidelity, len(gga)) == ("gga", len(data.split.indices("train")))
    small = KitData.from_task(data.task, fraction=0.05, n_train=5, n_val=2, n_structures=1)
    assert (len(small.train), len(small.val), len(small.structures)) == (5, 2, 1)
    with pytest.raises(ValueError, match="no frames"):
        KitData.from_task(data.task, fraction=0.0)


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


@pytest.mark.parametrize(
    ("broken", "failing_check"),
    [
        (ReturnsNothing, "check_fit_returns_self_and_shapes"),
        (DependsOnOrientation, "check_rotation_equivariance"),
        (SeedsItself, "check_seeded_fit_repeats"),
    ],
)
def test_kit_catches_broken_methods(broken, failing_check: str, kit: KitData, tmp_path) -> None:
    results = {r.name: r for r in check_method(broken, kit, tmp_path)}
    assert list(results) == [check.__name__ for check in method_checks()]
    assert not results[failing_check].passed and results[failing_check].message
    assert results["check_init_only_stores_params"].passed
    with pytest.raises(AssertionError, match=failing_check):
        assert_method_conforms(broken, kit, tmp_path)


def test_the_kit_runs_on_a_module_class_spec(kit: KitData) -> None:
    results = check_method(COMPOSITION_ONLY, kit)
    assert [(r.name, r.passed, r.message) for r in results] == [
        (check.__name__, True, "") for check in method_checks()
    ]
    assert (
        results[0].description
        == "``get_params`` returns the constructor arguments; a clone from them is equivalent."
    )
    with pytest.raises(UnknownNameError):
        check_method("no-such-method", kit)


class RaisesInFit(CompositionOnly):
    def fit(self, train, val, context):  # type: ignore[override]
        raise RuntimeError("the GPU caught fire")


def test_a_method_that_raises_fails_the_checks_that_fit_it(kit: KitData) -> None:
    results = {r.name: r for r in check_method(RaisesInFit, kit)}
    assert results["check_seeded_fit_repeats"].message == "RuntimeError: the GPU caught fire"
    assert results["check_unfitted_predict_raises"].passed


@pytest.mark.slow
@pytest.mark.parametrize("method", [UntouchedGGA, ZeroShotRefitAtomRef, SevenNetPretrained])
def test_zero_shot_baselines_conform(method, kit: KitData, tmp_path: Path) -> None:
    assert_method_conforms(method, kit, tmp_path)


def test_methods_check_runs_the_kit_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["methods", "check", "--task", "surrogate-r2scan", "--fraction", "0.05", "--json"]
    assert main([*argv[:2], COMPOSITION_ONLY, *argv[2:]]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["checks"]] == [c.__name__ for c in method_checks()]
    assert all(c["passed"] for c in report["checks"])
    assert main([*argv[:2], SEEDS_ITSELF, *argv[2:-1]]) == 1
    out = capsys.readouterr().out
    assert "FAIL  check_seeded_fit_repeats" in out and "checks passed" in out


def test_methods_list_names_every_baseline_with_its_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["methods", "list", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(method_names())
    assert listed["zero-shot"]["class"] == "baselines.zero_shot:ZeroShotRefitAtomRef"
    assert listed["finetune-refit-atomref"]["parameters"]["learning_rate"] == "0.001"
    assert listed["multi-stage"]["parameters"]["stage1_share"] == "0.5"
