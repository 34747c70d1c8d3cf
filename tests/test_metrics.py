"""Tests of mfbench.metrics against numbers worked out by hand in each test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from mfbench.data.labels import LabelTable
from mfbench.metrics import (
    MaterialEnergy,
    covered_frames,
    error_metrics,
    lowest_energy_frames,
    per_element_energy_mae,
    thermo_metrics,
)

NAN = float("nan")


def _tables() -> tuple[LabelTable, LabelTable]:
    """Two frames with 1 and 2 atoms; frame 0 has no stress label, one atom has no magmom."""
    reference = LabelTable.from_frames(
        energy_per_atom=[-1.0, -2.0],
        forces=[np.zeros((1, 3)), np.array([[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]])],
        stress=[None, np.zeros((3, 3))],
        magmoms=[np.array([0.5]), np.array([NAN, 2.0])],
        n_atoms=[1, 2],
    )
    stress_pred = np.zeros((3, 3))
    stress_pred[0, 0], stress_pred[0, 1], stress_pred[1, 0] = 0.9, 0.3, 0.3
    predicted = LabelTable.from_frames(
        energy_per_atom=[-0.990, -2.030],
        forces=[
            np.array([[0.01, -0.02, 0.0]]),
            np.array([[0.13, 0.0, 0.0], [-0.1, 0.04, 0.0]]),
        ],
        stress=[np.full((3, 3), 5.0), stress_pred],
        magmoms=[np.array([0.6]), np.array([1.0, 1.8])],
        n_atoms=[1, 2],
    )
    return reference, predicted


def test_error_metrics_hand_computed() -> None:
    reference, predicted = _tables()
    m = error_metrics(reference, predicted)
    # energy errors +0.010, -0.030 eV/atom -> MAE (10+30)/2 = 20 meV/atom,
    # RMSE sqrt((100+900)/2) = sqrt(500) = 22.3607 meV/atom
    assert m["energy_mae_mev_per_atom"] == pytest.approx(20.0, abs=1e-9)
    assert m["energy_rmse_mev_per_atom"] == pytest.approx(math.sqrt(500.0), abs=1e-9)
    # force component errors (eV/Å): 0.01, -0.02, 0 | 0.03, 0, 0 | 0, 0.04, 0 (9 components)
    # MAE = 0.10/9 eV/Å = 11.111 meV/Å; RMSE = sqrt((1+4+9+16)e-4/9) eV/Å = 18.257 meV/Å
    assert m["force_mae_mev_per_a"] == pytest.approx(100.0 / 9.0, abs=1e-9)
    assert m["force_rmse_mev_per_a"] == pytest.approx(1000 * math.sqrt(30e-4 / 9), abs=1e-9)
    # stress: frame 0 unlabelled (its prediction 5 GPa is ignored); frame 1 errors 0.9, 0.3, 0.3
    # and six zeros over all 9 components -> MAE 1.5/9 = 0.16667 GPa,
    # RMSE sqrt((0.81+0.09+0.09)/9) = sqrt(0.11) = 0.33166 GPa
    assert m["stress_mae_gpa"] == pytest.approx(1.5 / 9, abs=1e-12)
    assert m["stress_rmse_gpa"] == pytest.approx(math.sqrt(0.11), abs=1e-12)
    # magmoms: atom 1 unlabelled; errors 0.1, -0.2 μB -> MAE 0.15, RMSE sqrt(0.05/2) = 0.15811
    assert m["magmom_mae_mu_b"] == pytest.approx(0.15, abs=1e-12)
    assert m["magmom_rmse_mu_b"] == pytest.approx(math.sqrt(0.025), abs=1e-12)
    assert (m["n_frames"], m["n_force_atoms"], m["n_stress_frames"], m["n_magmom_atoms"]) == (
        2,
        3,
        1,
        2,
    )


def test_error_metrics_unlabelled_quantity_is_nan_with_zero_count() -> None:
    reference, predicted = _tables()
    no_labels = LabelTable(
        energy_per_atom=reference.energy_per_atom,
        forces=np.full_like(reference.forces, np.nan),
        stress=np.full_like(reference.stress, np.nan),
        magmoms=np.full_like(reference.magmoms, np.nan),
        atom_offsets=reference.atom_offsets,
    )
    m = error_metrics(no_labels, predicted)
    for key in ("force", "stress", "magmom"):
        unit = {"force": "mev_per_a", "stress": "gpa", "magmom": "mu_b"}[key]
        assert math.isnan(m[f"{key}_mae_{unit}"])
        assert math.isnan(m[f"{key}_rmse_{unit}"])
    assert (m["n_force_atoms"], m["n_stress_frames"], m["n_magmom_atoms"]) == (0, 0, 0)
    assert m["energy_mae_mev_per_atom"] == pytest.approx(20.0, abs=1e-9)


def test_nan_prediction_where_labelled_raises() -> None:
    reference, predicted = _tables()
    forces = predicted.forces.copy()
    forces[2, 1] = np.nan  # atom 2 belongs to frame 1
    bad = LabelTable(
        predicted.energy_per_atom,
        forces,
        predicted.stress,
        predicted.magmoms,
        predicted.atom_offsets,
    )
    with pytest.raises(ValueError, match=r"forces.*frame 1"):
        error_metrics(reference, bad)
    energy = predicted.energy_per_atom.copy()
    energy[0] = np.nan
    bad = LabelTable(
        energy, predicted.forces, predicted.stress, predicted.magmoms, predicted.atom_offsets
    )
    with pytest.raises(ValueError, match=r"energy_per_atom.*frame 0"):
        error_metrics(reference, bad)
    with pytest.raises(ValueError, match=r"energy_per_atom.*frame 0"):
        per_element_energy_mae(reference, bad, np.array([3, 3, 8]))


def test_mismatched_atom_offsets_raise() -> None:
    reference, _ = _tables()
    other = LabelTable.from_frames(
        energy_per_atom=[-1.0, -2.0],
        forces=[None, None],
        stress=[None, None],
        magmoms=[None, None],
        n_atoms=[2, 1],
    )
    with pytest.raises(ValueError, match="atom_offsets"):
        error_metrics(reference, other)


def test_per_element_energy_mae() -> None:
    # frame 0: Li Li O, error +0.010; frame 1: O O, error -0.020; frame 2: Li F, error +0.040
    # Li: frames 0, 2 -> (10+40)/2 = 25 meV/atom; O: frames 0, 1 -> (10+20)/2 = 15; F: frame 2 -> 40
    n_atoms = [3, 2, 2]
    empty = [None, None, None]
    reference = LabelTable.from_frames([-1.0, -2.0, -3.0], empty, empty, empty, n_atoms)
    predicted = LabelTable.from_frames([-0.99, -2.02, -2.96], empty, empty, empty, n_atoms)
    z = np.array([3, 3, 8, 8, 8, 3, 9])
    table = per_element_energy_mae(reference, predicted, z)
    assert list(table["element"]) == ["Li", "O", "F"]
    assert list(table["n_frames"]) == [2, 2, 1]
    assert table["energy_mae_mev_per_atom"].to_numpy() == pytest.approx([25, 15, 40], abs=1e-9)


def test_covered_frames() -> None:
    # frames: Li O | Li F | O | (no atoms); training saw Li and O
    z = np.array([3, 8, 3, 9, 8])
    offsets = np.array([0, 2, 4, 5, 5])
    covered = covered_frames(z, offsets, {3, 8})
    assert covered.tolist() == [True, False, True, True]
    assert covered_frames(z, offsets, set()).tolist() == [False, False, False, True]


def test_lowest_energy_frames_ties_and_nan() -> None:
    ids = ["a", "b", "a", "a", "b"]
    energy = np.array([-1.0, -2.0, -1.5, -1.5, np.nan])
    # a: frames 2 and 3 tie at -1.5 -> 2; b: frame 4 is unlabelled -> 1
    assert lowest_energy_frames(ids, energy) == {"a": 2, "b": 1}
    with pytest.raises(ValueError, match="finite"):
        lowest_energy_frames(["c"], np.array([np.nan]))


def _li_o_materials() -> list[MaterialEnergy]:
    """Li-O system, energies in eV/atom as (reference, predicted)."""
    data = {
        "Li-a": ("Li", -1.90, -1.95),  # reference ground state of Li
        "Li-b": ("Li", -1.85, -1.97),  # higher polymorph; the model's ground state
        "O2": ("O2", -4.90, -4.80),
        "Li2O": ("Li2O", -4.90, -4.85),
        "Li2O2": ("Li2O2", -5.10, -5.00),
        "LiO2": ("LiO2", -4.95, -4.90),
        "LiF": ("LiF", -4.80, -4.70),  # F has no elemental reference
    }
    return [MaterialEnergy(mid, Composition(f), r, p) for mid, (f, r, p) in data.items()]


def test_thermo_metrics_li_o() -> None:
    test_ids = {"Li-a", "Li-b", "Li2O", "Li2O2", "LiO2", "LiF"}
    result = thermo_metrics(_li_o_materials(), test_ids)
    table = result.per_material.set_index("material_id")

    # Formation, mu_ref(Li) = -1.90, mu_ref(O) = -4.90; mu_pred = predictions of Li-a and O2:
    # mu_pred(Li) = -1.95, mu_pred(O) = -4.80.
    #   Li2O  ref -4.90 - (2/3*-1.90 + 1/3*-4.90) = -4.90 + 2.90 = -2.000
    #         pred -4.85 - (2/3*-1.95 + 1/3*-4.80) = -4.85 + 2.90 = -1.950   |err| 0.050
    #   Li2O2 ref -5.10 + 3.40 = -1.700; pred -5.00 + 3.375 = -1.625         |err| 0.075
    #   LiO2  ref -4.95 + 3.90 = -1.050; pred -4.90 + 3.85 = -1.050          |err| 0
    #   Li-a  ref 0; pred -1.95 + 1.95 = 0                                    |err| 0
    #   Li-b  ref -1.85 + 1.90 = 0.050; pred -1.97 + 1.95 = -0.020            |err| 0.070
    # MAE = 0.195/5 = 0.039 eV/atom = 39 meV/atom
    expected_form = {
        "Li2O": (-2.0, -1.95),
        "Li2O2": (-1.7, -1.625),
        "LiO2": (-1.05, -1.05),
        "Li-a": (0.0, 0.0),
        "Li-b": (0.05, -0.02),
    }
    for mid, (ref, pred) in expected_form.items():
        assert table.loc[mid, "ref_formation_ev_per_atom"] == pytest.approx(ref, abs=1e-9)
        assert table.loc[mid, "pred_formation_ev_per_atom"] == pytest.approx(pred, abs=1e-9)
    assert result.formation_mae_mev_per_atom == pytest.approx(39.0, abs=1e-6)

    # Decomposition (absolute energies, eV/atom):
    # Reference side
    #   Li2O (stable): others' hull at Li2O = 1/3 Li + 2/3 Li2O2 = -0.6333 - 3.4 = -4.0333
    #         (1/2 Li + 1/2 LiO2 = -3.425 is higher) -> -4.90 + 4.0333 = -0.86667
    #   Li2O2 (stable): others' hull = 1/2 Li2O + 1/2 LiO2 = -4.925 (3/4 Li2O + 1/4 O2 = -4.90 is
    #         higher) -> -5.10 + 4.925 = -0.175. The unstable LiO2 takes part, so this is
    #         stable_only=False; stable_only=True would give -5.10 + 4.90 = -0.200.
    #   LiO2 (unstable): hull = 2/3 Li2O2 + 1/3 O2 = -3.4 - 1.6333 = -5.0333 -> +0.08333
    #   Li-a: lowest Li polymorph -> 0;  Li-b: -1.85 - (-1.90) = +0.05
    # Predicted side
    #   Li2O: 1/3 Li-b + 2/3 Li2O2 = -0.65667 - 3.33333 = -3.99 -> -4.85 + 3.99 = -0.86
    #   Li2O2: 1/2 Li2O + 1/2 LiO2 = -4.875 (3/4 Li2O + 1/4 O2 = -4.8375) -> -5.00 + 4.875 = -0.125
    #   LiO2: 2/3 Li2O2 + 1/3 O2 = -3.33333 - 1.6 = -4.93333 -> -4.90 + 4.93333 = +0.03333
    #   Li-a: -1.95 - (-1.97) = +0.02 (Li-b is the predicted ground state);  Li-b: 0
    # |errors|: 0.006667, 0.05, 0.05, 0.02, 0.05 -> MAE 0.176667/5 = 35.3333 meV/atom
    expected_dec = {
        "Li2O": (-0.9 + 0.1 / 3, -0.86),
        "Li2O2": (-0.175, -0.125),
        "LiO2": (0.25 / 3, 0.1 / 3),
        "Li-a": (0.0, 0.02),
        "Li-b": (0.05, 0.0),
    }
    for mid, (ref, pred) in expected_dec.items():
        assert table.loc[mid, "ref_decomposition_ev_per_atom"] == pytest.approx(ref, abs=1e-6)
        assert table.loc[mid, "pred_decomposition_ev_per_atom"] == pytest.approx(pred, abs=1e-6)
    assert result.decomposition_mae_mev_per_atom == pytest.approx(106.0 / 3.0, abs=1e-3)

    # LiF: no elemental reference for F -> skipped on both, counted, and kept in the table
    assert (result.n_formation, result.n_formation_skipped) == (5, 1)
    assert (result.n_decomposition, result.n_decomposition_skipped) == (5, 1)
    assert math.isnan(table.loc["LiF", "ref_formation_ev_per_atom"])
    assert "F" in table.loc["LiF", "skip_reason"]
    assert table.loc["Li-b", "is_elemental"] and not table.loc["Li2O", "is_elemental"]
    assert list(result.per_material["material_id"]) == sorted(test_ids)


def test_thermo_metrics_rejects_bad_input() -> None:
    materials = _li_o_materials()
    with pytest.raises(ValueError, match="not in materials"):
        thermo_metrics(materials, ["mp-unknown"])
    with pytest.raises(ValueError, match="duplicate"):
        thermo_metrics([*materials, materials[0]], ["Li2O"])
    nan_pred = MaterialEnergy("bad", Composition("Li2O"), -4.9, NAN)
    with pytest.raises(ValueError, match="predicted energy of material 'bad'"):
        thermo_metrics([*materials, nan_pred], ["Li2O"])


def test_thermo_metrics_no_test_materials_gives_nan() -> None:
    result = thermo_metrics(_li_o_materials(), [])
    assert math.isnan(result.formation_mae_mev_per_atom)
    assert math.isnan(result.decomposition_mae_mev_per_atom)
    assert (result.n_formation, result.n_decomposition) == (0, 0)
    assert result.per_material.empty


def _random_ternary(seed: int) -> list[MaterialEnergy]:
    """Li-Fe-O materials (polymorphs included) with random energies, eV/atom."""
    rng = np.random.default_rng(seed)
    formulas = ["Li", "Li", "Fe", "O2", "Li2O", "Li2O2", "LiO2", "Fe2O3", "FeO", "Fe3O4",
                "LiFeO2", "LiFeO2", "Li5FeO4", "LiFe5O8", "Li2O"]  # fmt: skip
    return [
        MaterialEnergy(f"m-{i:02d}", Composition(f), e, e + rng.normal(0.0, 0.05))
        for i, (f, e) in enumerate(zip(formulas, rng.normal(-5.0, 0.6, len(formulas)), strict=True))
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decomposition_energies_are_pymatgen_s_and_independent_of_order(seed: int) -> None:
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    materials = _random_ternary(seed)
    test_ids = [m.material_id for m in materials]
    table = thermo_metrics(materials, test_ids).per_material.set_index("material_id")
    for side in ("ref", "pred"):
        key = "reference" if side == "ref" else "predicted"
        entries = {
            m.material_id: PDEntry(
                m.composition, getattr(m, f"{key}_energy_per_atom") * m.composition.num_atoms
            )
            for m in materials
        }
        diagram = PhaseDiagram(list(entries.values()))
        for mid, entry in entries.items():
            _, expected = diagram.get_decomp_and_phase_separation_energy(entry, stable_only=False)
            got = table.loc[mid, f"{side}_decomposition_ev_per_atom"]
            assert got == pytest.approx(expected, abs=1e-7), (mid, side)
    # the same numbers, to the last bit, whatever order the materials come in
    shuffled = list(np.random.default_rng(seed).permutation(materials))
    again = thermo_metrics(shuffled, test_ids).per_material.set_index("material_id")
    pd.testing.assert_frame_equal(again, table, check_exact=True)
