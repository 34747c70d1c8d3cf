"""A run records the versions of the libraries its number depends on (`mfbench.provenance`)."""

from __future__ import annotations

from importlib import metadata

import pytest

from mfbench import provenance


def test_the_versions_name_both_architectures_libraries() -> None:
    versions = provenance.environment()["versions"]
    assert isinstance(versions, dict)
    for package in ("chgnet", "sevenn", "e3nn", "torch", "pymatgen", "numpy", "ase"):
        assert versions[package] == metadata.version(package), package


def test_a_package_that_is_not_installed_is_recorded_as_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provenance, "_PACKAGES", ("torch", "mfbench-no-such-package"))
    versions = provenance.environment()["versions"]
    assert versions["mfbench-no-such-package"] is None
    assert versions["torch"] == metadata.version("torch")
