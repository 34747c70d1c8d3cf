"""Cite a ranked score from a results folder, and check a citation or a snapshot id against one.

Everything is recomputed from the records, never taken from the citation: the records are
validated (:func:`mfbench.results.validate_records`), the snapshot is computed from the accepted
ones (:func:`mfbench.results.snapshot.snapshot_of`) and the ranked rows are built exactly as the
site builds them (:func:`mfbench.leaderboard.content.collect_runs`, then the task's tables and
:func:`mfbench.leaderboard.task_citations.task_citations`).

A citation (:class:`~mfbench.leaderboard.citation_parsing.CitedScore`) is checked claim by claim:

- the snapshot id, recomputed with the mfbench version the citation states (the version is part
  of the hashed payload; the records are still validated by this mfbench);
- each cited seed's record and predictions sha256 against the record of that run found now: a
  changed, missing or rejected record is named with its path;
- the row: labels (citable or from a model), task version, training frames, seeds, and the energy
  MAE mean and 95 % interval, which must agree within the tolerance of
  :mod:`mfbench.results.agreement` (relative 1e-9, absolute 1e-6 meV/atom).

A snapshot id is confirmed when it is the recomputed one (full, or a prefix of at least 12 hex
characters). A snapshot listing (the site's ``snapshot.json``) is checked against its own id,
then against the recomputed snapshot, and every record that differs is named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mfbench.errors import MfbenchError
from mfbench.leaderboard.citation_parsing import CitedScore
from mfbench.leaderboard.content import CollectedRuns, collect_runs
from mfbench.leaderboard.score_citations import METRIC, ScoreCitation, quoted_name
from mfbench.leaderboard.task_citations import task_citations
from mfbench.leaderboard.task_content import task_content
from mfbench.results import ValidationReport, validate_records
from mfbench.results.agreement import differences, tolerance_of
from mfbench.results.snapshot import (
    LeftOut,
    RunKey,
    Snapshot,
    compare,
    fraction_text,
    snapshot_of,
)

#: Verdicts of one check.
CONFIRMED, REFUTED, NOTE = "confirmed", "REFUTED", "note"


@dataclass(frozen=True)
class Check:
    """One claim checked: what it is, its verdict and why.

    ``verdict`` is :data:`CONFIRMED`, :data:`REFUTED` or :data:`NOTE` (information, no verdict).
    """

    claim: str
    verdict: str
    detail: str


@dataclass
class Verification:
    """The checks of one citation, snapshot id or listing."""

    subject: str
    checks: list[Check] = field(default_factory=list)

    def add(self, claim: str, ok: bool | None, detail: str) -> None:
        """Record a check: ``ok`` True, False, or None for a note (no verdict)."""
        verdict = NOTE if ok is None else (CONFIRMED if ok else REFUTED)
        self.checks.append(Check(claim, verdict, detail))

    @property
    def confirmed(self) -> bool:
        """True when no check is refuted and at least one is confirmed."""
        verdicts = [c.verdict for c in self.checks]
        return REFUTED not in verdicts and CONFIRMED in verdicts

    def summary(self) -> str:
        """The subject, one line per check, and the verdict."""
        lines = [self.subject]
        lines += [f"  {c.verdict:<9} {c.claim}: {c.detail}" for c in self.checks]
        refuted = sum(c.verdict == REFUTED for c in self.checks)
        lines.append(
            "  => CONFIRMED" if self.confirmed else f"  => REFUTED ({refuted} claim(s) do not hold)"
        )
        return "\n".join(lines)


class Recomputation:
    """The records under some results folders, validated once; snapshots and rows on demand."""

    def __init__(self, results: Sequence[Path | str]) -> None:
        self.results = [Path(p) for p in results]
        self.reports: list[ValidationReport] = validate_records(self.results)
        self._snapshots: dict[str | None, Snapshot] = {}
        self._collected: CollectedRuns | None = None

    def snapshot(self, version: str | None = None) -> Snapshot:
        """The snapshot of the accepted records, hashed with ``version`` (default: this one)."""
        if version not in self._snapshots:
            self._snapshots[version] = snapshot_of(self.reports, version=version)
        return self._snapshots[version]

    def tasks(self) -> list[str]:
        """The tasks with accepted runs."""
        frame = self._runs().runs.frame
        return sorted({str(t) for t in frame["task"]}) if len(frame) else []

    def citations(self, task: str, version: str | None = None) -> list[ScoreCitation]:
        """A citation of every ranked row of ``task``, as the site would write it.

        Raises:
            MfbenchError: the task has no accepted run here.
        """
        if task not in self.tasks():
            raise MfbenchError(
                f"no accepted run of task {task!r} under {self._where()}; tasks there: "
                f"{', '.join(self.tasks()) or 'none'}"
            )
        runs = self._runs().runs
        return task_citations(task_content(task, runs), runs, self.snapshot(version))

    def _runs(self) -> CollectedRuns:
        if self._collected is None:
            self._collected = collect_runs(self.reports, self.results)
        return self._collected

    def _where(self) -> str:
        return ", ".join(map(str, self.results))


def cite(
    recomputation: Recomputation,
    task: str,
    method: str,
    fraction: float,
    params_hash: str | None = None,
) -> ScoreCitation:
    """The citation of one ranked row.

    Args:
        recomputation: the results folders, validated.
        task: the task's name.
        method: the entry's method name.
        fraction: the training fraction.
        params_hash: the entry's params hash or a prefix of it; needed only when the method has
            several entries at that fraction.

    Raises:
        MfbenchError: no such ranked row (the message lists those there are), or several.
    """
    rows = recomputation.citations(task)
    at_fraction = [c for c in rows if math.isclose(c.fraction, fraction, rel_tol=1e-12)]
    if not at_fraction:
        fractions = sorted({c.fraction for c in rows})
        raise MfbenchError(
            f"task {task} has no ranked row at fraction {fraction:g}; its fractions: "
            f"{', '.join(f'{f:g}' for f in fractions)}"
        )
    wanted = params_hash.lower() if params_hash else ""
    found = [c for c in at_fraction if c.method == method and c.params_hash.startswith(wanted)]
    if not found:
        names = sorted({c.method for c in at_fraction})
        raise MfbenchError(
            f"no ranked row of method {method!r}"
            + (f" with params hash {params_hash}" if params_hash else "")
            + f" at fraction {fraction:g} of task {task}; ranked there: {', '.join(names)}"
        )
    if len(found) > 1:
        hashes = ", ".join(c.params_hash[:12] for c in found)
        raise MfbenchError(
            f"method {method!r} has {len(found)} entries at fraction {fraction:g} of task "
            f"{task}: give --params-hash (one of {hashes})"
        )
    return found[0]


def verify_citation(claim: CitedScore, recomputation: Recomputation) -> Verification:
    """Check every claim of a citation against the records (see the module docstring)."""
    from mfbench import __version__

    check = Verification(
        f"{claim.form} citation: task {quoted_name(claim.task)} v{claim.task_version}, method "
        f"{quoted_name(claim.method)} [params {claim.params_hash[:8]}], fraction "
        f"{claim.fraction:g}"
    )
    snapshot = recomputation.snapshot(claim.mfbench_version)
    matches = snapshot.matches(claim.snapshot)
    check.add(
        "snapshot",
        matches,
        f"{snapshot.id} recomputed from {len(snapshot.entries)} accepted record(s)"
        + ("" if matches else f", not the cited {claim.snapshot}"),
    )
    if claim.mfbench_version != __version__:
        check.add(
            "mfbench version",
            None,
            f"cited {claim.mfbench_version}, checked with mfbench {__version__} (the snapshot "
            f"was hashed with the cited version; records validated by this one)",
        )
    records_ok = _check_records(check, claim, snapshot)
    if not matches and records_ok:
        check.add(
            "other records",
            None,
            "the cited records are unchanged, so other records differ from the snapshot: check "
            "the site's snapshot.json (mfbench verify snapshot.json --results …) to name them",
        )
    _note_left_out(check, snapshot.left_out)
    _check_row(check, claim, recomputation)
    return check


def _check_records(check: Verification, claim: CitedScore, snapshot: Snapshot) -> bool:
    """One check per cited seed's files; True when every one holds."""
    all_ok = True
    if not claim.records:
        check.add("records", False, "the citation names no record")
        return False
    for seed, record_sha, predictions_sha in claim.records:
        found = [e for e in snapshot.entries if _is_run(e.key, claim, seed)]
        same = [
            e
            for e in found
            if (e.record_sha256, e.predictions_sha256) == (record_sha, predictions_sha)
        ]
        if same:
            check.add(f"record seed {seed}", True, f"unchanged ({snapshot.source_of(same[0])})")
            continue
        all_ok = False
        if found:
            entry = found[0]
            changed = [
                f"{name} sha256 {cited[:16]}… cited, {now[:16]}… found"
                for name, cited, now in (
                    ("record", record_sha, entry.record_sha256),
                    ("predictions", predictions_sha, entry.predictions_sha256),
                )
                if cited != now
            ]
            check.add(
                f"record seed {seed}",
                False,
                f"{snapshot.source_of(entry)} changed: {'; '.join(changed)}",
            )
            continue
        left = [i for i in snapshot.left_out if i.key is not None and _is_run(i.key, claim, seed)]
        if left:
            item = left[0]
            check.add(
                f"record seed {seed}",
                False,
                f"{item.path} is {item.status}: {'; '.join(item.problems[:3])}",
            )
        else:
            check.add(f"record seed {seed}", False, "no record of this run in the results")
    return all_ok


def _is_run(key: RunKey, claim: CitedScore, seed: int) -> bool:
    return (
        key.task == claim.task
        and key.task_version == claim.task_version
        and claim.names_method(key.method)
        and key.params_hash.startswith(claim.params_hash)
        and key.fraction == fraction_text(claim.fraction)
        and key.seed == seed
    )


def _note_left_out(check: Verification, left_out: Sequence[LeftOut]) -> None:
    if left_out:
        shown = "; ".join(f"{i.path} ({i.status})" for i in left_out[:5])
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        check.add(
            "left out",
            None,
            f"{len(left_out)} record(s) are not part of the snapshot here: {shown}{more}",
        )


def _check_row(check: Verification, claim: CitedScore, recomputation: Recomputation) -> None:
    """The cited row's numbers against the row built now."""
    try:
        rows = recomputation.citations(claim.task, claim.mfbench_version)
    except MfbenchError as exc:
        check.add("ranked row", False, str(exc))
        return
    found = [
        c
        for c in rows
        if claim.names_method(c.method)
        and c.params_hash.startswith(claim.params_hash)
        and math.isclose(c.fraction, claim.fraction, rel_tol=1e-12)
    ]
    if len(found) != 1:
        check.add(
            "ranked row",
            False,
            f"{'no' if not found else len(found)} ranked row(s) of this entry at this fraction",
        )
        return
    row = found[0]
    labels = "citable" if row.citable else "from a model"
    check.add(
        "labels",
        claim.citable == row.citable,
        f"{labels} (cited: {'citable' if claim.citable else 'from a model'})",
    )
    for name, cited, now in (
        ("task version", claim.task_version, row.task_version),
        ("train frames", claim.n_train_frames, row.n_train_frames),
        ("seeds", claim.seeds, row.seeds),
    ):
        check.add(
            name,
            cited == now,
            f"{_text(now)}" + ("" if cited == now else f", cited {_text(cited)}"),
        )
    interval = None if row.ci_low is None or row.ci_high is None else (row.ci_low, row.ci_high)
    if len(row.seeds) < 2:
        interval = None
    _check_number(check, "mean", claim.mean, row.mean)
    if (claim.interval is None) != (interval is None):
        check.add(
            "95 % interval", False, f"recomputed {_text(interval)}, cited {_text(claim.interval)}"
        )
    elif interval is not None and claim.interval is not None:
        _check_number(check, "95 % interval low", claim.interval[0], interval[0])
        _check_number(check, "95 % interval high", claim.interval[1], interval[1])
    else:
        check.add("95 % interval", True, "none (one seed)" if len(row.seeds) < 2 else "none")


def _check_number(check: Verification, name: str, cited: float | None, now: float | None) -> None:
    """``cited`` against ``now`` within the energy MAE's tolerance (None is NaN)."""
    problems = differences(f"{name.replace(' ', '_')}.{METRIC}", cited, now)
    tolerance = tolerance_of(METRIC)
    detail = (
        f"{_text(now)} meV/atom recomputed, {_text(cited)} cited (tolerance relative "
        f"{tolerance.relative:g}, absolute {tolerance.absolute:g} meV/atom)"
    )
    check.add(f"energy MAE {name}", not problems, detail)


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return " ".join(_text(v) for v in value)
    return repr(value)


def verify_snapshot_id(given: str, recomputation: Recomputation) -> Verification:
    """Whether ``given`` is the id of the records' snapshot (with this mfbench's version)."""
    snapshot = recomputation.snapshot()
    check = Verification(f"snapshot id {given}")
    ok = snapshot.matches(given)
    check.add(
        "snapshot",
        ok,
        f"{snapshot.id} recomputed from {len(snapshot.entries)} accepted record(s) with mfbench "
        f"{snapshot.mfbench_version}"
        + (
            ""
            if ok
            else "; give the site's snapshot.json instead of the id to name the records that differ"
        ),
    )
    _note_left_out(check, snapshot.left_out)
    return check


def verify_listing(listed: Snapshot, source: Path, recomputation: Recomputation) -> Verification:
    """A snapshot listing (``snapshot.json``) against the records, naming every difference."""
    snapshot = recomputation.snapshot(listed.mfbench_version)
    check = Verification(f"snapshot listing {source} (id {listed.id})")
    ok = snapshot.id == listed.id
    check.add(
        "snapshot",
        ok,
        f"{snapshot.id} recomputed from {len(snapshot.entries)} accepted "
        f"record(s), {len(listed.entries)} listed",
    )
    for line in compare(listed, snapshot):
        kind, _, detail = line.partition(": ")
        check.add(f"record {kind}", False, detail)
    _note_left_out(check, snapshot.left_out)
    return check
