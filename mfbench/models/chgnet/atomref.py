"""CHGNet's elemental reference (``AtomRef``): reading and overwriting its intensive weights.

CHGNet 0.3.0 predicts ``E/atom = AtomRef(composition fractions) + the graph network``; the
``AtomRef`` is one linear layer over the ``[94]`` element fractions (column ``Z - 1``), weights
in eV/atom. Transfer methods refit it (see :func:`mfbench.methods.fit_elemental_reference`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def atomref_weights(model: Any) -> np.ndarray:
    """``[94]`` eV/atom: the intensive ``AtomRef`` weights of a CHGNet model (a copy).

    Raises:
        ValueError: the model's ``AtomRef`` is extensive (weights per atom count).
    """
    composition = model.composition_model
    if not composition.is_intensive:
        raise ValueError("expected an intensive AtomRef (weights per composition fraction)")
    return composition.fc.weight.detach().cpu().numpy()[0].astype(np.float64).copy()


def set_atomref_weights(model: Any, weights: np.ndarray) -> None:
    """Overwrite a CHGNet model's intensive ``AtomRef`` weights (``[94]`` eV/atom) in place."""
    import torch

    layer = model.composition_model.fc.weight
    with torch.no_grad():
        layer[0] = torch.as_tensor(weights, dtype=layer.dtype, device=layer.device)
