"""Conformance kit: named checks any method author runs on their :class:`~mfbench.methods.Method`.

In the spirit of scikit-learn's ``check_estimator``: each check takes a factory of fresh,
unfitted instances plus small data, and raises ``AssertionError`` with a readable message
when the method breaks the contract. Use :func:`method_checks` with
``pytest.mark.parametrize`` to get one test per check::

    @pytest.mark.parametrize("check", method_checks(), ids=lambda c: c.__name__)
    def test_conformance(check, tmp_path):
        check(MyMethod, kit_data, tmp_path)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.methods import FitContext, Method, NotFittedError

MethodFactory = Callable[[], Method]


@dataclass
class KitData:
    """What the checks train and predict on.

    Attributes:
        train, val: frame sets at the target fidelity (small: the checks fit several times).
        structures: structures to predict (a handful).
        context: builds the :class:`FitContext` for a seed.
        atol_energy: eV/atom tolerance of invariance checks (float32 models need ~1e-5).
        atol_forces: eV/Å tolerance of equivariance checks.
        rtol: relative tolerance of force and stress equivariance (float32 stresses of tens
            of GPa differ by ~1e-5 relative after a rotation).
    """

    train: FrameSet
    val: FrameSet
    structures: Sequence[Structure]
    context: Callable[[int], FitContext] = field(
        default=lambda seed: FitContext(seed=seed, progress=False)
    )
    atol_energy: float = 1e-5
    atol_forces: float = 1e-4
    rtol: float = 1e-4


def _fit(factory: MethodFactory, data: KitData, seed: int = 0) -> Method:
    from mfbench.seeding import seed_everything

    seed_everything(seed)
    method = factory()
    fitted = method.fit(data.train, data.val, data.context(seed))
    assert fitted is method, f"{type(method).__name__}.fit must return self"
    return method


def check_unfitted_predict_raises(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """Predicting before ``fit`` raises :class:`NotFittedError`."""
    try:
        factory().predict(list(data.structures[:1]))
    except NotFittedError:
        return
    raise AssertionError("predict before fit must raise mfbench.methods.NotFittedError")


def check_init_only_stores_params(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """``get_params`` returns the constructor arguments; a clone from them is equivalent."""
    method = factory()
    params = method.get_params()
    clone = type(method)(**params)
    assert clone.get_params() == params, "get_params must round-trip through __init__"
    assert not method.is_fitted(), "__init__ must not create learned (trailing _) state"


def check_fit_returns_self_and_shapes(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """``fit`` returns self; predictions have mfbench's shapes and are finite."""
    table = _fit(factory, data).predict(list(data.structures))
    counts = [len(s) for s in data.structures]
    assert isinstance(table, LabelTable), "predict must return a LabelTable"
    assert table.atom_offsets.tolist() == np.concatenate([[0], np.cumsum(counts)]).tolist()
    for name in ("energy_per_atom", "forces", "stress"):
        assert np.all(np.isfinite(getattr(table, name))), f"{name} must be finite"


def check_seeded_fit_repeats(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """Two fits with the same seed predict exactly the same values."""
    first = _fit(factory, data, seed=7).predict(list(data.structures))
    second = _fit(factory, data, seed=7).predict(list(data.structures))
    np.testing.assert_array_equal(first.energy_per_atom, second.energy_per_atom)
    np.testing.assert_array_equal(first.forces, second.forces)


def check_save_load_round_trip(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """A saved and reloaded method (on the fit's device) predicts what the original predicted."""
    method = _fit(factory, data)
    before = method.predict(list(data.structures))
    method.save(tmp / "saved")
    device = data.context(0).device
    after = type(method).load(tmp / "saved", device=device).predict(list(data.structures))
    np.testing.assert_allclose(after.energy_per_atom, before.energy_per_atom, atol=1e-9)
    np.testing.assert_allclose(after.forces, before.forces, atol=1e-9)


def _rotation(seed: int = 3) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def check_rotation_equivariance(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """Energy is invariant, forces rotate (F R^T) and stress rotates (R S R^T)."""
    method = _fit(factory, data)
    rot = _rotation()
    rotated = [
        Structure(Lattice(s.lattice.matrix @ rot.T), s.species, s.frac_coords)
        for s in data.structures
    ]
    base, turned = method.predict(list(data.structures)), method.predict(rotated)
    np.testing.assert_allclose(
        turned.energy_per_atom, base.energy_per_atom, atol=data.atol_energy,
        err_msg="energy must not change under rotation",
    )  # fmt: skip
    np.testing.assert_allclose(
        turned.forces, base.forces @ rot.T, rtol=data.rtol, atol=data.atol_forces,
        err_msg="forces must rotate with the structure",
    )  # fmt: skip
    np.testing.assert_allclose(
        turned.stress, rot @ base.stress @ rot.T, rtol=data.rtol, atol=1e-3,
        err_msg="stress must rotate with the structure",
    )  # fmt: skip


def check_permutation_invariance(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """Reordering atoms leaves the energy unchanged and permutes the forces the same way."""
    method = _fit(factory, data)
    rng = np.random.default_rng(5)
    orders = [rng.permutation(len(s)) for s in data.structures]
    shuffled = [
        Structure(s.lattice, [s.species[i] for i in order], s.frac_coords[order])
        for s, order in zip(data.structures, orders, strict=True)
    ]
    base, mixed = method.predict(list(data.structures)), method.predict(shuffled)
    np.testing.assert_allclose(mixed.energy_per_atom, base.energy_per_atom, atol=data.atol_energy)
    for k, order in enumerate(orders):
        a, b = base.atom_offsets[k], base.atom_offsets[k + 1]
        np.testing.assert_allclose(
            mixed.forces[a:b], base.forces[a:b][order], atol=data.atol_forces,
            err_msg=f"forces of structure {k} must follow the atom order",
        )  # fmt: skip


def method_checks() -> list[Callable[[MethodFactory, KitData, Path], None]]:
    """Every conformance check, in a stable order."""
    return [
        check_init_only_stores_params,
        check_unfitted_predict_raises,
        check_fit_returns_self_and_shapes,
        check_seeded_fit_repeats,
        check_save_load_round_trip,
        check_rotation_equivariance,
        check_permutation_invariance,
    ]


def check_method(factory: MethodFactory, data: KitData, tmp: Path) -> None:
    """Run every check; the first failure raises ``AssertionError`` naming the check."""
    for check in method_checks():
        try:
            check(factory, data, tmp / check.__name__)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__}: {exc}") from exc
