"""The graph cache: opening, repairing and reading the shards of one dataset and setting.

Layout (one folder per dataset and converter settings)::

    <root>/<dataset key>/<cutoffs-algorithm-settings hash>/
        index.json                  the cache identity and the shards written so far
        shard-<first index>-<hash>.mfbg
        ...

Integrity: every shard's header is hashed; :meth:`GraphCache.build` checks the sha256 of every
shard's records (``verify=True``) and the header's frame ids against the store. A truncated,
bit-flipped or unreadable shard is discarded with a warning and rebuilt; a shard the index
lists but that is gone is reported and rebuilt; a stale shard (another identity, see
:mod:`~mfbench.models.chgnet.graph_cache.identity`) is discarded with a logged warning and its
frames converted again. Each read checks the record's CRC-32; a record that fails is converted
afresh with a warning (never used), and the next :meth:`GraphCache.build` repairs its shard.
An interrupted build keeps its completed shards and the next build converts only what is
missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.data.store import FrameStore
from mfbench.errors import DataError
from mfbench.models.chgnet.graph_cache.build import (
    BuildReport,
    GraphConversionError,
    plan_shard_tasks,
    run_tasks,
)
from mfbench.models.chgnet.graph_cache.dataset import GraphDataset, graph_loader
from mfbench.models.chgnet.graph_cache.format import (
    REQUIRES_GRAD,
    Shard,
    decode_record,
    pread_into,
)
from mfbench.models.chgnet.graph_cache.identity import (
    ConverterSettings,
    cache_directory,
    cache_identity,
    dataset_identity,
    sha256_json,
)
from mfbench.models.chgnet.graph_cache.index import (
    check_header_frame_ids,
    scan_shards,
    write_index,
)

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)

_MAX_OPEN_SHARDS = 64


class GraphCache:
    """CHGNet graphs of a frame store's frames under one converter setting, read from disk.

    Make one with :meth:`build`. Reads are ``pread`` calls on descriptors opened lazily in
    each process (fork-safe); the object pickles without its open files or the frame store,
    so it can be handed to ``DataLoader`` workers under ``fork`` or ``spawn``. One object is
    not meant to be read from several threads at once.

    Attributes:
        directory: the cache folder.
        store_path: the frame store the graphs were made from.
        settings: the converter settings.
        identity: the cache identity (dataset, settings, library versions, format).
        report: what the :meth:`build` that returned this object did.
    """

    def __init__(
        self,
        directory: Path,
        store: FrameStore,
        settings: ConverterSettings,
        identity: dict[str, Any],
    ) -> None:
        self.directory = Path(directory)
        self.store_path = Path(store.path)
        self.settings = settings
        self.identity = identity
        self.identity_key = sha256_json(identity)
        self.n_frames = len(store)
        self.report: BuildReport | None = None
        self._shards: list[Shard] = []
        self._shard_of = np.full(self.n_frames, -1, dtype=np.int32)
        self._row_of = np.full(self.n_frames, -1, dtype=np.int32)
        self._failed: dict[int, tuple[str, str]] = {}
        self._listed: set[str] = set()
        self._store: FrameStore | None = store
        self._reset_process_state()

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        source: FrameStore | FrameSet,
        converter: Any,
        *,
        workers: int = 1,
        root: Path | None = None,
        shard_size: int = 2048,
        verify: bool = True,
        start_method: Literal["fork", "spawn", "forkserver"] | None = None,
        on_failed: Literal["raise", "report"] = "raise",
    ) -> GraphCache:
        """Open the cache of ``source``'s store, converting the frames it lacks.

        Reuses every valid shard; discards stale and corrupt ones with a warning; converts
        the missing frames of ``source`` (all frames of a store, the frames of a frame set)
        in ``workers`` processes; a second call is a no-op.

        Args:
            source: a frame store, or a frame set (only its frames are converted).
            converter: chgnet's ``CrystalGraphConverter``, a CHGNet model (its
                ``graph_converter`` is used), or :class:`ConverterSettings`.
            workers: processes converting frames; 1 converts in this process.
            root: folder holding caches; default ``$MFBENCH_HOME/graphs``.
            shard_size: most frames per shard. With several workers, chunks are smaller
                (about 8 per worker, at least 32 frames) so that the workers stay busy.
            verify: check the sha256 of every existing shard's records (reads the whole
                cache once); without it only headers and sizes are checked up front, and
                each record's CRC-32 when it is read.
            start_method: multiprocessing start method; default ``fork`` on Linux,
                ``spawn`` elsewhere.
            on_failed: ``"raise"`` a :class:`GraphConversionError` after the build when a
                requested frame cannot be converted, or ``"report"`` it in
                ``cache.report.failed`` and return.

        Returns:
            The cache; ``cache.report`` says what was reused, converted and discarded.

        Raises:
            GraphConversionError: frames of ``source`` CHGNet cannot convert (with
                ``on_failed="raise"``); the other frames are cached.
            TypeError: ``converter`` is not chgnet's converter.
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {shard_size}")
        started = time.perf_counter()
        if isinstance(source, FrameSet):
            store, wanted = source.store, np.unique(np.asarray(source.indices, dtype=np.int64))
        else:
            store, wanted = source, np.arange(len(source), dtype=np.int64)
        settings = ConverterSettings.from_converter(converter)
        cache = cls(
            cache_directory(store, settings, root), store, settings, cache_identity(store, settings)
        )
        cache.directory.mkdir(parents=True, exist_ok=True)
        discarded = cache._load(verify=verify)

        missing = wanted[~cache._covers(wanted)]
        n_reused = len(wanted) - len(missing)
        tasks = plan_shard_tasks(
            cache.directory, store, settings, cache.identity, cache.identity_key, missing,
            workers=workers, shard_size=shard_size,
        )  # fmt: skip
        if tasks:
            logger.info(
                "graph cache %s: converting %d frames in %d shard(s) with %d worker(s) (%d reused)",
                cache.directory,
                len(missing),
                len(tasks),
                min(workers, len(tasks)),
                n_reused,
            )
        done = 0

        def finished(result: dict[str, Any]) -> None:
            nonlocal done
            cache._add(result["name"], result["header"])
            cache._write_index()
            done += 1
            logger.debug("graph cache %s: shard %d/%d done", cache.directory, done, len(tasks))

        used = run_tasks(tasks, workers, start_method, store, finished)
        if discarded or cache._listed != set(cache.shard_names):
            cache._write_index()
        failed = {
            cache._failed[int(i)][0]: cache._failed[int(i)][1]
            for i in wanted
            if int(i) in cache._failed
        }
        cache.report = BuildReport(
            directory=str(cache.directory),
            n_requested=len(wanted),
            n_reused=n_reused,
            n_converted=len(missing),
            n_failed=len(failed),
            shards_written=len(tasks),
            shards_discarded=discarded,
            workers=used,
            seconds=time.perf_counter() - started,
            failed=failed,
        )
        if tasks:
            logger.info(
                "graph cache %s: converted %d frames in %.1f s (%.0f frames/s)",
                cache.directory,
                len(missing),
                cache.report.seconds,
                cache.report.frames_per_second,
            )
        if failed and on_failed == "raise":
            raise GraphConversionError(failed, cache)
        return cache

    def _load(self, verify: bool) -> int:
        """Index the valid shards on disk; drop stale and corrupt ones. Returns how many."""

        def accept(name: str, header: dict[str, Any]) -> None:
            check_header_frame_ids(header, self._open_store().frame_ids)
            self._add(name, header)

        self._listed, discarded = scan_shards(
            self.directory, self.identity_key, self.identity, verify=verify, accept=accept
        )
        return discarded

    def _add(self, name: str, header: dict[str, Any]) -> None:
        shard = Shard.from_header(name, header)
        number = len(self._shards)
        self._shards.append(shard)
        fresh = self._shard_of[shard.frames] < 0  # a frame in two shards: the first wins
        self._shard_of[shard.frames[fresh]] = number
        self._row_of[shard.frames[fresh]] = np.flatnonzero(fresh)
        for index, frame_id, reason in header["failed"]:
            self._failed.setdefault(int(index), (frame_id, reason))

    def _covers(self, indices: np.ndarray) -> np.ndarray:
        """``[n]`` bool: frame has a graph or a recorded failure."""
        failed = np.fromiter(self._failed, dtype=np.int64, count=len(self._failed))
        return (self._shard_of[indices] >= 0) | np.isin(indices, failed)

    def _write_index(self) -> None:
        self._listed = set(self.shard_names)
        write_index(
            self.directory, self.identity_key, self.identity, self._shards,
            n_graphs=len(self), n_failed=len(self._failed),
        )  # fmt: skip

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of frames with a cached graph."""
        return int((self._shard_of >= 0).sum())

    def __contains__(self, key: object) -> bool:
        try:
            index = self._index_of(key)  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError):
            return False
        return bool(self._shard_of[index] >= 0)

    @property
    def failed(self) -> dict[str, str]:
        """Frame id → reason, for every frame of the cache CHGNet cannot convert."""
        return {frame_id: reason for frame_id, reason in self._failed.values()}

    @property
    def shard_names(self) -> list[str]:
        """File names of the shards in use."""
        return [s.name for s in self._shards]

    def get(
        self,
        key: int | np.integer | str,
        *,
        graph_id: int | str | None = None,
        mp_id: str | None = None,
    ) -> CrystalGraph:
        """The graph of one frame, equal to a fresh conversion with the cache's settings.

        Args:
            key: store index of the frame, or its frame id.
            graph_id: the graph's ``graph_id``; default the frame id.
            mp_id: the graph's ``mp_id``; default the frame id.

        Returns:
            The ``CrystalGraph`` (``atom_frac_coord`` and ``lattice`` require grad, as in a
            fresh conversion).

        Raises:
            DataError: CHGNet cannot convert the frame (the reason is named), or the frame
                is not in the cache (build it for this frame first).
            KeyError: no frame has this id.
            IndexError: the index is outside the store.
        """
        index = self._index_of(key)
        number = int(self._shard_of[index])
        frame_id: str | None = None
        if number < 0:
            frame_id = str(self._open_store().frame_ids[index])
            if index in self._failed:
                raise DataError(
                    f"CHGNet cannot build its graph ({self._failed[index][1]})", frame=frame_id
                )
            raise DataError(
                f"not in the graph cache {self.directory}; build the cache for these frames",
                frame=frame_id,
            )
        shard, row = self._shards[number], int(self._row_of[index])
        start, stop = int(shard.offsets[row]), int(shard.offsets[row + 1])
        buffer = bytearray(stop - start)
        try:
            problem = None
            if pread_into(self._fd(number), buffer, start) != len(buffer):
                problem = "ends early"
            elif zlib.crc32(buffer) != int(shard.crc32[row]):
                problem = "fails its checksum"
        except OSError as exc:  # e.g. the shard was discarded by another build meanwhile
            problem = f"cannot be read ({exc})"
        if problem:
            frame_id = str(self._open_store().frame_ids[index])
            logger.warning(
                "graph cache %s: the record of frame %r in %s %s; converting it afresh "
                "(run GraphCache.build to repair the cache)",
                self.directory,
                frame_id,
                shard.name,
                problem,
            )
            return self._convert(index, graph_id, mp_id)
        from chgnet.graph.crystalgraph import CrystalGraph

        tensors = decode_record(buffer, shard.fields)
        for name in REQUIRES_GRAD:
            tensors[name].requires_grad_(True)
        if graph_id is None or mp_id is None:
            frame_id = frame_id or str(self._open_store().frame_ids[index])
        return CrystalGraph(
            **tensors,
            atom_graph_cutoff=self.settings.atom_graph_cutoff,
            bond_graph_cutoff=self.settings.bond_graph_cutoff,
            graph_id=frame_id if graph_id is None else graph_id,
            mp_id=frame_id if mp_id is None else mp_id,
            composition=shard.composition[row],
        )

    def graphs(self, keys: Iterable[int | np.integer | str]) -> list[CrystalGraph]:
        """The graphs of ``keys`` (store indices or frame ids), in order; see :meth:`get`."""
        return [self.get(key) for key in keys]

    def dataset(self, frames: FrameSet, *, labels: LabelTable | None = None) -> GraphDataset:
        """A map-style torch dataset of (graph, targets) over ``frames`` (:class:`GraphDataset`)."""
        return GraphDataset(self, frames, labels=labels)

    def loader(
        self,
        frames: FrameSet,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        labels: LabelTable | None = None,
    ) -> DataLoader:
        """A ``DataLoader`` of CHGNet batches over ``frames``, read from this cache.

        Batches are chgnet's ``collate_graphs`` output ``(graphs, targets)``; the order is
        drawn from a generator seeded with ``seed`` in the main process, so it does not
        depend on ``num_workers``. The targets are ``frames.labels()``, or ``labels`` (one row
        per frame of ``frames``, in order, with the same atom counts) when given.
        """
        return graph_loader(
            self.dataset(frames, labels=labels), batch_size, shuffle=shuffle, seed=seed,
            num_workers=num_workers, pin_memory=pin_memory,
            persistent_workers=persistent_workers,
        )  # fmt: skip

    def check_store(self, store: FrameStore) -> None:
        """Raise :class:`DataError` unless ``store`` is the store this cache was built from."""
        if dataset_identity(store) != self.identity["dataset"]:
            raise DataError(
                f"the graph cache {self.directory} was built from another preparation of "
                "this dataset; build it for this store",
                file=str(store.path),
            )

    def missing(self, keys: Iterable[int | np.integer | str]) -> dict[str, str]:
        """Frame id → why there is no graph (cannot convert / not built), for ``keys``."""
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            indices = keys.astype(np.int64).ravel()
            if len(indices) and (indices.min() < 0 or indices.max() >= self.n_frames):
                raise IndexError(f"frame indices outside the store ({self.n_frames} frames)")
        else:
            indices = np.array([self._index_of(key) for key in keys], dtype=np.int64)
        out = {}
        for index in indices[self._shard_of[indices] < 0].tolist():
            frame_id = str(self._open_store().frame_ids[index])
            out[frame_id] = (
                f"CHGNet cannot build its graph ({self._failed[index][1]})"
                if index in self._failed
                else "not in the graph cache"
            )
        return out

    def close(self) -> None:
        """Close the open shard files (reopened on the next read)."""
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # attributes may be gone at interpreter exit
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_store", "_fds", "_pid", "_ids", "_converter"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._store = None
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._pid = os.getpid()
        self._ids: dict[str, int] | None = None
        self._converter: Any = None

    def _fd(self, number: int) -> int:
        """Open descriptor of shard ``number`` (per process; at most 64 kept open)."""
        if self._pid != os.getpid():  # forked: the parent's descriptors are not ours to use
            self._fds = OrderedDict()
            self._pid = os.getpid()
        fd = self._fds.get(number)
        if fd is None:
            fd = os.open(self.directory / self._shards[number].name, os.O_RDONLY)
            self._fds[number] = fd
            if len(self._fds) > _MAX_OPEN_SHARDS:
                os.close(self._fds.popitem(last=False)[1])
        else:
            self._fds.move_to_end(number)
        return fd

    def _open_store(self) -> FrameStore:
        if self._store is None:
            self._store = FrameStore.open(self.store_path)
        return self._store

    def _index_of(self, key: int | np.integer | str) -> int:
        if isinstance(key, str):
            if self._ids is None:
                ids = self._open_store().frame_ids.tolist()
                self._ids = {str(frame_id): i for i, frame_id in enumerate(ids)}
            if key not in self._ids:
                raise KeyError(f"frame id {key!r} is not in the store {self.store_path}")
            return self._ids[key]
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise TypeError(f"a frame is named by its store index or id, got {key!r}")
        if not 0 <= int(key) < self.n_frames:
            raise IndexError(f"frame index {key} is outside the store ({self.n_frames} frames)")
        return int(key)

    def _convert(self, index: int, graph_id: Any, mp_id: Any) -> CrystalGraph:
        """A fresh conversion (used when a record fails its checksum)."""
        if self._converter is None:
            self._converter = self.settings.make()
        store = self._open_store()
        frame_id = str(store.frame_ids[index])
        try:
            return self._converter(
                store.structure(index),
                graph_id=frame_id if graph_id is None else graph_id,
                mp_id=frame_id if mp_id is None else mp_id,
            )
        except Exception as exc:
            raise DataError(f"CHGNet cannot build its graph ({exc})", frame=frame_id) from exc
