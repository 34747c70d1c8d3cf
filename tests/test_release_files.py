"""The files a citation relies on: LICENSE, CITATION.cff (valid CFF 1.2.0) and CHANGELOG.md."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import yaml

import mfbench

ROOT = Path(__file__).resolve().parents[1]
CFF_SCHEMA = ROOT / "tests" / "data" / "citation-file-format" / "schema-1.2.0.json"


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_is_valid_against_the_cff_1_2_0_schema() -> None:
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(_cff()), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_schema_check_catches_a_broken_citation() -> None:
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    broken = {**_cff(), "licence": "MIT"}  # misspelt key
    del broken["authors"]
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken)]
    assert any("'authors' is a required property" in m for m in messages)
    assert any("'licence' was unexpected" in m for m in messages)


def test_citation_names_this_version_the_license_and_the_paper() -> None:
    cff = _cff()
    assert cff["version"] == mfbench.__version__
    assert cff["license"] == "MIT"
    (paper,) = [r for r in cff["references"] if r["type"] == "article"]
    assert paper["doi"] == "10.1038/s41524-025-01796-y"
    assert [a["family-names"] for a in paper["authors"]][:2] == ["Huang", "Deng"]


def test_the_license_file_is_the_mit_license_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == {"text": "MIT"}
    assert text.startswith("MIT License\n") and "mfbench contributors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_the_changelog_has_one_entry_per_release_and_one_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\b", text, flags=re.MULTILINE)
    assert versions, "no release entry"
    assert len(versions) == len(set(versions)), f"a version has two entries: {versions}"
    assert versions[0] == mfbench.__version__, "the newest entry is not this version"
