"""What a record says produced it, and the compliance mfbench computes from that.

Real runs of methods that load CHGNet's r2scan checkpoint behind hyperparameters naming the GGA
model (:mod:`tests.doubles`), and of the honest composition-only method, in one home.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from mfbench.data.checkpoints import identify_checkpoint, known_checkpoints
from mfbench.leaderboard import build_site
from mfbench.methods.checkpoint_log import HOW_DECLARED, HOW_OPENED, HOW_PRETRAINED, CheckpointLog
from mfbench.results import validate_record
from mfbench.results.compliance import non_compliance
from mfbench.submissions import MANIFEST, SubmissionError, pack_submission, verify_manifest

from .doubles import COMPOSITION_ONLY, CONTEXT_SPEC, DIRECT_SPEC
from .factories import set_record_fields
from .test_leaderboard import _Page
from .test_submissions import META

TASK = "surrogate-r2scan-quick"
IMPORT_TIME_SPEC = "tests.doubles_import_time:ImportTimeR2scan"  # imported by its run only
RUNS = [
    (TASK, COMPOSITION_ONLY, 0.05, 0),
    (TASK, CONTEXT_SPEC, 0.05, 0),
    (TASK, DIRECT_SPEC, 0.05, 0),
    (TASK, IMPORT_TIME_SPEC, 0.05, 0),
]
R2SCAN_SHA = "8eba3db0f35a2788bb3ae22885ad340591e27996f213c6643af522a633b50dad"

pytestmark = pytest.mark.usefixtures("module_home")


def _record(out: Path, method: str) -> tuple[Path, dict]:
    path = out / TASK / "v1" / method / "fraction-0.05" / "seed-0" / "result.json"
    return path, json.loads(path.read_text())


def test_the_registry_knows_the_shipped_checkpoints_by_their_bytes() -> None:
    import chgnet

    pretrained = Path(chgnet.__file__).parent / "pretrained"
    for name, model in (("chgnet-0.3.0", "0.3.0"), ("chgnet-r2scan", "r2scan")):
        (file,) = (pretrained / model).glob("*.pth.tar")
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        known = identify_checkpoint(sha256=digest)
        assert known is not None and known.name == name
    assert identify_checkpoint(name="R2SCAN").seen("r2scan").startswith("all of MP-r2SCAN")
    assert identify_checkpoint(name="chgnet-0.3.0").seen("r2scan") is None
    assert identify_checkpoint(name="7net-mf-0").seen("r2scan") is not None
    assert len({c.name for c in known_checkpoints()}) == len(known_checkpoints())


def test_an_honest_record_states_its_code_and_reads_no_checkpoint(out: Path) -> None:
    _, record = _record(out, "composition-only")
    source = record["method"]["source"]
    doubles = Path(__file__).with_name("doubles.py")
    assert source == {
        "module": "tests.doubles",
        "file": "tests/doubles.py",
        "sha256": hashlib.sha256(doubles.read_bytes()).hexdigest(),
        "distribution": None,
    }
    assert record["checkpoints"] == []
    assert non_compliance(record) is None


@pytest.mark.parametrize(
    ("method", "how"),
    [
        ("hidden-r2scan-context", HOW_PRETRAINED),
        ("hidden-r2scan-direct", HOW_OPENED),
        ("import-time-r2scan", HOW_OPENED),  # loaded when the run imported its module
    ],
)
def test_a_checkpoint_loaded_behind_the_params_is_recorded_and_flagged(
    out: Path, method: str, how: str
) -> None:
    path, record = _record(out, method)
    assert validate_record(path).ok  # valid: its metrics are what it predicted
    (checkpoint,) = record["checkpoints"]
    assert checkpoint["sha256"] == R2SCAN_SHA and checkpoint["how"] == how
    assert checkpoint["file"] == (
        "chgnet/pretrained/r2scan/chgnet_r2scan_transfer_learning_e15f36s161m23.pth.tar"
    )
    assert checkpoint["name"] == ("chgnet-r2scan" if how == HOW_PRETRAINED else None)
    flag = non_compliance(record)
    assert flag is not None and flag.tag == "loaded chgnet-r2scan"
    assert flag.reason.startswith(f"the run read {checkpoint['file']} (sha256 8eba3db0f35a…)")
    assert f"so it has seen r2scan labels beyond its training fraction of task {TASK}" in (
        flag.reason
    )
    if how == HOW_PRETRAINED:
        assert record["method"]["params"]["base_model"] == "0.3.0"  # what it claimed


def test_the_hidden_checkpoint_runs_are_reference_rows_with_the_reason_on_their_page(
    out: Path, tmp_path: Path
) -> None:
    site = build_site([out], tmp_path / "site")
    assert (site.n_accepted, site.n_ranked, site.n_reference) == (4, 1, 3)
    page = _Page((site.out / "tasks" / f"{TASK}.html").read_text())
    fractions = [key for key in page.tables if key.startswith(f"{TASK}-fraction-")]
    ranked = [row["Method"]["text"] for key in fractions for row in page.rows(key)]
    assert ranked == ["composition-only"]
    reference = {row["Method"]["text"] for row in page.rows(f"{TASK}-reference")}
    assert reference == {
        "hidden-r2scan-context [loaded chgnet-r2scan]",
        "hidden-r2scan-direct [loaded chgnet-r2scan]",
        "import-time-r2scan [loaded chgnet-r2scan]",
    }
    method = (site.out / "methods" / "hidden-r2scan-context.html").read_text()
    assert "non-compliant, not ranked (shown as a reference row): the run read " in method
    assert R2SCAN_SHA in method  # the checkpoints table of its provenance


def test_a_record_cannot_hide_a_checkpoint_behind_a_malformed_entry(
    out: Path, tmp_path: Path
) -> None:
    source, _ = _record(out, "hidden-r2scan-context")
    shutil.copytree(source.parent, tmp_path / "run")
    path = tmp_path / "run" / "result.json"
    set_record_fields(path, {"checkpoints": [{"file": "x.pt", "sha256": R2SCAN_SHA.upper()}]})
    problems = validate_record(path).problems
    assert problems[0].startswith("checkpoints[0]: {'file': 'x.pt'")
    set_record_fields(path, {"checkpoints": "none", "method.source": None})
    problems = validate_record(path).problems
    assert problems[:2] == [
        "checkpoints: str, not a list",
        "method.source: None does not have exactly the fields "
        "['distribution', 'file', 'module', 'sha256']",
    ]


def test_the_checkpoint_log_records_what_was_read_declared_or_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chgnet

    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"weights")
    own = tmp_path / "run" / "model.pt"
    own.parent.mkdir()
    own.write_bytes(b"the method's own")
    (r2scan,) = (Path(chgnet.__file__).parent / "pretrained" / "r2scan").glob("*.pth.tar")
    copied = tmp_path / "run" / "checkpoints" / "resume.pt"
    copied.parent.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "store.bin").write_bytes(b"mfbench's own data")
    large = tmp_path / "table.dat"
    large.write_bytes(bytes(100_000))
    log = CheckpointLog(ignore=[tmp_path / "data"], own=[tmp_path / "run"])
    monkeypatch.chdir(tmp_path)
    with log.watching():
        with open("weights.pt", "rb") as handle:  # a relative path, then the folder changes
            os.chdir(tmp_path / "run")
            handle.read()
        own.read_bytes()  # the method's own file: left out
        shutil.copyfile(r2scan, copied)  # but a known checkpoint copied there is found
        copied.read_bytes()
        renamed = tmp_path / "blob.dat"  # whatever its name
        shutil.copyfile(r2scan, renamed)
        renamed.read_bytes()
        large.read_bytes()  # large, but neither weights-like nor a known checkpoint
        (tmp_path / "data" / "store.bin").read_bytes()
        scratch = tmp_path / "scratch.npz"
        scratch.write_bytes(b"written, then read back")
        scratch.read_bytes()  # written by the process itself: its own
        weights.write_bytes(b"changed after it was read")
    declared = tmp_path / "native.safetensors"
    declared.write_bytes(b"read by native code")
    log.add(declared, name="my-start", how=HOW_DECLARED)
    outside = tmp_path / "later.pt"
    outside.write_bytes(b"read after the watch")
    outside.read_bytes()
    weights.unlink()
    shipped = "chgnet/pretrained/r2scan/" + r2scan.name  # read by the copy
    assert log.entries() == [
        {"name": None, "file": "weights.pt", "sha256": hashlib.sha256(b"weights").hexdigest(),
         "bytes": 7, "how": HOW_OPENED},
        {"name": None, "file": shipped, "sha256": R2SCAN_SHA, "bytes": r2scan.stat().st_size,
         "how": HOW_OPENED},
        {"name": None, "file": "resume.pt", "sha256": R2SCAN_SHA, "bytes": r2scan.stat().st_size,
         "how": HOW_OPENED},
        {"name": None, "file": "blob.dat", "sha256": R2SCAN_SHA, "bytes": r2scan.stat().st_size,
         "how": HOW_OPENED},
        {"name": "my-start", "file": "native.safetensors", "bytes": 19, "how": HOW_DECLARED,
         "sha256": hashlib.sha256(b"read by native code").hexdigest()},
    ]  # fmt: skip


def _meta(tmp_path: Path, method: str) -> Path:
    path = tmp_path / "meta.yaml"
    meta = {**META, "method": method, "training_data": META["training_data"][:2]}
    path.write_text(yaml.safe_dump(meta, sort_keys=False))
    return path


def test_a_manifest_edited_to_compliant_rejects_the_submission(out: Path, tmp_path: Path) -> None:
    _, record = _record(out, "hidden-r2scan-context")
    folder = pack_submission(
        _meta(tmp_path, "hidden-r2scan-context"),
        [out / TASK / "v1" / "hidden-r2scan-context"],
        tmp_path / "submissions",
    )
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["compliance"]["compliant"] is False
    (reason,) = manifest["compliance"]["reasons"]
    assert reason.startswith(f"runs/{TASK}/v1/fraction-0.05/seed-0: the run read chgnet/")
    assert manifest["code"]["module"] == "tests.doubles"
    assert manifest["code"]["sha256"] == record["method"]["source"]["sha256"]

    # reworded reasons are no mismatch: only the verdict is compared, mfbench's reasons shown
    manifest["compliance"] = {"compliant": False, "reasons": ["whatever the submitter wrote"]}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    site = build_site([tmp_path / "submissions"], tmp_path / "site")
    assert (site.n_accepted, site.n_ranked, site.n_reference) == (1, 0, 1)
    method = (site.out / "methods" / "hidden-r2scan-context.html").read_text()
    assert "whatever the submitter wrote" not in method and "the run read chgnet/" in method

    manifest["compliance"] = {"compliant": True, "reasons": []}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert verify_manifest(folder) == []  # the files still match: only the verdict changed
    site = build_site([tmp_path / "submissions"], tmp_path / "site")
    assert site.n_ranked == 0 and site.n_accepted == 0
    index = html.unescape((site.out / "index.html").read_text())
    assert "rejected, its runs are not shown" in index
    assert "the manifest says compliant: true, but mfbench computes false from the" in index


def test_submit_refuses_records_of_other_code(out: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(out / TASK / "v1" / "composition-only", runs)
    path = next(runs.rglob("result.json"))
    set_record_fields(path, {"method.source.sha256": "0" * 64})
    meta = _meta(tmp_path, "composition-only")
    with pytest.raises(SubmissionError) as caught:
        pack_submission(meta, [runs], tmp_path / "submissions")
    (problem,) = caught.value.problems[1:]
    assert problem.startswith(f"{path}: produced by code with sha256 {'0' * 64}, but module ")
    assert "tests.doubles" in problem


@pytest.mark.parametrize(
    "code",
    [
        {"module": "tests.doubles", "file": "code/absent.py", "sha256": "0" * 64},
        {"module": "...", "file": "code/....py"},
        "code/tests.doubles.py",
    ],
)
def test_a_crafted_code_entry_rejects_the_submission_not_the_site(
    out: Path, tmp_path: Path, code: object
) -> None:
    folder = pack_submission(
        _meta(tmp_path, "composition-only"),
        [out / TASK / "v1" / "composition-only"],
        tmp_path / "submissions",
    )
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "code": code}))
    site = build_site([tmp_path / "submissions", out / TASK / "v1" / "hidden-r2scan-direct"],
                      tmp_path / "site")  # fmt: skip
    assert (site.n_accepted, site.n_reference) == (1, 1)  # the other results still shown
    assert "names no packed code file" in html.unescape((site.out / "index.html").read_text())


def test_packed_code_must_be_the_code_of_the_records(out: Path, tmp_path: Path) -> None:
    folder = pack_submission(
        _meta(tmp_path, "composition-only"),
        [out / TASK / "v1" / "composition-only"],
        tmp_path / "submissions",
    )
    code = folder / "code" / "tests.doubles.py"
    assert code.read_bytes() == Path(__file__).with_name("doubles.py").read_bytes()
    code.write_text(code.read_text() + "\n# edited after the runs\n")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["code/tests.doubles.py"] = {
        "sha256": hashlib.sha256(code.read_bytes()).hexdigest(),
        "bytes": code.stat().st_size,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    site = build_site([tmp_path / "submissions"], tmp_path / "site")
    assert site.n_accepted == 0
    assert "was produced by code with sha256" in (site.out / "index.html").read_text()
