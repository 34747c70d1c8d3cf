"""CHGNet's shipped elemental references (``AtomRef``), to compare fitted offsets with.

CHGNet predicts ``E/N = Σ_el x_el w_el + (graph network)``; ``w`` are the intensive
``AtomRef`` weights (eV/atom, index ``Z - 1``, 94 elements). The MPtrj-trained 0.3.0 model and
the ``r2scan`` model (0.3.0 with the AtomRef refitted on MP-r²SCAN, then fine-tuned) ship with
the ``chgnet`` package; ``w(r2scan) − w(0.3.0)`` is the elemental shift chgnet's authors used.
Loading imports torch and chgnet, so it happens only when asked for.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import numpy as np

from mfbench.data.frame import MAX_Z

#: ``CHGNet.load`` model names: the high-fidelity (r²SCAN) and low-fidelity (MPtrj) models.
HIGH_MODEL, LOW_MODEL = "r2scan", "0.3.0"


def _weights(model: Any) -> np.ndarray:
    composition = model.composition_model
    if not composition.is_intensive:
        raise ValueError("expected an intensive AtomRef (weights per composition fraction)")
    weights = composition.fc.weight.detach().cpu().numpy()[0].astype(np.float64).copy()
    if weights.shape != (MAX_Z,):
        raise ValueError(f"AtomRef has {weights.shape} weights, expected ({MAX_Z},)")
    return weights


def chgnet_atomref_difference() -> tuple[np.ndarray, str]:
    """``([94] eV/atom, source)``: CHGNet r2scan AtomRef minus CHGNet 0.3.0 AtomRef.

    Index ``Z - 1``. chgnet's load messages go to stderr, so that stdout stays clean for
    ``--json``.
    """
    import chgnet
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(sys.stderr):
        high = CHGNet.load(model_name=HIGH_MODEL, use_device="cpu", verbose=False)
        low = CHGNet.load(model_name=LOW_MODEL, use_device="cpu", verbose=False)
    source = (
        f"chgnet {chgnet.__version__}: CHGNet.load('{HIGH_MODEL}') AtomRef minus "
        f"CHGNet.load('{LOW_MODEL}') AtomRef"
    )
    return _weights(high) - _weights(low), source
