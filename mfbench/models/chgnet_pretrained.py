"""The CHGNet checkpoints shipped in the ``chgnet`` package, as mfbench predictors.

``chgnet-0.3.0`` is the GGA/GGA+U model pretrained on MPtrj; ``chgnet-r2scan`` is the
paper's Method 4 model, fine-tuned on all of MP-r²SCAN (so it has seen that benchmark's
test materials: a reference row, never a compliant entry).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from mfbench.data.frame import MAX_Z
from mfbench.data.labels import LabelTable
from mfbench.errors import DataError, MfbenchError, UnknownNameError

logger = logging.getLogger(__name__)

#: mfbench name → ``CHGNet.load(model_name=...)`` name.
PRETRAINED = {"chgnet-0.3.0": "0.3.0", "chgnet-r2scan": "r2scan"}


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; others are checked.

    Raises:
        MfbenchError: CUDA asked for where torch sees none, or an unknown device name.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MfbenchError(
            f"device {device!r} requested, but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise MfbenchError(f"unknown device {device!r}: use auto, cpu or cuda[:i]")
    return device


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
