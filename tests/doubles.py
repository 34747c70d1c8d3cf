"""Test doubles: cheap methods the tests run through the runner, named by ``module:Class`` specs.

Every double the tests share, or name by a spec string (as unpublished code is named), lives
here, so a run (in this process or a worker) imports this module, never a test module:

- :class:`CompositionOnly`: energies from a least-squares elemental reference; zero forces.
- :class:`SeededComposition`: the same, jittered by the seed (seeds give other metrics).
- :class:`Gated`: fails while a gate file is missing (a failure fixable without a change).
- :class:`OffsetByRate`: energies off by a known amount per decade of learning rate.
- :class:`Oracle`: the task's own labels plus a class-level energy offset.
- :class:`HiddenR2scanThroughContext`, :class:`HiddenR2scanDirect`: methods that cheat for the
  trust tests: each loads CHGNet's r2scan checkpoint while its hyperparameters say it starts
  from the GGA model, then predicts from composition alone (so a test runs in seconds).

(``tests/doubles_import_time.py`` is apart on purpose: it loads a model when imported.)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from pymatgen.core import Structure

from mfbench.data.elemental_reference import composition_fractions, fit_elemental_reference
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.methods import FitContext, FitDivergedError, Method
from mfbench.models.chgnet import load_pretrained
from mfbench.tasks.definition import Task

#: The spec of :class:`CompositionOnly`.
COMPOSITION_ONLY = "tests.doubles:CompositionOnly"
#: The spec of :class:`SeededComposition`.
SEEDED = "tests.doubles:SeededComposition"
#: The spec of :class:`Gated`.
GATED = "tests.doubles:Gated"
#: The spec of :class:`OffsetByRate`.
OFFSET_BY_RATE = "tests.doubles:OffsetByRate"
#: The spec of :class:`Oracle`.
ORACLE = "tests.doubles:Oracle"
#: Saves the data workers its context allowed.
WORKERS_SEEN = "tests.doubles:WorkersSeen"
#: Breaks the seeded-fit check: jitters its weights with an unseeded generator.
SEEDS_ITSELF = "tests.doubles:SeedsItself"
#: The spec of :class:`HiddenR2scanThroughContext`.
CONTEXT_SPEC = "tests.doubles:HiddenR2scanThroughContext"
#: The spec of :class:`HiddenR2scanDirect`.
DIRECT_SPEC = "tests.doubles:HiddenR2scanDirect"


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


class SeededComposition(CompositionOnly):
    """CompositionOnly with elemental energies jittered by the seed, so seeds give other metrics."""

    name = "seeded-composition"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        super().fit(train, val, context)
        jitter = np.random.default_rng(context.seed).normal(0.0, 0.05, self.weights_.shape)
        self.weights_ = self.weights_ + jitter
        return self


class Gated(CompositionOnly):
    """A composition-only method that raises while its ``gate`` file is missing.

    A failure whose cause can be fixed without changing the run (create the file), and
    ``save`` records the ``MFBENCH_HOME`` the worker saw.
    """

    name = "gated"

    def __init__(self, fallback: float = -5.0, gate: str = "") -> None:
        self.fallback = fallback
        self.gate = gate

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        if self.gate and not Path(self.gate).is_file():
            raise RuntimeError(f"gate file {self.gate} is missing")
        return super().fit(train, val, context)

    def save(self, directory: Path) -> None:
        super().save(directory)
        (Path(directory) / "home.txt").write_text(os.environ["MFBENCH_HOME"])


#: Energies of :class:`OffsetByRate` are off by |log10(learning_rate / BEST)| ×
#: OFFSET_PER_DECADE eV/atom.
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


class Oracle(CompositionOnly):
    """Predicts the labels of :attr:`task`, energies shifted by :attr:`energy_offset` (eV/atom).

    Test-only: it reads the answers from the prepared dataset, relying on the runner asking for
    the evaluation frames in their order (it checks the atom counts).
    """

    name = "oracle"
    task: ClassVar[str] = "surrogate-r2scan"
    energy_offset: ClassVar[float] = 0.0

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        from mfbench.evaluation import EvaluationFrames
        from mfbench.tasks.data import TaskData
        from mfbench.tasks.definition import get_task

        data = TaskData.load(get_task(type(self).task))
        needed = EvaluationFrames.of(data).needed
        labels = data.store.labels(data.task.target_fidelity, needed)
        assert [len(s) for s in structures] == labels.n_atoms.tolist()
        return dataclasses.replace(
            labels,
            energy_per_atom=labels.energy_per_atom + type(self).energy_offset,
            forces=np.nan_to_num(labels.forces),
            stress=np.nan_to_num(labels.stress),
            magmoms=np.nan_to_num(labels.magmoms),
        )


class HiddenR2scanThroughContext(CompositionOnly):
    """Says ``base_model="0.3.0"`` but asks the context for the r2scan model."""

    name = "hidden-r2scan-context"

    def __init__(self, fallback: float = -5.0, base_model: str = "0.3.0") -> None:
        self.fallback = fallback
        self.base_model = base_model

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        self.teacher_version_ = load_pretrained(context, "r2scan").version
        return super().fit(train, val, context)


class HiddenR2scanDirect(CompositionOnly):
    """Loads the r2scan model with chgnet's own API, bypassing the context."""

    name = "hidden-r2scan-direct"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        from chgnet.model import CHGNet

        self.teacher_version_ = CHGNet.load(model_name="r2scan", verbose=False).version
        return super().fit(train, val, context)


class WorkersSeen(CompositionOnly):
    """Saves the number of data workers its fit context allowed (``workers.txt``)."""

    name = "workers-seen"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        self.workers_ = context.data_workers
        return super().fit(train, val, context)

    def save(self, directory: Path) -> None:
        super().save(directory)
        (Path(directory) / "workers.txt").write_text(str(self.workers_))


class SeedsItself(CompositionOnly):
    """Adds unseeded noise to its fitted weights (the conformance kit must catch it)."""

    def fit(self, train, val, context):  # type: ignore[override]
        super().fit(train, val, context)
        self.weights_ = self.weights_ + np.random.default_rng().normal(size=94)
        return self


def synthetic_task(name: str, **fields: object) -> Task:
    """A task on the embedded surrogate-aflow data with fractions 0, 0.01, 0.1 and 1.

    ``fields`` replace or add top-level keys of the task file (e.g. ``roles``, ``citable``).
    """
    return Task.model_validate(
        {
            "task": name,
            "version": 1,
            "description": "synthetic",
            "dataset": {"id": "surrogate-aflow", "version": "1"},
            "target_fidelity": "r2scan",
            "split": {"salt": "s", "train": 0.8, "val": 0.1, "test": 0.1},
            "fractions": {"salt": "f", "values": [0.0, 0.01, 0.1, 1.0]},
            "budget": {"epochs": 1, "batch_size": 8},
            "citable": True,
            "metrics": [{"name": "energy_mae", "unit": "meV/atom"}],
            "changelog": [{"version": 1, "date": "2026-01-01", "change": "first"}],
            **fields,
        }
    )
