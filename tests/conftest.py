"""Shared fixtures: an isolated MFBENCH_HOME and small MPtrj-layout files made on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

from .factories import make_structure, mptrj_record, write_nested


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own empty MFBENCH_HOME."""
    home = tmp_path_factory.mktemp("mfbench-home")
    monkeypatch.setenv("MFBENCH_HOME", str(home))
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
