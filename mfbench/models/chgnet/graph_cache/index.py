"""The shards on disk: finding the valid ones, discarding stale and corrupt ones, the index file.

``index.json`` lists the cache identity and the shards written so far; it is a convenience
(rebuilt from the shards when unreadable), and a shard it lists that is gone is reported so
that its frames are converted again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.atomic_write import write_json_atomic
from mfbench.models.chgnet.graph_cache.format import (
    CACHE_FORMAT_VERSION,
    INDEX_FILE,
    SHARD_SUFFIX,
    CorruptShardError,
    Shard,
    read_header,
)
from mfbench.models.chgnet.graph_cache.identity import identity_differences

logger = logging.getLogger(__name__)

#: Temporary shard files older than this (s) are left by builds that died; they are removed.
_STALE_TEMP_SECONDS = 3600.0


def scan_shards(
    directory: Path,
    identity_key: str,
    identity: dict[str, Any],
    *,
    verify: bool,
    accept: Callable[[str, dict[str, Any]], None],
) -> tuple[set[str], int]:
    """Hand every valid shard of ``directory`` to ``accept``; delete stale and corrupt ones.

    Args:
        directory: the cache folder.
        identity_key: hex sha256 of ``identity``; shards with another key are stale.
        identity: the cache identity (the warning about stale shards names what differs).
        verify: also check the sha256 of each shard's records (reads the whole cache).
        accept: called with ``(file name, header)`` of each shard of this identity; raising
            :class:`CorruptShardError`, ``KeyError``, ``IndexError``, ``TypeError`` or
            ``ValueError`` marks the shard corrupt.

    Returns:
        ``(listed, discarded)``: the shard names ``index.json`` lists for this identity, and
        how many shards were stale, corrupt or listed but missing.
    """
    listed: set[str] = set()
    index_path = directory / INDEX_FILE
    if index_path.exists():
        try:
            index = json.loads(index_path.read_text())
            if index.get("identity_key") == identity_key:
                listed.update(index["shards"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning(
                "graph cache %s: unreadable %s (%s); rebuilding it from the shards",
                directory,
                INDEX_FILE,
                exc,
            )
    remove_stale_temporaries(directory)
    stale: dict[str, list[str]] = {}
    discarded = 0
    present = set()
    for path in sorted(directory.glob(f"shard-*{SHARD_SUFFIX}")):
        present.add(path.name)
        try:
            header = read_header(path, verify)
            if header["identity_key"] != identity_key:
                why = "; ".join(identity_differences(header.get("identity"), identity))
                stale.setdefault(why or "identity key differs", []).append(path.name)
                path.unlink(missing_ok=True)
                discarded += 1
                continue
            accept(path.name, header)
        except (CorruptShardError, KeyError, IndexError, TypeError, ValueError) as exc:
            logger.warning(
                "graph cache %s: shard %s is corrupt (%s); discarding it, its frames "
                "will be converted again",
                directory,
                path.name,
                exc,
            )
            path.unlink(missing_ok=True)
            discarded += 1
    for why, names in stale.items():
        logger.warning(
            "graph cache %s: %d stale shard(s) built for another dataset preparation or "
            "library version (%s); discarding them, their frames will be converted again",
            directory,
            len(names),
            why,
        )
    gone = sorted(listed - present)
    if gone:
        logger.warning(
            "graph cache %s: %d shard(s) listed in %s are missing (%s); their frames "
            "will be converted again",
            directory,
            len(gone),
            INDEX_FILE,
            ", ".join(gone[:5]) + (" ..." if len(gone) > 5 else ""),
        )
        discarded += len(gone)
    return listed, discarded


def check_header_frame_ids(header: dict[str, Any], store_frame_ids: np.ndarray) -> None:
    """Raise :class:`CorruptShardError` unless a shard header's frame ids are the store's.

    Args:
        header: the shard header (its ``frames`` and ``failed`` entries name store indices
            and frame ids).
        store_frame_ids: ``[n_frames]`` the store's frame ids, by store index.
    """
    for indices, ids in (
        (header["frames"], header["frame_ids"]),
        ([f[0] for f in header["failed"]], [f[1] for f in header["failed"]]),
    ):
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(store_frame_ids)):
            raise CorruptShardError("frame index out of the store's range")
        if len(idx) and store_frame_ids[idx].tolist() != list(ids):
            raise CorruptShardError("frame ids do not match the store's")


def write_index(
    directory: Path,
    identity_key: str,
    identity: dict[str, Any],
    shards: Sequence[Shard],
    *,
    n_graphs: int,
    n_failed: int,
) -> None:
    """Write ``index.json`` (atomically): the identity and each shard's graph count."""
    write_json_atomic(
        directory / INDEX_FILE,
        {
            "format": CACHE_FORMAT_VERSION,
            "identity_key": identity_key,
            "identity": identity,
            "shards": {
                s.name: {"graphs": len(s.frames), "first_frame": int(s.frames[0])}
                if len(s.frames)
                else {"graphs": 0}
                for s in shards
            },
            "n_graphs": n_graphs,
            "n_failed": n_failed,
        },
    )


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary shard files of builds that died more than an hour ago."""
    now = time.time()
    for path in directory.glob(f".shard-*{SHARD_SUFFIX}.*.tmp"):
        try:
            if now - path.stat().st_mtime > _STALE_TEMP_SECONDS:
                path.unlink()
        except OSError:
            pass
