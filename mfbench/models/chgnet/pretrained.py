"""The CHGNet checkpoints shipped in the ``chgnet`` package: loading them and predicting with them.

``chgnet-0.3.0`` is the GGA/GGA+U model pretrained on MPtrj; ``chgnet-r2scan`` is the
paper's Method 4 model, fine-tuned on all of MP-r²SCAN (so it has seen that benchmark's
test materials: a reference row, never a compliant entry).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from mfbench.data.frame import MAX_Z
from mfbench.data.labels import LabelTable
from mfbench.errors import DataError, UnknownNameError
from mfbench.models.device import resolve_device

logger = logging.getLogger(__name__)

#: mfbench name → ``CHGNet.load(model_name=...)`` name.
PRETRAINED = {"chgnet-0.3.0": "0.3.0", "chgnet-r2scan": "r2scan"}


class LoadingContext(Protocol):
    """What :func:`load_pretrained` needs of a :class:`mfbench.methods.FitContext`."""

    device: str

    def recording_checkpoint(self, name: str) -> AbstractContextManager[None]:
        """Name the weights files read inside the block ``name`` in the run's record."""
        ...


def load_pretrained(context: LoadingContext, model_name: str = "0.3.0") -> Any:
    """A fresh ``chgnet.model.CHGNet`` shipped with ``chgnet``, on ``context.device``.

    The weights file is recorded in the result as ``chgnet-<model_name>`` with its sha256
    (through :meth:`mfbench.methods.FitContext.recording_checkpoint`).

    Args:
        context: the run's :class:`~mfbench.methods.FitContext`.
        model_name: ``CHGNet.load``'s name: ``"0.3.0"`` (GGA, MPtrj) or ``"r2scan"``
            (trained on all of MP-r2SCAN: a run that loads it is never ranked).
    """
    from chgnet.model import CHGNet

    with context.recording_checkpoint(f"chgnet-{model_name}"):
        return CHGNet.load(model_name=model_name, use_device=context.device, verbose=False)


class PretrainedChgnet:
    """Predict energies, forces, stresses and magnetic moments with a shipped CHGNet.

    Args:
        name: ``"chgnet-0.3.0"`` or ``"chgnet-r2scan"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
        batch_size: structures per forward pass.
    """

    def __init__(self, name: str, device: str = "auto", batch_size: int = 32) -> None:
        if name not in PRETRAINED:
            raise UnknownNameError("pretrained model", name, PRETRAINED)
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The loaded ``chgnet.model.CHGNet`` (loaded on first use)."""
        if self._model is None:
            from chgnet.model import CHGNet

            self._model = CHGNet.load(
                model_name=PRETRAINED[self.name],
                use_device=resolve_device(self.device),
                verbose=False,
            )
            self._model.eval()
        return self._model

    def describe(self) -> dict[str, Any]:
        """Provenance: model name, chgnet version, parameter count, device."""
        import chgnet

        return {
            "name": self.name,
            "chgnet_model_name": PRETRAINED[self.name],
            "chgnet_version": chgnet.__version__,
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
            "device": str(next(self.model.parameters()).device),
        }

    def predict(self, structures: Sequence[Structure], *, progress: bool = True) -> LabelTable:
        """Predict every structure; returns a :class:`LabelTable` in mfbench units."""
        check_supported_elements(structures)
        return predict_with_chgnet(
            self.model, structures, batch_size=self.batch_size, desc=self.name, progress=progress
        )


def check_supported_elements(structures: Sequence[Structure]) -> None:
    """Raise :class:`DataError` naming the first structure with an element beyond Z = 94."""
    for index, structure in enumerate(structures):
        bad = sorted({el.symbol for el in structure.composition if not 1 <= el.Z <= MAX_Z})
        if bad:
            raise DataError(
                f"structure {index} ({structure.formula}) contains {', '.join(bad)}: "
                f"CHGNet supports Z = 1-{MAX_Z} only"
            )


def predict_with_chgnet(
    model: Any,
    structures: Sequence[Structure],
    *,
    batch_size: int = 32,
    desc: str = "predict",
    progress: bool = True,
) -> LabelTable:
    """Run a ``chgnet.model.CHGNet`` over ``structures`` in batches, with a progress bar.

    Returns:
        Energies eV/atom, forces ``[n_atoms, 3]`` eV/Å, stress ``[3, 3]`` GPa (CHGNet's sign,
        which is mfbench's), magnetic moments ``[n_atoms]`` μB.
    """
    energies, forces, stresses, magmoms = [], [], [], []
    with tqdm(total=len(structures), desc=desc, disable=not progress, unit="frame") as bar:
        for start in range(0, len(structures), batch_size):
            chunk = list(structures[start : start + batch_size])
            outputs = model.predict_structure(chunk, task="efsm", batch_size=batch_size)
            if isinstance(outputs, dict):
                outputs = [outputs]
            for out in outputs:
                energies.append(float(out["e"]))
                forces.append(np.asarray(out["f"], dtype=np.float64))
                stresses.append(np.asarray(out["s"], dtype=np.float64))
                magmoms.append(np.asarray(out["m"], dtype=np.float64).reshape(-1))
            bar.update(len(chunk))
    return LabelTable.from_frames(energies, forces, stresses, magmoms, [len(s) for s in structures])
