"""Metrics computed by mfbench from reference labels and predictions.

- :func:`error_metrics`, :func:`per_element_energy_mae`: energy, force, stress, magmom errors.
- :func:`covered_frames`: which frames contain only elements seen in training.
- :func:`thermo_metrics`, :func:`lowest_energy_frames`: formation and decomposition energies.
"""

from mfbench.metrics.coverage import covered_frames
from mfbench.metrics.errors import error_metrics, per_element_energy_mae
from mfbench.metrics.thermo import (
    MaterialEnergy,
    ThermoResult,
    lowest_energy_frames,
    thermo_metrics,
)

__all__ = [
    "MaterialEnergy",
    "ThermoResult",
    "covered_frames",
    "error_metrics",
    "lowest_energy_frames",
    "per_element_energy_mae",
    "thermo_metrics",
]
