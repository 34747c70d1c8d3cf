"""The method interface every transfer strategy implements (baselines and outside code).

In the spirit of scikit-learn estimators: ``__init__`` only stores hyperparameters under
their own names, :meth:`Method.get_params` reads them back from the signature, learned
state lives in attributes ending in ``_``, :meth:`Method.fit` returns ``self``.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from pymatgen.core import Structure

from mfbench.atomic_write import write_json_atomic
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.errors import MfbenchError
from mfbench.methods.checkpoint_log import HOW_DECLARED, HOW_PRETRAINED, CheckpointLog
from mfbench.tasks.definition import Budget


class NotFittedError(MfbenchError):
    """A method was used for prediction or saving before :meth:`Method.fit`."""


class FitDivergedError(MfbenchError):
    """A method's training diverged (NaN or infinite loss); raise it from ``fit``.

    Under a task's hyperparameter selection (:mod:`mfbench.selection`) a diverged candidate is
    recorded and passed over instead of stopping the run.
    """


@dataclass
class FitContext:
    """What the runner hands a method besides its training and validation frames.

    Attributes:
        device: ``"cpu"`` or ``"cuda[:i]"``.
        seed: the run's seed; methods seed every random source from it.
        budget: the task's training budget (epochs, optimizer steps, batch size).
        checkpoint_dir: where to write checkpoints so a killed run can resume, or None.
        progress: show progress bars.
        auxiliary_sources: name → loader of the low-fidelity data the task allows
            (e.g. ``"gga"`` → the GGA labels of the training frames).
        used_auxiliary: names of the auxiliary data the method requested (recorded in the
            result).
        data_workers: processes a method may use to prepare its data (e.g. to convert
            structures to graphs); results must not depend on it.
        checkpoints: the weights files the method loaded (:meth:`recording_checkpoint`),
            declared (:meth:`declare_checkpoint`) or opened while the runner watched it;
            recorded in the result with their sha256 (see
            :mod:`mfbench.methods.checkpoint_log`).

    The data rule every method keeps: target-fidelity labels come only from ``train`` (and
    ``val`` for monitoring). A run that loads a checkpoint trained on the target fidelity
    (CHGNet's released ``r2scan`` model, SevenNet-MF-0, anything ``mfbench/data/
    checkpoints.yaml`` marks so) is shown as a reference row and never ranked, whatever its
    hyperparameters say.
    """

    device: str = "cpu"
    seed: int = 0
    budget: Budget | None = None
    checkpoint_dir: Path | None = None
    progress: bool = True
    auxiliary_sources: Mapping[str, Callable[[], FrameSet]] = field(default_factory=dict)
    used_auxiliary: list[str] = field(default_factory=list)
    data_workers: int = 1
    checkpoints: CheckpointLog = field(default_factory=CheckpointLog)

    @contextmanager
    def recording_checkpoint(self, name: str) -> Iterator[None]:
        """Record the weights files read inside the ``with`` block under ``name``.

        Architecture adapters load pretrained weights inside it, e.g.
        :func:`mfbench.models.chgnet.load_pretrained` records CHGNet's ``"0.3.0"`` as
        ``chgnet-0.3.0``. Each file is recorded with its sha256 (and ``how``
        :data:`~mfbench.methods.checkpoint_log.HOW_PRETRAINED`); what is read outside the block
        is recorded anyway, without a name.
        """
        with self.checkpoints.naming(name, HOW_PRETRAINED):
            yield

    def declare_checkpoint(self, path: Path | str, name: str | None = None) -> None:
        """Record a weights file the method obtained without :meth:`recording_checkpoint`.

        Files opened through Python are recorded anyway; declare those read by native code
        (e.g. ``safetensors``) or unpacked from elsewhere. ``path`` must exist when the run
        ends; it is recorded with its sha256.
        """
        self.checkpoints.add(path, name=name, how=HOW_DECLARED)

    def auxiliary(self, name: str) -> FrameSet:
        """The auxiliary data ``name``, recording that the method used it.

        Raises:
            KeyError: the task does not allow ``name``; the message lists what it allows.
        """
        if name not in self.auxiliary_sources:
            allowed = ", ".join(sorted(self.auxiliary_sources)) or "none"
            raise KeyError(
                f"auxiliary data {name!r} is not allowed by this task (allowed: {allowed})"
            )
        if name not in self.used_auxiliary:
            self.used_auxiliary.append(name)
        return self.auxiliary_sources[name]()


class Method(ABC):
    """A transfer-learning strategy.

    Subclasses set :attr:`name`, store every ``__init__`` argument under the same attribute
    name (nothing else happens in ``__init__``), and implement the five methods below.

    What the runner records of a method, without asking it: the sha256 of the module that
    defines the class (``method.source``) and every weights file read while it fits and predicts
    (``checkpoints``, see :class:`FitContext`). Load pretrained weights through an architecture
    adapter (e.g. :func:`mfbench.models.chgnet.load_pretrained`, which uses
    :meth:`FitContext.recording_checkpoint`), or declare them with
    :meth:`FitContext.declare_checkpoint` when native code reads them. A run that reads a
    checkpoint trained on the task's target fidelity is non-compliant (never ranked), whatever
    its hyperparameters say.
    """

    #: Registry name, e.g. ``"finetune-refit-atomref"``.
    name: ClassVar[str] = ""
    #: True when :meth:`fit` cannot work without target-fidelity training frames (fraction 0
    #: has none); the runner and ``mfbench sweep`` refuse such runs before starting them.
    needs_training_frames: ClassVar[bool] = False
    #: BibTeX entries of the publications the method follows. The site cites those of the
    #: registered baselines, with the suite; a submission's citation comes from its metadata.
    references: ClassVar[tuple[str, ...]] = ()

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters, read back by ``__init__``'s signature."""
        signature = inspect.signature(type(self).__init__)
        return {
            p: getattr(self, p)
            for p in signature.parameters
            if p != "self" and signature.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD
        }

    def is_fitted(self) -> bool:
        """Whether learned state (attributes ending in ``_``) exists."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if not self.is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def save_params(self, directory: Path) -> None:
        """Write ``params.json`` (method name and hyperparameters) atomically into ``directory``."""
        write_json_atomic(
            Path(directory) / "params.json", {"method": self.name, **self.get_params()}
        )

    @classmethod
    def from_saved_params(cls, directory: Path) -> Self:
        """A new, unfitted instance built from :meth:`save_params`'s file."""
        params = json.loads((Path(directory) / "params.json").read_text())
        params.pop("method", None)
        return cls(**params)

    @abstractmethod
    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        """Learn from ``train`` (target-fidelity labels), monitor on ``val``; return self."""

    @abstractmethod
    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        """Per-structure energy (eV/atom), forces (eV/Å), stress (GPa), magmoms (μB)."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything :meth:`load` needs into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        """Rebuild a fitted method saved by :meth:`save`, its model on ``device``.

        Methods without device-bound state accept ``device`` and ignore it.
        """
