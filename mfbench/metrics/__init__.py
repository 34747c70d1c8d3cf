"""Metrics computed by mfbench from reference labels and predictions.

- :mod:`mfbench.metrics.catalogue`: every reported metric's key, name, unit and direction.
- :func:`error_metrics`, :func:`per_element_energy_mae`: energy, force, stress, magmom errors.
- :func:`covered_frames`: which frames contain only elements seen in training.
- :func:`thermo_metrics`, :func:`lowest_energy_frames`: formation and decomposition energies.

The computations are imported on first use, so that reading the catalogue (task files do)
does not pull in pymatgen's phase diagrams.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mfbench.metrics.coverage import covered_frames
    from mfbench.metrics.errors import error_metrics, per_element_energy_mae
    from mfbench.metrics.thermo import (
        MaterialEnergy,
        ThermoResult,
        lowest_energy_frames,
        thermo_metrics,
    )

#: Public name → the submodule that defines it.
_HOMES = {
    "covered_frames": "coverage",
    "error_metrics": "errors",
    "per_element_energy_mae": "errors",
    "MaterialEnergy": "thermo",
    "ThermoResult": "thermo",
    "lowest_energy_frames": "thermo",
    "thermo_metrics": "thermo",
}

__all__ = [
    "MaterialEnergy",
    "ThermoResult",
    "covered_frames",
    "error_metrics",
    "lowest_energy_frames",
    "per_element_energy_mae",
    "thermo_metrics",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
