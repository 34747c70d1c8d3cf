"""Conformance kit: named checks any method author runs on their :class:`~mfbench.methods.Method`.

In the spirit of scikit-learn's ``check_estimator``: each check takes a factory of fresh,
unfitted instances plus small data, and raises ``AssertionError`` with a readable message
when the method breaks the contract. Use :func:`method_checks` with
``pytest.mark.parametrize`` to get one test per check::

    kit_data = KitData.from_task("surrogate-r2scan", fraction=0.05)

    @pytest.mark.parametrize("check", method_checks(), ids=lambda c: c.__name__)
    def test_conformance(check, tmp_path):
        check(MyMethod, kit_data, tmp_path)

or run them all at once, on a class or a ``module:Class`` spec, and read the named results::

    for result in check_method("my_package.module:MyMethod", kit_data):
        print(result.name, "ok" if result.passed else result.message)
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from mfbench.methods import (
    Budget,
    FitContext,
    FrameSet,
    LabelTable,
    Method,
    NotFittedError,
    get_method,
)
from mfbench.tasks.definition import Task, get_task

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

    @classmethod
    def from_task(
        cls,
        task: Task | str,
        *,
        fraction: float = 0.05,
        n_train: int | None = None,
        n_val: int = 4,
        n_structures: int = 3,
        budget: Budget | None = None,
        device: str = "cpu",
        **tolerances: float,
    ) -> KitData:
        """Kit data from a prepared task: its training fraction, val and test frames.

        A shipped (embedded) dataset is prepared on first use; a dataset the user supplies must
        be prepared (``mfbench data prepare``).

        Args:
            task: a :class:`~mfbench.tasks.definition.Task` or a task name.
            fraction: the training fraction the kit trains on.
            n_train: at most this many of the fraction's frames (the first in store order;
                None: all of them).
            n_val: validation frames (the first of the val split).
            n_structures: test structures the checks predict (the first of the test split).
            budget: the training budget handed to ``fit`` (default: the task's).
            device: the :class:`FitContext` device.
            **tolerances: ``atol_energy``, ``atol_forces`` or ``rtol`` to override.

        Raises:
            NotPreparedError: the task's dataset is not prepared.
            ValueError: the fraction has no training frames, or an unknown tolerance.
        """
        from mfbench.tasks.data import TaskData

        unknown = set(tolerances) - {"atol_energy", "atol_forces", "rtol"}
        if unknown:
            raise ValueError(f"unknown tolerance(s) {sorted(unknown)}")
        definition = get_task(task) if isinstance(task, str) else task
        data = TaskData.load(definition)
        fidelity = definition.target_fidelity
        indices = data.split.train_fraction(fraction)[:n_train]
        if len(indices) == 0:
            raise ValueError(f"fraction {fraction} of task {definition.task} has no frames")
        train = FrameSet(data.store, indices, fidelity)
        val = FrameSet(data.store, data.split.indices("val")[:n_val], fidelity)
        structures = [
            data.store.structure(int(i)) for i in data.split.indices("test")[:n_structures]
        ]
        auxiliary = data.auxiliary_sources(fraction)
        chosen_budget = definition.budget if budget is None else budget

        def context(seed: int) -> FitContext:
            return FitContext(
                device=device, seed=seed, budget=chosen_budget, progress=False,
                auxiliary_sources=auxiliary,
            )  # fmt: skip

        return cls(train, val, structures, context, **tolerances)


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


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one conformance check.

    Attributes:
        name: the check's function name, e.g. ``"check_seeded_fit_repeats"``.
        description: the first line of its docstring.
        passed: whether the method passed it.
        message: why it failed (``""`` when it passed): the assertion's message, or the
            exception the method raised, with its type.
    """

    name: str
    description: str
    passed: bool
    message: str = ""


def _factory(method: str | type[Method] | MethodFactory) -> MethodFactory:
    if isinstance(method, str):
        return get_method(method)
    return method


def check_method(
    method: str | type[Method] | MethodFactory, data: KitData, tmp: Path | None = None
) -> list[CheckResult]:
    """Run every check on ``method``; one named result each, in :func:`method_checks` order.

    A check fails when it raises: an ``AssertionError`` (the contract is broken) or any other
    exception the method raised while fitting, predicting, saving or loading.

    Args:
        method: a registered name or ``module:Class`` spec, a method class, or a factory of
            fresh unfitted instances.
        data: what the checks train and predict on (see :meth:`KitData.from_task`).
        tmp: folder for the checks' saved models (default: a temporary folder, removed after).

    Raises:
        UnknownNameError, MfbenchError: ``method`` names no method (see
            :func:`~mfbench.methods.get_method`).
    """
    factory = _factory(method)
    if tmp is None:
        with tempfile.TemporaryDirectory(prefix="mfbench-kit-") as folder:
            return check_method(factory, data, Path(folder))
    results = []
    for check in method_checks():
        description = (inspect.getdoc(check) or "").splitlines()[0]
        try:
            check(factory, data, Path(tmp) / check.__name__)
        except AssertionError as exc:
            results.append(CheckResult(check.__name__, description, False, str(exc).strip()))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(check.__name__, description, False, message))
        else:
            results.append(CheckResult(check.__name__, description, True))
    return results


def assert_method_conforms(
    method: str | type[Method] | MethodFactory, data: KitData, tmp: Path | None = None
) -> None:
    """Run every check; raise ``AssertionError`` naming each failed check and why.

    Raises:
        AssertionError: one line per failed check, ``<name>: <message>``.
    """
    failed = [r for r in check_method(method, data, tmp) if not r.passed]
    if failed:
        raise AssertionError("\n".join(f"{r.name}: {r.message}" for r in failed))
