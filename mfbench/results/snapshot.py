"""The leaderboard snapshot: one sha256 naming exactly the validated records a number comes from.

A snapshot is computed from validation reports (:func:`mfbench.results.validate_records`). Only
**accepted** records enter it. For each, one entry holds what identifies the run and its files:

- ``task``, ``task_version``, ``split_fingerprint``, ``test_fingerprint`` and
  ``train_fraction_fingerprint`` (as the record states them; validation checked each against
  the task as defined here);
- ``method`` (its name, else its spec), ``params_hash`` (the hash runs are grouped by,
  :func:`mfbench.results.record.protocol_params_hash`), ``fraction`` and ``seed``;
- ``record_sha256`` and ``predictions_sha256``: sha256 of the bytes of ``result.json`` and of its
  predictions file, computed here (never read from the record; the predictions hash must equal
  the one the record states, which validation checked).

The snapshot id is the sha256 of the canonical JSON (:func:`canonical_json`) of
``{"schema", "mfbench_version", "entries"}``, with the entries sorted. Canonical: keys sorted, no
whitespace, ASCII only, no floats (the fraction is written as the shortest decimal that reads
back as the same double, ``repr(float(f))``: ``"0.1"``, ``"1.0"``), so the same records give
the same id on any machine, in any folder, under any ``PYTHONHASHSEED``; one changed byte in one
record or predictions file gives another id. Paths are not part of it: moving or copying the
folder keeps the id. The mfbench version is: an id names the records *and* the code that
validated them (:func:`snapshot_of` takes another version to recompute an older id).

Records that are not accepted are **left out**: ``rejected`` ones (wrong, see their problems) and
``not checked`` ones (this machine cannot check them, e.g. their dataset is not prepared). They
do not change the id; :attr:`Snapshot.left_out` lists them with their status so a reader sees
what a snapshot does not cover. A record that is not checked on one machine but accepted on
another makes the two ids differ, and the report says which record that is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfbench.errors import MfbenchError
from mfbench.results.record import predictions_file, protocol_params_hash
from mfbench.results.validation import ValidationReport, validate_records

logger = logging.getLogger(__name__)

#: Name and version of the hashed payload and of ``snapshot.json``.
SNAPSHOT_SCHEMA = "mfbench.snapshot/1"
#: Hex characters of the short form of an id.
SHORT_ID = 12
#: The fields of an entry, in the order a row shows them.
ENTRY_FIELDS = (
    "task",
    "task_version",
    "split_fingerprint",
    "test_fingerprint",
    "train_fraction_fingerprint",
    "method",
    "params_hash",
    "fraction",
    "seed",
    "record_sha256",
    "predictions_sha256",
)
_INT_FIELDS = frozenset({"task_version", "seed"})


class SnapshotError(MfbenchError):
    """A snapshot cannot be computed or a snapshot listing cannot be read (the message says why)."""


@dataclass(frozen=True, order=True)
class RunKey:
    """What names one run: task and version, method and params hash, fraction and seed."""

    task: str
    task_version: int
    method: str
    params_hash: str
    fraction: str
    seed: int

    def describe(self) -> str:
        """``task t v1, method m [params 1a2b3c4d], fraction 0.1, seed 0``."""
        return (
            f"task {self.task} v{self.task_version}, method {self.method} "
            f"[params {self.params_hash[:8]}], fraction {self.fraction}, seed {self.seed}"
        )


@dataclass(frozen=True)
class SnapshotEntry:
    """One accepted record as the snapshot hashes it (see the module docstring)."""

    task: str
    task_version: int
    split_fingerprint: str
    test_fingerprint: str
    train_fraction_fingerprint: str
    method: str
    params_hash: str
    fraction: str
    seed: int
    record_sha256: str
    predictions_sha256: str

    @property
    def key(self) -> RunKey:
        """The run this entry is a record of."""
        return RunKey(
            self.task, self.task_version, self.method, self.params_hash, self.fraction, self.seed
        )

    def as_json(self) -> dict[str, Any]:
        """The entry as a JSON object (every field of :data:`ENTRY_FIELDS`)."""
        return {name: getattr(self, name) for name in ENTRY_FIELDS}

    @classmethod
    def from_json(cls, value: Any) -> SnapshotEntry:
        """An entry from :meth:`as_json`'s form; the fields and their types must be exact.

        Raises:
            SnapshotError: a field is missing, unknown or of the wrong type.
        """
        if not isinstance(value, dict) or set(value) != set(ENTRY_FIELDS):
            raise SnapshotError(f"a snapshot entry must have exactly the fields {ENTRY_FIELDS}")
        for name in ENTRY_FIELDS:
            kind = int if name in _INT_FIELDS else str
            if not isinstance(value[name], kind) or isinstance(value[name], bool):
                raise SnapshotError(f"snapshot entry field {name}: {value[name]!r} is not a {kind}")
        return cls(**value)

    def sort_key(self) -> tuple[Any, ...]:
        """Entries are sorted by run (fraction by value), then by the file hashes."""
        key = self.key
        return (
            key.task,
            key.task_version,
            key.method,
            key.params_hash,
            float(key.fraction),
            key.seed,
            self.record_sha256,
            self.predictions_sha256,
            self.split_fingerprint,
            self.test_fingerprint,
            self.train_fraction_fingerprint,
        )


@dataclass(frozen=True)
class LeftOut:
    """A record that is not part of the snapshot.

    Attributes:
        path: the ``result.json`` file.
        status: ``"rejected"`` or ``"not checked"`` (:attr:`ValidationReport.status`).
        problems: the validation report's problem lines (for ``not checked``: why).
        key: the run the record claims to be, when it could be read; else None.
    """

    path: Path
    status: str
    problems: tuple[str, ...]
    key: RunKey | None


@dataclass(frozen=True)
class Snapshot:
    """The identity of a set of accepted records (see the module docstring).

    Attributes:
        id: the full snapshot id (64 hex characters).
        mfbench_version: the version hashed with the entries.
        entries: the accepted records, sorted.
        left_out: the records found but not accepted, sorted by path.
        sources: the ``result.json`` file of each entry (same order; not hashed).
    """

    id: str
    mfbench_version: str
    entries: tuple[SnapshotEntry, ...]
    left_out: tuple[LeftOut, ...] = ()
    sources: tuple[Path | None, ...] = field(default=(), compare=False)

    @property
    def short(self) -> str:
        """The first :data:`SHORT_ID` hex characters of :attr:`id`."""
        return self.id[:SHORT_ID]

    def matches(self, given: str) -> bool:
        """Whether ``given`` is this id, full or a prefix of at least :data:`SHORT_ID` hex."""
        given = given.strip().lower()
        return len(given) >= SHORT_ID and self.id.startswith(given)

    def left_out_counts(self) -> dict[str, int]:
        """How many records were left out, by status."""
        return dict(sorted(Counter(item.status for item in self.left_out).items()))

    def source_of(self, entry: SnapshotEntry) -> Path | None:
        """The record file of ``entry`` (None when unknown, e.g. a listing read from a file)."""
        for candidate, source in zip(self.entries, self.sources, strict=False):
            if candidate == entry:
                return source
        return None

    def entry_for(self, path: Path | str) -> SnapshotEntry | None:
        """The entry of the record file ``path``, or None when it is not part of the snapshot."""
        wanted = Path(path).resolve()
        for entry, source in zip(self.entries, self.sources, strict=False):
            if source is not None and source.resolve() == wanted:
                return entry
        return None

    def document(self, shown: Callable[[Path], str] = lambda p: p.as_posix()) -> dict[str, Any]:
        """``snapshot.json``: the hashed payload, the id and what was left out.

        Args:
            shown: how a left-out record's path is written (the site writes it relative to
                the results folders, so that no builder's folder is published).
        """
        left: dict[str, list[str]] = {}
        for item in self.left_out:
            left.setdefault(item.status, []).append(shown(item.path))
        return {
            **payload(self.mfbench_version, self.entries),
            "id": self.id,
            "short_id": self.short,
            "n_records": len(self.entries),
            "left_out": {status: sorted(paths) for status, paths in sorted(left.items())},
            "note": "id = sha256 of the canonical JSON (sorted keys, no whitespace, ASCII) of "
            "schema, mfbench_version and entries; records not accepted by validation are left "
            "out and do not change it",
        }


def payload(version: str, entries: Iterable[SnapshotEntry]) -> dict[str, Any]:
    """What the id hashes: the schema, the mfbench version and the sorted entries."""
    ordered = sorted(entries, key=SnapshotEntry.sort_key)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "mfbench_version": version,
        "entries": [entry.as_json() for entry in ordered],
    }


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no whitespace, ASCII, no NaN."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def snapshot_id(version: str, entries: Iterable[SnapshotEntry]) -> str:
    """The full id (hex sha256) of ``entries`` under mfbench ``version``."""
    return hashlib.sha256(canonical_json(payload(version, entries))).hexdigest()


def fraction_text(fraction: Any) -> str:
    """A training fraction as the snapshot writes it: ``repr(float(f))`` (``"0.1"``, ``"1.0"``)."""
    return repr(float(fraction))


def snapshot_of(reports: Sequence[ValidationReport], *, version: str | None = None) -> Snapshot:
    """The snapshot of the accepted records among ``reports``.

    Args:
        reports: validation reports, e.g. from :func:`mfbench.results.validate_records`.
        version: the mfbench version to hash with the entries (default: this mfbench's); give
            a citation's version to recompute the id it states.

    Returns:
        The snapshot; rejected and unchecked records are in :attr:`Snapshot.left_out`.

    Raises:
        SnapshotError: an accepted record or its predictions changed since it was validated
            (or can no longer be read).
    """
    if version is None:
        from mfbench import __version__

        version = __version__
    found: list[tuple[SnapshotEntry, Path]] = []
    left_out: list[LeftOut] = []
    for report in reports:
        if report.status == "accepted" and report.record is not None:
            found.append((_entry(report), report.path))
        else:
            key = _claimed_key(report.record)
            left_out.append(LeftOut(report.path, report.status, tuple(report.problems), key))
    found.sort(key=lambda item: item[0].sort_key())
    entries = tuple(entry for entry, _ in found)
    if left_out:
        logger.info(
            "snapshot leaves out %d record(s): %s",
            len(left_out),
            ", ".join(f"{n} {s}" for s, n in Counter(i.status for i in left_out).items()),
        )
    return Snapshot(
        id=snapshot_id(version, entries),
        mfbench_version=version,
        entries=entries,
        left_out=tuple(sorted(left_out, key=lambda item: str(item.path))),
        sources=tuple(path for _, path in found),
    )


def snapshot_of_folder(*paths: Path | str, version: str | None = None) -> Snapshot:
    """Validate every record under ``paths`` and compute their snapshot.

    Raises:
        FileNotFoundError: a path does not exist.
        SnapshotError: see :func:`snapshot_of`.
    """
    return snapshot_of(validate_records(paths), version=version)


def _entry(report: ValidationReport) -> SnapshotEntry:
    """The entry of an accepted record, with its files hashed now."""
    record = report.record or {}
    try:
        blob = report.path.read_bytes()
        predictions = predictions_file(report.path.parent, record["predictions"]["file"])
        predictions_sha = hashlib.sha256(predictions.read_bytes()).hexdigest()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(
            f"{report.path}: cannot be read again after validation ({exc})"
        ) from exc
    try:  # compared as canonical text: a NaN in the record is not equal to itself
        unchanged = _canonical_text(json.loads(blob.decode("utf-8"))) == _canonical_text(record)
    except (UnicodeDecodeError, json.JSONDecodeError):
        unchanged = False
    if not unchanged or predictions_sha != record["predictions"]["sha256"]:
        raise SnapshotError(
            f"{report.path}: the record or its predictions changed after validation; "
            "compute the snapshot again"
        )
    task = record["task"]
    return SnapshotEntry(
        task=str(task["name"]),
        task_version=int(task["version"]),
        split_fingerprint=str(task["split_fingerprint"]),
        test_fingerprint=str(task["test_fingerprint"]),
        train_fraction_fingerprint=str(task["train_fraction_fingerprint"]),
        method=method_name(record),
        params_hash=str(protocol_params_hash(record)),
        fraction=fraction_text(record["fraction"]),
        seed=int(record["seed"]),
        record_sha256=hashlib.sha256(blob).hexdigest(),
        predictions_sha256=predictions_sha,
    )


def _canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def method_name(record: dict[str, Any]) -> str:
    """A record's method as the leaderboard names it: its name, else its spec, as text."""
    method = record.get("method") if isinstance(record.get("method"), dict) else {}
    name = method.get("name") or method.get("spec")
    return name if isinstance(name, str) else json.dumps(name, sort_keys=True, ensure_ascii=False)


def _claimed_key(record: dict[str, Any] | None) -> RunKey | None:
    """The run a left-out record claims to be, when its fields can be read."""
    if not isinstance(record, dict):
        return None
    try:
        task = record["task"]
        return RunKey(
            str(task["name"]),
            int(task["version"]),
            method_name(record),
            str(protocol_params_hash(record)),
            fraction_text(record["fraction"]),
            int(record["seed"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def read_snapshot(path: Path | str) -> Snapshot:
    """A ``snapshot.json`` (as the site writes it), checked against its own id.

    Returns:
        The listed snapshot (no sources; left-out records are not read back).

    Raises:
        SnapshotError: the file is not a snapshot listing, or its entries do not hash to the
            id it states (the listing was edited).
        OSError: the file cannot be read.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{path}: not a JSON snapshot listing ({exc})") from exc
    if not isinstance(document, dict) or document.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"{path}: not a snapshot listing (schema {SNAPSHOT_SCHEMA})")
    version, stated, items = (document.get(k) for k in ("mfbench_version", "id", "entries"))
    if not isinstance(version, str) or not isinstance(stated, str) or not isinstance(items, list):
        raise SnapshotError(f"{path}: mfbench_version, id and entries must be given")
    try:
        entries = tuple(SnapshotEntry.from_json(item) for item in items)
    except SnapshotError as exc:
        raise SnapshotError(f"{path}: {exc}") from exc
    computed = snapshot_id(version, entries)
    if computed != stated:
        raise SnapshotError(
            f"{path}: its entries hash to {computed}, not to the id {stated} it states; "
            "the listing was edited"
        )
    return Snapshot(stated, version, tuple(sorted(entries, key=SnapshotEntry.sort_key)))


def compare(listed: Snapshot, found: Snapshot) -> list[str]:
    """Lines naming every record that differs between a listed snapshot and a recomputed one.

    Entries equal in both are matched first; the rest are paired by run
    (:class:`RunKey`). Each line names the run and, where the recomputed side knows it, the
    record file. Empty when the entries are the same.
    """
    remaining = Counter(listed.entries)
    extra: list[SnapshotEntry] = []
    for entry in found.entries:
        if remaining[entry] > 0:
            remaining[entry] -= 1
        else:
            extra.append(entry)
    missing = sorted(remaining.elements(), key=SnapshotEntry.sort_key)
    lines = []
    for entry in missing:
        twin = next((e for e in extra if e.key == entry.key), None)
        if twin is not None:
            extra.remove(twin)
            lines.append(
                f"changed: {entry.key.describe()}: {changed_files(entry, twin)} "
                f"({found.source_of(twin) or 'record file unknown'})"
            )
            continue
        left = next((item for item in found.left_out if item.key == entry.key), None)
        where = (
            f"{left.path} is {left.status}: {'; '.join(left.problems[:3])}"
            if left is not None
            else "no record of that run was found"
        )
        lines.append(f"missing: {entry.key.describe()}: not among the accepted records ({where})")
    lines += [
        f"added: {entry.key.describe()}: not in the listing "
        f"({found.source_of(entry) or 'record file unknown'})"
        for entry in extra
    ]
    return lines


def changed_files(listed: SnapshotEntry, found: SnapshotEntry) -> str:
    """Which of an entry's hashed parts differ, e.g. ``predictions sha256 ab12… ≠ cd34…``."""
    parts = [
        f"{name.replace('_', ' ')} {getattr(listed, name)[:16]}… listed, "
        f"{getattr(found, name)[:16]}… found"
        for name in ENTRY_FIELDS
        if isinstance(getattr(listed, name), str) and getattr(listed, name) != getattr(found, name)
    ]
    return "; ".join(parts) or "equal"
