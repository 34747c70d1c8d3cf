"""Submissions: metadata checked against a JSON Schema, compliance, and packing for review.

A submission is a metadata YAML file (schema ``mfbench/data/submission.schema.json``, every
object closed with ``additionalProperties: false``) plus the result records of one method.
:func:`pack_submission` validates both (records by recomputing their metrics), computes the
submission's compliance and writes one folder::

    <out>/<method>/
        submission.yaml        the metadata, byte for byte
        manifest.json          sha256 and size of every other file, the runs, the code, and
                               the compliance mfbench computed (a cache: the leaderboard
                               computes it again and rejects the submission when they differ)
        code/<module>.py       the method's module, whose sha256 every record states
        runs/<task>/v<version>/fraction-<f>/seed-<s>/result.json
        runs/<task>/v<version>/fraction-<f>/seed-<s>/predictions.npz

The records must have been produced by the code submitted: each record states the sha256 of
its method's module (``method.source``), and packing refuses records whose hash differs from
the module importable here.

Compliance is computed, never declared. The rule: a run may learn target-fidelity labels
(the task's ``target_fidelity``, r2SCAN) only from its own training fraction. A submission is
non-compliant when its metadata declares

- target-fidelity labels of the task's dataset beyond the training fraction (``frames`` other
  than ``train-fraction``), or target-fidelity labels of any other dataset;
- labels of another fidelity of the task's own dataset beyond what the task grants
  (its ``auxiliary_data`` scope; e.g. GGA labels of the test frames when only the train split
  is granted);
- a starting checkpoint known to be trained on target-fidelity labels
  (``mfbench/data/checkpoints.yaml``, e.g. CHGNet's released ``r2scan`` model, trained on
  all of MP-r2SCAN including its test materials);
- a run whose record shows such a checkpoint (a weights file it read, or a hyperparameter
  naming one; :func:`mfbench.results.compliance.non_compliance`);

or when it fails to declare what its records show it used: the target labels of the training
fraction (a run with training frames) and the auxiliary data its records list. Low-fidelity
data of other datasets (e.g. MPtrj) is allowed and shown. A declared starting checkpoint is
recognised by name or sha256; the checkpoints the runs actually read are in their records.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from mfbench import __version__
from mfbench.atomic_write import write_json_atomic
from mfbench.data.checkpoints import identify_checkpoint
from mfbench.data.checksum import sha256_file
from mfbench.errors import MfbenchError
from mfbench.results.compliance import non_compliance
from mfbench.results.validation import TaskCache, find_records, validate_record
from mfbench.tasks.definition import Task, get_task

logger = logging.getLogger(__name__)

#: The ``schema`` value of the metadata files this module reads.
SUBMISSION_SCHEMA = "mfbench.submission/1"
#: The ``schema`` value of the manifests this module writes.
MANIFEST_SCHEMA = "mfbench.submission-manifest/1"
MANIFEST = "manifest.json"
METADATA = "submission.yaml"
#: A complete metadata file (what ``mfbench submit`` users start from).
EXAMPLE_METADATA = """\
schema: mfbench.submission/1
method: finetune-refit-atomref        # the name in every submitted result record
description: CHGNet 0.3.0 fine-tuned on r2SCAN after refitting the elemental reference.
authors:
  - {name: Ada Example, affiliation: Example University, orcid: 0000-0002-1825-0097}
paper: {title: Cross-functional transferability, venue: npj Computational Materials,
        year: 2025, doi: 10.1038/s41524-025-01796-y}
code: {url: "https://github.com/example/method", commit: "0123abcd"}  # quoted: digits are numbers
licence: MIT                          # SPDX identifier of the code
training_data:                        # every set of labels learned from, in any stage
  - {dataset: mp-r2scan, fidelity: r2scan, frames: train-fraction}
  - {dataset: mptrj, fidelity: gga, frames: all, note: replayed during fine-tuning}
starting_checkpoint:                  # null when trained from scratch
  name: chgnet-0.3.0
  sha256: "0000000000000000000000000000000000000000000000000000000000000000"
hardware: 1x NVIDIA A100 40GB, 8 CPU cores
"""
#: How much of a dataset a ``frames`` value covers; a larger rank covers more.
_FRAMES_RANK = {"train-fraction": 0, "train-split": 1, "all": 2, "subset": 2}
_URL_SCHEMES = ("http", "https")


class SubmissionError(MfbenchError):
    """Submission metadata or records are invalid; the message lists every problem found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Compliance:
    """Whether a submission kept to the benchmark's data rules.

    Attributes:
        reasons: one line per rule broken or use left undeclared; empty when compliant.
    """

    reasons: tuple[str, ...] = ()

    @property
    def compliant(self) -> bool:
        """True when there is no reason to flag the submission."""
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        """``{"compliant": bool, "reasons": [str, ...]}``."""
        return {"compliant": self.compliant, "reasons": list(self.reasons)}


@cache
def submission_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of submission metadata."""
    text = resources.files("mfbench.data").joinpath("submission.schema.json").read_text("utf-8")
    return json.loads(text)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key written twice in one mapping."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,  # type: ignore[arg-type]
)


def load_submission_meta(path: Path | str) -> dict[str, Any]:
    """Read submission metadata and check it against :func:`submission_schema`.

    Args:
        path: the metadata YAML file.

    Returns:
        The metadata as parsed from YAML.

    Raises:
        SubmissionError: the file cannot be read, a key appears twice, or the metadata breaks
            the schema or the URL rule; one problem per line, each naming the file and field
            (e.g. ``meta.yaml: authors[0]: Additional properties are not allowed ('emali'
            was unexpected)``).
    """
    path = Path(path)
    try:
        meta = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SubmissionError([f"{path}: cannot read the submission metadata ({exc})"]) from exc
    problems = metadata_problems(meta)
    if problems:
        raise SubmissionError([f"{path}: {problem}" for problem in problems])
    return meta


def metadata_problems(meta: Any) -> list[str]:
    """Every way ``meta`` breaks the submission schema or the URL rule.

    Returns:
        Lines such as ``code.url: 'javascript:alert(1)' does not match '^https?://…'``, sorted
        by field; empty when ``meta`` is valid.
    """
    validator = jsonschema.Draft202012Validator(submission_schema())
    errors = sorted(validator.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"{_field(error.absolute_path)}: {error.message}" for error in errors]
    if isinstance(meta, dict):
        problems += [f"{where}: {problem}" for where, problem in _url_problems(meta)]
    return list(dict.fromkeys(problems))


def _field(path: Iterable[Any]) -> str:
    """``authors[0].name`` for the path ``("authors", 0, "name")``; ``(top level)`` for ``()``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _url_problems(value: Any, where: tuple[Any, ...] = ()) -> Iterable[tuple[str, str]]:
    """``(field, problem)`` for every string under a key named ``url`` that is not http(s)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                problem = url_problem(item)
                if problem:
                    yield _field((*where, key)), problem
            else:
                yield from _url_problems(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _url_problems(item, (*where, index))


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable link, or None.

    Only absolute ``http``/``https`` URLs with a host are accepted: ``javascript:``,
    ``data:``, ``file:`` and relative links are rejected, as are whitespace, control
    characters and user credentials in the URL.
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"{url!r} contains whitespace or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme.lower() not in _URL_SCHEMES:
        return f"{url!r} must be an http or https URL, not {parts.scheme or 'relative'!r}"
    if not parts.hostname:
        return f"{url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{url!r} must not hold user credentials"
    return None


def check_compliance(meta: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Compliance:
    """Judge a submission against the data rules (see the module docstring).

    Args:
        meta: validated submission metadata (:func:`load_submission_meta`).
        records: the submission's result records (parsed ``result.json``); their tasks are
            loaded by name from the task folder.

    Returns:
        The compliance, with one reason per rule broken (each naming the field or task).

    Raises:
        mfbench.errors.UnknownNameError: a record names a task that does not exist.
    """
    reasons: dict[str, None] = {}
    declared: list[Mapping[str, Any]] = list(meta.get("training_data") or [])
    checkpoint = meta.get("starting_checkpoint")
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_task.setdefault(str(record["task"]["name"]), []).append(record)
    for name in sorted(by_task):
        task = get_task(name)
        for reason in (
            *_declared_data_reasons(task, declared),
            *_checkpoint_reasons(task, checkpoint),
            *_undeclared_use_reasons(task, by_task[name], declared),
        ):
            reasons[reason] = None
    for reason in _record_reasons(sorted(records, key=lambda r: run_path(r).as_posix())):
        reasons[reason] = None
    return Compliance(tuple(reasons))


def _declared_data_reasons(task: Task, declared: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    target, own = task.target_fidelity, task.dataset.id
    granted = {a.fidelity: a.scope for a in task.auxiliary_data if a.kind == "same-frames"}
    for index, entry in enumerate(declared):
        dataset, fidelity, frames = entry["dataset"], entry["fidelity"], entry["frames"]
        where = f"training_data[{index}] ({fidelity} labels of {dataset}, frames {frames})"
        if fidelity == target and dataset != own:
            yield (
                f"{where}: {target} labels from outside task {task.task}'s dataset {own}; "
                f"{target} labels may only come from the run's training fraction"
            )
        elif fidelity == target and frames != "train-fraction":
            yield (
                f"{where}: {target} labels beyond the run's training fraction of task "
                f"{task.task} (only frames: train-fraction is allowed)"
            )
        elif fidelity != target and dataset == own:
            scope = granted.get(fidelity)
            if scope is None:
                yield f"{where}: task {task.task} grants no {fidelity} labels of {own}"
            elif _FRAMES_RANK[frames] > _FRAMES_RANK[scope]:
                yield f"{where}: task {task.task} grants {fidelity} labels of {own} ({scope} only)"


def _checkpoint_reasons(task: Task, checkpoint: Mapping[str, Any] | None) -> Iterable[str]:
    if not checkpoint:
        return
    name = str(checkpoint["name"])
    known = identify_checkpoint(name=name, sha256=checkpoint.get("sha256"))
    if known is not None and known.seen(task.target_fidelity) is not None:
        yield (
            f"starting_checkpoint {name!r} is {known.name}, trained on {task.target_fidelity} "
            f"labels of {known.seen(task.target_fidelity)}, so it has seen them beyond the "
            f"training fraction of task {task.task}"
        )


def _record_reasons(records: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    """The record-level findings (:func:`mfbench.results.compliance.non_compliance`)."""
    for record in records:
        flag = non_compliance(record)
        if flag is not None:
            yield f"{run_path(record).as_posix()}: {flag.reason}"


def _undeclared_use_reasons(
    task: Task, records: Sequence[Mapping[str, Any]], declared: Sequence[Mapping[str, Any]]
) -> Iterable[str]:
    pairs = {(entry["dataset"], entry["fidelity"]) for entry in declared}
    own, target = task.dataset.id, task.target_fidelity
    if any(int(r["n_train_frames"]) > 0 for r in records) and (own, target) not in pairs:
        yield (
            f"runs of task {task.task} learn from its {target} training fraction, but "
            f"training_data does not declare {{dataset: {own}, fidelity: {target}, "
            "frames: train-fraction}"
        )
    used = sorted({str(name) for r in records for name in r.get("auxiliary_used") or []})
    for fidelity in used:
        sources = [
            own if aux.kind == "same-frames" or aux.dataset is None else aux.dataset.id
            for aux in task.auxiliary_data
            if aux.fidelity == fidelity
        ]
        for dataset in sources:
            if (dataset, fidelity) not in pairs:
                yield (
                    f"runs of task {task.task} used the auxiliary {fidelity} labels of "
                    f"{dataset}, but training_data does not declare them"
                )


def safe_name(text: str, *, what: str = "name") -> str:
    """``text`` as one path component that cannot leave its folder.

    Runs of characters other than ``A-Za-z0-9._-`` become ``_``, leading dots and underscores
    are dropped, and the name is cut at 100 characters.

    Raises:
        SubmissionError: nothing is left.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip("._")[:100]
    if not cleaned or cleaned in {".", ".."}:
        raise SubmissionError([f"{what} {text!r} gives no usable folder name"])
    return cleaned


def run_path(record: Mapping[str, Any]) -> Path:
    """``runs/<task>/v<version>/fraction-<f>/seed-<s>``, relative to the submission folder."""
    task = record["task"]
    return (
        Path("runs") / safe_name(str(task["name"]), what="task")
        / f"v{int(task['version'])}" / f"fraction-{float(record['fraction']):g}"
        / f"seed-{int(record['seed'])}"
    )  # fmt: skip


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


def code_path(module: str) -> str:
    """Where a submission holds the source of ``module``: ``code/<module>.py``."""
    return f"code/{safe_name(module, what='module')}.py"


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
