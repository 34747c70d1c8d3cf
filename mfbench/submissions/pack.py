"""Pack a submission for review, and verify a packed submission's manifest.

See :mod:`mfbench.submissions` for what a packed folder holds.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mfbench import __version__
from mfbench.atomic_write import write_json_atomic
from mfbench.data.checksum import sha256_file
from mfbench.results.validation import TaskCache, find_records, validate_record
from mfbench.submissions.compliance import check_compliance
from mfbench.submissions.layout import MANIFEST, MANIFEST_SCHEMA, code_path, run_path, safe_name
from mfbench.submissions.metadata import METADATA, SubmissionError, load_submission_meta

logger = logging.getLogger(__name__)


def pack_submission(
    meta_yaml: Path | str,
    results: Sequence[Path | str],
    out_dir: Path | str,
    *,
    replace: bool = False,
) -> Path:
    """Validate a submission and write it as one folder under ``out_dir`` (layout above).

    The folder is built in a temporary folder inside ``out_dir`` and renamed into place, so
    ``out_dir`` never holds a half-written submission.

    Args:
        meta_yaml: the metadata YAML file.
        results: result records, files or folders searched for ``result.json``.
        out_dir: where the submission folder goes (created if needed).
        replace: replace an existing submission folder of the same method.

    Returns:
        The submission folder, ``out_dir/<method>``.

    Raises:
        SubmissionError: invalid metadata, no records, a rejected record, a record of another
            method, two records for one run, or an existing folder without ``replace``. The
            message lists every problem and names the files.
        FileNotFoundError: a path in ``results`` does not exist.
    """
    meta_yaml, out_dir = Path(meta_yaml), Path(out_dir)
    meta = load_submission_meta(meta_yaml)
    method = str(meta["method"])
    destination = out_dir / safe_name(method, what="method")
    if destination.exists() and not replace:
        raise SubmissionError([f"{destination} exists; pass replace to overwrite it"])
    paths, records = _checked_records(meta_yaml, method, results)
    module, code_file = method_code(records, paths)
    compliance = check_compliance(meta, records)
    if not compliance.compliant:
        logger.warning("submission %s is not compliant:\n%s", method, "\n".join(compliance.reasons))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{destination.name}.packing-"))
    try:
        root = staging / destination.name
        root.mkdir()
        shutil.copyfile(meta_yaml, root / METADATA)
        code = code_path(module)
        (root / code).parent.mkdir(parents=True)
        shutil.copyfile(code_file, root / code)
        runs = [_copy_run(path, record, root) for path, record in zip(paths, records, strict=True)]
        write_json_atomic(
            root / MANIFEST,
            {
                "schema": MANIFEST_SCHEMA,
                "method": method,
                "mfbench_version": __version__,
                "compliance": compliance.to_json(),
                "code": {"module": module, "file": code, "sha256": sha256_file(root / code)},
                "runs": runs,
                "files": _file_hashes(root),
            },
        )
        _move_into_place(root, destination, staging, replace=replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("packed %d run(s) of %s into %s", len(runs), method, destination)
    return destination


def _checked_records(
    meta_yaml: Path, method: str, results: Sequence[Path | str]
) -> tuple[list[Path], list[dict[str, Any]]]:
    """The validated records of ``method``; any problem raises with all problems listed."""
    paths = find_records(results)
    if not paths:
        raise SubmissionError([f"no result records under {', '.join(map(str, results))}"])
    cache: TaskCache = {}
    reports = [validate_record(path, cache=cache) for path in paths]
    problems = [report.summary() for report in reports if not report.ok]
    records = [report.record for report in reports if report.ok and report.record is not None]
    for report in reports:
        if report.ok and report.record is not None:
            name = report.record["method"].get("name")
            if name != method:
                problems.append(
                    f"{report.path}: method.name is {name!r} (spec "
                    f"{report.record['method'].get('spec')!r}), but {meta_yaml} submits "
                    f"method {method!r}"
                )
    slots: dict[Path, Path] = {}
    for report in reports:
        if report.ok and report.record is not None:
            slot = run_path(report.record)
            if slot in slots:
                problems.append(
                    f"{report.path} and {slots[slot]} are both {slot}; submit one record per run"
                )
            slots.setdefault(slot, report.path)
    if problems:
        raise SubmissionError(["the submission cannot be packed:", *problems])
    return paths, records


def method_code(records: Sequence[Mapping[str, Any]], paths: Sequence[Path]) -> tuple[str, Path]:
    """The module that produced ``records`` and its source file here.

    Every record states its method's module and that file's sha256 (``method.source``); the
    module importable here must be the same one, with the same bytes.

    Returns:
        ``(module name, source file)``.

    Raises:
        SubmissionError: the records name several modules, the module cannot be found here,
            or a record's sha256 differs from the file's (naming the record and both hashes).
    """
    sources = [record["method"].get("source") for record in records]
    broken = [str(p) for p, s in zip(paths, sources, strict=True) if not isinstance(s, dict)]
    if broken:
        raise SubmissionError([f"{p}: the record states no method.source" for p in broken])
    modules = sorted({str(source.get("module")) for source in sources})
    if len(modules) != 1:
        raise SubmissionError([f"the records come from several modules: {', '.join(modules)}"])
    module = modules[0]
    try:
        spec = importlib.util.find_spec(module)
    except Exception as exc:  # finding it imports its parent packages: user code, any error
        spec, problem = None, f"{type(exc).__name__}: {exc}"
    else:
        problem = "no source file"
    if module == "__main__" or spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise SubmissionError(
            [f"the method's module {module!r} cannot be found here ({problem}); install the "
             "method's code (or put it on PYTHONPATH) and submit again"]
        )  # fmt: skip
    origin = Path(spec.origin)
    digest = sha256_file(origin)
    problems = [
        f"{path}: produced by code with sha256 {source.get('sha256')}, but module {module} "
        f"here ({origin}) has sha256 {digest}: submit the code that produced the records, or "
        "run them again with this code"
        for path, source in zip(paths, sources, strict=True)
        if source.get("sha256") != digest
    ]
    if problems:
        raise SubmissionError(["the submission cannot be packed:", *problems])
    return module, origin


def _copy_run(path: Path, record: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """Copy a record and its predictions into ``root``; returns the run's manifest entry."""
    folder = root / run_path(record)
    folder.mkdir(parents=True)
    predictions = str(record["predictions"]["file"])
    shutil.copyfile(path, folder / "result.json")
    shutil.copyfile(path.parent / predictions, folder / predictions)
    copied = sha256_file(folder / predictions)
    if copied != record["predictions"]["sha256"]:
        raise SubmissionError(
            [f"{path.parent / predictions}: changed while packing (sha256 now {copied})"]
        )
    return {
        "task": record["task"]["name"],
        "task_version": record["task"]["version"],
        "split_fingerprint": record["task"]["split_fingerprint"],
        "params_hash": record["method"]["params_hash"],
        "fraction": record["fraction"],
        "seed": record["seed"],
        "path": run_path(record).as_posix(),
    }


def _file_hashes(root: Path) -> dict[str, dict[str, Any]]:
    """``{relative posix path: {"sha256": hex, "bytes": int}}`` of every file but the manifest."""
    return {
        path.relative_to(root).as_posix(): {
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
        }
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() != MANIFEST
    }


def _move_into_place(root: Path, destination: Path, staging: Path, *, replace: bool) -> None:
    """Rename ``root`` to ``destination``; with ``replace``, an existing one goes to ``staging``."""
    if destination.exists():
        if not replace:
            raise SubmissionError([f"{destination} exists; pass replace to overwrite it"])
        os.replace(destination, staging / "replaced")
    os.replace(root, destination)


def verify_manifest(folder: Path | str) -> list[str]:
    """Check a packed submission folder against its manifest.

    Returns:
        One line per file that is missing, unlisted, or whose size or sha256 differs, each
        naming the file; empty when the folder matches.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed: dict[str, dict[str, Any]] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{folder / MANIFEST}: cannot read the manifest ({exc})"]
    if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
        return [f"{folder / MANIFEST}: its files must map each path to its sha256 and size"]
    actual = _file_hashes(folder)
    problems = [
        f"{folder / name}: listed in the manifest but missing"
        for name in listed.keys() - actual.keys()
    ]
    problems += [
        f"{folder / name}: not listed in the manifest" for name in actual.keys() - listed.keys()
    ]
    for name in sorted(listed.keys() & actual.keys()):
        if listed[name] != actual[name]:
            problems.append(
                f"{folder / name}: manifest has {listed[name]}, the file has {actual[name]}"
            )
    return sorted(problems)
