"""The snapshot of the committed results a release ships, and the ``mfbench --version`` line.

A release commits ``mfbench/data/results_snapshot.json``, the snapshot listing
(:meth:`mfbench.results.snapshot.Snapshot.document`) of the repository's
``leaderboard/results`` at that commit, written by ``mfbench leaderboard snapshot``. It is
package data, so an installed mfbench names the exact set of results it came with, and
``mfbench verify <id> --results leaderboard/results`` checks a clone against it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mfbench import __version__
from mfbench.results.snapshot import Snapshot, SnapshotError, read_snapshot

#: Where the shipped listing lies inside the package.
SHIPPED_FILE = ("mfbench.data", "results_snapshot.json")


def shipped_snapshot() -> Snapshot | None:
    """The listing of the committed results this installation ships; None when there is none.

    Raises:
        SnapshotError: the file exists but is not a consistent snapshot listing.
    """
    resource = resources.files(SHIPPED_FILE[0]).joinpath(SHIPPED_FILE[1])
    if not resource.is_file():
        return None
    with resources.as_file(resource) as path:
        return read_snapshot(Path(path))


def version_line() -> str:
    """``mfbench 0.1.0 (committed results: snapshot 1ab0a7c50da0, 142 records)``."""
    try:
        shipped = shipped_snapshot()
    except SnapshotError as exc:
        return f"mfbench {__version__} (committed results: unreadable snapshot listing: {exc})"
    if shipped is None:
        return f"mfbench {__version__} (no snapshot of committed results shipped)"
    of_version = (
        ""
        if shipped.mfbench_version == __version__
        else f", made by mfbench {shipped.mfbench_version}"
    )
    return (
        f"mfbench {__version__} (committed results: snapshot {shipped.short}, "
        f"{len(shipped.entries)} records{of_version}; full id {shipped.id})"
    )
