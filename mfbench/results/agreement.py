"""How a stored value is compared with mfbench's recomputation of it, and how closely it must match.

Validation (:mod:`mfbench.results.validation`) recomputes every metric of a record from its
predictions. The same predictions scored by the same code give the same bytes in any process
(no set order, hash seed or clock reaches a metric), but another machine may sum the same
floats in another order (numpy picks SIMD kernels by CPU) and differ in the last bits. A stored
value ``a`` and a recomputed ``b`` therefore agree when

    ``|a - b| <= max(relative * max(|a|, |b|), absolute)``

with the tolerance of the metric (:data:`TOLERANCES`, by the last part of the value's dotted
name, else :data:`DEFAULT`). The relative part covers the last bits of ordinary values; the
absolute floor covers values near zero (a reference model's energy MAE of 1e-4 meV/atom), whose
last bits are a large *relative* change. Every floor is orders of magnitude below the last digit
any table shows (0.1 meV/atom, 0.1 meV/Å, 0.001 GPa, 0.001 μB). Counts are integers and must
be equal. NaN (JSON ``null``) equals NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """``relative`` (dimensionless) and ``absolute`` (in the metric's own unit)."""

    relative: float
    absolute: float

    def agree(self, stored: float, recomputed: float) -> bool:
        """Whether two floats agree (NaN agrees with NaN only)."""
        if math.isnan(stored) or math.isnan(recomputed):
            return math.isnan(stored) and math.isnan(recomputed)
        scale = max(abs(stored), abs(recomputed))
        return abs(stored - recomputed) <= max(self.relative * scale, self.absolute)


#: Any value not listed in :data:`TOLERANCES` (shares, fractions): relative 1e-9, floor 1e-12.
DEFAULT = Tolerance(1e-9, 1e-12)
_MEV = Tolerance(1e-9, 1e-6)  # meV/atom or meV/Å: floor 1e-6, i.e. 1 neV
_GPA = Tolerance(1e-9, 1e-9)  # GPa
_MU_B = Tolerance(1e-9, 1e-9)  # μB

#: Metric key → tolerance. Formation and decomposition energies come from phase diagrams
#: (linear solves), energies, forces and per-element errors from means of many terms.
TOLERANCES: dict[str, Tolerance] = {
    "energy_mae_mev_per_atom": _MEV,
    "energy_rmse_mev_per_atom": _MEV,
    "force_mae_mev_per_a": _MEV,
    "force_rmse_mev_per_a": _MEV,
    "stress_mae_gpa": _GPA,
    "stress_rmse_gpa": _GPA,
    "magmom_mae_mu_b": _MU_B,
    "magmom_rmse_mu_b": _MU_B,
    "formation_energy_mae_mev_per_atom": _MEV,
    "decomposition_energy_mae_mev_per_atom": _MEV,
}


def tolerance_of(key: str) -> Tolerance:
    """The tolerance of the value named ``key`` (e.g. ``metrics.all.stress_mae_gpa``)."""
    leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
    return TOLERANCES.get(leaf, DEFAULT)


def differences(key: str, stored: Any, recomputed: Any) -> list[str]:
    """Readable lines naming every disagreement between a stored and a recomputed value.

    Dicts are compared key by key, lists item by item (lists of dicts with an ``element``
    key by element), integers exactly, other numbers within their tolerance
    (:func:`tolerance_of`) with ``None`` read as NaN and NaN equal
    to NaN, anything else by equality.

    Args:
        key: dotted name of the value, used as the prefix of every line.
        stored: the value in the record (parsed JSON).
        recomputed: the value mfbench computes.

    Returns:
        Lines such as ``metrics.all.energy_mae_mev_per_atom: stored 12.5, recomputed 12.25,
        difference 0.25``; empty when the values agree.
    """
    if isinstance(stored, dict) and isinstance(recomputed, dict):
        return _dict_differences(key, stored, recomputed)
    if isinstance(stored, list) and isinstance(recomputed, list):
        return _list_differences(key, stored, recomputed)
    if _is_number(stored) and _is_number(recomputed):
        return _number_differences(key, stored, recomputed)
    if stored != recomputed or (type(stored) is bool) != (type(recomputed) is bool):
        return [f"{key}: stored {stored!r}, recomputed {recomputed!r}"]
    return []


def _dict_differences(key: str, stored: dict, recomputed: dict) -> list[str]:
    lines = []
    for name in recomputed:
        if name not in stored:
            lines.append(f"{key}.{name}: missing from the record (recomputed {recomputed[name]!r})")
        else:
            lines.extend(differences(f"{key}.{name}", stored[name], recomputed[name]))
    lines.extend(
        f"{key}.{name}: stored {stored[name]!r}, but mfbench computes no such value"
        for name in stored
        if name not in recomputed
    )
    return lines


def _list_differences(key: str, stored: list, recomputed: list) -> list[str]:
    by_element = _keyed_by_element(stored), _keyed_by_element(recomputed)
    if by_element[0] is not None and by_element[1] is not None:
        return _dict_differences(key, *by_element)
    if len(stored) != len(recomputed):
        return [f"{key}: stored {len(stored)} items, recomputed {len(recomputed)}"]
    lines = []
    for index, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
        lines.extend(differences(f"{key}[{index}]", a, b))
    return lines


def _keyed_by_element(items: list) -> dict[str, Any] | None:
    """``{element: item}`` for a list of per-element dicts, else None."""
    if not all(isinstance(item, dict) and "element" in item for item in items):
        return None
    keyed = {str(item["element"]): item for item in items}
    return keyed if len(keyed) == len(items) else None


def _is_number(value: Any) -> bool:
    """True for ints, floats, NumPy numbers and ``None`` (JSON's NaN), False for bools."""
    if isinstance(value, bool | np.bool_):
        return False
    return value is None or isinstance(value, int | float | np.integer | np.floating)


def _number_differences(key: str, stored: Any, recomputed: Any) -> list[str]:
    shown = f"{key}: stored {_show(stored)}, recomputed {_show(recomputed)}"
    if isinstance(stored, int | np.integer) and isinstance(recomputed, int | np.integer):
        return [] if int(stored) == int(recomputed) else [f"{shown} (integers must be equal)"]
    a = math.nan if stored is None else float(stored)
    b = math.nan if recomputed is None else float(recomputed)
    tolerance = tolerance_of(key)
    if tolerance.agree(a, b):
        return []
    return [
        f"{shown}, difference {a - b!r} (stored - recomputed; tolerance relative "
        f"{tolerance.relative:g}, absolute {tolerance.absolute:g})"
    ]


def _show(value: Any) -> str:
    """A number at full precision (``None`` shown as NaN)."""
    if value is None:
        return "NaN (null)"
    return repr(value.item() if isinstance(value, np.generic) else value)
