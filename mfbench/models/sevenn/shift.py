"""SevenNet's species-wise energy shift: its elemental reference, read and moved in place.

SevenNet predicts an energy per atom ``E_i = scale[t_i] · x_i + shift[t_i]`` (module
``rescale_atomic_energy``, a ``sevenn.nn.scale.SpeciesWiseRescale``; ``t_i`` is the atom's
type index, ``model.type_map[Z]``) and sums them. So ``shift`` is an intensive elemental
reference: raising ``shift`` of element ``Z`` by ``δ_Z`` (eV) raises a structure's energy per
atom by ``Σ_Z x_Z δ_Z`` (``x_Z`` its composition fractions), exactly what
:func:`mfbench.methods.fit_elemental_reference` fits, and leaves forces and stresses unchanged.
Arrays here are ``[94]`` in eV, index ``Z - 1``, like :class:`mfbench.methods.ElementalReference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure

from mfbench.data.frame import MAX_Z
from mfbench.errors import DataError

#: Name of the species-wise rescale module in SevenNet's models.
RESCALE_MODULE = "rescale_atomic_energy"


def _rescale(model: Any) -> Any:
    module = model._modules.get(RESCALE_MODULE)
    if module is None or module.shift.ndim != 1 or len(module.shift) != len(model.type_map):
        raise ValueError(
            "expected a SevenNet model with a species-wise shift (one per element), "
            f"got {type(module).__name__}"
        )
    return module


def supported_atomic_numbers(model: Any) -> np.ndarray:
    """The sorted atomic numbers a SevenNet model knows (its ``type_map``)."""
    return np.array(sorted(model.type_map), dtype=np.int64)


def species_shift(model: Any) -> np.ndarray:
    """``[94]`` eV: the model's shift per element (index ``Z - 1``), NaN where it has none."""
    shift = _rescale(model).shift.detach().cpu().numpy().astype(np.float64)
    out = np.full(MAX_Z, np.nan)
    for z, index in model.type_map.items():
        if 1 <= z <= MAX_Z:
            out[z - 1] = shift[index]
    return out


def add_to_species_shift(model: Any, delta: np.ndarray) -> None:
    """Add ``delta`` (``[94]`` eV, index ``Z - 1``) to the model's shift, in place.

    Elements the model does not know are skipped (no structure with them can be predicted).

    Raises:
        ValueError: ``delta`` is not ``[94]``, or NaN for an element the model knows.
    """
    import torch

    delta = np.asarray(delta, dtype=np.float64)
    if delta.shape != (MAX_Z,):
        raise ValueError(f"expected a [{MAX_Z}] shift change, got shape {delta.shape}")
    parameter = _rescale(model).shift
    added = torch.zeros_like(parameter, dtype=torch.float64)
    for z, index in model.type_map.items():
        if 1 <= z <= MAX_Z:
            if not np.isfinite(delta[z - 1]):
                raise ValueError(f"shift change of Z = {z} is {delta[z - 1]}")
            added[index] = float(delta[z - 1])
    with torch.no_grad():
        parameter.copy_((parameter.double() + added).to(parameter.dtype))


def check_supported_elements(model: Any, structures: Sequence[Structure]) -> None:
    """Raise :class:`DataError` naming the first structure with an element the model lacks."""
    known = set(model.type_map)
    for index, structure in enumerate(structures):
        bad = sorted({el.symbol for el in structure.composition if el.Z not in known})
        if bad:
            raise DataError(
                f"structure {index} ({structure.formula}) contains {', '.join(bad)}, which "
                f"this SevenNet model does not know ({len(known)} elements)"
            )
