from __future__ import annotations

import pytest

from mfbench.errors import DataError, UnknownNameError
from mfbench.models.chgnet.pretrained import PretrainedChgnet

from .factories import make_structure


def test_unknown_model_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'chgnet-r2scan'"):
        PretrainedChgnet("chgnet-r2scn")


def test_element_beyond_plutonium_fails_before_chgnet_runs() -> None:
    predictor = PretrainedChgnet("chgnet-0.3.0", device="cpu")
    with pytest.raises(
        DataError, match=r"structure 1 \(.*\) contains Am: CHGNet supports Z = 1-94"
    ):
        predictor.predict([make_structure(["Na", "Cl"]), make_structure(["Am", "O"])])
    assert predictor._model is None  # the model was never loaded


@pytest.mark.slow
def test_predictions_have_mfbench_shapes_and_units() -> None:
    predictor = PretrainedChgnet("chgnet-0.3.0", device="cpu", batch_size=2)
    structures = [make_structure(["Na", "Cl"], a=5.6), make_structure(["Cu"], a=3.6)]
    table = predictor.predict(structures, progress=False)
    assert table.atom_offsets.tolist() == [0, 2, 3]
    assert table.forces.shape == (3, 3) and table.stress.shape == (2, 3, 3)
    assert table.magmoms.shape == (3,)
    # CHGNet 0.3.0 energies of such cells lie within a few eV/atom of its elemental references
    assert -10.0 < table.energy_per_atom[1] < 0.0
