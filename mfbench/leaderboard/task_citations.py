"""The citations of a task's ranked rows, built from what the site shows.

Every row of a task's per-fraction ranked tables (:attr:`TaskContent.fractions`) gets a
:class:`~mfbench.leaderboard.score_citations.ScoreCitation`: its numbers are the table's, its
seeds' record and predictions hashes those of the snapshot entries of the row's ranked runs.
The site, ``mfbench cite`` and ``mfbench verify`` all build citations here, so that what is cited
is what is shown and what is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mfbench.leaderboard.score_citations import (
    METRIC,
    CitedRecord,
    ScoreCitation,
    citation_path,
    number_or_none,
)
from mfbench.leaderboard.view_model import Runs, TaskContent
from mfbench.results.snapshot import Snapshot, SnapshotEntry
from mfbench.tasks.citability import fidelity_name


def task_citations(task: TaskContent, runs: Runs, snapshot: Snapshot) -> list[ScoreCitation]:
    """A citation for every row of ``task``'s per-fraction ranked tables, in table order.

    Args:
        task: the task's content (its ``fractions`` tables are what is cited).
        runs: every accepted run (``runs.sources`` name their record files).
        snapshot: the snapshot of the records the site is built from.
    """
    by_source = {
        source.resolve(): entry
        for entry, source in zip(snapshot.entries, snapshot.sources, strict=False)
        if source is not None
    }
    definition = task.definition
    fidelity = fidelity_name(definition.target_fidelity) if definition else "the target method"
    citations = []
    for table in task.fractions:
        for row in table.records:
            entry = runs.entries[row["method_name"], row["params_hash"]]
            fraction = float(row["fraction"])
            cited = _cited_records(
                task.name, entry.name, entry.params_hash, fraction, runs, by_source
            )
            versions = {e.task_version for e in cited.values()}
            if len(versions) != 1:  # ranked runs share one version: a bug otherwise
                raise RuntimeError(f"{task.name}: a ranked row of versions {sorted(versions)}")
            citations.append(
                ScoreCitation(
                    task=task.name,
                    task_version=versions.pop(),
                    citable=task.citable,
                    fidelity=fidelity,
                    method=entry.name,
                    params_hash=entry.params_hash,
                    fraction=fraction,
                    n_train_frames=int(row["n_train_frames"]),
                    seeds=tuple(sorted(int(s) for s in str(row["seeds"]).split())),
                    mean=number_or_none(row.get(f"{METRIC}_mean")),
                    ci_low=number_or_none(row.get(f"{METRIC}_ci_low")),
                    ci_high=number_or_none(row.get(f"{METRIC}_ci_high")),
                    rank=row.get("rank"),
                    snapshot=snapshot.id,
                    mfbench_version=snapshot.mfbench_version,
                    records=tuple(
                        CitedRecord(seed, e.record_sha256, e.predictions_sha256)
                        for seed, e in sorted(cited.items())
                    ),
                    path=citation_path(task.slug, fraction, entry.slug),
                )
            )
    return citations


def _cited_records(
    task: str,
    method: str,
    params_hash: str,
    fraction: float,
    runs: Runs,
    by_source: Mapping[Path, SnapshotEntry],
) -> dict[int, SnapshotEntry]:
    """The snapshot entries of the ranked runs of one row, by seed."""
    kept = runs.kept
    rows = kept[
        (kept["task"] == task)
        & (kept["method"] == method)
        & (kept["params_hash"] == params_hash)
        & (kept["fraction"] == fraction)
    ]
    found = {}
    for index in rows.index:
        entry = by_source.get(runs.sources[int(index)].resolve())
        if entry is None:  # a record of the site that the snapshot does not hold: a bug
            raise RuntimeError(f"{runs.sources[int(index)]}: ranked but not in the snapshot")
        found[entry.seed] = entry
    return found
