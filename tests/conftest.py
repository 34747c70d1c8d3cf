"""Shared fixtures: an isolated MFBENCH_HOME and small MPtrj-layout files made on the fly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .factories import make_structure, mptrj_record, write_nested


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own empty MFBENCH_HOME, and no user tasks or registries.

    ``mfbench --tasks/--registry`` put their paths into ``$MFBENCH_TASKS`` and
    ``$MFBENCH_REGISTRY``; removing both through ``monkeypatch`` here restores them after each
    test, so a test calling the CLI with those options leaves nothing to the next.
    """
    home = tmp_path_factory.mktemp("mfbench-home")
    monkeypatch.setenv("MFBENCH_HOME", str(home))
    monkeypatch.delenv("MFBENCH_TASKS", raising=False)
    monkeypatch.delenv("MFBENCH_REGISTRY", raising=False)
    return home


@pytest.fixture
def small_mptrj(tmp_path: Path) -> Path:
    """A 3-material, 5-frame MPtrj-layout file."""
    data = {
        "mp-1": {
            "1-1-0": mptrj_record(make_structure(["Li", "O"]), -4.0, 1),
            "1-1-1": mptrj_record(make_structure(["Li", "O"], 4.1), -3.9, 2),
        },
        "mp-2": {"2-1-0": mptrj_record(make_structure(["Fe", "Fe", "O"]), -6.5, 3)},
        "mp-3": {
            "3-1-0": mptrj_record(make_structure(["Si"]), -5.4, 4),
            "3-1-1": mptrj_record(make_structure(["Si"], 4.2), -5.3, 5),
        },
    }
    return write_nested(tmp_path / "mini_mptrj.json", data)


@pytest.fixture(scope="module")
def module_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path]]:
    """``(home, out)``: a home with the embedded dataset prepared, and the folders of the runs
    the requesting module lists in ``RUNS = [(task, method spec, fraction, seed), ...]``.

    Made once per module; use with :func:`module_home` so every test sees that home.
    """
    from mfbench.data.prepare import prepare
    from mfbench.data.registry import get_dataset
    from mfbench.runner import run

    name = request.module.__name__.rsplit(".", 1)[-1]
    home = tmp_path_factory.mktemp(f"{name}-home")
    out = tmp_path_factory.mktemp(f"{name}-runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(home))
        prepare(get_dataset("surrogate-aflow"))
        for task, spec, fraction, seed in request.module.RUNS:
            run(task, spec, fraction, seed, out=out, progress=False)
    yield home, out


@pytest.fixture
def module_home(
    module_runs: tuple[Path, Path], isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point a test at :func:`module_runs`' home (after :func:`isolated_home` set its own)."""
    monkeypatch.setenv("MFBENCH_HOME", str(module_runs[0]))
    return module_runs[0]


@pytest.fixture
def out(module_runs: tuple[Path, Path]) -> Path:
    """The folder holding the runs of :func:`module_runs`."""
    return module_runs[1]


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MFBENCH_HOME for a whole test module, so the embedded dataset is prepared once."""
    return tmp_path_factory.mktemp("module-home")


@pytest.fixture
def use_shared_home(
    isolated_home: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Opt a module's tests into :func:`shared_home`
    (``pytestmark = pytest.mark.usefixtures("use_shared_home")``)."""
    monkeypatch.setenv("MFBENCH_HOME", str(shared_home))
    return shared_home
