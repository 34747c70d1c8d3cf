"""Unit and sign conventions, converted in exactly one place.

mfbench stores and compares labels in CHGNet's conventions:

- energy: eV/atom
- forces: eV/Å, shape ``[n_atoms, 3]``
- stress: GPa, shape ``[3, 3]``, CHGNet/ASE sign (negative under compression,
  i.e. the opposite of VASP's sign)
- magnetic moments: μB, shape ``[n_atoms]``, magnitudes (CHGNet predicts ``|m|``)
"""

from __future__ import annotations

import numpy as np

#: 1 kBar in GPa.
GPA_PER_KBAR = 0.1
#: 1 eV/Å³ in GPa.
GPA_PER_EV_PER_A3 = 160.21766208


def vasp_kbar_to_gpa(stress_kbar: np.ndarray) -> np.ndarray:
    """VASP stress (kBar, VASP sign) → GPa in CHGNet's sign. Shape is kept."""
    return np.asarray(stress_kbar, dtype=np.float64) * -GPA_PER_KBAR


def gpa_to_vasp_kbar(stress_gpa: np.ndarray) -> np.ndarray:
    """GPa in CHGNet's sign → VASP stress (kBar, VASP sign). Inverse of ``vasp_kbar_to_gpa``."""
    return np.asarray(stress_gpa, dtype=np.float64) / -GPA_PER_KBAR


def ase_stress_to_gpa(stress_ev_per_a3: np.ndarray) -> np.ndarray:
    """ASE stress (eV/Å³, ASE sign, which is CHGNet's sign) → GPa."""
    return np.asarray(stress_ev_per_a3, dtype=np.float64) * GPA_PER_EV_PER_A3


def gpa_to_ase_stress(stress_gpa: np.ndarray) -> np.ndarray:
    """GPa in CHGNet's sign → ASE stress (eV/Å³, ASE sign). Inverse of ``ase_stress_to_gpa``."""
    return np.asarray(stress_gpa, dtype=np.float64) / GPA_PER_EV_PER_A3


def voigt_to_matrix(voigt: np.ndarray, order: str = "voigt") -> np.ndarray:
    """Six Voigt components → symmetric ``[3, 3]`` tensor.

    Args:
        voigt: ``[6]`` components.
        order: ``"voigt"`` for xx, yy, zz, yz, xz, xy (standard Voigt, as in ASE and in
            MatPES/emmet's ``MLTrainDoc.stress``) or ``"vasp"`` for xx, yy, zz, xy, yz, zx
            (VASP's OUTCAR order).

    """
    v = np.asarray(voigt, dtype=np.float64)
    if v.shape != (6,):
        raise ValueError(f"expected 6 Voigt components, got shape {v.shape}")
    if order == "vasp":
        xx, yy, zz, xy, yz, zx = v
    elif order == "voigt":
        xx, yy, zz, yz, zx, xy = v
    else:
        raise ValueError(f"unknown Voigt order {order!r}; use 'voigt' or 'vasp'")
    return np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])
