"""sevennet-finetune and the SevenNet adapter: units, shift refit, resume, compliance, extra.

Tiny data of the ranked task (surrogate-sevennet): 16 training frames, 4 validation frames and 3
test structures. Tests that fit or prepare the dataset are slow; the rest load SevenNet-0 once.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sevenn")

import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

import baselines.sevennet_finetune as module
from baselines.regularised_reference import DEFAULT_STRENGTHS
from baselines.sevennet_finetune import SevenNetFineTune
from mfbench import units
from mfbench.cli import main
from mfbench.data.checkpoints import identify_checkpoint
from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.errors import DataError
from mfbench.methods import FitContext, FitDivergedError, MfbenchError, get_method
from mfbench.models.sevenn import (
    INSTALL_COMMAND,
    SAVED_FILE,
    MissingExtraError,
    add_to_species_shift,
    gpa_to_sevenn_stress,
    load_calculator,
    load_saved_sevennet,
    load_sevennet,
    predict_with_calculator,
    predict_with_sevennet,
    require_sevenn,
    save_sevennet,
    sevenn_stress_to_gpa,
    species_shift,
)
from mfbench.models.sevenn.resume import EpochCheckpoint
from mfbench.results.compliance import non_compliance
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import Budget, get_task
from mfbench.testing import KitData, assert_method_conforms

SPEC = "baselines.sevennet_finetune:SevenNetFineTune"
TASK = "sevennet-r2scan"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[FrameSet, FrameSet, list]:
    """16 training frames (fraction 0.1), 4 validation frames, 3 test structures."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(tmp_path_factory.mktemp("sevennet-home")))
        prepare(get_dataset("surrogate-sevennet"))
        data = TaskData.load(get_task(TASK))
    train = FrameSet(data.store, data.split.train_fraction(0.1)[:16], "r2scan")
    val = FrameSet(data.store, data.split.indices("val")[:4], "r2scan")
    structures = [data.store.structure(int(i)) for i in data.split.indices("test")[:3]]
    return train, val, structures


@pytest.fixture(scope="module")
def sevennet_0() -> object:
    """SevenNet-0 as :func:`load_sevennet` gives it (do not change it in a test)."""
    model, _ = load_sevennet(FitContext(), "7net-0")
    return model


def _structure() -> object:
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(_rattled_cell())


def _rattled_cell() -> Atoms:
    """A strained, rattled 4-atom cell: nonzero forces and off-diagonal stress."""
    atoms = Atoms(
        "MgO2Si",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=[[4.1, 0.2, 0.0], [0.1, 4.0, 0.3], [0.0, 0.2, 4.2]],
        pbc=True,
    )
    atoms.positions += np.random.default_rng(0).normal(scale=0.08, size=(4, 3))
    return atoms


# -- units and sign of stress ---------------------------------------------------------------


def test_stress_labels_match_sevenns_own_reading_of_an_ase_stress() -> None:
    """mfbench GPa (CHGNet sign) → sevenn's label equals what sevenn reads from ASE's stress."""
    from sevenn.train.dataload import _y_from_calc

    rng = np.random.default_rng(1)
    half = rng.normal(scale=20.0, size=(3, 3))
    stress_gpa = half + half.T  # GPa, CHGNet's sign
    atoms = _rattled_cell()
    ase_stress = full_3x3_to_voigt_6_stress(units.gpa_to_ase_stress(stress_gpa))
    atoms.calc = SinglePointCalculator(
        atoms, energy=-1.0, forces=np.zeros((4, 3)), stress=ase_stress
    )
    ours = gpa_to_sevenn_stress(stress_gpa)
    np.testing.assert_allclose(ours, _y_from_calc(atoms)["stress"], rtol=1e-12)
    # sevenn's loss and logs show stress in kbar with VASP's sign: mfbench.units agrees
    vasp_kbar = units.gpa_to_vasp_kbar(stress_gpa)
    np.testing.assert_allclose(
        ours * 1602.1766208, [vasp_kbar[i, j] for i, j in ((0, 0), (1, 1), (2, 2), (0, 1),
                                                            (1, 2), (2, 0))], rtol=1e-9
    )  # fmt: skip
    np.testing.assert_allclose(sevenn_stress_to_gpa(ours), stress_gpa, rtol=1e-12)
    compressed = gpa_to_sevenn_stress(-10.0 * np.eye(3))  # compressed: negative in mfbench
    assert compressed[:3] == pytest.approx([10.0 / units.GPA_PER_EV_PER_A3] * 3)


def test_predictions_match_sevenns_ase_calculator(sevennet_0) -> None:
    """Batched predictions equal SevenNetCalculator's after the unit conversion (one structure)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = AseAtomsAdaptor.get_structure(_rattled_cell())
    ours = predict_with_sevennet(sevennet_0, [structure], progress=False)
    theirs = predict_with_calculator(load_calculator("7net-0", None, "cpu"), [structure])
    np.testing.assert_allclose(ours.energy_per_atom, theirs.energy_per_atom, atol=1e-5)
    np.testing.assert_allclose(ours.forces, theirs.forces, atol=1e-5)
    np.testing.assert_allclose(ours.stress, theirs.stress, atol=1e-5 * units.GPA_PER_EV_PER_A3)
    assert np.abs(ours.forces).max() > 0.1 and np.abs(ours.stress[0, 0, 1]) > 0.1
    assert np.isnan(ours.magmoms).all()


# -- the shift refit ------------------------------------------------------------------------


def test_a_shift_change_moves_energy_per_atom_by_the_fractions_times_the_change(
    sevennet_0,
) -> None:
    from pymatgen.io.ase import AseAtomsAdaptor

    model = copy.deepcopy(sevennet_0)
    structure = AseAtomsAdaptor.get_structure(_rattled_cell())  # Mg O2 Si
    delta = np.zeros(94)
    delta[[11, 7, 13, 25]] = [0.7, -1.3, 2.1, 5.0]  # Mg, O, Si, and Fe (absent)
    before = predict_with_sevennet(model, [structure], progress=False)
    add_to_species_shift(model, delta)
    after = predict_with_sevennet(model, [structure], progress=False)
    expected = (0.7 - 2 * 1.3 + 2.1) / 4  # eV/atom
    assert after.energy_per_atom[0] - before.energy_per_atom[0] == pytest.approx(expected, abs=2e-6)
    # forces and stress do not depend on the shift; with several torch threads the float32
    # sums may run in another order, so they agree to round-off rather than bit for bit
    np.testing.assert_allclose(after.forces, before.forces, rtol=0, atol=1e-6)  # eV/Å
    np.testing.assert_allclose(after.stress, before.stress, rtol=1e-6, atol=1e-5)  # GPa
    moved = species_shift(model) - species_shift(sevennet_0)
    np.testing.assert_allclose(moved[[11, 7, 13, 25]], delta[[11, 7, 13, 25]], atol=1e-6)
    assert np.isnan(species_shift(sevennet_0)[[0, 83]]).tolist() == [False, True]  # H, Po


def test_a_saved_model_loads_back_with_the_same_weights_and_energies(tiny, tmp_path: Path) -> None:
    # SevenNet-0's config names sevenn 0.9; a file saved with it had its convolutions' radial
    # weights re-sorted on load (energies off by a few meV/atom)
    model, config = load_sevennet(FitContext(), "7net-0")
    add_to_species_shift(model, np.linspace(-0.5, 0.5, 94))
    save_sevennet(model, config, tmp_path / SAVED_FILE)
    loaded, _ = load_saved_sevennet(tmp_path / SAVED_FILE)
    expected = model.state_dict()
    assert sorted(loaded.state_dict()) == sorted(expected)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    structures = tiny[2]
    np.testing.assert_array_equal(
        predict_with_sevennet(loaded, structures, progress=False).energy_per_atom,
        predict_with_sevennet(model, structures, progress=False).energy_per_atom,
    )


def test_an_element_the_model_does_not_know_is_named(sevennet_0) -> None:
    from pymatgen.core import Lattice, Structure

    polonium = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])
    with pytest.raises(DataError, match=r"structure 1 \(Po1\) contains Po, which this SevenNet"):
        predict_with_sevennet(sevennet_0, [_structure(), polonium], progress=False)


@pytest.mark.slow
def test_the_refit_moves_energy_per_atom_by_the_fitted_shift_before_training(
    tiny, sevennet_0, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, val, _ = tiny
    untrained = [{"epoch": 0, "steps": 0}]
    monkeypatch.setattr(module, "train_sevennet", lambda *a, **k: untrained)
    method = SevenNetFineTune().fit(train, val, FitContext(progress=False))
    structures = train.structures()
    before = predict_with_sevennet(sevennet_0, structures, progress=False)
    after = method.predict(structures)
    change = method.shift_change_
    expected = train.composition_fractions() @ change
    np.testing.assert_allclose(after.energy_per_atom - before.energy_per_atom, expected, atol=1e-5)
    np.testing.assert_allclose(after.forces, before.forces, atol=1e-6)
    np.testing.assert_allclose(after.stress, before.stress, atol=1e-4)
    known = ~np.isnan(species_shift(sevennet_0))
    moved = species_shift(method.model_) - species_shift(sevennet_0)
    np.testing.assert_allclose(moved[known], change[known], atol=1e-5)
    # the shift is the chosen ridge fit of the residuals: what is left is the fit's residual
    residual = np.abs(train.labels().energy_per_atom - after.energy_per_atom).mean()
    chosen = method.history_["reference_shift"]
    assert residual == pytest.approx(chosen["train_residual_mae_ev_per_atom"], abs=1e-5)
    maes = {c["strength"]: c["val_energy_mae_ev_per_atom"] for c in chosen["candidates"]}
    assert maes[chosen["chosen_strength"]] == min(maes.values())
    assert np.abs(change).max() > 0.1  # r2SCAN's references differ from the GGA ones


def test_add_to_species_shift_refuses_a_missing_value_for_a_known_element(sevennet_0) -> None:
    delta = np.zeros(94)
    delta[7] = np.nan  # O
    with pytest.raises(ValueError, match="Z = 8"):
        add_to_species_shift(sevennet_0, delta)


# -- compliance: which start a record shows -------------------------------------------------


def _record(context: FitContext, params: dict) -> dict:
    return {
        "task": {"name": TASK, "target_fidelity": "r2scan"},
        "method": {"name": "sevennet-finetune", "params": params},
        "checkpoints": context.checkpoints.entries(),
    }


def test_the_shipped_sevennet_files_are_known_by_their_bytes() -> None:
    import sevenn

    folder = Path(sevenn.__file__).parent / "pretrained_potentials"
    for name, seen_r2scan in (("sevennet-0", False), ("sevennet-mf-0", True)):
        files = sorted(folder.glob(f"*/checkpoint_{name.replace('-', '_')}.pth"))
        assert files
        for file in files:
            known = identify_checkpoint(sha256=hashlib.sha256(file.read_bytes()).hexdigest())
            assert known is not None and known.name == name
            assert (known.seen("r2scan") is not None) is seen_r2scan
            assert known.seen("gga") is not None


def test_a_sevennet_0_start_is_compliant_and_a_sevennet_mf_0_start_is_not() -> None:
    gga = FitContext(progress=False)
    load_sevennet(gga, "7net-0")
    (entry,) = gga.checkpoints.entries()
    assert entry["name"] == "sevennet-0"
    assert entry["file"] == (
        "sevenn/pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth"
    )
    assert non_compliance(_record(gga, SevenNetFineTune().get_params())) is None

    mf = FitContext(progress=False)
    load_sevennet(mf, "7net-mf-0")
    params = SevenNetFineTune(base_model="7net-mf-0").get_params()
    flag = non_compliance(_record(mf, params))
    assert flag is not None
    assert flag.tag == "loaded sevennet-mf-0, base_model=7net-mf-0"
    assert "sevennet-mf-0: trained on r2scan labels of MP r2SCAN" in flag.reason


# -- the optional extra ---------------------------------------------------------------------


def test_a_missing_extra_is_one_line_naming_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sevenn", None)  # `import sevenn` raises ImportError
    for call in (lambda: require_sevenn("x"), lambda: load_calculator("7net-0", None, "cpu"),
                 lambda: load_sevennet(FitContext(), "7net-0")):  # fmt: skip
        with pytest.raises(MissingExtraError) as error:
            call()
        assert INSTALL_COMMAND == 'pip install "mfbench[sevenn]"'
        assert str(error.value).endswith(f": {INSTALL_COMMAND}")
        assert "\n" not in str(error.value)


@pytest.mark.slow
def test_the_cli_reports_a_missing_extra_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "sevenn", None)
    argv = ["run", "--task", "surrogate-r2scan-quick", "--method", SPEC, "--fraction", "0.05",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mfbench: error:")]
    assert lines == [
        f"mfbench: error: loading a SevenNet checkpoint needs the optional sevenn package: "
        f"{INSTALL_COMMAND}"
    ]
    assert "Traceback" not in err


# -- the method -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_multi_fidelity_start_is_refused(tiny) -> None:
    with pytest.raises(MfbenchError, match="single-fidelity models; 7net-mf-0 has heads"):
        SevenNetFineTune(base_model="7net-mf-0").fit(tiny[0], tiny[1], FitContext(progress=False))


def test_registered_by_spec_with_its_params() -> None:
    assert get_method(SPEC) is SevenNetFineTune
    params = SevenNetFineTune(learning_rate=3e-4).get_params()
    assert params == {
        "learning_rate": 3e-4, "epochs": None, "batch_size": None, "lr_decay": 0.99,
        "huber_delta": 0.01, "force_loss_weight": 1.0, "stress_loss_weight": 0.01,
        "base_model": "7net-0", "strengths": DEFAULT_STRENGTHS,
    }  # fmt: skip
    assert SevenNetFineTune.needs_training_frames


@pytest.mark.slow
def test_sevennet_finetune_conforms(tiny, tmp_path: Path) -> None:
    train, val, structures = tiny
    factory = partial(SevenNetFineTune, epochs=1, batch_size=8)
    kit = KitData(train, val, structures, atol_energy=2e-5)
    assert_method_conforms(lambda: factory(), kit, tmp_path)


def _fit(tiny, checkpoints: Path, budget: Budget, **params) -> SevenNetFineTune:
    seed_everything(0)
    context = FitContext(seed=0, progress=False, checkpoint_dir=checkpoints, budget=budget)
    return SevenNetFineTune(**params).fit(tiny[0], tiny[1], context)


def _maes(method: SevenNetFineTune) -> list:
    return [
        (e["epoch"], e["steps"], e["lr"], e["train"], e["val"]) for e in method.history_["train"]
    ]


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_same_weights(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # 16 frames in batches of 8 and a 3-step budget: epoch 1 (2 steps) and half of epoch 2
    budget = Budget(epochs=2, max_steps=3, batch_size=8)
    whole = _fit(tiny, tmp_path / "whole", budget)
    assert [e["steps"] for e in whole.history_["train"]] == [2, 3] and whole.steps_run_ == 3

    original_save = EpochCheckpoint.save
    saved: list[Path] = []

    def save_then_die(self: EpochCheckpoint, state: dict) -> None:
        original_save(self, state)
        saved.append(self.path)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(EpochCheckpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny, tmp_path / "killed", budget)
    monkeypatch.undo()
    assert len(torch.load(saved[-1], weights_only=False)["history"]) == 1

    with caplog.at_level(logging.INFO, logger="mfbench.models.sevenn.training"):
        resumed = _fit(tiny, tmp_path / "killed", budget)
    assert "resuming after epoch 1 of 2" in caplog.text
    assert _maes(resumed) == _maes(whole)
    expected = whole.model_.state_dict()
    for name, tensor in resumed.model_.state_dict().items():
        assert torch.equal(tensor, expected[name]), name

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mfbench.models.sevenn.resume"):
        other = _fit(tiny, tmp_path / "killed", budget, learning_rate=3e-4)
    assert "starting afresh" in caplog.text
    assert other.history_["train"][1]["train"] != whole.history_["train"][1]["train"]


@pytest.mark.slow
def test_a_diverging_fit_is_a_fit_diverged_error_and_checkpoints_nothing(
    tiny, tmp_path: Path
) -> None:
    with pytest.raises(FitDivergedError, match=r"training loss is nan after epoch 1"):
        _fit(tiny, tmp_path, Budget(epochs=1, batch_size=8), force_loss_weight=float("nan"))
    assert not list(tmp_path.glob("*.pt"))
