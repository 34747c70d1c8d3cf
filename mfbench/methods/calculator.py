"""A fitted method as an ASE calculator, for relaxations and molecular dynamics.

Units and signs (see :mod:`mfbench.units`): a method predicts energy per atom (eV/atom),
forces (eV/Å) and stress (GPa, CHGNet's sign, which is ASE's: negative under compression);
ASE wants the total energy (eV), forces (eV/Å) and stress in eV/Å³ as six Voigt components
``xx, yy, zz, yz, xz, xy``::

    from mfbench.methods.calculator import MethodCalculator

    atoms.calc = MethodCalculator(method)  # a fitted method, e.g. Method.load(folder)
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from mfbench import units
from mfbench.methods.base import Method


class MethodCalculator(Calculator):
    """ASE calculator predicting with a fitted :class:`~mfbench.methods.Method`.

    Each calculation predicts one structure (``method.predict([structure])``). Results:
    ``energy`` and ``free_energy`` (eV, total), ``forces`` (``[n_atoms, 3]`` eV/Å), ``stress``
    (``[6]`` eV/Å³, ASE's Voigt order and sign) and, when the method predicts them,
    ``magmoms`` (``[n_atoms]`` μB).

    Args:
        method: a fitted method.
        **kwargs: passed to ASE's ``Calculator``.

    Raises:
        NotFittedError: ``method`` is not fitted.
    """

    implemented_properties: ClassVar[list[str]] = [
        "energy", "free_energy", "forces", "stress", "magmoms",
    ]  # fmt: skip

    def __init__(self, method: Method, **kwargs: Any) -> None:
        method.check_is_fitted()
        super().__init__(**kwargs)
        self.method = method

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Predict ``atoms`` with the method and store every property in ``self.results``."""
        from pymatgen.io.ase import AseAtomsAdaptor

        super().calculate(atoms, properties, system_changes)
        structure = AseAtomsAdaptor.get_structure(self.atoms)
        table = self.method.predict([structure])
        energy = float(table.energy_per_atom[0]) * len(structure)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": np.asarray(table.forces, dtype=np.float64).copy(),
            "stress": full_3x3_to_voigt_6_stress(units.gpa_to_ase_stress(table.stress[0])),
        }
        if np.all(np.isfinite(table.magmoms)):
            self.results["magmoms"] = np.asarray(table.magmoms, dtype=np.float64).copy()
