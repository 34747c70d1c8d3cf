"""Submission metadata, compliance and packing, with real records of a cheap method."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mfbench.data.checksum import sha256_file
from mfbench.submissions import (
    EXAMPLE_METADATA,
    MANIFEST,
    METADATA,
    SUBMISSION_SCHEMA,
    SubmissionError,
    check_compliance,
    load_submission_meta,
    metadata_problems,
    pack_submission,
    safe_name,
    submission_schema,
    url_problem,
    verify_manifest,
)

from .test_runner import SPEC as COMPOSITION_ONLY

TASK = "surrogate-r2scan"
SEEDS = (0, 1)

#: Valid metadata for the composition-only runs: they learn from the r2scan training fraction
#: and ask for the GGA labels of the train split (the task's auxiliary data).
META: dict[str, Any] = {
    "schema": "mfbench.submission/1",
    "method": "composition-only",
    "description": "Least-squares elemental reference energies; zero forces and stress.",
    "authors": [
        {
            "name": "Ada Example",
            "affiliation": "Example University",
            "orcid": "0000-0002-1825-0097",
        },
        {"name": "Bo Example"},
    ],
    "paper": {"title": "A paper", "doi": "10.1038/s41524-025-01796-y", "url": "https://doi.org/x"},
    "code": {"url": "https://github.com/example/method", "commit": "0123abcd"},
    "licence": "MIT",
    "training_data": [
        {"dataset": "surrogate-aflow", "fidelity": "r2scan", "frames": "train-fraction"},
        {"dataset": "surrogate-aflow", "fidelity": "gga", "frames": "train-split"},
        {"dataset": "mptrj", "fidelity": "gga", "frames": "all", "note": "never read, declared"},
    ],
    "starting_checkpoint": None,
    "hardware": "2 CPU cores",
}


RUNS = [(TASK, COMPOSITION_ONLY, 0.25, s) for s in SEEDS]


#: every test of this module uses the home where :data:`RUNS` ran
pytestmark = pytest.mark.usefixtures("module_home")


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.rglob("result.json"))]


def _write_meta(tmp_path: Path, **changes: Any) -> Path:
    meta = copy.deepcopy(META)
    meta.update(changes)
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(meta, sort_keys=False))
    return path


def test_the_schema_is_valid_and_closed() -> None:
    schema = submission_schema()
    jsonschema.Draft202012Validator.check_schema(schema)

    def objects(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if "properties" in node:
                yield node
            for key, value in node.items():
                if key != "if":  # a condition, not an object definition
                    yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    assert schema["properties"]["schema"]["const"] == SUBMISSION_SCHEMA
    found = list(objects(schema))
    assert len(found) >= 6
    assert all(node.get("additionalProperties") is False for node in found)


def test_a_valid_submission_packs_and_its_manifest_verifies(out: Path, tmp_path: Path) -> None:
    meta_path = _write_meta(tmp_path)
    folder = pack_submission(meta_path, [out], tmp_path / "packed")
    assert folder == tmp_path / "packed" / "composition-only"
    assert [p.name for p in (tmp_path / "packed").iterdir()] == ["composition-only"]
    assert (folder / METADATA).read_bytes() == meta_path.read_bytes()

    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["schema"] == "mfbench.submission-manifest/1"
    assert manifest["compliance"] == {"compliant": True, "reasons": []}
    run_paths = [f"runs/{TASK}/v1/fraction-0.25/seed-{s}" for s in SEEDS]
    assert [r["path"] for r in manifest["runs"]] == run_paths
    assert set(manifest["files"]) == {METADATA, "code/tests.test_runner.py"} | {
        f"{p}/{name}" for p in run_paths for name in ("result.json", "predictions.npz")
    }
    assert manifest["code"] == {
        "module": "tests.test_runner",
        "file": "code/tests.test_runner.py",
        "sha256": sha256_file(Path(__file__).with_name("test_runner.py")),
    }
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(folder / name)
        assert entry["bytes"] == (folder / name).stat().st_size
    source = out / TASK / "v1" / "composition-only" / "fraction-0.25" / "seed-1"
    for name in ("result.json", "predictions.npz"):
        assert (folder / run_paths[1] / name).read_bytes() == (source / name).read_bytes()
    assert verify_manifest(folder) == []

    (folder / run_paths[0] / "predictions.npz").write_bytes(b"tampered")
    (folder / "extra.txt").write_text("x")
    problems = verify_manifest(folder)
    assert len(problems) == 2
    assert problems[0].startswith(f"{folder / 'extra.txt'}: not listed")
    assert problems[1].startswith(f"{folder / run_paths[0]}/predictions.npz: manifest has")


def test_an_existing_submission_is_replaced_only_when_asked(out: Path, tmp_path: Path) -> None:
    meta_path = _write_meta(tmp_path)
    folder = pack_submission(meta_path, [out], tmp_path / "packed")
    (folder / "stale.txt").write_text("old")
    with pytest.raises(SubmissionError, match="exists; pass replace"):
        pack_submission(meta_path, [out], tmp_path / "packed")
    assert pack_submission(meta_path, [out], tmp_path / "packed", replace=True) == folder
    assert not (folder / "stale.txt").exists() and verify_manifest(folder) == []
    assert [p.name for p in (tmp_path / "packed").iterdir()] == ["composition-only"]


def test_unknown_keys_are_rejected_and_named(tmp_path: Path) -> None:
    meta = copy.deepcopy(META)
    meta["licence_url"] = "https://example.org"
    meta["authors"][1]["emali"] = "bo@example.org"
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(meta))
    with pytest.raises(SubmissionError) as caught:
        load_submission_meta(path)
    assert caught.value.problems == [
        f"{path}: (top level): Additional properties are not allowed "
        "('licence_url' was unexpected)",
        f"{path}: authors[1]: Additional properties are not allowed ('emali' was unexpected)",
    ]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd", "//example.org"]
)
def test_urls_must_be_http(tmp_path: Path, url: str) -> None:
    path = _write_meta(tmp_path, code={"url": url, "commit": "0123abcd"})
    with pytest.raises(SubmissionError) as caught:
        load_submission_meta(path)
    assert any(p.startswith(f"{path}: code.url: {url!r}") for p in caught.value.problems)
    assert "must be an http or https URL" in str(caught.value)


def test_url_rule_beyond_the_pattern() -> None:
    assert url_problem("https://github.com/a/b?x=1#y") is None
    assert url_problem("HTTPS://example.org") is None
    assert "user credentials" in (url_problem("https://me:pw@example.org") or "")
    assert "no host" in (url_problem("https://") or "")
    assert "whitespace" in (url_problem("https://example.org/a\nb") or "")


def test_other_schema_rules(tmp_path: Path) -> None:
    meta = copy.deepcopy(META)
    del meta["code"]
    meta["schema"] = "mfbench.submission/0"
    meta["training_data"][2]["frames"] = "subset"
    del meta["training_data"][2]["note"]
    meta["starting_checkpoint"] = {"name": "chgnet-0.3.0", "sha256": "abc"}
    problems = metadata_problems(meta)
    assert problems == [
        "(top level): 'code' is a required property",
        "schema: 'mfbench.submission/1' was expected",
        "starting_checkpoint.sha256: 'abc' does not match '^[0-9a-f]{64}$'",
        "training_data[2]: 'note' is a required property",
    ]
    assert metadata_problems(META) == []


def test_the_example_metadata_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(EXAMPLE_METADATA)
    assert load_submission_meta(path)["training_data"][1]["note"] == "replayed during fine-tuning"


def test_a_key_written_twice_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(META, sort_keys=False) + "licence: GPL-3.0-only\n")
    with pytest.raises(SubmissionError, match=r"cannot read.*key 'licence' appears twice"):
        load_submission_meta(path)


def test_compliance_of_the_declared_data(out: Path) -> None:
    records = _records(out)
    assert check_compliance(META, records).compliant

    meta = copy.deepcopy(META)
    meta["starting_checkpoint"] = {"name": "CHGNet-r2SCAN", "sha256": "0" * 64}
    meta["training_data"][1]["frames"] = "all"
    meta["training_data"].append(
        {"dataset": "matpes", "fidelity": "r2scan", "frames": "subset", "note": "a few"}
    )
    meta["training_data"].append(
        {"dataset": "surrogate-aflow", "fidelity": "r2scan", "frames": "train-split"}
    )
    compliance = check_compliance(meta, records)
    assert not compliance.compliant
    assert compliance.reasons == (
        "training_data[1] (gga labels of surrogate-aflow, frames all): task surrogate-r2scan "
        "grants gga labels of surrogate-aflow (train-split only)",
        "training_data[3] (r2scan labels of matpes, frames subset): r2scan labels from outside "
        "task surrogate-r2scan's dataset surrogate-aflow; r2scan labels may only come from the "
        "run's training fraction",
        "training_data[4] (r2scan labels of surrogate-aflow, frames train-split): r2scan labels "
        "beyond the run's training fraction of task surrogate-r2scan (only frames: "
        "train-fraction is allowed)",
        "starting_checkpoint 'CHGNet-r2SCAN' is chgnet-r2scan, trained on r2scan labels of all "
        "of MP-r2SCAN (CHGNet's released r2scan model), so it has seen them beyond the training "
        "fraction of task surrogate-r2scan",
    )


def test_compliance_needs_what_the_records_used_declared(out: Path) -> None:
    records = _records(out)
    meta = copy.deepcopy(META)
    meta["training_data"] = [META["training_data"][2]]
    reasons = check_compliance(meta, records).reasons
    assert reasons == (
        "runs of task surrogate-r2scan learn from its r2scan training fraction, but training_data "
        "does not declare {dataset: surrogate-aflow, fidelity: r2scan, frames: train-fraction}",
        "runs of task surrogate-r2scan used the auxiliary gga labels of surrogate-aflow, but "
        "training_data does not declare them",
    )


def test_a_non_compliant_submission_is_packed_and_flagged(out: Path, tmp_path: Path) -> None:
    checkpoint = {"name": "r2scan", "sha256": "0" * 64, "url": "https://example.org/r2scan"}
    folder = pack_submission(
        _write_meta(tmp_path, starting_checkpoint=checkpoint), [out], tmp_path / "packed"
    )
    compliance = json.loads((folder / MANIFEST).read_text())["compliance"]
    assert compliance["compliant"] is False
    (reason,) = compliance["reasons"]
    assert reason.startswith("starting_checkpoint 'r2scan' is chgnet-r2scan, trained on r2scan")


def test_a_method_name_mismatch_is_rejected(out: Path, tmp_path: Path) -> None:
    path = _write_meta(tmp_path, method="another-method")
    with pytest.raises(SubmissionError) as caught:
        pack_submission(path, [out], tmp_path / "packed")
    mismatches = [p for p in caught.value.problems if "method.name is 'composition-only'" in p]
    assert len(mismatches) == len(SEEDS)
    assert f"but {path} submits method 'another-method'" in mismatches[0]
    assert not (tmp_path / "packed").exists()


def test_a_tampered_record_aborts_packing(out: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(out, results)
    tampered = sorted(results.rglob("result.json"))[1]
    record = json.loads(tampered.read_text())
    record["metrics"]["all"]["energy_mae_mev_per_atom"] = 1.0
    tampered.write_text(json.dumps(record))
    with pytest.raises(SubmissionError) as caught:
        pack_submission(_write_meta(tmp_path), [results], tmp_path / "packed")
    problems = caught.value.problems
    assert problems[0] == "the submission cannot be packed:"
    assert problems[1].startswith(f"{tampered}: REJECTED")
    assert "metrics.all.energy_mae_mev_per_atom: stored 1.0" in problems[1]
    assert len(problems) == 2
    assert not (tmp_path / "packed").exists()


def test_two_records_of_one_run_are_rejected(out: Path, tmp_path: Path) -> None:
    copy_dir = tmp_path / "copy"
    shutil.copytree(out, copy_dir)
    with pytest.raises(SubmissionError, match="submit one record per run"):
        pack_submission(_write_meta(tmp_path), [out, copy_dir], tmp_path / "packed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no result records under"):
        pack_submission(_write_meta(tmp_path), [tmp_path / "empty"], tmp_path / "packed")


def test_safe_name() -> None:
    assert safe_name("composition-only") == "composition-only"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("a/b:c") == "a_b_c"
    with pytest.raises(SubmissionError, match="no usable folder name"):
        safe_name("..")


def test_a_declared_starting_checkpoint_is_recognised_by_its_sha256(out: Path) -> None:
    r2scan = "8eba3db0f35a2788bb3ae22885ad340591e27996f213c6643af522a633b50dad"
    meta = {**META, "starting_checkpoint": {"name": "my-gga-start", "sha256": r2scan}}
    (reason,) = check_compliance(meta, _records(out)).reasons
    assert reason.startswith("starting_checkpoint 'my-gga-start' is chgnet-r2scan, trained on")
