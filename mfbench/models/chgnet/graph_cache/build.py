"""Converting frames to CHGNet graphs and writing their shards, in-process or in a pool.

Workers: ``workers=1`` converts in-process. More workers use a process pool; each worker opens
the store (memory-mapped) and makes its own converter from the settings, converts a chunk of
frames and writes its shard itself, so only small summaries travel between processes. The
default start method is ``fork`` on Linux (workers inherit the imported torch, chgnet and
pymatgen, about 3-5 s of imports each under ``spawn``) and ``spawn`` elsewhere; the code is
spawn-safe. Workers set ``torch.set_num_threads(1)``, as torch's own DataLoader workers do.

Shards are written atomically; concurrent builders of the same cache are safe (shard names are
content hashes, files appear by rename) but may duplicate work.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfbench.atomic_write import current_umask
from mfbench.data.store import FrameStore
from mfbench.errors import DataError
from mfbench.models.chgnet.graph_cache.format import (
    CACHE_FORMAT_VERSION,
    FIELDS,
    FOOTER,
    MAGIC,
    encode_graph,
    shard_name,
)
from mfbench.models.chgnet.graph_cache.identity import ConverterSettings

#: Fewest frames per shard when a build cuts the work into chunks for several workers.
_MIN_CHUNK = 32


@dataclass(frozen=True)
class ShardTask:
    """One chunk of frames for one worker; plain data, cheap to send to a process."""

    directory: str
    store_path: str
    settings: ConverterSettings
    identity: dict[str, Any]
    identity_key: str
    indices: list[int]


_WORKER_STORES: dict[str, FrameStore] = {}
_WORKER_CONVERTERS: dict[ConverterSettings, Any] = {}


def _worker_init() -> None:
    """Pool initializer: one torch thread per worker (as torch's DataLoader workers)."""
    import torch

    torch.set_num_threads(1)


def _worker_build(task: ShardTask) -> dict[str, Any]:
    """Pool entry point: open the store and make the converter once per process, build."""
    store = _WORKER_STORES.get(task.store_path)
    if store is None:
        store = _WORKER_STORES[task.store_path] = FrameStore.open(Path(task.store_path))
    converter = _WORKER_CONVERTERS.get(task.settings)
    if converter is None:
        converter = _WORKER_CONVERTERS[task.settings] = task.settings.make()
    return build_shard(task, store, converter)


def build_shard(task: ShardTask, store: FrameStore, converter: Any) -> dict[str, Any]:
    """Convert ``task.indices`` and write their shard; returns ``{"name", "header"}``."""
    directory = Path(task.directory)
    name = shard_name(task.identity_key, task.indices)
    frames, frame_ids, offsets, crcs, compositions = [], [], [0], [], []
    failed: list[list[Any]] = []
    fields: list[list[str]] | None = None
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for index in task.indices:
                frame_id = str(store.frame_ids[index])
                try:
                    graph = converter(store.structure(index), graph_id=frame_id, mp_id=frame_id)
                except Exception as exc:
                    failed.append([int(index), frame_id, f"{type(exc).__name__}: {exc}"])
                    continue
                record, record_fields = encode_graph(graph)
                if fields is None:
                    fields = record_fields
                elif record_fields != fields:
                    raise DataError(
                        f"graph tensor dtypes {record_fields} differ from {fields}",
                        frame=frame_id,
                    )
                handle.write(record)
                digest.update(record)
                frames.append(int(index))
                frame_ids.append(frame_id)
                offsets.append(offsets[-1] + len(record))
                crcs.append(zlib.crc32(record))
                compositions.append(graph.composition)
            header = {
                "format": CACHE_FORMAT_VERSION,
                "identity_key": task.identity_key,
                "identity": task.identity,
                "fields": fields or [[name, ""] for name in FIELDS],
                "frames": frames,
                "frame_ids": frame_ids,
                "offsets": offsets,
                "crc32": crcs,
                "composition": compositions,
                "failed": failed,
                "data_size": offsets[-1],
                "data_sha256": digest.hexdigest(),
            }
            header_bytes = json.dumps(header, separators=(",", ":")).encode()
            handle.write(header_bytes)
            header_sha = hashlib.sha256(header_bytes).digest()
            handle.write(FOOTER.pack(len(header_bytes), header_sha, MAGIC))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"name": name, "header": header}


def plan_shard_tasks(
    directory: Path,
    store: FrameStore,
    settings: ConverterSettings,
    identity: dict[str, Any],
    identity_key: str,
    missing: np.ndarray,
    *,
    workers: int,
    shard_size: int,
) -> list[ShardTask]:
    """Cut the store indices ``missing`` into shards of up to ``shard_size`` frames.

    With several workers, chunks are smaller (about 8 per worker, at least 32 frames) so that
    the workers stay busy to the end.
    """
    chunk = shard_size
    if workers > 1:
        chunk = min(shard_size, max(_MIN_CHUNK, math.ceil(len(missing) / (8 * workers))))
    return [
        ShardTask(
            str(directory),
            str(store.path),
            settings,
            identity,
            identity_key,
            [int(i) for i in missing[start : start + chunk]],
        )
        for start in range(0, len(missing), chunk)
    ]


def run_tasks(
    tasks: list[ShardTask],
    workers: int,
    start_method: str | None,
    store: FrameStore,
    finished: Callable[[dict[str, Any]], None],
) -> int:
    """Build ``tasks`` in-process or in a pool; ``finished`` gets each summary.

    Returns:
        The number of processes used.
    """
    if not tasks:
        return 0
    if workers == 1 or len(tasks) == 1:
        converter = tasks[0].settings.make()
        for task in tasks:
            finished(build_shard(task, store, converter))
        return 1
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    method = start_method or ("fork" if sys.platform == "linux" else "spawn")
    processes = min(workers, len(tasks))
    if method == "fork":
        gc.freeze()  # forked workers' collections then leave the parent's heap pages shared
    try:
        with ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context(method),
            initializer=_worker_init,
        ) as pool:
            futures = [pool.submit(_worker_build, task) for task in tasks]
            try:
                for future in as_completed(futures):
                    finished(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        if method == "fork":
            gc.unfreeze()
    return processes


@dataclass(frozen=True)
class BuildReport:
    """What one :meth:`GraphCache.build <mfbench.models.chgnet.graph_cache.GraphCache.build>` did.

    Attributes:
        directory: the cache folder.
        n_requested: distinct frames asked for.
        n_reused: of those, already in the cache (graph or recorded failure).
        n_converted: frames converted by this build (including failures).
        n_failed: requested frames CHGNet cannot convert (see ``failed``).
        shards_written: shards this build wrote.
        shards_discarded: stale, corrupt or missing shards found and dropped.
        workers: processes used for converting (1 = in-process, 0 = nothing to convert).
        seconds: wall time of the build, s.
        failed: frame id → reason, for the requested frames that cannot be converted.
    """

    directory: str
    n_requested: int
    n_reused: int
    n_converted: int
    n_failed: int
    shards_written: int
    shards_discarded: int
    workers: int
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Conversion rate of this build, frames/s (0 when nothing was converted)."""
        return self.n_converted / self.seconds if self.n_converted and self.seconds else 0.0


class GraphConversionError(DataError):
    """CHGNet cannot build the graphs of some frames; every one is named with its reason.

    Attributes:
        failed: frame id → reason.
        cache: the :class:`GraphCache`, complete for every other frame.
    """

    def __init__(self, failed: dict[str, str], cache: Any = None) -> None:
        self.failed, self.cache = dict(failed), cache
        lines = "\n".join(f"  {frame_id}: {reason}" for frame_id, reason in failed.items())
        super().__init__(
            f"CHGNet cannot build the graph of {len(failed)} frame(s); they are not "
            f"substituted (the other frames are cached):\n{lines}",
            frame=next(iter(failed)) if len(failed) == 1 else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failed,))  # picklable (e.g. from a job), without the cache
