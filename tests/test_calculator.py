"""A fitted method as an ASE calculator: total energy, forces, and stress in ASE's convention."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from mfbench.methods import FitContext, FrameSet, LabelTable, Method, NotFittedError, get_method
from mfbench.methods.calculator import MethodCalculator

from .factories import make_structure

#: A stress in GPa, CHGNet's sign: compressed along x (negative), a shear in xy.
STRESS_GPA = np.array([[-3.0, 0.5, 0.0], [0.5, 1.0, -0.2], [0.0, -0.2, 2.0]])


class FixedPrediction(Method):
    """Predicts -2 eV/atom, forces from the atom index and :data:`STRESS_GPA`."""

    name = "fixed-prediction"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        self.fitted_ = True
        return self

    def predict(self, structures: Sequence[Structure]) -> LabelTable:
        self.check_is_fitted()
        counts = [len(s) for s in structures]
        forces = [np.arange(3 * n, dtype=float).reshape(n, 3) for n in counts]
        return LabelTable.from_frames(
            [-2.0] * len(counts), forces, [STRESS_GPA] * len(counts),
            [np.full(n, 0.5) for n in counts], counts,
        )  # fmt: skip

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> Self:
        raise NotImplementedError


def test_units_and_signs_are_ases() -> None:
    atoms = AseAtomsAdaptor.get_atoms(make_structure(["Li", "O", "O"]))
    atoms.calc = MethodCalculator(FixedPrediction().fit(None, None, FitContext()))  # type: ignore[arg-type]
    assert atoms.get_potential_energy() == pytest.approx(-2.0 * 3)
    np.testing.assert_array_equal(atoms.get_forces(), np.arange(9.0).reshape(3, 3))
    stress = atoms.get_stress()  # eV/Å³, Voigt xx, yy, zz, yz, xz, xy
    expected = np.array([-3.0, 1.0, 2.0, -0.2, 0.0, 0.5]) / 160.21766208
    np.testing.assert_allclose(stress, expected, rtol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(voigt=False), STRESS_GPA / 160.21766208)
    np.testing.assert_array_equal(atoms.get_magnetic_moments(), [0.5, 0.5, 0.5])


def test_an_unfitted_method_is_refused() -> None:
    with pytest.raises(NotFittedError):
        MethodCalculator(FixedPrediction())


@pytest.mark.slow
def test_gga_floor_agrees_with_chgnets_own_calculator() -> None:
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    method = get_method("gga-floor")(base_model="0.3.0")
    method.fit(None, None, FitContext(progress=False))  # type: ignore[arg-type]
    ours = MethodCalculator(method)
    theirs = CHGNetCalculator(CHGNet.load(model_name="0.3.0", verbose=False), use_device="cpu")
    structures = [
        make_structure(["Li", "Mn", "O", "O"], a=4.1, seed=1),
        make_structure(["Fe", "Fe", "O"], a=3.7, seed=2),
    ]
    for structure in structures:
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = ours
        energy, forces, stress = (
            atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        )  # fmt: skip
        atoms.calc = theirs
        # the same float32 model: energy and forces agree exactly; stress up to float32
        # rounding of the GPa → eV/Å³ conversion (CHGNet converts in float32)
        assert energy == pytest.approx(atoms.get_potential_energy(), rel=1e-7)
        np.testing.assert_allclose(forces, atoms.get_forces(), rtol=1e-7, atol=1e-7)
        np.testing.assert_allclose(stress, atoms.get_stress(), rtol=1e-6, atol=1e-7)
        assert np.abs(stress).max() > 1e-4  # a real, non-zero stress was compared
